package helpers

import (
	"encoding/binary"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/maps"
)

// Helpers that move or resize the packet of an skb (tc programs) and
// bpf_skb_load_bytes_relative, after net/core/filter.c and
// net/core/skbuff.c of Linux 6.18 as BPF_PROG_TEST_RUN sees them: a linear,
// uncloned skb without GSO type, checksum offload or route, whose MAC
// header starts at data for tc (and 14 bytes before data for socket
// filters), network header 14 bytes after the MAC header and no transport
// header.
//
// Linux reallocates the skb when a helper needs more headroom or tailroom
// than it has; xebpf's skb lives in the fixed test-run frame
// (Packet.HardStart to Packet.HardEnd, 3776 bytes), within which the
// helpers move the packet to make room (programs must re-check packet
// pointers after these helpers anyway), and a change the frame cannot hold
// fails with -ENOMEM, what Linux answers when that reallocation fails. So
// bpf_skb_change_tail and bpf_skb_change_head stop at a 3776-byte packet
// where Linux allows BPF_SKB_MAX_LEN (16064), and bpf_skb_adjust_room's
// growth is bounded the same way.
//
// One effect of Linux's reallocation is visible and followed: the test-run
// skb starts with 64 bytes of headroom (NET_SKB_PAD), and when a helper
// needs more, pskb_expand_head adds to every header offset, the unset
// transport header (~0) included, which thereby becomes set one byte
// before the old buffer start; bpf_skb_change_tail then keeps that
// transport header as well as the network header (__bpf_skb_min_len: on
// Linux 6.18 the larger of the two offsets, see Run.minLen).

// Offsets of further struct __sk_buff fields.
const (
	skbProtocolOff  = 16  // protocol (__be16 as a host integer)
	skbVlanPresent  = 20  // vlan_present
	skbVlanTCIOff   = 24  // vlan_tci
	skbVlanProtoOff = 28  // vlan_proto (__be16 as a host integer)
	skbGSOSegsOff   = 164 // gso_segs
	skbGSOSizeOff   = 176 // gso_size
)

// EtherTypes, host order.
const (
	ethP8023    = 0x0001
	ethP8022    = 0x0004
	ethP8023Min = 0x0600
	vlanHLen    = 4
	ethALen     = 6
	ipv4HLen    = 20
	ipv6HLen    = 40
)

// skbMaxLen is BPF_SKB_MAX_LEN (SKB_MAX_ALLOC: four pages less the
// aligned struct skb_shared_info).
const skbMaxLen = 4<<12 - SkbSharedInfoSize

// Flags of bpf_skb_adjust_room, as in Linux.
const (
	FlagAdjRoomFixedGSO    = 1 << 0 // BPF_F_ADJ_ROOM_FIXED_GSO
	FlagAdjRoomEncapL3IPv4 = 1 << 1 // BPF_F_ADJ_ROOM_ENCAP_L3_IPV4
	FlagAdjRoomEncapL3IPv6 = 1 << 2 // BPF_F_ADJ_ROOM_ENCAP_L3_IPV6
	FlagAdjRoomEncapL4GRE  = 1 << 3 // BPF_F_ADJ_ROOM_ENCAP_L4_GRE
	FlagAdjRoomEncapL4UDP  = 1 << 4 // BPF_F_ADJ_ROOM_ENCAP_L4_UDP
	FlagAdjRoomNoCsumReset = 1 << 5 // BPF_F_ADJ_ROOM_NO_CSUM_RESET
	FlagAdjRoomEncapL2Eth  = 1 << 6 // BPF_F_ADJ_ROOM_ENCAP_L2_ETH
	FlagAdjRoomDecapL3IPv4 = 1 << 7 // BPF_F_ADJ_ROOM_DECAP_L3_IPV4
	FlagAdjRoomDecapL3IPv6 = 1 << 8 // BPF_F_ADJ_ROOM_DECAP_L3_IPV6
	adjRoomEncapL2Shift    = 56     // BPF_ADJ_ROOM_ENCAP_L2_SHIFT
	adjRoomEncapL3Mask     = FlagAdjRoomEncapL3IPv4 | FlagAdjRoomEncapL3IPv6
	adjRoomDecapL3Mask     = FlagAdjRoomDecapL3IPv4 | FlagAdjRoomDecapL3IPv6
	adjRoomMask            = FlagAdjRoomFixedGSO | adjRoomEncapL3Mask | FlagAdjRoomEncapL4GRE |
		FlagAdjRoomEncapL4UDP | FlagAdjRoomEncapL2Eth | 0xff<<adjRoomEncapL2Shift | adjRoomDecapL3Mask
)

// Extra errno values of the skb helpers.
const (
	ePROTO   maps.Errno = 71
	eBADMSG  maps.Errno = 74
	eALREADY maps.Errno = 114
	eNOMEM              = maps.ENOMEM
	eNODEV              = maps.ENODEV
	eAFNOSUP maps.Errno = 97 // EAFNOSUPPORT
)

// skbHeaders are the header positions of the run's skb (addresses), which
// the header-moving helpers keep and bpf_skb_load_bytes_relative reads.
type skbHeaders struct {
	set      bool
	mac, net uint64
	trans    uint64 // 0: no transport header
	encap    bool   // skb->encapsulation
	room     uint64 // the headroom Linux's test-run skb would have
}

// movesHeaders wraps a helper that may move the skb's headers so that,
// after it, the interpreter's LD_ABS/LD_IND at SKF_LL_OFF and SKF_NET_OFF
// (Env.LinkHeader, Env.NetHeader) see the headers where Linux's
// skb_mac_header and skb_network_header would be.
func movesHeaders(h api.Helper) api.Helper {
	return func(c *api.HelperCall) (uint64, error) {
		r0, err := h(c)
		if r, ok := c.Env().Context.(*Run); ok && r.hdr.set {
			env := c.Env()
			env.LinkHeader, env.NetHeader = r.hdr.mac, r.hdr.net
		}
		return r0, err
	}
}

// testRunHeadroom is the headroom of a test-run skb at its MAC header
// (NET_SKB_PAD + NET_IP_ALIGN on x86-64 and arm64).
const testRunHeadroom = 64

// headers returns the skb's header positions, taking them from the packet
// as the test run lays it out on first use.
func (r *Run) headers(p *Packet) *skbHeaders {
	h := &r.hdr
	if !h.set {
		data := p.data()
		*h = skbHeaders{set: true, mac: data, net: data + ETHHeaderLen, room: testRunHeadroom}
		if p.Hook != HookTC {
			h.mac, h.net, h.room = data-ETHHeaderLen, data, testRunHeadroom+ETHHeaderLen
		}
	}
	return h
}

// cow is skb_cow (and skb_cow_head) before pushing n bytes: it makes
// room for them in the frame, moving the packet toward the frame's end if
// needed, and follows Linux's reallocation of a skb whose headroom is
// short (see the top of this file). It reports false when the frame
// cannot hold the bigger packet.
func (r *Run) cow(c *api.HelperCall, p *Packet, n uint64) bool {
	if !r.makeRoom(c, p, n, 0) {
		return false
	}
	h := r.headers(p)
	if n > h.room {
		nhead := (n - h.room + testRunHeadroom - 1) &^ (testRunHeadroom - 1)
		if h.trans == 0 {
			h.trans = p.data() - h.room - 1
		}
		h.room += nhead
	}
	return true
}

// makeRoom moves the packet within the frame so that head bytes fit
// before it and tail bytes after it; false if the frame is too small.
func (r *Run) makeRoom(c *api.HelperCall, p *Packet, head, tail uint64) bool {
	data, end := p.data(), p.dataEnd()
	if head+tail > p.HardEnd-p.HardStart-(end-data) {
		return false
	}
	var nd uint64
	switch {
	case data-p.HardStart < head:
		nd = p.HardStart + head
	case p.HardEnd-end < tail:
		nd = p.HardEnd - tail - (end - data)
	default:
		return true
	}
	copy(bytesAt(nd, end-data), bytesAt(data, end-data))
	if nd > data {
		clear(bytesAt(data, min(nd, end)-data))
	} else {
		clear(bytesAt(max(nd+(end-data), data), end-max(nd+(end-data), data)))
	}
	h := r.headers(p)
	h.mac, h.net = h.mac+nd-data, h.net+nd-data
	if h.trans != 0 {
		h.trans += nd - data
	}
	p.move(c, nd, nd+(end-data))
	return true
}

func swap16(v uint16) uint16 { return v>>8 | v<<8 }

// setProtocol sets skb->protocol (proto in host order).
func (p *Packet) setProtocol(proto uint16) { *p.ctxWord32(skbProtocolOff) = uint32(swap16(proto)) }

// gso is skb_is_gso: a test run's skb has GSO when its ctx_in gave a
// gso_size.
func (p *Packet) gso() bool { return *p.ctxWord32(skbGSOSizeOff) != 0 }

// move points data and data_end at new places and updates len and the
// packet region (bpf_compute_data_pointers).
func (p *Packet) move(c *api.HelperCall, data, end uint64) {
	p.sync(c, data, data, end)
	*p.ctxWord32(skbLenOff) = uint32(end - data)
}

// vlan returns the hardware-accelerated VLAN tag (vlan_proto host order,
// vlan_tci) and whether one is present (skb->vlan_all != 0).
func (p *Packet) vlan() (proto, tci uint16, present bool) {
	proto = swap16(uint16(*p.ctxWord32(skbVlanProtoOff)))
	tci = uint16(*p.ctxWord32(skbVlanTCIOff))
	return proto, tci, proto != 0 || tci != 0
}

// setVlan is __vlan_hwaccel_put_tag (or, for zeros, __vlan_hwaccel_clear_tag).
func (p *Packet) setVlan(proto, tci uint16) {
	*p.ctxWord32(skbVlanProtoOff) = uint32(swap16(proto))
	*p.ctxWord32(skbVlanTCIOff) = uint32(tci)
	present := uint32(0)
	if proto != 0 || tci != 0 {
		present = 1
	}
	*p.ctxWord32(skbVlanPresent) = present
}

func ethTypeVlan(proto uint16) bool { return proto == ethP8021Q || proto == ethP8021AD }

// bpf_skb_vlan_push(skb, vlan_proto, vlan_tci), as skb_vlan_push: a
// protocol other than 802.1Q and 802.1AD becomes 802.1Q; the tag goes to
// the hardware-accelerated slot (the __sk_buff vlan_* fields), and a tag
// already there moves into the packet after the MAC addresses, its
// protocol becoming skb->protocol. Returns 0, -EINVAL if data is not at
// the MAC header, -ENOMEM without headroom.
func skbVlanPush(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	proto := swap16(uint16(c.Args[1]))
	if !ethTypeVlan(proto) {
		proto = ethP8021Q
	}
	tci := uint16(c.Args[2])
	if oldProto, oldTCI, present := p.vlan(); present {
		h := r.headers(p)
		if p.data() != h.mac {
			return errno(eINVAL), nil
		}
		if !r.cow(c, p, vlanHLen) {
			return errno(eNOMEM), nil
		}
		data, end := p.data(), p.dataEnd()
		nd := data - vlanHLen
		h.room -= vlanHLen
		copy(bytesAt(nd, 2*ethALen), bytesAt(data, 2*ethALen))
		binary.BigEndian.PutUint16(bytesAt(nd+2*ethALen, 2), oldProto)
		binary.BigEndian.PutUint16(bytesAt(nd+2*ethALen+2, 2), oldTCI)
		h.mac -= vlanHLen
		h.net -= vlanHLen
		p.setProtocol(oldProto)
		p.move(c, nd, end)
	}
	p.setVlan(proto, tci)
	return 0, nil
}

// vlanPopPayload is __skb_vlan_pop: removes the tag after the MAC
// addresses and returns its TCI, setting skb->protocol from the
// encapsulated EtherType as vlan_set_encap_proto does.
func (r *Run) vlanPopPayload(c *api.HelperCall, p *Packet) (uint16, uint64, bool) {
	h := r.headers(p)
	data, end := p.data(), p.dataEnd()
	if data != h.mac {
		return 0, errno(eINVAL), false
	}
	if end-data < ETHHeaderLen+vlanHLen {
		return 0, errno(eNOMEM), false
	}
	tci := binary.BigEndian.Uint16(bytesAt(data+ETHHeaderLen, 2))
	copy(bytesAt(data+vlanHLen, 2*ethALen), bytesAt(data, 2*ethALen))
	encap := binary.BigEndian.Uint16(bytesAt(data+ETHHeaderLen+2, 2))
	switch {
	case encap >= ethP8023Min:
		p.setProtocol(encap)
	case data+ETHHeaderLen+vlanHLen+2 <= p.HardEnd && binary.NativeEndian.Uint16(bytesAt(data+ETHHeaderLen+vlanHLen, 2)) == 0xffff:
		p.setProtocol(ethP8023)
	default:
		p.setProtocol(ethP8022)
	}
	nd := data + vlanHLen
	h.mac += vlanHLen
	h.room += vlanHLen
	if h.net < nd+ETHHeaderLen {
		h.net = nd + ETHHeaderLen
	}
	p.move(c, nd, end)
	return tci, 0, true
}

// bpf_skb_vlan_pop(skb), as skb_vlan_pop: clears the accelerated tag, or
// without one pops an 802.1Q/802.1AD tag from the packet; then a further
// tag in the packet moves to the accelerated slot. Returns 0, -EINVAL if
// data is not at the MAC header, -ENOMEM for a packet shorter than a
// tagged Ethernet header.
func skbVlanPop(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	if _, _, present := p.vlan(); present {
		p.setVlan(0, 0)
	} else {
		if !ethTypeVlan(p.protocol()) {
			return 0, nil
		}
		if _, ret, ok := r.vlanPopPayload(c, p); !ok {
			return ret, nil
		}
	}
	proto := p.protocol()
	if !ethTypeVlan(proto) {
		return 0, nil
	}
	tci, ret, ok := r.vlanPopPayload(c, p)
	if !ok {
		return ret, nil
	}
	p.setVlan(proto, tci)
	return 0, nil
}

// netHdrPush is bpf_skb_net_hdr_push: len zero bytes inserted off bytes
// after data, the headers before them moving with data. The caller made
// room with cow.
func (r *Run) netHdrPush(c *api.HelperCall, p *Packet, off, n uint64) {
	h := r.headers(p)
	data, end := p.data(), p.dataEnd()
	nd := data - n
	h.room -= n
	transSame := h.trans == h.net
	copy(bytesAt(nd, off), bytesAt(data, off))
	clear(bytesAt(nd+off, n))
	h.mac -= n
	h.net -= n
	if transSame {
		h.trans = h.net
	}
	p.move(c, nd, end)
}

// netHdrPop is bpf_skb_net_hdr_pop: n bytes removed off bytes after data.
// Returns false (-ENOMEM) when the packet is shorter than off+n.
func (r *Run) netHdrPop(c *api.HelperCall, p *Packet, off, n uint64) bool {
	h := r.headers(p)
	data, end := p.data(), p.dataEnd()
	if end-data < off+n {
		return false
	}
	transSame := h.trans == h.net
	nd := data + n
	copy(bytesAt(nd, off), bytesAt(data, off))
	h.room += n
	h.mac += n
	h.net += n
	if transSame {
		h.trans = h.net
	}
	p.move(c, nd, end)
	return true
}

// bpf_skb_change_proto(skb, proto, flags): IPv4 to IPv6 inserts 20 zero
// bytes after the MAC header, IPv6 to IPv4 removes the 20 bytes there;
// skb->protocol changes and the hash is cleared. -EINVAL for flags,
// -ENOTSUPP for other protocol pairs, -ENOMEM when the room cannot change.
func skbChangeProto(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	to, flags := swap16(uint16(c.Args[1])), c.Args[2]
	if flags != 0 {
		return errno(eINVAL), nil
	}
	h := r.headers(p)
	off := h.net - h.mac
	const diff = ipv6HLen - ipv4HLen
	switch from := p.protocol(); {
	case from == ethPIP && to == ethPIPv6:
		if !r.cow(c, p, diff) {
			return errno(eNOMEM), nil
		}
		r.netHdrPush(c, p, off, diff)
	case from == ethPIPv6 && to == ethPIP:
		if !r.netHdrPop(c, p, off, diff) {
			return errno(eNOMEM), nil
		}
	default:
		return errno(eNOTSUPP), nil
	}
	p.setProtocol(to)
	r.clearHash(p)
	return 0, nil
}

// netBaseLen is bpf_skb_net_base_len: the fixed header length of
// skb->protocol, ~0 for protocols other than IPv4 and IPv6.
func (p *Packet) netBaseLen() uint64 {
	switch p.protocol() {
	case ethPIP:
		return ipv4HLen
	case ethPIPv6:
		return ipv6HLen
	}
	return 0xffffffff
}

// Modes of bpf_skb_adjust_room.
const (
	adjRoomNet = 0 // BPF_ADJ_ROOM_NET
	adjRoomMac = 1 // BPF_ADJ_ROOM_MAC
)

// bpf_skb_adjust_room(skb, len_diff, mode, flags), as Linux: grows or
// shrinks the room after the MAC header (BPF_ADJ_ROOM_MAC) or after the
// fixed network header (BPF_ADJ_ROOM_NET) by len_diff bytes (zeroed when
// growing), with the encapsulation and decapsulation flags' protocol
// changes. A test run's GSO skb has no GSO type, which Linux refuses here
// (-ENOTSUPP).
func skbAdjustRoom(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	lenDiff, mode, flags := int32(c.Args[1]), uint32(c.Args[2]), c.Args[3]
	abs := uint64(lenDiff)
	if lenDiff < 0 {
		abs = uint64(-int64(lenDiff))
	}
	abs &= 0xffffffff
	shrink := lenDiff < 0
	if flags&^uint64(adjRoomMask|FlagAdjRoomNoCsumReset) != 0 {
		return errno(eINVAL), nil
	}
	if abs > 0xfff {
		return errno(eFAULT), nil
	}
	proto := p.protocol()
	if proto != ethPIP && proto != ethPIPv6 {
		return errno(eNOTSUPP), nil
	}
	h := r.headers(p)
	off := h.net - h.mac
	switch mode {
	case adjRoomNet:
		off += p.netBaseLen()
	case adjRoomMac:
	default:
		return errno(eNOTSUPP), nil
	}
	lenMin := p.netBaseLen()
	if flags&adjRoomDecapL3Mask != 0 {
		if !shrink {
			return errno(eINVAL), nil
		}
		switch flags & adjRoomDecapL3Mask {
		case FlagAdjRoomDecapL3IPv4:
			lenMin = ipv4HLen
		case FlagAdjRoomDecapL3IPv6:
			lenMin = ipv6HLen
		default:
			return errno(eINVAL), nil
		}
	}
	data, end := p.data(), p.dataEnd()
	skbLen := end - data
	lenCur := uint64(uint32(skbLen - (h.net - data)))
	if shrink && (abs >= lenCur || lenCur-abs < lenMin) || !shrink && skbLen+abs > skbMaxLen && !p.gso() {
		return errno(eNOTSUPP), nil
	}
	if shrink {
		return r.netShrink(c, p, off, abs, flags), nil
	}
	return r.netGrow(c, p, off, abs, flags), nil
}

// netShrink is bpf_skb_net_shrink.
func (r *Run) netShrink(c *api.HelperCall, p *Packet, off, n, flags uint64) uint64 {
	if flags&^uint64(FlagAdjRoomFixedGSO|adjRoomDecapL3Mask|FlagAdjRoomNoCsumReset) != 0 {
		return errno(eINVAL)
	}
	if p.gso() {
		return errno(eNOTSUPP)
	}
	if !r.netHdrPop(c, p, off, n) {
		return errno(eNOMEM)
	}
	switch proto := p.protocol(); {
	case proto == ethPIP && flags&FlagAdjRoomDecapL3IPv6 != 0:
		p.setProtocol(ethPIPv6)
	case proto == ethPIPv6 && flags&FlagAdjRoomDecapL3IPv4 != 0:
		p.setProtocol(ethPIP)
	}
	return 0
}

// netGrow is bpf_skb_net_grow.
func (r *Run) netGrow(c *api.HelperCall, p *Packet, off, n, flags uint64) uint64 {
	innerMacLen := flags >> adjRoomEncapL2Shift & 0xff
	encap := flags&adjRoomEncapL3Mask != 0
	if p.gso() {
		return errno(eNOTSUPP)
	}
	if !r.cow(c, p, n) {
		return errno(eNOMEM)
	}
	h := r.headers(p)
	var macLen uint64
	if encap {
		switch {
		case flags&adjRoomEncapL3Mask == adjRoomEncapL3Mask,
			flags&FlagAdjRoomEncapL4GRE != 0 && flags&FlagAdjRoomEncapL4UDP != 0,
			flags&FlagAdjRoomEncapL2Eth != 0 && innerMacLen < ETHHeaderLen:
			return errno(eINVAL)
		case h.encap:
			return errno(eALREADY)
		case innerMacLen > n:
			return errno(eINVAL)
		}
		macLen = h.net - h.mac
	}
	r.netHdrPush(c, p, off, n)
	if !encap {
		return 0
	}
	h.encap = true
	data := p.data()
	h.net = data + macLen
	if flags&(FlagAdjRoomEncapL4GRE|FlagAdjRoomEncapL4UDP) != 0 {
		nh := uint64(ipv4HLen)
		if flags&FlagAdjRoomEncapL3IPv6 != 0 {
			nh = ipv6HLen
		}
		h.trans = data + macLen + nh
	}
	switch proto := p.protocol(); {
	case proto == ethPIP && flags&FlagAdjRoomEncapL3IPv6 != 0:
		p.setProtocol(ethPIPv6)
	case proto == ethPIPv6 && flags&FlagAdjRoomEncapL3IPv4 != 0:
		p.setProtocol(ethPIP)
	}
	return 0
}

// minLen is __bpf_skb_min_len: the packet must keep its network and
// transport headers, so the shortest length is the larger of their
// offsets from data (a header before data counts as 0).
//
// This is what Linux 6.18 does, measured with BPF_PROG_TEST_RUN: after a
// reallocation has set the transport header before the network header
// (bpf_skb_change_head past the headroom), bpf_skb_change_tail still
// refuses to cut into the network header, and after one that set it
// after the network header (bpf_skb_adjust_room at the MAC header past
// the headroom) it refuses to cut into the transport header. The source
// of the December 2024 fix of __bpf_skb_min_len ("bpf: Check negative
// offsets in __bpf_skb_min_len()") instead lets any positive transport
// offset replace the network one; the kernel comparison tests detect a
// kernel that does so and skip the cases that depend on it.
func (r *Run) minLen(p *Packet) uint64 {
	h := r.headers(p)
	data := p.data()
	var m uint64
	if off := int64(h.net - data); off > 0 {
		m = uint64(off)
	}
	if h.trans != 0 {
		if off := int64(h.trans - data); off > 0 {
			m = max(m, uint64(off))
		}
	}
	return m
}

// gsoReset is skb_gso_reset, seen in the __sk_buff gso fields.
func (p *Packet) gsoReset() {
	*p.ctxWord32(skbGSOSizeOff) = 0
	*p.ctxWord32(skbGSOSegsOff) = 0
}

// bpf_skb_change_tail(skb, new_len, flags): grows the packet to new_len
// with zero bytes or trims it. -EINVAL for flags, a length above
// BPF_SKB_MAX_LEN or one cutting into the network (or transport) header;
// -ENOTSUPP for an encapsulated skb; -ENOMEM past the frame.
func skbChangeTail(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	newLen, flags := uint64(uint32(c.Args[1])), c.Args[2]
	if flags != 0 || newLen > skbMaxLen || newLen < r.minLen(p) {
		return errno(eINVAL), nil
	}
	if r.hdr.encap {
		return errno(eNOTSUPP), nil
	}
	data, end := p.data(), p.dataEnd()
	if newLen > end-data && !r.makeRoom(c, p, 0, newLen-(end-data)) {
		return errno(eNOMEM), nil
	}
	data, end = p.data(), p.dataEnd()
	ne := data + newLen
	if ne > end {
		clear(bytesAt(end, ne-end))
	}
	if p.gso() {
		p.gsoReset()
	}
	p.move(c, data, ne)
	return 0, nil
}

// bpf_skb_change_head(skb, head_room, flags): head_room zero bytes before
// the packet, which become its MAC header. -EINVAL for flags, a
// head_room above INT_MAX or a length above BPF_SKB_MAX_LEN (without
// GSO); -ENOMEM past the frame.
func skbChangeHead(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	room, flags := uint32(c.Args[1]), c.Args[2]
	data, end := p.data(), p.dataEnd()
	skbLen := uint32(end - data)
	newLen := skbLen + room
	if flags != 0 || int32(room) < 0 || !p.gso() && newLen > skbMaxLen || newLen < skbLen {
		return errno(eINVAL), nil
	}
	if !r.cow(c, p, uint64(room)) {
		return errno(eNOMEM), nil
	}
	h := r.headers(p)
	data, end = p.data(), p.dataEnd()
	nd := data - uint64(room)
	h.room -= uint64(room)
	clear(bytesAt(nd, uint64(room)))
	h.mac = nd
	p.move(c, nd, end)
	return 0, nil
}

// Start headers of bpf_skb_load_bytes_relative.
const (
	hdrStartMac = 0 // BPF_HDR_START_MAC
	hdrStartNet = 1 // BPF_HDR_START_NET
)

// bpf_skb_load_bytes_relative(skb, offset, to, len, start_header): copies
// len bytes at offset from the MAC or network header; -EFAULT (to
// zeroed) for an offset above 0xffff, another start header or bytes past
// the end.
func skbLoadBytesRelative(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	off, n := uint64(uint32(c.Args[1])), uint64(uint32(c.Args[3]))
	to, err := c.ArgMemory(2, n, true)
	if err != nil {
		return 0, err
	}
	h := r.headers(p)
	var start uint64
	switch uint32(c.Args[4]) {
	case hdrStartMac:
		start = h.mac
	case hdrStartNet:
		start = h.net
	default:
		clear(to)
		return errno(eFAULT), nil
	}
	if off > 0xffff || start+off+n > p.dataEnd() || start+off < p.HardStart {
		clear(to)
		return errno(eFAULT), nil
	}
	copy(to, bytesAt(start+off, n))
	return 0, nil
}
