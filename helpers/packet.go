package helpers

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/maps"
)

// XDP and tc action codes, as in Linux.
const (
	XDPAborted  = 0
	XDPDrop     = 1
	XDPPass     = 2
	XDPTx       = 3
	XDPRedirect = 4

	TCActShot     = 2
	TCActRedirect = 7
)

// Redirect flags, as in Linux.
const (
	FlagIngress        = 1 << 0 // BPF_F_INGRESS
	FlagBroadcast      = 1 << 3 // BPF_F_BROADCAST
	FlagExcludeIngress = 1 << 4 // BPF_F_EXCLUDE_INGRESS
)

// defaultMaxMeta is the metadata limit of xdp_metalen_invalid before
// Linux 6.x raised it to the size of skb_shared_info.meta_len.
const defaultMaxMeta = 32

// packetArg returns the Run and its packet when argument 1 is the packet
// context.
func packetArg(c *api.HelperCall) (*Run, *Packet, error) {
	r, err := runOf(c)
	if err != nil {
		return nil, nil, err
	}
	p := r.Packet
	if p == nil || c.Args[0] != p.Ctx {
		return nil, nil, fmt.Errorf("%w: %#x", ErrBadContext, c.Args[0])
	}
	return r, p, nil
}

// The packet's bounds are the helpers' own (Go-side) state: the context
// words the program reads are written from them, never read back.
func (p *Packet) data() uint64    { return p.bData }
func (p *Packet) dataEnd() uint64 { return p.bEnd }

// meta returns data_meta and whether the packet supports metadata
// (xdp_data_meta_unsupported: no word, or data_meta > data).
func (p *Packet) meta(data uint64) (uint64, bool) {
	if p.DataMetaOff < 0 {
		return data + 1, false
	}
	return p.bMeta, p.bMeta <= data
}

// SetBounds sets the packet's data_meta, data and data_end, as the
// runtime lays the packet out before a run, and writes them into the
// context's pointer words.
func (p *Packet) SetBounds(meta, data, end uint64) {
	p.bMeta, p.bData, p.bEnd = meta, data, end
	for _, w := range [3]struct {
		off int
		v   uint64
	}{{p.DataOff, data}, {p.DataEndOff, end}, {p.DataMetaOff, meta}} {
		if w.off >= 0 {
			*word(p.Ctx + uint64(w.off)) = w.v
		}
	}
}

// sync sets the packet's bounds after a move, and the run's packet
// region (whose old pointers die) and LD_ABS packet.
func (p *Packet) sync(c *api.HelperCall, meta, data, end uint64) {
	p.SetBounds(meta, data, end)
	start := data
	if p.DataMetaOff >= 0 && meta <= data {
		start = meta
	}
	env := c.Env()
	if p.Region >= 0 && p.Region < len(env.Regions) {
		// The region exists (the runtime made it): moving it cannot fail.
		_ = c.MoveRegion(p.Region, start, end-start)
	}
	if env.Packet.Addr != 0 {
		env.Packet.Addr, env.Packet.Size = data, end-data
	}
}

// bpf_xdp_adjust_head(ctx, delta), as net/core/filter.c:bpf_xdp_adjust_head:
// the new data must stay within [hard_start + sizeof(struct xdp_frame) +
// metalen, data_end - ETH_HLEN]; metadata moves with data; bytes exposed
// at the head are not cleared (Linux does not clear them either).
func xdpAdjustHead(c *api.HelperCall) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	off := int64(int32(c.Args[1]))
	data, end := p.data(), p.dataEnd()
	meta, hasMeta := p.meta(data)
	metalen := uint64(0)
	if hasMeta {
		metalen = data - meta
	}
	start := int64(p.HardStart + XDPFrameSize + metalen)
	nd := int64(data) + off
	if nd < start || nd > int64(end)-ETHHeaderLen {
		return errno(eINVAL), nil
	}
	if metalen > 0 {
		copy(bytesAt(uint64(int64(meta)+off), metalen), bytesAt(meta, metalen))
	}
	p.sync(c, uint64(int64(meta)+off), uint64(nd), end)
	return 0, nil
}

// bpf_xdp_adjust_meta(ctx, delta), as net/core/filter.c:bpf_xdp_adjust_meta:
// -ENOTSUPP without metadata support, -EINVAL if data_meta would leave
// [hard_start + sizeof(struct xdp_frame), data], -EACCES unless the
// metadata length is a multiple of 4 no larger than Packet.MaxMeta (32
// when zero, Linux's limit before 6.x raised it to 252).
func xdpAdjustMeta(c *api.HelperCall) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	off := int64(int32(c.Args[1]))
	data, end := p.data(), p.dataEnd()
	meta, ok := p.meta(data)
	if !ok {
		return errno(eNOTSUPP), nil
	}
	nm := int64(meta) + off
	if nm < int64(p.HardStart+XDPFrameSize) || nm > int64(data) {
		return errno(eINVAL), nil
	}
	metalen := int64(data) - nm
	maxMeta := int64(p.MaxMeta)
	if maxMeta == 0 {
		maxMeta = defaultMaxMeta
	}
	if metalen&3 != 0 || metalen > maxMeta {
		return errno(eACCES), nil
	}
	p.sync(c, uint64(nm), data, end)
	return 0, nil
}

// bpf_xdp_adjust_tail(ctx, delta), as net/core/filter.c:bpf_xdp_adjust_tail
// for a linear frame: data_end may grow up to xdp_data_hard_end
// (Packet.HardEnd) and shrink down to data + ETH_HLEN; grown bytes are
// zeroed.
func xdpAdjustTail(c *api.HelperCall) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	off := int64(int32(c.Args[1]))
	data, end := p.data(), p.dataEnd()
	ne := int64(end) + off
	if ne > int64(p.HardEnd) || ne < int64(data)+ETHHeaderLen {
		return errno(eINVAL), nil
	}
	if off > 0 {
		clear(bytesAt(end, uint64(off)))
	}
	meta, _ := p.meta(data)
	p.sync(c, meta, data, uint64(ne))
	return 0, nil
}

// bpf_xdp_get_buff_len: the packet length (frames are linear).
func xdpGetBuffLen(c *api.HelperCall) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	return p.dataEnd() - p.data(), nil
}

// xdpBytes is bpf_xdp_pointer for a linear frame: -EFAULT for offsets or
// lengths above 0xffff, -EINVAL past the end.
func xdpBytes(c *api.HelperCall, write bool) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	off, n := uint64(uint32(c.Args[1])), uint64(uint32(c.Args[3]))
	buf, err := c.ArgMemory(2, n, !write)
	if err != nil {
		return 0, err
	}
	if off > 0xffff || n > 0xffff {
		return errno(eFAULT), nil
	}
	data := p.data()
	if off+n > p.dataEnd()-data {
		return errno(eINVAL), nil
	}
	pkt := bytesAt(data+off, n)
	if write {
		copy(pkt, buf)
	} else {
		copy(buf, pkt)
	}
	return 0, nil
}

// bpf_xdp_load_bytes(ctx, offset, buf, len).
func xdpLoadBytes(c *api.HelperCall) (uint64, error) { return xdpBytes(c, false) }

// bpf_xdp_store_bytes(ctx, offset, buf, len).
func xdpStoreBytes(c *api.HelperCall) (uint64, error) { return xdpBytes(c, true) }

// bpf_skb_load_bytes(skb, offset, to, len): copies packet bytes from data;
// on failure to is zeroed and the result is -EFAULT.
func skbLoadBytes(c *api.HelperCall) (uint64, error) {
	_, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	off, n := uint64(uint32(c.Args[1])), uint64(uint32(c.Args[3]))
	to, err := c.ArgMemory(2, n, true)
	if err != nil {
		return 0, err
	}
	data := p.data()
	if off > 1<<31-1 || off+n > p.dataEnd()-data {
		clear(to)
		return errno(eFAULT), nil
	}
	copy(to, bytesAt(data+off, n))
	return 0, nil
}

// bpf_redirect(ifindex, flags): records the target in Run.Redirect. For
// XDP (bpf_xdp_redirect) flags must be 0 and the result is XDP_REDIRECT,
// else XDP_ABORTED; for tc only BPF_F_INGRESS is allowed and the result
// is TC_ACT_REDIRECT, else TC_ACT_SHOT.
func redirect(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	ifindex, flags := uint32(c.Args[0]), c.Args[1]
	if r.Packet != nil && r.Packet.Hook != HookXDP {
		if flags&^FlagIngress != 0 {
			return TCActShot, nil
		}
		r.Redirect = Redirect{Kind: RedirectIfindex, Ifindex: ifindex, Flags: flags}
		return TCActRedirect, nil
	}
	if flags != 0 {
		return XDPAborted, nil
	}
	r.Redirect = Redirect{Kind: RedirectIfindex, Ifindex: ifindex}
	return XDPRedirect, nil
}

// bpf_redirect_map(map, key, flags), as __bpf_xdp_redirect_map on a
// DevMap, DevMapHash, CPUMap or XSKMap: flags other than the action bits
// (0-1) and, for DevMap and DevMapHash, BPF_F_BROADCAST and
// BPF_F_EXCLUDE_INGRESS give XDP_ABORTED; an absent key gives the action
// in the low two bits of flags; a present key (or BPF_F_BROADCAST) records
// the target in Run.Redirect and gives XDP_REDIRECT. Like Linux's
// BPF_PROG_TEST_RUN, nothing is sent: the run returns XDP_REDIRECT (4)
// with the packet unchanged.
func redirectMap(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	t := m.Type()
	if t != maps.DevMap && t != maps.DevMapHash && t != maps.CPUMap && t != maps.XSKMap {
		return 0, wrongType("redirect_map", m)
	}
	key, flags := uint32(c.Args[1]), c.Args[2]
	const actionMask = XDPAborted | XDPDrop | XDPPass | XDPTx
	mask := uint64(actionMask)
	if t == maps.DevMap || t == maps.DevMapHash {
		mask |= FlagBroadcast | FlagExcludeIngress
	}
	if flags&^mask != 0 {
		return XDPAborted, nil
	}
	if r.scratchB == nil {
		return 0, fmt.Errorf("redirect_map: Run has no scratch memory (use NewRun)")
	}
	k := r.scratchB[miscOff : miscOff+4]
	binary.NativeEndian.PutUint32(k, key)
	if flags&FlagBroadcast == 0 && m.LookupAddr(uintptr(addrOf(k))) == 0 {
		r.Redirect = Redirect{}
		return flags & actionMask, nil
	}
	r.Redirect = Redirect{Kind: RedirectMap, Map: m, Key: key, Flags: flags}
	return XDPRedirect, nil
}
