//go:build linux

package xdp

// A port is an AF_PACKET SOCK_RAW socket bound to the interface, read and
// written through Go's poller (epoll). Why this design:
//
//   - AF_PACKET works on any interface (veth, NIC, bridge, TAP), so
//     "attach to dev NAME" needs nothing of the interface; a TAP device
//     would put the daemon in the path only of interfaces it creates.
//   - The socket sets PACKET_IGNORE_OUTGOING, so the frames the bridge
//     sends are not received again (on older kernels the sll_pkttype
//     PACKET_OUTGOING of recvfrom skips them), PACKET_QDISC_BYPASS, so a
//     sent frame goes straight to the driver as XDP_TX does, and joins the
//     interface's promiscuous mode, so it sees frames for any MAC. The
//     bypass is kept: it is the kernel's XDP_TX semantics (no qdisc, no
//     taps; a full driver queue drops the frame) and costs less per frame:
//     TestBridgeMeasure compares it with the qdisc path, which forwarded
//     fewer frames in each run (BENCHMARKS.md).
//   - PACKET_VNET_HDR: frames a local stack sent with checksum offload
//     (veth peers do) arrive with a partial checksum, which the port
//     completes before the program runs, as skb_checksum_help does;
//     otherwise the receiving stack would drop them. GSO frames (larger
//     than the MTU, from TSO/GRO) are dropped and counted: turn TSO and GRO
//     off on the peers of ports that carry TCP.
//   - Linux takes VLAN tags out of frames before packet sockets see them
//     (on receive, or from VLAN offload); the port puts the tag back
//     (from PACKET_AUXDATA or the ring's tp_vlan_tci), so programs and
//     the interfaces frames go out of see the frame as it was sent.
//   - Receiving is through a TPACKET_V2 ring mapped into the process (see
//     ringConn) when the kernel allows, else one recvmsg per frame.
//     Sending is through a TPACKET_V2 transmit ring (txring_linux.go):
//     frames are copied into it and each receive loop hands a batch to
//     the kernel with one system call; where the ring cannot be set up
//     (or without a receive ring) one system call per frame (writev of
//     the virtio_net_hdr and the frame). TestBridgeMeasure compares the
//     ways of receiving and sending and the direct path.
//   - Batches: a receive loop takes every frame its ring holds without a
//     system call (the poller only when the ring is empty) and kicks the
//     transmit rings it filled every flushEvery (64) frames and whenever
//     its ring is empty, so a frame waits for at most 63 others. The
//     receive ring holds 8192 frames (see rxRingFrames for the memory and
//     the milliseconds that is). SO_RCVBUF (8 MiB, forced) matters only
//     without a ring: ring frames are not charged to it; SO_SNDBUF (8
//     MiB) bounds the transmit ring's frames in flight (1024 small frames
//     take well under it).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is sizeof(struct virtio_net_hdr).
const vnetHdrLen = 10

// virtio_net_hdr flags and GSO types.
const (
	vnetNeedsCsum = 1
	vnetGSONone   = 0
)

// errOversize is a frame the port cannot hand to programs (GSO).
var errOversize = errors.New("GSO frame")

// packetConn is a port's AF_PACKET socket.
type packetConn struct {
	f        *os.File
	rc       syscall.RawConn
	ignoreTx bool // PACKET_IGNORE_OUTGOING is set
	qdisc    bool // PACKET_QDISC_BYPASS is not asked for
	dropped  atomic.Uint64
	oob      [64]byte // control messages of recv: PACKET_AUXDATA
	idle     func()   // called when recv is about to wait (nil: nothing)
}

func (c *packetConn) setIdle(idle func()) { c.idle = idle }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openConn opens an AF_PACKET socket on the interface named ifname, with
// receive and transmit rings if the kernel allows.
func openConn(ifname string) (conn, int, error) {
	return openPacket(ifname, connOptions{rxRing: true, txRing: true})
}

// connOptions are the rings openPacket asks for; tests flip them to
// check every path.
type connOptions struct {
	rxRing bool // receive through a TPACKET_V2 ring, else recvmsg
	txRing bool // send through a TPACKET_V2 ring (with rxRing only), else sendto
	qdisc  bool // send through the interface's qdisc (no PACKET_QDISC_BYPASS)
}

// openPacket opens an AF_PACKET socket on the interface named ifname,
// with the rings of o the kernel allows.
func openPacket(ifname string, o connOptions) (conn, int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, 0, err
	}
	// Protocol 0: the socket receives nothing until bound to the
	// interface, so no frame of another interface gets in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (conn, int, error) {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("PACKET_VNET_HDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("PACKET_AUXDATA", err)
	}
	ignoreTx := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) == nil
	// Optional: without them the port works, slower or with fewer frames.
	if !o.qdisc {
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	var r rings
	if o.rxRing && ignoreTx {
		r = mapRings(fd, ringFrameSizeFor(ifi.MTU), o.txRing) // r.mem nil: recv instead
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		if r.mem != nil {
			unix.Munmap(r.mem)
		}
		return nil, 0, err
	}
	pc := &packetConn{f: f, rc: rc, ignoreTx: ignoreTx, qdisc: o.qdisc}
	if r.mem == nil {
		return pc, ifi.Index, nil
	}
	rcn := &ringConn{packetConn: pc, mem: r.mem, ring: r.mem[:r.frameSize*rxRingFrames], frameSize: r.frameSize, prev: -1}
	if r.tx {
		rcn.tx = &txRing{c: pc, ring: r.mem[len(rcn.ring):], frameSize: r.frameSize, frames: txRingFrames,
			ifname: ifname, mtu: ifi.MTU, owners: make([]txOwner, txRingFrames)}
		return txRingConn{rcn}, ifi.Index, nil
	}
	return rcn, ifi.Index, nil
}

// The rings: rxRingFrames receive slots and txRingFrames transmit slots,
// each of ringFrameSizeFor(MTU) bytes: a struct tpacket2_hdr, the
// virtio_net_hdr and the frame. With the usual MTU of 1500 a slot is 2
// KiB, so the receive ring takes 16 MiB and the transmit ring 2 MiB per
// port (twice that for MTUs above about 1900): the receive ring holds
// 8192 frames, 5.5 ms of minimum-size frames at gigabit line rate
// (1.49 million a second) or 8 ms of what a veth carries here, so that
// the bursts and the pauses of a shared CPU do not overflow it.
const (
	rxRingFrames   = 8192
	txRingFrames   = 1024
	ringBlockSize  = 128 << 10 // 32 pages; a slot never spans blocks
	tpStatusKernel = 0
)

// ringFrameSizeFor returns the slot size for an interface of MTU mtu:
// 2 KiB if a tagged frame of the MTU fits with the headers before it
// (the largest tp_mac is under 100 bytes), else 4 KiB. Longer frames
// arrive truncated and are dropped as oversize (an MTU raised after the
// port opened).
func ringFrameSizeFor(mtu int) int {
	if mtu+14+vlanTagLen+128 <= 2048 {
		return 2048
	}
	return 4096
}

// rings is the memory mapRings mapped: the receive ring, then the
// transmit ring if tx.
type rings struct {
	mem       []byte
	frameSize int
	tx        bool
}

// mapRings sets up a TPACKET_V2 receive ring on fd, and a transmit ring
// if tx is set and the kernel allows, and maps them; mem is nil if the
// kernel refuses the receive ring.
func mapRings(fd, frameSize int, tx bool) rings {
	if unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2) != nil {
		return rings{}
	}
	// PACKET_LOSS (before the rings): see txring_linux.go.
	tx = tx && unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1) == nil
	req := func(frames int) *unix.TpacketReq {
		return &unix.TpacketReq{Block_size: ringBlockSize, Block_nr: uint32(frames * frameSize / ringBlockSize),
			Frame_size: uint32(frameSize), Frame_nr: uint32(frames)}
	}
	if unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, req(rxRingFrames)) != nil {
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V1)
		return rings{}
	}
	size := rxRingFrames * frameSize
	if tx && unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, req(txRingFrames)) == nil {
		size += txRingFrames * frameSize
	} else {
		tx = false
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &unix.TpacketReq{})
		if tx {
			unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &unix.TpacketReq{})
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V1)
		return rings{}
	}
	return rings{mem: mem, frameSize: frameSize, tx: tx}
}

// ringConn is a packetConn that receives through a TPACKET_V2 ring: the
// kernel writes frames into slots it shares with the process, which
// takes them without a system call while they keep coming and waits in
// the poller when the ring is empty. TPACKET_V2 rather than V3: V3 hands
// frames over by blocks, retired when full or at a timeout of at least a
// millisecond, which a frame at a time would wait for; V2 hands over
// each frame as it arrives.
type ringConn struct {
	*packetConn
	mem       []byte // the mapping: ring, then tx's slots
	ring      []byte // the receive slots
	frameSize int
	next      int // the slot to look at
	prev      int // the slot of the frame recv returned last, -1 if none
	closing   atomic.Bool
	tx        *txRing               // nil: sendto
	st        uint32                // the status of slot next, as last read
	ready     func(fd uintptr) bool // for rc.Read: whether slot next is ready
}

// txRingConn is a ringConn that sends through its transmit ring.
type txRingConn struct{ *ringConn }

func (c txRingConn) queue(frame []byte, sent, failed *atomic.Uint64) { c.tx.queue(frame, sent, failed) }
func (c txRingConn) flush()                                          { c.tx.flush() }

// status returns the tp_status word of slot i.
func (c *ringConn) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&c.ring[i*c.frameSize]))
}

func (c *ringConn) close() error {
	c.closing.Store(true)
	return c.packetConn.close()
}

func (c *ringConn) recv(_ []byte) ([]byte, error) {
	if c.prev >= 0 { // the caller is done with it: back to the kernel
		atomic.StoreUint32(c.status(c.prev), tpStatusKernel)
		c.prev = -1
	}
	// While frames are ready they are taken without the poller.
	c.st = atomic.LoadUint32(c.status(c.next))
	if c.st&unix.TP_STATUS_USER == 0 || c.closing.Load() {
		if c.ready == nil { // made once: a closure per wait would be allocated
			c.ready = func(uintptr) bool {
				c.st = atomic.LoadUint32(c.status(c.next))
				if c.st&unix.TP_STATUS_USER != 0 {
					return true
				}
				if c.idle != nil {
					c.idle()
				}
				return false
			}
		}
		if err := c.rc.Read(c.ready); err != nil {
			// The receive loop ends: nothing uses the rings once the
			// transmit ring lets go.
			if c.tx != nil {
				c.tx.release()
			}
			unix.Munmap(c.mem)
			c.mem, c.ring = nil, nil
			return nil, err
		}
	}
	st, i := c.st, c.next
	c.next = (c.next + 1) % rxRingFrames
	slot := c.ring[i*c.frameSize : (i+1)*c.frameSize]
	length := int(binary.NativeEndian.Uint32(slot[4:]))
	snap := int(binary.NativeEndian.Uint32(slot[8:]))
	mac := int(binary.NativeEndian.Uint16(slot[12:]))
	if st&unix.TP_STATUS_COPY != 0 || snap < length || mac < vnetHdrLen || mac+snap > len(slot) {
		// Truncated: longer than a slot, so than a program's frame.
		atomic.StoreUint32(c.status(i), tpStatusKernel)
		return nil, errOversize
	}
	frame, err := completeFrame(slot[mac-vnetHdrLen:mac], slot[mac:mac+snap])
	if err != nil || snap < 2*6 {
		atomic.StoreUint32(c.status(i), tpStatusKernel)
		return nil, errOversize
	}
	if st&unix.TP_STATUS_VLAN_VALID != 0 {
		// The tag goes back where the virtio_net_hdr was.
		tpid := vlanTPID(st, binary.NativeEndian.Uint16(slot[26:]))
		frame = insertVLAN(slot[mac-vlanTagLen:mac+snap], tpid, binary.NativeEndian.Uint16(slot[24:]))
	}
	c.prev = i
	return frame, nil
}

func (c *packetConn) recv(buf []byte) ([]byte, error) {
	if len(buf) < vlanTagLen+vnetHdrLen+2*6 {
		return nil, fmt.Errorf("receive buffer of %d bytes", len(buf))
	}
	// The frame is read after room for a VLAN tag.
	in := buf[vlanTagLen:]
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), in, c.oob[:], 0)
			if rerr == unix.EAGAIN && c.idle != nil {
				c.idle()
			}
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.ENETDOWN) {
			continue // the interface went down; wait for it to come up
		}
		if err != nil {
			return nil, err
		}
		if sll, ok := from.(*unix.SockaddrLinklayer); ok && sll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < vnetHdrLen+2*6 {
			continue
		}
		frame, err := completeFrame(in[:vnetHdrLen], in[vnetHdrLen:n])
		if err != nil {
			return nil, err
		}
		if tpid, tci, ok := auxVLAN(c.oob[:oobn]); ok {
			frame = insertVLAN(buf[vlanTagLen+vnetHdrLen-vlanTagLen:vlanTagLen+n], tpid, tci)
		}
		return frame, nil
	}
}

// vlanTagLen is the length of an 802.1Q tag.
const vlanTagLen = 4

// vlanTPID returns the TPID of a VLAN tag the kernel reports out of
// band: the one it gives, else 802.1Q's.
func vlanTPID(status uint32, tpid uint16) uint16 {
	if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
		return tpid
	}
	return unix.ETH_P_8021Q
}

// auxVLAN returns the VLAN tag of the PACKET_AUXDATA message in oob, if
// the frame had one (Linux takes tags out of the frame before packet
// sockets see it, on receive or from VLAN offload).
func auxVLAN(oob []byte) (tpid, tci uint16, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < 20 { // struct tpacket_auxdata
			continue
		}
		status := binary.NativeEndian.Uint32(m.Data[0:])
		if status&unix.TP_STATUS_VLAN_VALID == 0 {
			return 0, 0, false
		}
		return vlanTPID(status, binary.NativeEndian.Uint16(m.Data[18:])), binary.NativeEndian.Uint16(m.Data[16:]), true
	}
	return 0, 0, false
}

// insertVLAN puts a VLAN tag back into the frame that starts vlanTagLen
// bytes into b and fills the rest of it, after its MAC addresses, and
// returns the tagged frame (all of b).
func insertVLAN(b []byte, tpid, tci uint16) []byte {
	copy(b, b[vlanTagLen:vlanTagLen+12])
	binary.BigEndian.PutUint16(b[12:], tpid)
	binary.BigEndian.PutUint16(b[14:], tci)
	return b
}

// completeFrame returns the frame after its virtio_net_hdr hdr with its
// checksum completed if it is partial; errOversize for a GSO frame.
func completeFrame(hdr, frame []byte) ([]byte, error) {
	if hdr[1] != vnetGSONone {
		return nil, errOversize
	}
	if hdr[0]&vnetNeedsCsum == 0 {
		return frame, nil
	}
	start := int(binary.NativeEndian.Uint16(hdr[6:]))
	off := start + int(binary.NativeEndian.Uint16(hdr[8:]))
	if start >= len(frame) || off+2 > len(frame) {
		return frame, nil // not a checksum the kernel would give: leave it
	}
	// The field holds the pseudo-header's sum: add the rest, as
	// skb_checksum_help does.
	binary.BigEndian.PutUint16(frame[off:], ^csumFold(csumAdd(0, frame[start:])))
	return frame, nil
}

// csumAdd adds b to the 32-bit ones' complement accumulator sum.
func csumAdd(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// csumFold folds a 32-bit accumulator to 16 bits.
func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func (c *packetConn) send(frame []byte) error {
	var zero [vnetHdrLen]byte // no offload: the frame goes as it is
	iov := [][]byte{zero[:], frame}
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Writev(int(fd), iov)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	return err
}

// drops adds up PACKET_STATISTICS' drop counts, which reading resets.
func (c *packetConn) drops() uint64 {
	c.rc.Control(func(fd uintptr) {
		if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			c.dropped.Add(uint64(st.Drops))
		}
	})
	return c.dropped.Load()
}

func (c *packetConn) close() error { return c.f.Close() }
