package xebpf

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/helpers"
)

// packetMover reports whether helper id changes where the packet lies
// (the kernel's bpf_helper_changes_pkt_data), plus bpf_tail_call, whose
// target may call them.
func packetMover(id int32) bool { return id == 12 || helpers.ChangesPacket(id) }

// checkPacket refuses packets the kernel's test run refuses and splits off
// what does not fit the linear part of an XDP frame.
func (p *Program) checkPacket(in []byte) (linear, tail []byte, err error) {
	pk := p.pk
	if len(in) < helpers.ETHHeaderLen && pk != packetCustom {
		return nil, nil, fmt.Errorf("run %s: %w: %d bytes, shorter than an Ethernet header", p.name, ErrShortPacket, len(in))
	}
	if pk == packetSkbL2 || pk == packetSkbL3 {
		// Test-run refuses an IP packet shorter than its header.
		switch l3 := len(in) - helpers.ETHHeaderLen; binary.BigEndian.Uint16(in[12:]) {
		case 0x0800:
			if l3 < 20 {
				return nil, nil, fmt.Errorf("run %s: %w: IPv4 packet with %d bytes after the Ethernet header", p.name, ErrShortPacket, l3)
			}
		case 0x86dd:
			if l3 < 40 {
				return nil, nil, fmt.Errorf("run %s: %w: IPv6 packet with %d bytes after the Ethernet header", p.name, ErrShortPacket, l3)
			}
		}
	}
	if len(in) > maxLinearData {
		if pk != packetXDP {
			return nil, nil, fmt.Errorf("run %s: packet of %d bytes exceeds %d", p.name, len(in), maxLinearData)
		}
		return in[:maxLinearData], in[maxLinearData:], nil
	}
	return in, nil, nil
}

// packetOf returns how a type's context relates to the packet.
func packetOf(t *ProgramKind) packetKind {
	if t.packet != packetNone {
		return t.packet
	}
	if _, ok := t.Context.PointerOffset(PacketStart); ok {
		return packetCustom
	}
	return packetNone
}

// setupPacket writes the packet pointers (and, for skb types, the
// __sk_buff fields that describe the packet) into the context.
func (p *Program) setupPacket(rs *runState, meta, data, dataEnd uint64, haveCtx bool) {
	mem := rs.mem.Bytes()
	ctx := mem[frameSize:]
	rs.packet = helpers.Packet{Ctx: rs.ctx, Region: 0, HardStart: rs.frame, HardEnd: rs.frame + frameSize - helpers.SkbSharedInfoSize,
		DataOff: p.ptrOff[0], DataEndOff: p.ptrOff[1], DataMetaOff: p.ptrOff[2]}
	rs.packet.SetBounds(meta, data, dataEnd)
	switch p.pk {
	case packetXDP:
		rs.packet.Hook = helpers.HookXDP
	case packetSkbL2:
		rs.packet.Hook = helpers.HookTC
	default:
		rs.packet.Hook = helpers.HookSocket
	}
	if p.pk == packetSkbL2 || p.pk == packetSkbL3 {
		frame := mem[xdpHeadroom : xdpHeadroom+int(dataEnd-(rs.frame+xdpHeadroom))]
		binary.NativeEndian.PutUint32(ctx[0:], uint32(dataEnd-data)) // len
		binary.NativeEndian.PutUint32(ctx[4:], pktType(frame[:6]))   // pkt_type
		proto := ethProtocol(frame)
		binary.NativeEndian.PutUint32(ctx[16:], uint32(proto>>8|proto<<8)) // protocol: a __be16 read as a host integer
		binary.NativeEndian.PutUint32(ctx[40:], 1)                         // ifindex: loopback
		if haveCtx && binary.NativeEndian.Uint32(ctx[160:]) == 0 {
			// wire_len: the skb's length when the test run starts (after
			// the Ethernet header for socket filters); 0 without a context.
			binary.NativeEndian.PutUint32(ctx[160:], uint32(dataEnd-data))
		}
		// LD_ABS at SKF_LL_OFF/SKF_NET_OFF reaches the Ethernet and
		// network headers, even when the packet starts after them.
		mac := rs.frame + xdpHeadroom
		rs.env.LinkHeader, rs.env.NetHeader, rs.env.PacketHead = mac, mac+helpers.ETHHeaderLen, rs.frame
	}
	r := &rs.env.Regions[0] // from the metadata, as after a move
	r.Addr, r.Size, r.Writable = meta, dataEnd-meta, true
	rs.env.Packet.Addr, rs.env.Packet.Size, rs.env.Packet.Writable = data, dataEnd-data, true
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

// skbContextOut zeroes the fields of an __sk_buff that the kernel does not
// copy back to ctx_out.
func skbContextOut(out []byte) {
	var keep [192]byte
	for _, f := range skbCopiedBack {
		if f[0]+f[1] <= len(out) {
			copy(keep[f[0]:f[0]+f[1]], out[f[0]:])
		}
	}
	copy(out, keep[:])
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

// packetOut copies the packet after the run into opts.DataOut.
func (rs *runState) packetOut(pk packetKind, opts *RunOptions, tail []byte) error {
	if opts.DataOut == nil {
		return nil
	}
	ctx := rs.mem.Bytes()[frameSize:]
	data := binary.NativeEndian.Uint64(ctx[rs.packet.DataOff:])
	end := binary.NativeEndian.Uint64(ctx[rs.packet.DataEndOff:])
	start := data
	switch pk {
	case packetSkbL3: // test-run gives the Ethernet header back, zeroed
		start -= helpers.ETHHeaderLen
	case packetXDP: // and an XDP frame from its metadata
		start = binary.NativeEndian.Uint64(ctx[rs.packet.DataMetaOff:])
	}
	n := int(end-start) + len(tail)
	if cap(opts.DataOut) < n {
		return fmt.Errorf("%w: need %d bytes, have %d", ErrDataOutTooSmall, n, cap(opts.DataOut))
	}
	out := opts.DataOut[:n]
	frame := rs.mem.Bytes()[:frameSize]
	copy(out, frame[start-rs.frame:end-rs.frame])
	if pk == packetSkbL3 {
		clear(out[:helpers.ETHHeaderLen])
	}
	copy(out[end-start:], tail)
	opts.DataOut = out
	return nil
}
