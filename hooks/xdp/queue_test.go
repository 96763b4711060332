package xdp

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// queueConn is a fakeConn that queues the frames sent to it until
// flushed, as a transmit ring does.
type queueConn struct {
	*fakeConn
	queued  [][]byte
	counts  []*atomic.Uint64
	flushes atomic.Int32
}

func (c *queueConn) queue(frame []byte, sent, failed *atomic.Uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued = append(c.queued, bytes.Clone(frame))
	c.counts = append(c.counts, sent)
}

func (c *queueConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes.Add(1)
	c.sent = append(c.sent, c.queued...)
	for _, n := range c.counts {
		n.Add(1)
	}
	c.queued, c.counts = nil, nil
}

// TestQueuedFlush: frames queued to a port go out every flushEvery frames
// the receiving port handles, when it waits for frames, and when the
// bridge closes; in order, counted in the port's Sent once flushed.
func TestQueuedFlush(t *testing.T) {
	for _, tc := range []struct {
		name     string
		callIdle bool
		frames   int
		early    int // frames out before Close
	}{
		{"never idle", false, 100, flushEvery},
		{"idle", true, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &idleConn{fakeConn: newFakeConn(), callIdle: tc.callIdle}
			b := &queueConn{fakeConn: newFakeConn()}
			br := NewBridge()
			br.open = func(ifname string) (conn, int, error) {
				if ifname == "a" {
					return a, 10, nil
				}
				return b, 11, nil
			}
			for _, n := range []string{"a", "b"} {
				if _, err := br.AddPort(n); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tc.frames {
				a.in <- fmt.Appendf(make([]byte, 0, 64), "frame %03d", i)
			}
			waitFor(t, func() bool { s, _ := br.PortStats(10); return s.Received == uint64(tc.frames) })
			waitFor(t, func() bool { return len(b.frames()) >= tc.early })
			time.Sleep(20 * time.Millisecond)
			if got := len(b.frames()); got != tc.early {
				t.Errorf("%d frames out before Close, want %d", got, tc.early)
			}
			if s, _ := br.PortStats(11); s.Sent != uint64(tc.early) {
				t.Errorf("port b counted %d sent, want %d", s.Sent, tc.early)
			}
			if err := br.Close(); err != nil {
				t.Fatal(err)
			}
			got := b.frames()
			if len(got) != tc.frames {
				t.Fatalf("%d frames out after Close, want %d", len(got), tc.frames)
			}
			for i, f := range got {
				if want := fmt.Sprintf("frame %03d", i); string(f) != want {
					t.Fatalf("frame %d is %q, want %q", i, f, want)
				}
			}
		})
	}
}
