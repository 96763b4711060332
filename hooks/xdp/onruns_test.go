package xdp

import (
	"sync"
	"testing"
	"time"
)

// idleConn is a fakeConn that reports idleness, as the Linux conns do;
// with callIdle false it never does (frames keep coming).
type idleConn struct {
	*fakeConn
	callIdle bool
	idle     func()
}

func (c *idleConn) setIdle(idle func()) { c.idle = idle }

func (c *idleConn) recv(buf []byte) ([]byte, error) {
	if len(c.in) == 0 && c.callIdle && c.idle != nil {
		c.idle()
	}
	return c.fakeConn.recv(buf)
}

// runLog collects what OnRuns is told.
type runLog struct {
	mu      sync.Mutex
	runs    uint64
	total   time.Duration
	batches []uint64
}

func (r *runLog) onRuns(runs uint64, total time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs += runs
	r.total += total
	r.batches = append(r.batches, runs)
}

func (r *runLog) get() (uint64, time.Duration, []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs, r.total, append([]uint64(nil), r.batches...)
}

// TestOnRuns: OnRuns is told of every run: at once on conns that cannot
// say they are idle, in batches of at most runBatch otherwise, the rest
// when the port waits for frames or when the link is closed.
func TestOnRuns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		idler     bool // the conn reports idleness
		callIdle  bool
		frames    int
		wantEarly uint64 // runs reported before Close
	}{
		{"every run", false, false, 10, 10},
		{"at idle", true, true, 200, 200},
		{"batches, rest at close", true, false, 150, 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newFakeConn()
			var c conn = in
			if tc.idler {
				c = &idleConn{fakeConn: in, callIdle: tc.callIdle}
			}
			out := newFakeConn()
			b := NewBridge()
			b.open = func(ifname string) (conn, int, error) {
				if ifname == "a" {
					return c, 1, nil
				}
				return out, 2, nil
			}
			defer b.Close()
			if _, err := b.AddPort("b"); err != nil {
				t.Fatal(err)
			}
			var log runLog
			l, err := b.AttachWithOptions(xdpProgram(t, progPass, nil), "a", AttachOptions{OnRuns: log.onRuns})
			if err != nil {
				t.Fatal(err)
			}
			for range tc.frames {
				in.in <- make([]byte, 64)
			}
			deadline := time.Now().Add(10 * time.Second)
			for l.Stats().Frames < uint64(tc.frames) || func() bool { n, _, _ := log.get(); return n < tc.wantEarly }() {
				if time.Now().After(deadline) {
					n, _, _ := log.get()
					t.Fatalf("frames %d, runs reported %d; want %d and %d", l.Stats().Frames, n, tc.frames, tc.wantEarly)
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // nothing more is reported before Close
			if n, _, _ := log.get(); n != tc.wantEarly {
				t.Errorf("before Close: %d runs reported, want %d", n, tc.wantEarly)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			n, total, batches := log.get()
			if n != uint64(tc.frames) || total <= 0 || total > l.Stats().RunTime {
				t.Errorf("after Close: %d runs in %v reported, want %d in (0, %v]", n, total, tc.frames, l.Stats().RunTime)
			}
			for _, b := range batches {
				if b == 0 || b > runBatch || (!tc.idler && b != 1) {
					t.Errorf("batches %v: want 1 to %d runs each (1 without idleness)", batches, runBatch)
					break
				}
			}
		})
	}
}

// TestIngressIfindex: programs read the ifindex of the port their frame
// arrived on in xdp_md.ingress_ifindex (here, one that passes frames
// from ifindex 10 only), and rx_queue_index 0.
func TestIngressIfindex(t *testing.T) {
	const fromA = "ldxw %r2, [%r1+12]\nldxw %r3, [%r1+16]\nmov %r0, 1\njne %r2, 10, +2\njne %r3, 0, +1\nmov %r0, 2\nexit\n"
	b, conns := fakeBridge(t, "a", "b")
	la, err := b.Attach(xdpProgram(t, fromA, nil), "a")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Attach(xdpProgram(t, fromA, nil), "b")
	if err != nil {
		t.Fatal(err)
	}
	conns["a"].in <- make([]byte, 60)
	conns["b"].in <- make([]byte, 60)
	waitFor(t, func() bool { return la.Stats().Frames == 1 && lb.Stats().Frames == 1 })
	if sa, sb := la.Stats(), lb.Stats(); sa.Actions[Pass] != 1 || sb.Actions[Drop] != 1 {
		t.Errorf("port a (ifindex 10): %+v; port b (11): %+v; want a pass and a drop", sa, sb)
	}
	waitFor(t, func() bool { return len(conns["b"].frames()) == 1 })
	if n := len(conns["a"].frames()); n != 0 {
		t.Errorf("port a sent %d frames, want none (b's was dropped)", n)
	}
}
