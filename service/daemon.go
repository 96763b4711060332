package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// Listener accepts the daemon's client connections: a unix socket
// (ListenUnix), and on Windows later a named pipe. The credentials of a
// unix socket's peer are read on Linux (SO_PEERCRED, SO_PEERGROUPS).
type Listener interface {
	net.Listener
}

// Peer is the credentials of a connection's process.
type Peer struct {
	Known bool // false when the transport does not tell
	PID   int32
	UID   uint32
	GID   uint32
	// Groups are the supplementary groups (nil when unknown).
	Groups []uint32
}

// Daemon serves the object table to clients. The zero value is not
// usable: call New.
type Daemon struct {
	t *table
	// Authorize, if set, decides whether peer may perform op; the error
	// it returns is the client's. Nil allows everything.
	Authorize func(peer Peer, op string) error
	// MaxRequest bounds a request's size in bytes; 0 means
	// proto.MaxRequest.
	MaxRequest int
	// Logf, if set, receives the daemon's log lines.
	Logf func(format string, args ...any)

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New returns a daemon with an empty object table.
func New() *Daemon {
	return &Daemon{t: newTable(), sessions: map[*session]struct{}{}}
}

// Serve accepts connections from l until l is closed or ctx is done, and
// serves each in its own goroutine; it closes l and returns nil then.
// Failed Accepts are logged and retried. Sessions still open are closed
// by Close.
func (d *Daemon) Serve(ctx context.Context, l Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer l.Close()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: clients must not
			// be able to stop the daemon. Wait and accept again.
			d.logf("xebpf daemon: accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s := &session{d: d, conn: c, peer: peerOf(c), handles: map[any]int{}}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			c.Close()
			return nil
		}
		d.sessions[s] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		go func() {
			defer d.wg.Done()
			s.serve()
		}()
	}
}

// Close closes every session and frees every object, pinned or not, and
// waits for the sessions' goroutines.
func (d *Daemon) Close() error {
	d.mu.Lock()
	d.closed = true
	for s := range d.sessions {
		s.conn.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	t := d.t
	errs := []error{t.st.close()}
	t.mu.Lock()
	defer t.mu.Unlock()
	errs = append(errs, t.dropDevices())
	for p := range t.pins {
		errs = append(errs, t.unpin(p))
	}
	return errors.Join(errs...)
}

// Status returns the daemon's accounting.
func (d *Daemon) Status() proto.StatusResult {
	t := d.t
	t.mu.Lock()
	defer t.mu.Unlock()
	st := proto.StatusResult{Programs: len(t.progs), Maps: len(t.maps), Links: len(t.links), Pins: len(t.pins), Collections: len(t.colls)}
	for c := range t.freed {
		if u := c.c.MemoryUsed(); u != 0 {
			st.UnreturnedBytes += u
		} else {
			delete(t.freed, c)
		}
	}
	for c := range t.colls {
		st.MemoryBytes += c.c.MemoryUsed()
	}
	return st
}

// ProgramStats returns the run counter of the program with the id, for
// hooks that run it (nil when there is none).
func (d *Daemon) ProgramStats(id uint32) *RunStats {
	d.t.mu.Lock()
	defer d.t.mu.Unlock()
	if p := d.t.progs[id]; p != nil {
		return &p.stats
	}
	return nil
}

func (d *Daemon) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf(format, args...)
	}
}

// session is one client connection and the objects it holds.
type session struct {
	d       *Daemon
	conn    net.Conn
	peer    Peer
	handles map[any]int // *progObj or *mapObj: references held
}

// serve answers requests until the connection closes, then drops the
// session's references.
func (s *session) serve() {
	defer s.close()
	r := bufio.NewReaderSize(s.conn, 64<<10)
	w := bufio.NewWriter(s.conn)
	for {
		max := s.d.MaxRequest
		if max <= 0 || max > proto.MaxRequest {
			max = proto.MaxRequest
		}
		line, err := readLine(r, max)
		if err != nil {
			if errors.Is(err, errTooLong) {
				s.reply(w, nil, proto.Errorf(proto.CodeInvalid, "request larger than %d bytes: the connection is closed", max))
			}
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		res, err := s.handle(line)
		if !s.reply(w, res, err) {
			return
		}
	}
}

// reply writes one response; false means the connection is gone.
func (s *session) reply(w *bufio.Writer, res any, err error) bool {
	var resp proto.Response
	if err != nil {
		var pe *proto.Error
		if errors.As(err, &pe) {
			resp.Error = &proto.Error{Code: pe.Code, Message: err.Error()}
		} else {
			resp.Error = &proto.Error{Code: proto.CodeInternal, Message: err.Error()}
		}
	} else {
		b, merr := json.Marshal(res)
		if merr != nil {
			resp.Error = proto.Errorf(proto.CodeInternal, "encode result: %v", merr)
		} else {
			resp.Result = b
		}
	}
	b, _ := json.Marshal(&resp)
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return false
	}
	return w.Flush() == nil
}

// close drops every reference the session holds, then closes the
// connection: a client that half-closed its side and waits for the end
// of the stream (client.Close) knows its objects are released.
func (s *session) close() {
	defer s.conn.Close()
	t := s.d.t
	t.mu.Lock()
	for o, n := range s.handles {
		for range n {
			t.unref(o)
		}
	}
	s.handles = nil
	t.mu.Unlock()
	s.d.mu.Lock()
	delete(s.d.sessions, s)
	s.d.mu.Unlock()
}

var zeroRef proto.Ref

var errTooLong = errors.New("line too long")

// readLine reads one newline-terminated line of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			return nil, errTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(bytes.TrimSpace(line)) > 0 {
				return line, nil
			}
			return nil, err
		}
	}
}

// DecodeRequest decodes one request line and its arguments' JSON into
// the operation's argument type; it never panics.
func DecodeRequest(line []byte) (op string, args any, err error) {
	if len(line) > proto.MaxRequest {
		return "", nil, proto.Errorf(proto.CodeInvalid, "request larger than %d bytes", proto.MaxRequest)
	}
	var req proto.Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", nil, proto.Errorf(proto.CodeInvalid, "malformed request: %v", err)
	}
	if dec.More() {
		return "", nil, proto.Errorf(proto.CodeInvalid, "malformed request: data after the request object")
	}
	newArgs, ok := argTypes[req.Op]
	if !ok {
		return "", nil, proto.Errorf(proto.CodeInvalid, "unknown operation %q", req.Op)
	}
	args = newArgs()
	if args != nil && len(req.Args) > 0 && string(req.Args) != "null" {
		dec := json.NewDecoder(bytes.NewReader(req.Args))
		dec.DisallowUnknownFields()
		if err := dec.Decode(args); err != nil {
			return "", nil, proto.Errorf(proto.CodeInvalid, "%s: malformed arguments: %v", req.Op, err)
		}
	}
	return req.Op, args, nil
}

// argTypes makes each operation's argument value.
var argTypes = map[string]func() any{
	proto.OpStatus:     func() any { return nil },
	proto.OpProgLoad:   func() any { return &proto.LoadArgs{} },
	proto.OpProgShow:   func() any { return &proto.RefArgs{} },
	proto.OpProgDump:   func() any { return &proto.RefArgs{} },
	proto.OpProgRun:    func() any { return &proto.RunArgs{} },
	proto.OpProgPin:    func() any { return &proto.PinArgs{} },
	proto.OpMapShow:    func() any { return &proto.RefArgs{} },
	proto.OpMapDump:    func() any { return &proto.RefArgs{} },
	proto.OpMapLookup:  func() any { return &proto.MapElemArgs{} },
	proto.OpMapUpdate:  func() any { return &proto.MapElemArgs{} },
	proto.OpMapDelete:  func() any { return &proto.MapElemArgs{} },
	proto.OpMapGetNext: func() any { return &proto.MapElemArgs{} },
	proto.OpMapPop:     func() any { return &proto.MapElemArgs{} },
	proto.OpMapCreate:  func() any { return &proto.MapCreateArgs{} },
	proto.OpMapPin:     func() any { return &proto.PinArgs{} },
	proto.OpUnpin:      func() any { return &proto.PathArgs{} },
	proto.OpRelease:    func() any { return &proto.ReleaseArgs{} },
	proto.OpLinkAttach: func() any { return &proto.LinkAttachArgs{} },
	proto.OpLinkShow:   func() any { return &proto.LinkRefArgs{} },
	proto.OpLinkPin:    func() any { return &proto.LinkPinArgs{} },
	proto.OpLinkDetach: func() any { return &proto.LinkDetachArgs{} },
}

// handle decodes and performs one request.
func (s *session) handle(line []byte) (res any, err error) {
	op, args, err := DecodeRequest(line)
	if err != nil {
		return nil, err
	}
	if s.d.Authorize != nil {
		if err := s.d.Authorize(s.peer, op); err != nil {
			return nil, err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s.d.logf("xebpf daemon: %s: panic: %v", op, r)
			res, err = nil, proto.Errorf(proto.CodeInternal, "%s: internal error: %v", op, r)
		}
	}()
	defer func() {
		// What is pinned is on disk before the reply (OpenState).
		if err == nil && mutates(op) {
			if perr := s.d.t.persist(); perr != nil {
				res, err = nil, proto.Errorf(proto.CodeInternal, "%s: done, but not durable: %v", op, perr)
			}
		}
	}()
	t := s.d.t
	switch a := args.(type) {
	case nil:
		st := s.d.Status()
		t.mu.Lock()
		for _, n := range s.handles {
			st.Handles += n
		}
		t.mu.Unlock()
		return st, nil
	case *proto.LoadArgs:
		return t.loadObject(a, s.peer.UID, func(o any) { s.handles[o]++ })
	case *proto.RefArgs:
		switch op {
		case proto.OpProgShow:
			return t.progShow(a.Ref)
		case proto.OpMapShow:
			return t.mapShow(a.Ref)
		case proto.OpProgDump:
			return t.progDump(a.Ref)
		case proto.OpMapDump:
			return t.mapDump(a.Ref)
		}
	case *proto.RunArgs:
		return t.progRun(a)
	case *proto.PinArgs:
		return nil, t.pinRef(op == proto.OpProgPin, a)
	case *proto.PathArgs:
		t.mu.Lock()
		defer t.mu.Unlock()
		return nil, t.unpin(a.Path)
	case *proto.MapElemArgs:
		return t.mapElem(op, a)
	case *proto.MapCreateArgs:
		return t.mapCreate(a, func(o any) { s.handles[o]++ })
	case *proto.ReleaseArgs:
		return nil, s.release(a)
	case *proto.LinkAttachArgs:
		return t.linkAttach(a, func(o any) { s.handles[o]++ })
	case *proto.LinkRefArgs:
		return t.linkShow(a.Ref)
	case *proto.LinkPinArgs:
		return nil, t.linkPin(&proto.PinArgs{Ref: a.Ref, Path: a.Path})
	case *proto.LinkDetachArgs:
		return nil, t.linkDetach(a.Ref)
	case *proto.NetAttachArgs, *proto.NetDetachArgs, *proto.NetShowArgs, *proto.NetPortArgs:
		return t.handleNet(a)
	case *proto.HookRunArgs:
		return t.hookRun(a)
	}
	return nil, proto.Errorf(proto.CodeInvalid, "unknown operation %q", op)
}

// release drops the session's references on one object.
func (s *session) release(a *proto.ReleaseArgs) error {
	t := s.d.t
	t.mu.Lock()
	defer t.mu.Unlock()
	var o any
	switch a.Kind {
	case "prog":
		if p := t.progs[a.ID]; p != nil {
			o = p
		}
	case "map":
		if m := t.maps[a.ID]; m != nil {
			o = m
		}
	case "link":
		if l := t.links[a.ID]; l != nil {
			o = l
		}
	default:
		return proto.Errorf(proto.CodeInvalid, "release: kind %q: want prog, map or link", a.Kind)
	}
	n := 0
	if o != nil {
		n = s.handles[o]
	}
	if n == 0 {
		return proto.Errorf(proto.CodeNotFound, "release: this session holds no %s id %d", a.Kind, a.ID)
	}
	delete(s.handles, o)
	var errs []error
	for range n {
		errs = append(errs, t.unref(o))
	}
	return errors.Join(errs...)
}

func (t *table) progShow(ref proto.Ref) ([]proto.ProgInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps, err := t.findProgs(ref)
	if err != nil {
		return nil, err
	}
	out := make([]proto.ProgInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	return out, nil
}

func (t *table) mapShow(ref proto.Ref) ([]proto.MapInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms, err := t.findMaps(ref)
	if err != nil {
		return nil, err
	}
	out := make([]proto.MapInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.info())
	}
	return out, nil
}

func (t *table) progDump(ref proto.Ref) (*proto.DumpResult, error) {
	p, err := t.oneProg(ref)
	if err != nil {
		return nil, err
	}
	defer t.release(p)
	res := &proto.DumpResult{Insns: []proto.Insn{}}
	pc := 0
	for _, ins := range p.p.Spec().Instructions {
		res.Insns = append(res.Insns, proto.Insn{PC: pc, Disasm: ins.String()})
		pc += ins.Slots()
	}
	return res, nil
}

func (t *table) pinRef(isProg bool, a *proto.PinArgs) error {
	var o any
	var err error
	if isProg {
		o, err = t.oneProg(a.Ref)
	} else {
		o, err = t.oneMap(a.Ref)
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.unref(o)
	return t.pin(o, a.Path)
}

func (t *table) progRun(a *proto.RunArgs) (*proto.RunResult, error) {
	p, err := t.oneProg(a.Ref)
	if err != nil {
		return nil, err
	}
	defer t.release(p)
	opts := &xebpf.RunOptions{Repeat: a.Repeat}
	if a.Data != nil {
		opts.Data = a.Data
		n := int(a.DataOutSize)
		if n == 0 {
			n = len(a.Data) + 256
		}
		if n > proto.MaxRequest {
			return nil, proto.Errorf(proto.CodeInvalid, "data_out of %d bytes: at most %d", n, proto.MaxRequest)
		}
		opts.DataOut = make([]byte, n)
	}
	var ctxOut []byte
	if a.Ctx != nil {
		opts.Context = a.Ctx
		ctxOut = make([]byte, len(a.Ctx))
		opts.ContextOut = ctxOut
	}
	start := time.Now()
	ret, err := p.p.Run(opts)
	if err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "run program %s: %v", p.name, err)
	}
	runs := uint64(max(a.Repeat, 1))
	total := opts.Duration * time.Duration(runs)
	if total <= 0 {
		total = time.Since(start)
	}
	p.stats.Record(runs, total)
	// What the program wrote in pinned maps is on disk before the reply
	// (OpenState).
	if err := t.st.syncMaps(p.maps); err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "run program %s: done, but its maps are not durable: %v", p.name, err)
	}
	res := &proto.RunResult{Retval: ret, DurationNs: opts.Duration.Nanoseconds(), CtxOut: ctxOut}
	if a.Data != nil {
		res.DataOut = opts.DataOut
	}
	return res, nil
}
