//go:build linux

package xdp

import (
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// TestTXRingFull fills a port's transmit ring with frames a slow qdisc
// holds (tbf at 8 kbit/s, the socket going through the qdisc): the slots
// stay in flight (but for the first 25, tbf's burst), so a full ring
// waits txFullWait once for a free slot and then drops frames, counted as
// failed; every frame is counted once, sent or failed; once the qdisc
// lets go, the ring sends again.
func TestTXRingFull(t *testing.T) {
	n := setupNet(t)
	if out, err := exec.Command("tc", "qdisc", "add", "dev", n.portB, "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "10000000").CombinedOutput(); err != nil {
		t.Skipf("no tbf qdisc: %v: %s", err, out)
	}
	c, _, err := openPacket(n.portB, connOptions{rxRing: true, txRing: true, qdisc: true})
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := c.(txRingConn)
	if !ok {
		c.close()
		t.Skip("no transmit ring")
	}
	done := make(chan struct{})
	go func() { // the receive loop, which unmaps the rings when closed
		defer close(done)
		for {
			if _, err := c.recv(nil); err != nil && err != errOversize {
				return
			}
		}
	}()
	defer func() { c.close(); <-done }()
	frame := make([]byte, 64)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	var sent, failed atomic.Uint64
	const extra = 100 // the first 25 frames go: tbf's burst
	start := time.Now()
	for range txRingFrames + extra {
		tc.queue(frame, &sent, &failed)
	}
	tc.flush()
	took := time.Since(start)
	if got := tc.tx.fullDrops.Load(); got < extra/2 || failed.Load() != got {
		t.Errorf("%d frames dropped on a full ring, %d counted failed; want about %d, the same", got, failed.Load(), extra-25)
	}
	if sent.Load()+failed.Load() != txRingFrames+extra {
		t.Errorf("sent %d + failed %d, want %d", sent.Load(), failed.Load(), txRingFrames+extra)
	}
	if took < txFullWait || took > 20*txFullWait || tc.tx.fullWaits.Load() != 1 {
		t.Errorf("queueing took %v, %d waits: a full ring should wait %v once, then drop at once", took, tc.tx.fullWaits.Load(), txFullWait)
	}
	if out, err := exec.Command("tc", "qdisc", "del", "dev", n.portB, "root").CombinedOutput(); err != nil {
		t.Fatalf("tc: %v: %s", err, out)
	}
	// The qdisc is gone with its frames: the slots come back.
	waitFor(t, func() bool { tc.tx.mu.Lock(); defer tc.tx.mu.Unlock(); return tc.tx.slotFree(tc.tx.head) })
	sent0, drops0 := sent.Load(), tc.tx.fullDrops.Load()
	for range 10 {
		tc.queue(frame, &sent, &failed)
	}
	tc.flush()
	if sent.Load()-sent0 != 10 || tc.tx.fullDrops.Load() != drops0 {
		t.Errorf("after the qdisc: %d of 10 sent, %d more full drops", sent.Load()-sent0, tc.tx.fullDrops.Load()-drops0)
	}
}
