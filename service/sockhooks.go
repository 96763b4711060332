package service

import (
	"fmt"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/service/proto"
)

// SockHooks is the LinkProvider of kind "sockhook": a link of it lets a
// client that supervises a command's connect and bind calls (xebpf exec)
// run a daemon program for each call through hook.run, so that the
// program's maps are the daemon's. The target names the command. The
// link holds the program while the client's session holds the link;
// once detached, hook.run refuses it (the client denies the call).
type SockHooks struct{}

// Kind returns "sockhook".
func (SockHooks) Kind() string { return "sockhook" }

// sockLink is a sockhook link: the runs happen in hook.run.
type sockLink struct{}

func (sockLink) Detach() error { return nil }

// Attach checks that prog is a socket-address program or an eBPF for
// Windows bind program (loaded with type bind).
func (SockHooks) Attach(prog *xebpf.Program, _ *RunStats, target string) (Link, error) {
	if prog.Type() != xebpf.CGroupSockAddr && !isWindowsBind(prog) {
		return nil, fmt.Errorf("%s is a %s program: socket hooks run cgroup_sock_addr and bind programs", prog.Name(), progTypeOf(prog))
	}
	return sockLink{}, nil
}

func init() {
	argTypes[proto.OpHookRun] = func() any { return &proto.HookRunArgs{} }
	opWhat[proto.OpHookRun] = "run programs for hooks"
}

// maxHookCtx bounds a hook run's context: a struct bpf_sock_addr or a
// bind_md. maxHookData bounds its data, the app id of a bind_md: a
// Windows path in UTF-16.
const (
	maxHookCtx  = 256
	maxHookData = 1 << 16
)

// hookRun runs the program of a sockhook link once and records the run.
func (t *table) hookRun(a *proto.HookRunArgs) (*proto.HookRunResult, error) {
	if len(a.Ctx) > maxHookCtx {
		return nil, proto.Errorf(proto.CodeInvalid, "hook run: context of %d bytes: at most %d", len(a.Ctx), maxHookCtx)
	}
	if len(a.Data) > maxHookData {
		return nil, proto.Errorf(proto.CodeInvalid, "hook run: data of %d bytes: at most %d", len(a.Data), maxHookData)
	}
	t.mu.Lock()
	l := t.links[a.Link]
	switch {
	case l == nil:
		t.mu.Unlock()
		return nil, proto.Errorf(proto.CodeNotFound, "hook run: link id %d: no such link", a.Link)
	case l.kind != "sockhook":
		t.mu.Unlock()
		return nil, proto.Errorf(proto.CodeInvalid, "hook run: link id %d is a %s link, not a sockhook one", a.Link, l.kind)
	case l.prog == nil:
		t.mu.Unlock()
		return nil, proto.Errorf(proto.CodeNotFound, "hook run: link id %d is detached", a.Link)
	}
	p := l.prog
	p.refs++
	t.mu.Unlock()
	defer t.release(p)
	opts := &xebpf.RunOptions{Context: a.Ctx, ContextOut: make([]byte, len(a.Ctx))}
	switch {
	case isWindowsBind(p.p) && a.Data == nil:
		// An empty app id arrives as none: the program gets an empty
		// range rather than no packet.
		opts.Data = []byte{}
	case a.Data != nil:
		opts.Data = a.Data
	}
	if a.Task != nil {
		task := &helpers.Task{PID: a.Task.PID, TGID: a.Task.TGID, UID: a.Task.UID, GID: a.Task.GID}
		copy(task.Comm[:], a.Task.Comm)
		opts.Task = task
	}
	start := time.Now()
	ret, err := p.p.Run(opts)
	p.stats.Record(1, time.Since(start))
	if err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "hook run: program %s: %v", p.name, err)
	}
	return &proto.HookRunResult{Retval: ret, CtxOut: opts.ContextOut.([]byte)}, nil
}
