package service_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// fakeHooks is a LinkProvider for the tests: a hook per target that runs
// its program on fire.
type fakeHooks struct {
	mu       sync.Mutex
	attached map[string]*fakeLink
	detached []string
}

type fakeLink struct {
	h      *fakeHooks
	target string
	prog   *xebpf.Program
	stats  *service.RunStats
}

func (h *fakeHooks) Kind() string { return "xdp" }

func (h *fakeHooks) Attach(p *xebpf.Program, stats *service.RunStats, target string) (service.Link, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.attached[target] != nil {
		return nil, errors.New("device busy")
	}
	l := &fakeLink{h: h, target: target, prog: p, stats: stats}
	h.attached[target] = l
	return l, nil
}

func (l *fakeLink) Detach() error {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	delete(l.h.attached, l.target)
	l.h.detached = append(l.h.detached, l.target)
	return nil
}

// fire runs the program attached at target as its hook would.
func (h *fakeHooks) fire(t *testing.T, target string, n int) {
	t.Helper()
	h.mu.Lock()
	l := h.attached[target]
	h.mu.Unlock()
	if l == nil {
		t.Fatalf("nothing attached at %s", target)
	}
	for range n {
		start := time.Now()
		if _, err := l.prog.Run(&xebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
			t.Fatal(err)
		}
		l.stats.Record(1, time.Since(start))
	}
}

// TestLinks: a link holds its program while it is attached; pins and
// sessions hold links; the hook's runs count in prog show; detaching lets
// the program go; and the link provider is called as the daemon's
// references say.
func TestLinks(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	hooks := &fakeHooks{attached: map[string]*fakeLink{}}
	_, sock := startDaemon(t, func(d *service.Daemon) {
		if err := d.RegisterLinkProvider(hooks); err != nil {
			t.Fatal(err)
		}
		if err := d.RegisterLinkProvider(hooks); err == nil {
			t.Error("a second xdp provider was registered")
		}
	})
	loader := dial(t, sock)
	res, err := loader.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/prog"})
	if err != nil {
		t.Fatal(err)
	}
	prog := proto.Ref{Name: "xdp_count"}
	pinned, err := loader.Attach("xdp", prog, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := loader.PinLink(proto.Ref{ID: pinned.ID}, "/sys/fs/bpf/link"); err != nil {
		t.Fatal(err)
	}
	if _, err := loader.Attach("xdp", prog, "eth0"); err == nil || err.Error() != "attach xdp_count to xdp eth0: device busy" {
		t.Errorf("attaching twice: %v", err)
	}
	if _, err := loader.Attach("tc", prog, "eth0"); err == nil || err.Error() != `attach: no "tc" hooks in this daemon` {
		t.Errorf("attaching to an unknown kind: %v", err)
	}
	// A link only the session holds goes with the session.
	if _, err := loader.Attach("xdp", proto.Ref{Name: "xdp_drop"}, "eth1"); err != nil {
		t.Fatal(err)
	}
	loader.Close()

	c := dial(t, sock)
	st := waitStatus(t, c, func(st proto.StatusResult) bool { return st.Links == 1 })
	hooks.mu.Lock()
	detached := append([]string(nil), hooks.detached...)
	hooks.mu.Unlock()
	if st.Programs != 1 || len(detached) != 1 || detached[0] != "eth1" {
		t.Errorf("after the loader exits: %+v, detached %v; want the pinned link and its program", st, detached)
	}
	hooks.fire(t, "eth0", 3)
	// The link holds the program after its pin goes.
	if err := c.Unpin("/sys/fs/bpf/prog"); err != nil {
		t.Fatal(err)
	}
	ps, err := c.Programs(prog)
	if err != nil || ps[0].RunCnt != 3 || ps[0].RunTimeNs == 0 {
		t.Fatalf("program held by its link: %+v %v, want the hook's 3 runs", ps, err)
	}
	ls, err := c.Links(proto.Ref{Pinned: "/sys/fs/bpf/link"})
	if err != nil || len(ls) != 1 || ls[0].ProgID != res.Programs[0].ID || ls[0].Type != "xdp" || ls[0].Target != "eth0" {
		t.Fatalf("link show: %+v %v", ls, err)
	}
	// Detaching lets the program go; the link stays while pinned.
	if err := c.Detach(proto.Ref{Pinned: "/sys/fs/bpf/link"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Programs(prog); !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("program after its link was detached: %v", err)
	}
	if ls, err := c.Links(proto.Ref{}); err != nil || len(ls) != 1 || ls[0].ProgID != 0 {
		t.Errorf("detached link: %+v %v, want it listed without a program", ls, err)
	}
	if err := c.Detach(proto.Ref{ID: pinned.ID}); err != nil {
		t.Errorf("detaching twice: %v", err)
	}
	if err := c.Unpin("/sys/fs/bpf/link"); err != nil {
		t.Fatal(err)
	}
	hooks.mu.Lock()
	if len(hooks.detached) != 2 || len(hooks.attached) != 0 {
		t.Errorf("provider: detached %v, attached %v", hooks.detached, hooks.attached)
	}
	hooks.mu.Unlock()
	st = waitStatus(t, c, func(st proto.StatusResult) bool {
		if st.UnreturnedBytes != 0 {
			runtime.GC()
		}
		return st.UnreturnedBytes == 0
	})
	if st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v", st)
	}
}
