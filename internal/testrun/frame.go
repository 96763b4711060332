package testrun

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
)

// MemorySize is the memory a Frame needs for a context of ctxSize bytes:
// the frame, the context rounded up to 8 bytes, then a guard word no
// region covers, so that even an empty context's address is memory of
// the run, where accesses fault, rather than the start of whatever
// mapping follows.
func MemorySize(ctxSize int) int { return FrameSize + ((ctxSize + 7) &^ 7) + 8 }

// Program is what the test run knows of a program: its packet kind, the
// offsets in its context's memory of the data, data_end and data_meta
// words (-1 for those it lacks), and whether it may move the packet (call
// a helper that does, or tail-call a program that may).
type Program struct {
	Kind        Kind
	PtrOff      [3]int
	MovesPacket bool
}

// Frame is the memory of a program's test runs: a frame of FrameSize
// bytes the packet is laid out in, then the context's memory; and what
// the last run left there. Its memory holds the addresses programs and
// helpers use, so it must stay where it is (off the Go heap) while a
// Frame uses it.
type Frame struct {
	// Program is the program the frame runs.
	Program
	// Mem is the frame, at address Addr.
	Mem  []byte
	Addr uint64
	// Ctx is the context's memory (the rest of the memory after the
	// frame), at address CtxAddr.
	Ctx     []byte
	CtxAddr uint64
	// Packet is the helpers' packet state, which Setup sets and the
	// packet helpers move; the context's packet pointer words follow it.
	Packet helpers.Packet
	// Layout is where the last Setup laid the packet out.
	Layout Layout
	// Dirty is set when the frame may hold bytes outside the last packet
	// (the program may have moved it, or it had metadata): the next Setup
	// clears the whole frame.
	Dirty bool
	// lastLen is the length of the last packet, from data to data_end.
	lastLen int
}

// NewFrame returns the frame of program p in mem, MemorySize bytes at
// address addr (the address of mem[0], which the program sees and
// helpers write through).
func NewFrame(mem []byte, addr uint64, p Program) Frame {
	return Frame{Program: p, Mem: mem[:FrameSize:FrameSize], Addr: addr, Ctx: mem[FrameSize:], CtxAddr: addr + FrameSize}
}

// Layout is where Setup laid the packet out: the packet region runs from
// Meta to End, the packet proper from Data to End. LinkHeader and
// NetHeader, for skb kinds, are the addresses of the Ethernet and network
// headers that LD_ABS reaches at SKF_LL_OFF and SKF_NET_OFF, Head the
// frame's start; 0 for the other kinds. All are 0 for kind None.
type Layout struct {
	Meta, Data, End             uint64
	LinkHeader, NetHeader, Head uint64
}

// Setup lays a run out as the kernel's test run does: the context in.Ctx
// zero-extended to in.CtxSize bytes and, for a packet kind, the packet in
// a frame that is zero elsewhere, the context's packet pointer words and
// Packet, the __sk_buff fields that describe an skb, the loopback's
// ingress_ifindex for an xdp_md that gives none; and sets Layout.
func (f *Frame) Setup(in *Input) {
	// Setup is on every run's path: it takes and returns no arrays or
	// structs, which would go through memory (and store-forwarding
	// stalls), and a run without packet costs one call.
	ctx := f.Ctx[:in.CtxSize]
	clear(ctx)
	copy(ctx, in.Ctx)
	if f.Kind != None {
		f.setupFrame(in)
	}
}

// setupFrame lays the packet out in the frame.
func (f *Frame) setupFrame(in *Input) {
	k, ctx := f.Kind, f.Ctx[:in.CtxSize]
	mem := f.Mem
	if f.Dirty {
		clear(mem)
	}
	// XDP metadata goes right before the packet, in the headroom.
	copy(mem[XDPHeadroom-in.Meta:], in.Linear)
	end := len(in.Linear) - in.Meta
	if f.lastLen > end && !f.Dirty {
		// Bytes of a longer previous packet past this one's end.
		clear(mem[XDPHeadroom+end : XDPHeadroom+f.lastLen])
	}
	f.lastLen = end
	data := f.Addr + XDPHeadroom
	dataEnd := data + uint64(end)
	if k == SkbL3 {
		data += helpers.ETHHeaderLen
	}
	f.setupPacket(data-uint64(in.Meta), data, dataEnd, in.HaveCtx)
	if k == XDP && binary.NativeEndian.Uint32(ctx[12:]) == 0 {
		// ingress_ifindex: the loopback's queue, also for a context that
		// says 0 (ctx_out keeps the 0); a hook's interface and queue.
		if in.Ingress != 0 {
			binary.NativeEndian.PutUint32(ctx[12:], in.Ingress)
			binary.NativeEndian.PutUint32(ctx[16:], in.RxQueue)
		} else {
			binary.NativeEndian.PutUint32(ctx[12:], loopbackIfindex)
		}
	}
	f.Dirty = f.MovesPacket || in.Meta > 0
}

// setupPacket sets Packet, the context's packet pointers, Layout and, for
// skb kinds, the __sk_buff fields that describe the packet.
func (f *Frame) setupPacket(meta, data, dataEnd uint64, haveCtx bool) {
	k := f.Kind
	f.Packet = helpers.Packet{Ctx: f.CtxAddr, Region: 0, HardStart: f.Addr, HardEnd: f.Addr + FrameSize - helpers.SkbSharedInfoSize,
		DataOff: f.PtrOff[0], DataEndOff: f.PtrOff[1], DataMetaOff: f.PtrOff[2]}
	f.Packet.SetBounds(meta, data, dataEnd)
	switch k {
	case XDP:
		f.Packet.Hook = helpers.HookXDP
	case SkbL2:
		f.Packet.Hook = helpers.HookTC
	default:
		f.Packet.Hook = helpers.HookSocket
	}
	l := &f.Layout
	l.Meta, l.Data, l.End = meta, data, dataEnd
	l.LinkHeader, l.NetHeader, l.Head = 0, 0, 0
	if k == SkbL2 || k == SkbL3 {
		ctx := f.Ctx
		frame := f.Mem[XDPHeadroom : XDPHeadroom+int(dataEnd-(f.Addr+XDPHeadroom))]
		binary.NativeEndian.PutUint32(ctx[0:], uint32(dataEnd-data)) // len
		binary.NativeEndian.PutUint32(ctx[4:], pktType(frame[:6]))   // pkt_type
		proto := ethProtocol(frame)
		binary.NativeEndian.PutUint32(ctx[16:], uint32(proto>>8|proto<<8)) // protocol: a __be16 read as a host integer
		binary.NativeEndian.PutUint32(ctx[40:], loopbackIfindex)           // ifindex
		if haveCtx && binary.NativeEndian.Uint32(ctx[160:]) == 0 {
			// wire_len: the skb's length when the test run starts (after
			// the Ethernet header for socket filters); 0 without a context.
			binary.NativeEndian.PutUint32(ctx[160:], uint32(dataEnd-data))
		}
		// LD_ABS at SKF_LL_OFF/SKF_NET_OFF reaches the Ethernet and
		// network headers, even when the packet starts after them.
		mac := f.Addr + XDPHeadroom
		l.LinkHeader, l.NetHeader, l.Head = mac, mac+helpers.ETHHeaderLen, f.Addr
	}
}

// ethProtocol is eth_type_trans's skb->protocol, in network byte order: the
// EtherType, or for an 802.3 length field ETH_P_802_3 (raw 802.3, payload
// starting with 0xffff) or ETH_P_802_2.
func ethProtocol(frame []byte) uint16 {
	if et := binary.BigEndian.Uint16(frame[12:]); et >= 0x600 {
		return et
	}
	if len(frame) >= 16 && frame[14] == 0xff && frame[15] == 0xff {
		return 0x0001 // ETH_P_802_3
	}
	return 0x0004 // ETH_P_802_2
}

// pktType is eth_type_trans's classification against the loopback
// device, whose address and broadcast address are all zero.
func pktType(dst []byte) uint32 {
	switch {
	case dst[0]&1 != 0:
		// PACKET_MULTICAST, broadcast included: the loopback device's
		// broadcast address is all zero, so ff:ff:ff:ff:ff:ff is not it.
		return 2
	case string(dst) == "\x00\x00\x00\x00\x00\x00":
		return 0 // PACKET_HOST
	}
	return 3 // PACKET_OTHERHOST
}

// PacketOut copies the packet after a run of a program with a packet into
// out, as the kernel fills data_out: from data_meta for XDP, with an
// Ethernet header of zeros before the data for an skb at L3, then tail
// (the fragments CheckPacket or CheckContext split off). It returns out
// resliced to the packet's length; ErrDataOutTooSmall when out's capacity
// is less, ErrNotPacket for kind None.
func (f *Frame) PacketOut(out, tail []byte) ([]byte, error) {
	k, ctx := f.Kind, f.Ctx
	if k == None {
		return nil, fmt.Errorf("%w: %v", ErrNotPacket, k)
	}
	data := binary.NativeEndian.Uint64(ctx[f.Packet.DataOff:])
	end := binary.NativeEndian.Uint64(ctx[f.Packet.DataEndOff:])
	start := data
	switch k {
	case SkbL3: // test-run gives the Ethernet header back, zeroed
		start -= helpers.ETHHeaderLen
	case XDP: // and an XDP frame from its metadata
		start = binary.NativeEndian.Uint64(ctx[f.Packet.DataMetaOff:])
	}
	n := int(end-start) + len(tail)
	if cap(out) < n {
		return nil, fmt.Errorf("%w: need %d bytes, have %d", ErrDataOutTooSmall, n, cap(out))
	}
	out = out[:n]
	copy(out, f.Mem[start-f.Addr:end-f.Addr])
	if k == SkbL3 {
		clear(out[:helpers.ETHHeaderLen])
	}
	copy(out[end-start:], tail)
	return out, nil
}

// skbCopiedBack are the __sk_buff fields (offset, size) that test-run
// copies back to ctx_out (net/bpf/test_run.c:convert_skb_to___skb).
var skbCopiedBack = [...][2]int{
	{8, 4},   // mark
	{32, 4},  // priority
	{36, 4},  // ingress_ifindex
	{40, 4},  // ifindex
	{48, 20}, // cb[5]
	{152, 8}, // tstamp
	{160, 4}, // wire_len
	{164, 4}, // gso_segs
	{176, 4}, // gso_size
	{184, 8}, // hwtstamp
}

// ContextOut turns the context memory mem after a run of p with context c
// into what the kernel's ctx_out holds, in place, and returns it: the
// struct (a raw context: as much as in.Ctx gave, up to in.CtxSize); for
// an xdp_md the fields as given with data and data_end relative to
// data_meta (xdp_convert_buff_to_md), for an __sk_buff the fields the
// kernel copies back and zeros elsewhere (convert_skb_to___skb).
func (p *Program) ContextOut(c *ctxaccess.Layout, in *Input, mem []byte) []byte {
	size := min(len(in.Ctx), in.CtxSize)
	if c != nil && len(c.Fields) != 0 {
		size = c.Size
	}
	out := mem[:size]
	switch structOf(p.Kind, c) {
	case xdpMD:
		meta := binary.NativeEndian.Uint64(mem[p.PtrOff[2]:])
		data := binary.NativeEndian.Uint64(mem[p.PtrOff[0]:])
		end := binary.NativeEndian.Uint64(mem[p.PtrOff[1]:])
		clear(out)
		copy(out, in.Ctx)
		binary.NativeEndian.PutUint32(out[0:], uint32(data-meta))
		binary.NativeEndian.PutUint32(out[4:], uint32(end-meta))
	case skBuff:
		skbContextOut(out)
	}
	return out
}

// skbContextOut zeroes the fields of an __sk_buff that the kernel does not
// copy back to ctx_out.
func skbContextOut(out []byte) {
	var keep [skBuffSize]byte
	for _, f := range skbCopiedBack {
		if f[0]+f[1] <= len(out) {
			copy(keep[f[0]:f[0]+f[1]], out[f[0]:])
		}
	}
	copy(out, keep[:])
}
