package main

// xebpf exec --attach HOOK=pinned PATH (or id N, name NAME): the hook runs
// a program of the daemon, so that what it counts is in the daemon's
// maps (map dump shows it) and its runs in prog show's run_cnt.
//
// Design: xebpf exec keeps the seccomp supervisor and asks the daemon
// for each decision (hook.run, over a sockhook link that holds the
// program while the command runs). The alternative, handing the seccomp
// listener to the daemon (SCM_RIGHTS) to supervise there, would save the
// round trip but needs the daemon to take the callers' sockets with
// pidfd_getfd, which Yama's ptrace scope 1 refuses to a process that is
// not their ancestor unless it has CAP_SYS_PTRACE, a session protocol
// that carries descriptors, and supervisor threads in the daemon for
// every command. The price of the round trip, measured: a hook.run costs
// about 15µs in a loop (BenchmarkHookRun; 0.3µs for the program in the
// process); a TCP connect to 127.0.0.1 from Python on a 2-CPU machine
// took 12µs unhooked, 36-52µs with the program in xebpf exec and
// 110-125µs with the daemon's (146µs before the hook sessions used
// blocking system calls, execdaemon_linux.go).

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
	"github.com/xebpf/xebpf/sockhook"
)

// parseDaemonProg parses the PROG of --attach HOOK=PROG when it names a
// daemon program: "pinned PATH", "id N" or "name NAME"; ok is false for
// FILE.o:NAME.
func parseDaemonProg(p string) (ref proto.Ref, ok bool, err error) {
	word, rest, found := strings.Cut(p, " ")
	if !found || (word != "pinned" && word != "id" && word != "name") {
		return proto.Ref{}, false, nil
	}
	rest = strings.TrimSpace(rest)
	if word != "pinned" && strings.ContainsAny(rest, " \t") {
		return proto.Ref{}, true, fmt.Errorf("%s %q: one word expected", word, rest)
	}
	ref, _, err = parseRef("PROG", []string{word, rest})
	return ref, true, err
}

// errNoDeadline: the hook sessions' connections have no deadlines.
var errNoDeadline = errors.New("no deadlines on this connection")

// maxDaemonSessions bounds the sessions that run hooks in the daemon at
// once; more concurrent calls wait for one.
const maxDaemonSessions = 8

// daemonHooks are xebpf exec's sessions with the daemon: the first holds
// the sockhook links (and through them the programs) until the command
// ends; each session runs one decision at a time.
type daemonHooks struct {
	socket string
	first  *client.Client
	pool   chan *client.Client
	mu     sync.Mutex
	all    []*client.Client
}

func newDaemonHooks(socket string) (*daemonHooks, error) {
	c, err := client.Dial(client.SocketPath(socket))
	if err != nil {
		return nil, err
	}
	// The first session holds the links; hooks run on others.
	return &daemonHooks{socket: socket, first: c, pool: make(chan *client.Client, maxDaemonSessions), all: []*client.Client{c}}, nil
}

// get returns an idle session, dialling another if all are busy and
// there are fewer than maxDaemonSessions.
func (d *daemonHooks) get() (*client.Client, error) {
	select {
	case c := <-d.pool:
		return c, nil
	default:
	}
	d.mu.Lock()
	if len(d.all) < maxDaemonSessions {
		c, err := dialHookSession(client.SocketPath(d.socket))
		if err == nil {
			d.all = append(d.all, c)
		}
		d.mu.Unlock()
		return c, err
	}
	d.mu.Unlock()
	return <-d.pool, nil
}

func (d *daemonHooks) put(c *client.Client) { d.pool <- c }

// close ends the sessions: the links go, and the programs with them
// unless something else holds them.
func (d *daemonHooks) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.all {
		c.Close()
	}
}

// taskHelper matches the call instructions of a program's dump and
// captures the helper id.
var taskHelper = regexp.MustCompile(`^call\b.*?(\d+)$`)

// usesTask reports whether the daemon's program calls a get_current_*
// helper (true when its dump cannot tell).
func (d *daemonHooks) usesTask(id uint32) bool {
	insns, err := d.first.Dump(proto.Ref{ID: id})
	if err != nil {
		return true
	}
	for _, ins := range insns {
		if !strings.HasPrefix(ins.Disasm, "call") {
			continue
		}
		m := taskHelper.FindStringSubmatch(ins.Disasm)
		if m == nil {
			return true
		}
		switch n, _ := strconv.Atoi(m[1]); n {
		case 12, 14, 15, 16:
			return true
		}
	}
	return false
}

// attach attaches the daemon's program ref to hook h of set through a
// sockhook link whose target is the command line.
func (d *daemonHooks) attach(set *sockhook.Set, h sockhook.Hook, ref proto.Ref, cmdline string) (*sockhook.Attachment, error) {
	ps, err := d.first.Programs(ref)
	if err != nil {
		return nil, fmt.Errorf("--attach %v=%v: %w", h, ref, err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("--attach %v=%v: %d programs match: name one by id", h, ref, len(ps))
	}
	// The daemon shows eBPF for Windows' bind programs (loaded with
	// type bind) as type "bind".
	want := "cgroup_sock_addr"
	if h == sockhook.WindowsBind {
		want = "bind"
	}
	if ps[0].Type != want {
		return nil, fmt.Errorf("--attach %v=%v: a %s program: the hook runs %s programs", h, ref, ps[0].Type, want)
	}
	l, err := d.first.Attach("sockhook", proto.Ref{ID: ps[0].ID}, cmdline)
	if err != nil {
		return nil, fmt.Errorf("--attach %v=%v: %w", h, ref, err)
	}
	run := func(opts *xebpf.RunOptions) (uint32, error) {
		ctx, out := opts.Context.([]byte), opts.ContextOut.([]byte)
		var task *proto.HookTask
		if t := opts.Task; t != nil {
			task = &proto.HookTask{PID: t.PID, TGID: t.TGID, UID: t.UID, GID: t.GID, Comm: t.Comm[:]}
		}
		c, err := d.get()
		if err != nil {
			return 0, err
		}
		defer d.put(c)
		res, err := c.HookRun(l.ID, ctx, opts.Data, task)
		if err != nil {
			return 0, err
		}
		if len(res.CtxOut) != len(out) {
			return 0, fmt.Errorf("the daemon returned a context of %d bytes, want %d", len(res.CtxOut), len(out))
		}
		copy(out, res.CtxOut)
		return res.Retval, nil
	}
	return set.AttachFunc(h, run, d.usesTask(ps[0].ID))
}
