// Package xdp runs XDP programs on the frames arriving on real network
// interfaces, with the kernel's action codes: XDP_PASS delivers a frame
// onward, XDP_DROP drops it, XDP_TX sends it back out of the interface it
// came in on, XDP_REDIRECT sends it out of the attached interface a
// DEVMAP (or DEVMAP_HASH) entry or bpf_redirect names.
//
// The process sits in the path of the traffic as a bridge: a Bridge owns
// a set of interfaces (its ports), receives every frame arriving on each
// and sends every frame out itself. Onward, for XDP_PASS, is every other
// port of the bridge: with two ports, the peer (a bridge of more ports
// floods, as a hub). A port without a program passes every frame.
//
// On Linux a port is an AF_PACKET socket bound to the interface (see
// xdp_linux.go for the design and its limits). The ports should be
// interfaces that play no role in the host's own stack (the ends of veth
// pairs, NICs without addresses): AF_PACKET sees a copy of each frame,
// so XDP_DROP keeps a frame from the bridge's other ports, not from the
// host's stack. On other systems Attach and AddPort return
// ErrNotSupported.
//
// Programs see the frame as xebpf's test runs give it (Program.Run with
// Data), but for xdp_md.ingress_ifindex, which is the port's ifindex
// (RunOptions.Hook), and rx_queue_index, 0 (a port is one queue).
package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/maps"
)

// Errors of the package.
var (
	// ErrNotSupported is returned where the OS has no hook: every
	// attachment outside Linux.
	ErrNotSupported = errors.New("xdp: not supported on this OS")
	// ErrNotXDP is returned by Attach for a program that is not of type
	// XDP.
	ErrNotXDP = errors.New("xdp: not an XDP program")
	// ErrAttached is returned by Attach for a port that already runs a
	// program (Close its Link first).
	ErrAttached = errors.New("xdp: a program is already attached to the interface")
	// ErrClosed is returned by operations on a closed Bridge.
	ErrClosed = errors.New("xdp: bridge closed")
)

// XDP actions, as in Linux's enum xdp_action.
const (
	Aborted  = 0
	Drop     = 1
	Pass     = 2
	TX       = 3
	Redirect = 4
)

// maxFrame is the largest frame a port handles: the test run's frame less
// its headroom and tailroom, which is also the room a program may grow
// the packet into.
const maxFrame = helpers.TestRunFrameSize - helpers.XDPPacketHeadroom - helpers.SkbSharedInfoSize

// Stats are the counters of a Link.
type Stats struct {
	Frames uint64 // frames the program ran on
	// Actions counts the runs by the action they returned: Aborted, Drop,
	// Pass, TX and Redirect at their codes; index 5 counts other codes
	// (treated as Aborted, as the kernel's bpf_warn_invalid_xdp_action).
	Actions [6]uint64
	// Faults counts runs that ended with an error (the frame is dropped).
	Faults uint64
	// RedirectErrors counts XDP_REDIRECT frames with no deliverable
	// target: a devmap entry naming an interface that is not a port of
	// the bridge, a CPUMAP or XSKMAP target, a bpf_redirect to an
	// unknown ifindex (the frame is dropped, as xdp_do_redirect fails).
	RedirectErrors uint64
	// SendErrors counts frames the bridge could not send out of a port:
	// the kernel refused them (longer than the interface's MTU) or the
	// driver dropped them (the interface or its peer down), or the port's
	// transmit ring stayed full (see txring_linux.go).
	SendErrors uint64
	// RunTime is the time spent running the program, over all frames.
	RunTime time.Duration
}

// counters are a Link's Stats, updated by one receiving goroutine and
// read by any.
type counters struct {
	frames, faults, redirectErrors, sendErrors, runNanos atomic.Uint64
	actions                                              [6]atomic.Uint64
}

// Link is a program attached to a port of a bridge. Close detaches it.
// The link runs the program through its own xebpf.Runner, which keeps the
// program's memory while attached; once the program or its collection is
// closed, runs fail and the frames are dropped (counted in Faults): close
// the link first.
type Link struct {
	port   *port
	prog   *xebpf.Program
	runner *xebpf.Runner
	c      counters
	mu     sync.Mutex // held during a run; Close takes it to detach
	closed bool
	// onRuns and the runs not yet reported to it (guarded by mu).
	onRuns      func(runs uint64, total time.Duration)
	pendRuns    uint64
	pendRunTime time.Duration
}

// AttachOptions are the options of AttachWithOptions.
type AttachOptions struct {
	// OnRuns, if set, is told of the program's runs (failed runs
	// included; frames too long to run are not runs) and the time they
	// took, in batches: at most
	// runBatch runs late while frames keep arriving, and at once when the
	// port waits for frames and when the link is closed. It is called
	// from the port's receiving goroutine (or Close's) and must be quick:
	// counting, not blocking.
	OnRuns func(runs uint64, total time.Duration)
}

// runBatch is the most runs a Link keeps before telling OnRuns.
const runBatch = 64

// recordRun counts one run for OnRuns. l.mu is held.
func (l *Link) recordRun(d time.Duration) {
	if l.onRuns == nil {
		return
	}
	l.pendRuns++
	l.pendRunTime += d
	if l.pendRuns >= l.port.batch {
		l.flushRuns()
	}
}

// flushRuns tells OnRuns of the pending runs. l.mu is held.
func (l *Link) flushRuns() {
	if l.pendRuns == 0 || l.onRuns == nil {
		return
	}
	l.onRuns(l.pendRuns, l.pendRunTime)
	l.pendRuns, l.pendRunTime = 0, 0
}

// Program returns the attached program.
func (l *Link) Program() *xebpf.Program { return l.prog }

// Ifindex returns the index of the interface the program is attached to.
func (l *Link) Ifindex() int { return l.port.ifindex }

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	s := Stats{
		Frames:         l.c.frames.Load(),
		Faults:         l.c.faults.Load(),
		RedirectErrors: l.c.redirectErrors.Load(),
		SendErrors:     l.c.sendErrors.Load(),
		RunTime:        time.Duration(l.c.runNanos.Load()),
	}
	for i := range s.Actions {
		s.Actions[i] = l.c.actions[i].Load()
	}
	return s
}

// Close detaches the program: frames arriving on the port afterwards
// pass unchanged. It waits for a run in progress and may be called more
// than once.
func (l *Link) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.flushRuns()
	l.port.link.CompareAndSwap(l, nil)
	if err := l.runner.Close(); err != nil {
		return fmt.Errorf("xdp: detach %s from ifindex %d: %w", l.prog.Name(), l.port.ifindex, err)
	}
	return nil
}

// conn is a port's connection to its interface, which the OS-specific
// code provides.
type conn interface {
	// recv blocks for the next frame arriving on the interface and
	// returns it in buf (a frame the interface sent is not one). It
	// returns an error once the conn is closed.
	recv(buf []byte) ([]byte, error)
	// send sends frame out of the interface.
	send(frame []byte) error
	// drops returns the frames the OS dropped so far because the conn
	// did not take them fast enough.
	drops() uint64
	close() error
}

// idler is a conn that can say when recv is about to wait for a frame:
// it calls idle then, from recv's goroutine. Ports of other conns report
// each run to OnRuns at once.
type idler interface {
	setIdle(idle func())
}

// queuer is a conn that sends frames in batches: queue takes a copy of
// frame to send it at the next flush, and counts it once its fate is
// known: in sent when the OS took it, in failed (if not nil) when it
// could not be sent. flush hands the frames queued so far to the OS.
// Both are safe for concurrent use (the receive loops of several ports
// queue frames to one port).
type queuer interface {
	queue(frame []byte, sent, failed *atomic.Uint64)
	flush()
}

// flushEvery is the most frames a receive loop handles between flushes of
// the ports it queued frames to; it also flushes them when its port waits
// for frames.
const flushEvery = 64

// port is an interface of a bridge.
type port struct {
	name    string
	ifindex int
	c       conn
	link    atomic.Pointer[Link]
	rx      atomic.Uint64 // frames received
	tx      atomic.Uint64 // frames sent
	over    atomic.Uint64 // frames dropped as oversize
	done    chan struct{} // closed when the receive loop ends
	// batch is the most runs a link of the port keeps before reporting
	// them to OnRuns: runBatch if the conn reports idleness, else 1.
	batch uint64
	hook  xebpf.HookContext // the runs' ingress_ifindex
}

// idle reports the pending runs of the port's link: the port waits for
// frames.
func (p *port) idle() {
	if l := p.link.Load(); l != nil && l.onRuns != nil {
		l.mu.Lock()
		l.flushRuns()
		l.mu.Unlock()
	}
}

// PortStats are the frame counts of a port.
type PortStats struct {
	Received uint64 // frames that arrived on the interface
	Sent     uint64 // frames the bridge sent out of it
	// Oversize counts frames dropped before any program saw them: GSO
	// frames larger than the MTU, which the hook does not segment, and
	// frames too long for a program's frame.
	Oversize uint64
	// KernelDrops counts frames the kernel dropped because the bridge did
	// not take them fast enough (the port's socket buffer or ring was
	// full): the bridge's capacity is exceeded.
	KernelDrops uint64
}

// Bridge is a set of interfaces the process forwards frames between,
// running the program attached to a port on each frame arriving on it.
// Its methods are safe for concurrent use.
type Bridge struct {
	mu     sync.Mutex
	ports  map[int]*port // by ifindex
	closed bool
	open   func(ifname string) (conn, int, error)
}

// NewBridge returns a bridge without ports.
func NewBridge() *Bridge { return &Bridge{ports: map[int]*port{}, open: openConn} }

// AddPort makes the interface named ifname a port of the bridge (if it is
// not one already) and starts receiving the frames arriving on it, and
// returns its ifindex. Frames arriving on a port without a program pass.
func (b *Bridge) AddPort(ifname string) (int, error) {
	p, err := b.addPort(ifname)
	if err != nil {
		return 0, err
	}
	return p.ifindex, nil
}

func (b *Bridge) addPort(ifname string) (*port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	for _, p := range b.ports {
		if p.name == ifname {
			return p, nil
		}
	}
	c, ifindex, err := b.open(ifname)
	if err != nil {
		return nil, fmt.Errorf("xdp: port %s: %w", ifname, err)
	}
	if q, ok := b.ports[ifindex]; ok { // the same interface by another name
		c.close()
		return q, nil
	}
	p := &port{name: ifname, ifindex: ifindex, c: c, done: make(chan struct{}), batch: 1,
		hook: xebpf.HookContext{IngressIfindex: uint32(ifindex)}}
	if _, ok := c.(idler); ok {
		p.batch = runBatch // the receive loop sets the idle function
	}
	b.ports[ifindex] = p
	go b.receive(p)
	return p, nil
}

// Attach runs prog on every frame arriving on the interface named ifname,
// which it makes a port of the bridge if it is not one. The program must
// be of type XDP; a port runs one program at a time.
func (b *Bridge) Attach(prog *xebpf.Program, ifname string) (*Link, error) {
	return b.AttachWithOptions(prog, ifname, AttachOptions{})
}

// AttachWithOptions is Attach with options.
func (b *Bridge) AttachWithOptions(prog *xebpf.Program, ifname string, opts AttachOptions) (*Link, error) {
	if prog == nil || prog.Type() != xebpf.XDP {
		return nil, fmt.Errorf("xdp: attach to %s: %w", ifname, ErrNotXDP)
	}
	p, err := b.addPort(ifname)
	if err != nil {
		return nil, err
	}
	r, err := prog.NewRunner()
	if err != nil {
		return nil, fmt.Errorf("xdp: attach %s to %s: %w", prog.Name(), ifname, err)
	}
	l := &Link{port: p, prog: prog, runner: r, onRuns: opts.OnRuns}
	if !p.link.CompareAndSwap(nil, l) {
		r.Close()
		return nil, fmt.Errorf("xdp: attach %s to %s: %w", prog.Name(), ifname, ErrAttached)
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed { // Close ran since addPort: it may not have seen the link
		l.Close()
		return nil, ErrClosed
	}
	return l, nil
}

// PortStats returns the frame counts of the port of ifindex; false if
// there is no such port.
func (b *Bridge) PortStats(ifindex int) (PortStats, bool) {
	b.mu.Lock()
	p, ok := b.ports[ifindex]
	b.mu.Unlock()
	if !ok {
		return PortStats{}, false
	}
	return PortStats{Received: p.rx.Load(), Sent: p.tx.Load(), Oversize: p.over.Load(), KernelDrops: p.c.drops()}, true
}

// Close closes the ports (detaching their programs) and waits for their
// receive loops to end. The bridge cannot be used afterwards.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ports := b.ports
	b.mu.Unlock()
	var errs []error
	for _, p := range ports {
		if l := p.link.Load(); l != nil {
			errs = append(errs, l.Close())
		}
		errs = append(errs, p.c.close())
	}
	for _, p := range ports {
		<-p.done
	}
	return errors.Join(errs...)
}

// lookupPort returns the port of ifindex, nil if none.
func (b *Bridge) lookupPort(ifindex int) *port {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ports[ifindex]
}

// others returns the ports other than p.
func (b *Bridge) others(p *port, into []*port) []*port {
	b.mu.Lock()
	defer b.mu.Unlock()
	into = into[:0]
	for _, q := range b.ports {
		if q != p {
			into = append(into, q)
		}
	}
	return into
}

// receive is the loop of a port: it handles each frame arriving on it
// until the port is closed.
func (b *Bridge) receive(p *port) {
	defer close(p.done)
	in := make([]byte, 65536)
	st := &frameState{out: make([]byte, helpers.TestRunFrameSize)}
	ic, isIdler := p.c.(idler)
	if isIdler {
		ic.setIdle(func() {
			st.flush()
			p.idle()
		})
	}
	defer st.flush()
	for {
		frame, err := p.c.recv(in)
		if errors.Is(err, errOversize) {
			p.rx.Add(1)
			p.over.Add(1)
			continue
		}
		if err != nil {
			return
		}
		p.rx.Add(1)
		b.handle(p, frame, st)
		if st.handled++; st.handled >= flushEvery || !isIdler {
			st.flush()
		}
	}
}

// frameState is the per-port scratch of handle.
type frameState struct {
	out     []byte
	targets []*port
	opts    xebpf.RunOptions
	dirty   []queuer // the conns frames were queued to since the last flush
	handled int      // frames handled since the last flush
}

// flush sends the frames queued to conns since the last flush.
func (st *frameState) flush() {
	for i, q := range st.dirty {
		q.flush()
		st.dirty[i] = nil
	}
	st.dirty = st.dirty[:0]
	st.handled = 0
}

// handle runs the port's program on frame and delivers the result.
func (b *Bridge) handle(p *port, frame []byte, st *frameState) {
	l := p.link.Load()
	if l == nil {
		st.targets = b.others(p, st.targets)
		b.send(nil, st.targets, frame, st)
		return
	}
	l.mu.Lock()
	if l.closed { // detached while we loaded it
		l.mu.Unlock()
		st.targets = b.others(p, st.targets)
		b.send(nil, st.targets, frame, st)
		return
	}
	if len(frame) > maxFrame {
		// Larger than the program's frame: as a driver whose XDP mode
		// refuses such an MTU, the frame is not run; it is dropped.
		l.mu.Unlock()
		l.c.frames.Add(1)
		l.c.faults.Add(1)
		return
	}
	st.opts = xebpf.RunOptions{Data: frame, DataOut: st.out, Hook: &p.hook}
	start := time.Now()
	act, err := l.runner.Run(&st.opts)
	took := time.Since(start)
	l.c.runNanos.Add(uint64(took))
	l.recordRun(took)
	red := l.runner.Redirect()
	l.mu.Unlock()
	l.c.frames.Add(1)
	if err != nil {
		l.c.faults.Add(1)
		return
	}
	out := st.opts.DataOut
	if act > Redirect {
		l.c.actions[5].Add(1)
		return
	}
	l.c.actions[act].Add(1)
	switch act {
	case Pass:
		st.targets = b.others(p, st.targets)
		b.send(l, st.targets, out, st)
	case TX:
		st.targets = append(st.targets[:0], p)
		b.send(l, st.targets, out, st)
	case Redirect:
		targets, ok := b.redirectTargets(p, red, st.targets[:0])
		st.targets = targets
		if !ok || len(targets) == 0 {
			l.c.redirectErrors.Add(1)
			return
		}
		b.send(l, targets, out, st)
	}
}

// send sends frame out of each of ports, counting failures on l; ports
// whose conn queues frames get a copy, sent at st's next flush.
func (b *Bridge) send(l *Link, ports []*port, frame []byte, st *frameState) {
	var failed *atomic.Uint64
	if l != nil {
		failed = &l.c.sendErrors
	}
	for _, q := range ports {
		if qc, ok := q.c.(queuer); ok {
			qc.queue(frame, &q.tx, failed)
			if !slices.Contains(st.dirty, qc) {
				st.dirty = append(st.dirty, qc)
			}
			continue
		}
		if err := q.c.send(frame); err != nil {
			if l != nil {
				l.c.sendErrors.Add(1)
			}
			continue
		}
		q.tx.Add(1)
	}
}

// redirectTargets resolves the redirect target a run recorded to ports:
// a bpf_redirect ifindex, a DEVMAP or DEVMAP_HASH entry's ifindex, or
// with BPF_F_BROADCAST every entry's (but in's with
// BPF_F_EXCLUDE_INGRESS; entries naming no port are skipped). ok is false
// when the target is not a port of the bridge or the map is not a device
// map.
func (b *Bridge) redirectTargets(in *port, r helpers.Redirect, into []*port) (_ []*port, ok bool) {
	switch r.Kind {
	case helpers.RedirectIfindex:
		q := b.lookupPort(int(r.Ifindex))
		return append(into, q), q != nil
	case helpers.RedirectMap:
	default:
		return into, false
	}
	m := r.Map
	if m == nil || (m.Type() != maps.DevMap && m.Type() != maps.DevMapHash) {
		return into, false
	}
	if r.Flags&helpers.FlagBroadcast == 0 {
		var key [4]byte
		binary.NativeEndian.PutUint32(key[:], r.Key)
		val := make([]byte, m.ValueSize())
		if err := m.Lookup(key[:], val); err != nil || len(val) < 4 {
			return into, false // deleted since the run
		}
		q := b.lookupPort(int(binary.NativeEndian.Uint32(val)))
		return append(into, q), q != nil
	}
	// Broadcast: to every entry that names a port; entries naming other
	// interfaces are skipped.
	err := m.Iterate(func(e maps.Entry) bool {
		if len(e.Value) < 4 {
			return true
		}
		q := b.lookupPort(int(binary.NativeEndian.Uint32(e.Value)))
		if q != nil && (q != in || r.Flags&helpers.FlagExcludeIngress == 0) {
			into = append(into, q)
		}
		return true
	})
	return into, err == nil
}
