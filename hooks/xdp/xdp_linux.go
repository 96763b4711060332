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
//     interface's promiscuous mode, so it sees frames for any MAC.
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
//     Sending is one system call per frame (writev of the virtio_net_hdr
//     and the frame); a TX ring is not used, as frames reach a port from
//     the goroutines of several ports. TestBridgeMeasure compares both
//     ways of receiving and the direct path.

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
	dropped  atomic.Uint64
	oob      [64]byte // control messages of recv: PACKET_AUXDATA
	idle     func()   // called when recv is about to wait (nil: nothing)
}

func (c *packetConn) setIdle(idle func()) { c.idle = idle }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openConn opens an AF_PACKET socket on the interface named ifname, with
// a receive ring if the kernel allows.
func openConn(ifname string) (conn, int, error) { return openPacket(ifname, true) }

// openPacket opens an AF_PACKET socket on the interface named ifname,
// with a TPACKET_V2 receive ring if ring is set and the kernel allows.
func openPacket(ifname string, ring bool) (conn, int, error) {
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
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	var rx []byte
	if ring && ignoreTx {
		rx = mapRing(fd) // nil: recv instead
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		if rx != nil {
			unix.Munmap(rx)
		}
		return nil, 0, err
	}
	pc := &packetConn{f: f, rc: rc, ignoreTx: ignoreTx}
	if rx != nil {
		return &ringConn{packetConn: pc, ring: rx, prev: -1}, ifi.Index, nil
	}
	return pc, ifi.Index, nil
}

// The receive ring: ringFrames slots of ringFrameSize bytes, each a
// struct tpacket2_hdr, the virtio_net_hdr and the frame.
const (
	ringFrameSize  = 4096
	ringBlockSize  = 32 * ringFrameSize
	ringBlocks     = 64
	ringFrames     = ringBlockSize / ringFrameSize * ringBlocks
	tpStatusKernel = 0
)

// mapRing sets up a TPACKET_V2 receive ring on fd and maps it; nil if the
// kernel refuses.
func mapRing(fd int) []byte {
	if unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2) != nil {
		return nil
	}
	req := unix.TpacketReq{Block_size: ringBlockSize, Block_nr: ringBlocks, Frame_size: ringFrameSize, Frame_nr: ringFrames}
	if unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req) != nil {
		return nil
	}
	rx, err := unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		rx, err = unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		req = unix.TpacketReq{}
		unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req)
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V1)
		return nil
	}
	return rx
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
	ring []byte
	next int // the slot to look at
	prev int // the slot of the frame recv returned last, -1 if none
}

// status returns the tp_status word of slot i.
func (c *ringConn) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&c.ring[i*ringFrameSize]))
}

func (c *ringConn) recv(_ []byte) ([]byte, error) {
	if c.prev >= 0 { // the caller is done with it: back to the kernel
		atomic.StoreUint32(c.status(c.prev), tpStatusKernel)
		c.prev = -1
	}
	var st uint32
	err := c.rc.Read(func(uintptr) bool {
		st = atomic.LoadUint32(c.status(c.next))
		if st&unix.TP_STATUS_USER != 0 {
			return true
		}
		if c.idle != nil {
			c.idle()
		}
		return false
	})
	if err != nil {
		unix.Munmap(c.ring) // the receive loop ends: nothing uses the ring
		c.ring = nil
		return nil, err
	}
	i := c.next
	c.next = (c.next + 1) % ringFrames
	slot := c.ring[i*ringFrameSize : (i+1)*ringFrameSize]
	snap := int(binary.NativeEndian.Uint32(slot[8:]))
	mac := int(binary.NativeEndian.Uint16(slot[12:]))
	if st&unix.TP_STATUS_COPY != 0 || mac < vnetHdrLen || mac+snap > len(slot) {
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
