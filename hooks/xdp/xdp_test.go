package xdp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/isa"
)

// fakeConn is a port's connection in memory: frames pushed into in arrive,
// frames sent are kept.
type fakeConn struct {
	in      chan []byte
	dropped uint64 // what drops reports
	mu      sync.Mutex
	sent    [][]byte
	closed  chan struct{}
	once    sync.Once
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (c *fakeConn) recv(buf []byte) ([]byte, error) {
	select {
	case f := <-c.in:
		if f == nil {
			return nil, errOversize
		}
		return buf[:copy(buf, f)], nil
	case <-c.closed:
		return nil, net.ErrClosed
	}
}

func (c *fakeConn) send(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, bytes.Clone(frame))
	return nil
}

func (c *fakeConn) drops() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func (c *fakeConn) close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.sent...)
}

// fakeBridge returns a bridge of the ports named, whose ifindexes are
// 10, 11, ... in order, on fake connections.
func fakeBridge(t testing.TB, names ...string) (*Bridge, map[string]*fakeConn) {
	t.Helper()
	conns := map[string]*fakeConn{}
	index := map[string]int{}
	for i, n := range names {
		conns[n], index[n] = newFakeConn(), 10+i
	}
	b := NewBridge()
	b.open = func(ifname string) (conn, int, error) {
		c, ok := conns[ifname]
		if !ok {
			return nil, 0, fmt.Errorf("no interface %q", ifname)
		}
		return c, index[ifname], nil
	}
	for _, n := range names {
		if _, err := b.AddPort(n); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { b.Close() })
	return b, conns
}

// xdpProgram assembles src into an XDP program whose lddw into r1 refers
// to a DEVMAP of 8 entries, filled from devs (key: ifindex).
func xdpProgram(t testing.TB, src string, devs map[uint32]uint32) *xebpf.Program {
	t.Helper()
	insns, err := asm.AssembleProgram("xdp", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for i := range insns {
		if insns[i].IsLDDW() && insns[i].Dst == isa.R1 {
			insns[i].Src = isa.PseudoMapIndex
		}
	}
	spec := &xebpf.CollectionSpec{
		Maps:     map[string]*xebpf.MapSpec{"devs": {Name: "devs", Type: xebpf.DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 8}},
		MapOrder: []string{"devs"},
		Programs: map[string]*xebpf.ProgramSpec{"p": {Name: "p", SectionName: "xdp", Type: elf.XDP, Instructions: insns, License: "GPL"}},
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for k, v := range devs {
		if err := c.Maps["devs"].Put(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return c.Programs["p"]
}

// Programs for the table: each returns an action, TX after writing 0xee
// into the first byte of the frame.
const (
	progPass    = "mov %r0, 2\nexit\n"
	progDrop    = "mov %r0, 1\nexit\n"
	progAborted = "mov %r0, 0\nexit\n"
	progBadCode = "mov %r0, 9\nexit\n"
	progTX      = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\nmov %r0, 1\njgt %r4, %r3, +3\n" +
		"mov %r5, 0xee\nstxb [%r2+0], %r5\nmov %r0, 3\nexit\n"
)

func redirectMapProg(key, flags int) string {
	return fmt.Sprintf("lddw %%r1, 0x0\nmov %%r2, %d\nmov %%r3, %d\ncall 51\nexit\n", key, flags)
}

// TestBridgeActions checks where each action sends a frame arriving on
// port a of a bridge of a, b and c (ifindexes 10, 11, 12), and the
// link's counters.
func TestBridgeActions(t *testing.T) {
	devs := map[uint32]uint32{0: 11, 1: 12, 2: 99, 3: 10}
	for _, tc := range []struct {
		name     string
		prog     string // "" for no program
		sent     map[string]int
		action   int // Stats.Actions index counted, -1 for none
		redirErr uint64
		changed  bool // the frame sent has 0xee at offset 0
	}{
		{"no program: flooded", "", map[string]int{"b": 1, "c": 1}, -1, 0, false},
		{"pass: flooded to the others", progPass, map[string]int{"b": 1, "c": 1}, Pass, 0, false},
		{"drop", progDrop, nil, Drop, 0, false},
		{"aborted: dropped", progAborted, nil, Aborted, 0, false},
		{"unknown action: dropped", progBadCode, nil, 5, 0, false},
		{"tx: back out, changed", progTX, map[string]int{"a": 1}, TX, 0, true},
		{"devmap key 0: b", redirectMapProg(0, 0), map[string]int{"b": 1}, Redirect, 0, false},
		{"devmap key 1: c", redirectMapProg(1, 0), map[string]int{"c": 1}, Redirect, 0, false},
		{"devmap key 3: the ingress port", redirectMapProg(3, 0), map[string]int{"a": 1}, Redirect, 0, false},
		{"devmap key 2: no such port", redirectMapProg(2, 0), nil, Redirect, 1, false},
		{"devmap missing key: fallback drop", redirectMapProg(5, 1), nil, Drop, 0, false},
		{"broadcast", redirectMapProg(0, 1<<3), map[string]int{"a": 1, "b": 1, "c": 1}, Redirect, 0, false},
		{"broadcast excluding ingress", redirectMapProg(0, 1<<3|1<<4), map[string]int{"b": 1, "c": 1}, Redirect, 0, false},
		{"bpf_redirect 12", "mov %r1, 12\nmov %r2, 0\ncall 23\nexit\n", map[string]int{"c": 1}, Redirect, 0, false},
		{"bpf_redirect 13: no such port", "mov %r1, 13\nmov %r2, 0\ncall 23\nexit\n", nil, Redirect, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, conns := fakeBridge(t, "a", "b", "c")
			var l *Link
			if tc.prog != "" {
				var err error
				if l, err = b.Attach(xdpProgram(t, tc.prog, devs), "a"); err != nil {
					t.Fatal(err)
				}
				if l.Ifindex() != 10 {
					t.Fatalf("Ifindex %d, want 10", l.Ifindex())
				}
			}
			frame := make([]byte, 60)
			for i := range frame {
				frame[i] = byte(i + 1)
			}
			conns["a"].in <- frame
			waitFor(t, func() bool { s, _ := b.PortStats(10); return s.Received == 1 })
			if l != nil {
				waitFor(t, func() bool { return l.Stats().Frames == 1 })
			}
			want := 0
			for _, n := range tc.sent {
				want += n
			}
			waitFor(t, func() bool {
				n := 0
				for _, c := range conns {
					n += len(c.frames())
				}
				return n >= want
			})
			time.Sleep(5 * time.Millisecond) // let a wrong extra frame show
			for _, name := range []string{"a", "b", "c"} {
				got := conns[name].frames()
				if len(got) != tc.sent[name] {
					t.Errorf("port %s sent %d frames, want %d", name, len(got), tc.sent[name])
				}
				for _, f := range got {
					w := bytes.Clone(frame)
					if tc.changed {
						w[0] = 0xee
					}
					if !bytes.Equal(f, w) {
						t.Errorf("port %s sent % x, want % x", name, f, w)
					}
				}
			}
			if l == nil {
				return
			}
			s := l.Stats()
			var wantActions [6]uint64
			if tc.action >= 0 {
				wantActions[tc.action] = 1
			}
			if s.Frames != 1 || s.Actions != wantActions || s.RedirectErrors != tc.redirErr || s.Faults != 0 || s.SendErrors != 0 {
				t.Errorf("stats %+v, want 1 frame, actions %v, %d redirect errors", s, wantActions, tc.redirErr)
			}
		})
	}
}

// TestBridgeAttach checks attaching: a second program on a port is
// refused, a detached port passes frames, a non-XDP program is refused,
// and a closed bridge refuses ports; oversize frames are counted.
func TestBridgeAttach(t *testing.T) {
	b, conns := fakeBridge(t, "a", "b")
	drop := xdpProgram(t, progDrop, nil)
	l, err := b.Attach(drop, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach(drop, "a"); !errors.Is(err, ErrAttached) {
		t.Errorf("second Attach: %v, want ErrAttached", err)
	}
	if _, err := b.Attach(drop, "nosuch"); err == nil {
		t.Error("Attach to an unknown interface succeeded")
	}
	conns["a"].in <- make([]byte, 60)
	waitFor(t, func() bool { return l.Stats().Actions[Drop] == 1 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	conns["a"].in <- make([]byte, 60)
	waitFor(t, func() bool { return len(conns["b"].frames()) == 1 })
	if s := l.Stats(); s.Frames != 1 {
		t.Errorf("detached link counted %d frames, want 1", s.Frames)
	}
	// Reattach after Close.
	l2, err := b.Attach(drop, "a")
	if err != nil {
		t.Fatalf("Attach after Close: %v", err)
	}
	conns["a"].in <- nil // an oversize frame
	waitFor(t, func() bool { s, _ := b.PortStats(10); return s.Oversize == 1 })
	if s := l2.Stats(); s.Frames != 0 {
		t.Errorf("the program ran on an oversize frame")
	}
	conns["b"].mu.Lock()
	conns["b"].dropped = 3
	conns["b"].mu.Unlock()
	if s, _ := b.PortStats(11); s.Sent != 1 || s.Received != 0 || s.KernelDrops != 3 {
		t.Errorf("port b stats %+v, want 1 sent, 0 received, 3 kernel drops", s)
	}
	if _, ok := b.PortStats(99); ok {
		t.Error("PortStats of no port reported one")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddPort("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPort after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Attach(nil, "a"); !errors.Is(err, ErrNotXDP) {
		t.Errorf("Attach(nil): %v, want ErrNotXDP", err)
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}

// BenchmarkHandle measures what the bridge does for a 64-byte frame apart
// from the system calls: the program run through Runner.Run and the
// dispatch of its action (sending to an in-memory port that discards).
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct{ name, prog string }{{"pass", progPass}, {"drop", progDrop}, {"tx", progTX}} {
		b.Run(bc.name, func(b *testing.B) {
			br := NewBridge()
			br.open = func(ifname string) (conn, int, error) {
				return discardConn{closed: make(chan struct{})}, len(ifname), nil
			}
			defer br.Close()
			if _, err := br.AddPort("bb"); err != nil {
				b.Fatal(err)
			}
			l, err := br.Attach(xdpProgram(b, bc.prog, nil), "a")
			if err != nil {
				b.Fatal(err)
			}
			p := br.lookupPort(l.Ifindex())
			st := &frameState{out: make([]byte, 4096)}
			frame := make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				br.handle(p, frame, st)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			if s := l.Stats(); s.Frames != uint64(b.N) || s.SendErrors != 0 {
				b.Fatalf("stats %+v after %d frames", s, b.N)
			}
		})
	}
}

// discardConn is a port connection that receives nothing and sends
// nowhere.
type discardConn struct{ closed chan struct{} }

func (c discardConn) recv([]byte) ([]byte, error) { <-c.closed; return nil, net.ErrClosed }
func (discardConn) send([]byte) error             { return nil }
func (discardConn) drops() uint64                 { return 0 }
func (c discardConn) close() error                { close(c.closed); return nil }

// TestBridgeFaults checks that a run that fails (here: its program was
// closed while attached) drops the frame and counts a fault.
func TestBridgeFaults(t *testing.T) {
	b, conns := fakeBridge(t, "a", "b")
	prog := xdpProgram(t, progPass, nil)
	l, err := b.Attach(prog, "a")
	if err != nil {
		t.Fatal(err)
	}
	conns["a"].in <- make([]byte, 60)
	waitFor(t, func() bool { return len(conns["b"].frames()) == 1 })
	if err := prog.Close(); err != nil {
		t.Fatal(err)
	}
	conns["a"].in <- make([]byte, 60)
	waitFor(t, func() bool { return l.Stats().Faults == 1 })
	time.Sleep(5 * time.Millisecond)
	if s := l.Stats(); s.Frames != 2 || s.Actions[Pass] != 1 || len(conns["b"].frames()) != 1 {
		t.Errorf("stats %+v, %d frames sent; want 2 frames, 1 pass, 1 fault, 1 sent", s, len(conns["b"].frames()))
	}
	// A frame longer than a program's frame is not run: a fault too.
	conns["a"].in <- make([]byte, maxFrame+1)
	waitFor(t, func() bool { return l.Stats().Faults == 2 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzHandle sends the bridge what a hostile peer on the wire controls:
// frames of any length and content (none, runts, jumbo frames past the
// linear part), through programs that pass, send back after writing the
// frame, and redirect through a DEVMAP to a port, to no port and to the
// ingress port. The bridge must count every frame once, never crash and
// never send more bytes than it got plus what the program may add.
func FuzzHandle(f *testing.F) {
	type setup struct {
		b     *Bridge
		p     *port
		l     *Link
		conns map[string]*fakeConn
	}
	devs := map[uint32]uint32{0: 11, 1: 99, 2: 10}
	var setups []setup
	for _, prog := range []string{progPass, progTX, redirectMapProg(0, 0), redirectMapProg(1, 0), redirectMapProg(2, 0), redirectMapProg(0, 1<<3)} {
		b, conns := fakeBridge(f, "a", "b")
		l, err := b.Attach(xdpProgram(f, prog, devs), "a")
		if err != nil {
			f.Fatal(err)
		}
		setups = append(setups, setup{b, b.lookupPort(l.Ifindex()), l, conns})
	}
	f.Add([]byte{})
	f.Add(make([]byte, 13))
	f.Add(make([]byte, 64))
	f.Add(make([]byte, 9000))
	f.Fuzz(func(t *testing.T, frame []byte) {
		st := &frameState{out: make([]byte, 4096)}
		for _, s := range setups {
			before := s.l.Stats().Frames
			s.b.handle(s.p, append([]byte(nil), frame...), st)
			if got := s.l.Stats().Frames; got != before+1 {
				t.Fatalf("a %d-byte frame counted %d times", len(frame), got-before)
			}
			for name, c := range s.conns {
				c.mu.Lock()
				for _, out := range c.sent {
					if len(out) > len(frame) {
						t.Errorf("a %d-byte frame went out of %s as %d bytes", len(frame), name, len(out))
					}
				}
				c.sent = nil
				c.mu.Unlock()
			}
		}
	})
}
