//go:build linux

package xdp

// The transmit ring (PACKET_TX_RING, TPACKET_V2) of a port: frames to
// send are copied into slots of a ring shared with the kernel and marked
// TP_STATUS_SEND_REQUEST; one send(fd, NULL, 0, MSG_DONTWAIT) hands the
// kernel every slot marked so far (a "kick"), in order. The kernel marks
// a slot TP_STATUS_SENDING while its skb is in flight (the skb points
// into the slot) and TP_STATUS_AVAILABLE when the skb is freed. The
// receive loops kick the rings they queued frames to when their port has
// no frame ready and every flushEvery frames (see Bridge.receive), so a
// burst costs one system call per port instead of one per frame.
//
// The kernel keeps its own position in the ring (the next slot it will
// send) and only moves it by taking a slot: so the ring's head (the next
// slot to fill) and the oldest slot not yet taken are always the kernel's
// position plus what is pending, which lets the ring drop pending frames
// by rewinding (on a hard error) and count exactly the frames the kernel
// took after each kick.
//
// Errors:
//   - The socket sets PACKET_LOSS: a slot the kernel finds malformed
//     (TP_STATUS_WRONG_FORMAT otherwise, which stops the ring until user
//     space resets the slot) is skipped and made available. Frames the
//     kernel would refuse do not enter the ring: shorter than an Ethernet
//     header, or longer than the interface's MTU allows (the MTU is read
//     again before refusing one, in case it was raised) or than a slot.
//     They are counted as failed, as sendto's EINVAL or EMSGSIZE were
//     (with a transmit ring, sendto sends the ring, not its buffer: there
//     is no per-frame path on the same socket). With the virtio_net_hdr
//     the kernel does not check the MTU of ring frames itself; a frame
//     over an MTU lowered after the check is dropped by the driver
//     (ENOBUFS below). PACKET_LOSS also gives the way to drop one pending
//     slot: its tp_len is set to 0 (shorter than the virtio_net_hdr), and
//     the kernel skips it.
//   - ENOBUFS from a kick: the driver dropped the frame at the kernel's
//     position (a veth whose peer is down, a full backlog); the kernel
//     puts it back as TP_STATUS_SEND_REQUEST and would send it again at
//     every kick. The ring counts it as failed (as sendto's ENOBUFS was),
//     drops it as above and kicks again for the rest.
//   - EAGAIN (the socket's send buffer is full of frames in flight): the
//     rest stay pending, sent at the next kick.
//   - Any other error (ENETDOWN: the interface is down; ENXIO: gone; the
//     socket closed): the kernel took none of the pending frames; they are
//     counted as failed and dropped by rewinding.
//
// A full ring (the slot at the head still in flight or pending): the ring
// kicks its pending frames and waits, polling for POLLOUT in steps of a
// millisecond, up to txFullWait; if no slot frees in that time the frame
// is dropped and counted as failed, and so are the next frames, at once,
// until a slot is free again (a stalled ring costs one wait, not one per
// frame). Waiting, not dropping at once: slots
// are held only while the peer's stack consumes the frames (on a veth,
// mostly within the kick itself, in softirq), so a full ring is a
// transient the sender should ride out as the sendto path did (it blocked
// on a full send buffer); bounded, so that an interface whose frames
// never complete cannot stall the receive loops of the other ports,
// which wait on the ring's mutex meanwhile.

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TPACKET_V2 transmit statuses.
const (
	tpStatusAvailable   = 0
	tpStatusSendRequest = 1
	tpStatusSending     = 2
	tpStatusWrongFormat = 4
)

// txDataOffset is where a TX slot's data (the virtio_net_hdr, then the
// frame) starts without PACKET_TX_HAS_OFF: tp_hdrlen less the
// sockaddr_ll, TPACKET_ALIGN(sizeof(struct tpacket2_hdr)).
const txDataOffset = 32

// txFullWait is the longest a frame waits for a free slot of a full ring
// before it is dropped.
const txFullWait = 10 * time.Millisecond

// txOwner is whom a pending slot's frame is counted to.
type txOwner struct{ sent, failed *atomic.Uint64 }

// txRing is a port's transmit ring. mu guards all but the counters.
type txRing struct {
	mu        sync.Mutex
	c         *packetConn // the socket
	ring      []byte      // the slots; nil once the port is closed
	frameSize int
	frames    int
	ifname    string
	mtu       int       // the interface's MTU, as last read
	head      int       // the next slot to fill
	pending   int       // slots filled and not yet taken by the kernel, before head
	stalled   bool      // the last wait for a free slot timed out
	owners    []txOwner // of the pending slots

	kicks, fullWaits, fullDrops atomic.Uint64 // for tests and measurements
}

func (t *txRing) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.ring[i*t.frameSize]))
}

// slotFree reports whether slot i may be filled.
func (t *txRing) slotFree(i int) bool {
	return atomic.LoadUint32(t.status(i))&(tpStatusSendRequest|tpStatusSending|tpStatusWrongFormat) == 0
}

// fits reports whether the kernel would send frame (see the errors
// above) and it fits a slot. t.mu is held.
func (t *txRing) fits(frame []byte) bool {
	if len(frame) < 14 || txDataOffset+vnetHdrLen+len(frame) > t.frameSize {
		return false
	}
	limit := 14
	switch binary.BigEndian.Uint16(frame[12:]) {
	case unix.ETH_P_8021Q, unix.ETH_P_8021AD:
		limit += vlanTagLen // as packet_extra_vlan_len_allowed
	}
	if len(frame) <= t.mtu+limit {
		return true
	}
	if mtu, err := t.readMTU(); err == nil {
		t.mtu = mtu
	}
	return len(frame) <= t.mtu+limit
}

// readMTU returns the interface's MTU.
func (t *txRing) readMTU() (int, error) {
	ifr, err := unix.NewIfreq(t.ifname)
	if err != nil {
		return 0, err
	}
	var ioErr error
	if err := t.c.rc.Control(func(fd uintptr) { ioErr = unix.IoctlIfreq(int(fd), unix.SIOCGIFMTU, ifr) }); err != nil {
		return 0, err
	}
	if ioErr != nil {
		return 0, ioErr
	}
	return int(ifr.Uint32()), nil
}

// queue copies frame into the ring (see queuer).
func (t *txRing) queue(frame []byte, sent, failed *atomic.Uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ring == nil || !t.fits(frame) {
		countFailed(failed)
		return
	}
	if !t.waitSlot() {
		t.fullDrops.Add(1)
		countFailed(failed)
		return
	}
	i := t.head
	slot := t.ring[i*t.frameSize : (i+1)*t.frameSize]
	n := vnetHdrLen + len(frame)
	binary.NativeEndian.PutUint32(slot[4:], uint32(n))  // tp_len
	clear(slot[txDataOffset : txDataOffset+vnetHdrLen]) // no offload
	copy(slot[txDataOffset+vnetHdrLen:], frame)
	t.owners[i] = txOwner{sent, failed}
	atomic.StoreUint32(t.status(i), tpStatusSendRequest)
	t.head = (i + 1) % t.frames
	t.pending++
}

func countFailed(failed *atomic.Uint64) {
	if failed != nil {
		failed.Add(1)
	}
}

// waitSlot makes the slot at the head free, kicking the pending frames
// and waiting for the kernel to release slots up to txFullWait (not at
// all if the last wait timed out and no slot came free since); false if
// none came free. t.mu is held.
func (t *txRing) waitSlot() bool {
	if t.slotFree(t.head) {
		t.stalled = false
		return true
	}
	deadline := time.Now()
	if !t.stalled {
		deadline = deadline.Add(txFullWait)
	}
	for waited := false; ; waited = true {
		t.kick()
		if t.ring == nil {
			return false
		}
		if t.slotFree(t.head) {
			t.stalled = false
			return true
		}
		if !time.Now().Before(deadline) {
			t.stalled = true
			return false
		}
		if !waited {
			t.fullWaits.Add(1)
		}
		// POLLOUT: the slot at the kernel's position is available, or
		// a frame in flight completed; at most a millisecond, then kick
		// again (frames left pending by EAGAIN need one).
		t.c.rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			unix.Poll(fds, 1)
		})
	}
}

// flush kicks the pending frames (see queuer).
func (t *txRing) flush() {
	t.mu.Lock()
	t.kick()
	t.mu.Unlock()
}

// kick hands the pending frames to the kernel and settles what it did
// with them (see the errors above). t.mu is held.
func (t *txRing) kick() {
	for t.pending > 0 && t.ring != nil {
		var errno syscall.Errno
		t.kicks.Add(1)
		err := t.c.rc.Control(func(fd uintptr) {
			_, _, errno = unix.Syscall6(unix.SYS_SENDTO, fd, 0, 0, unix.MSG_DONTWAIT, 0, 0)
		})
		if err != nil {
			errno = unix.EBADF // closed
		}
		t.reap()
		if t.pending == 0 {
			return
		}
		switch errno {
		case 0, unix.EAGAIN, unix.EINTR:
			return // the rest at the next kick
		case unix.ENOBUFS:
			// The oldest pending frame was dropped by the driver and is
			// pending again: count it and have the kernel skip it.
			i := t.oldest()
			countFailed(t.owners[i].failed)
			t.owners[i] = txOwner{}
			binary.NativeEndian.PutUint32(t.ring[i*t.frameSize+4:], 0)
		default:
			t.dropPending()
			return
		}
	}
}

// oldest returns the oldest pending slot, the kernel's position. t.mu is
// held.
func (t *txRing) oldest() int { return (t.head - t.pending + t.frames) % t.frames }

// reap counts the pending frames the kernel took, oldest first: those no
// longer TP_STATUS_SEND_REQUEST. t.mu is held.
func (t *txRing) reap() {
	for t.pending > 0 {
		i := t.oldest()
		if atomic.LoadUint32(t.status(i))&tpStatusSendRequest != 0 {
			return
		}
		if o := t.owners[i]; o.sent != nil {
			o.sent.Add(1)
		}
		t.owners[i] = txOwner{}
		t.pending--
	}
}

// dropPending counts the pending frames as failed and makes their slots
// available, the head back at the oldest: the kernel's position, as it
// took none of them. t.mu is held.
func (t *txRing) dropPending() {
	for t.pending > 0 {
		t.head = (t.head - 1 + t.frames) % t.frames
		countFailed(t.owners[t.head].failed)
		t.owners[t.head] = txOwner{}
		atomic.StoreUint32(t.status(t.head), tpStatusAvailable)
		t.pending--
	}
}

// release drops what is pending and forgets the ring's memory, which
// its owner unmaps next.
func (t *txRing) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ring == nil {
		return
	}
	t.dropPending()
	t.ring = nil
}
