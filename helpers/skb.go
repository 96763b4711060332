package helpers

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/maps"
)

// Offsets of struct __sk_buff fields the skb helpers keep up to date in
// the context of HookTC and HookSocket packets.
const (
	skbLenOff     = 0  // len
	skbPktTypeOff = 4  // pkt_type
	skbHashOff    = 68 // hash
)

// Flags of the skb helpers, as in Linux.
const (
	FlagRecomputeCsum  = 1 << 0 // BPF_F_RECOMPUTE_CSUM (skb_store_bytes)
	FlagInvalidateHash = 1 << 1 // BPF_F_INVALIDATE_HASH (skb_store_bytes)
	FlagHdrFieldMask   = 0xf    // BPF_F_HDR_FIELD_MASK: the csum field size
	FlagPseudoHdr      = 1 << 4 // BPF_F_PSEUDO_HDR
	FlagMarkMangled0   = 1 << 5 // BPF_F_MARK_MANGLED_0
	FlagMarkEnforce    = 1 << 6 // BPF_F_MARK_ENFORCE
	FlagIPv6           = 1 << 7 // BPF_F_IPV6 (l4_csum_replace, Linux 6.16)
)

// csumMangled0 is CSUM_MANGLED_0, the UDP checksum written for a zero sum.
const csumMangled0 = 0xffff

// skbArg returns the Run and packet of an skb helper: argument 1 must be
// the context of a tc or socket packet.
func skbArg(c *api.HelperCall) (*Run, *Packet, error) {
	r, p, err := packetArg(c)
	if err != nil {
		return nil, nil, err
	}
	if p.Hook == HookXDP {
		return nil, nil, fmt.Errorf("%w: an XDP context where an __sk_buff is needed", ErrBadContext)
	}
	return r, p, nil
}

func (p *Packet) ctxWord32(off int) *uint32 { return (*uint32)(ptr(p.Ctx + uint64(off))) }

// skbLen is skb->len: the bytes from data to data_end.
func (p *Packet) skbLen() uint64 { return p.dataEnd() - p.data() }

// writable is bpf_try_make_writable: the first n bytes must lie in the
// packet (pskb_may_pull), else the helpers fail.
func (p *Packet) writable(n uint64) bool { return n <= p.skbLen() }

// setHash is __skb_set_sw_hash; clearHash is skb_clear_hash.
func (r *Run) setHash(p *Packet, h uint32) {
	*p.ctxWord32(skbHashOff) = h
	r.hashValid = true
}

func (r *Run) clearHash(p *Packet) {
	*p.ctxWord32(skbHashOff) = 0
	r.hashValid = false
}

// bpf_skb_store_bytes(skb, offset, from, len, flags), as
// net/core/filter.c: -EINVAL for flags other than BPF_F_RECOMPUTE_CSUM
// and BPF_F_INVALIDATE_HASH, -EFAULT for an offset above INT_MAX or bytes
// past the end. BPF_F_RECOMPUTE_CSUM changes only skb->csum of
// CHECKSUM_COMPLETE packets, which test runs do not have; BPF_F_INVALIDATE_HASH
// clears skb->hash.
func skbStoreBytes(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	off, n, flags := uint64(uint32(c.Args[1])), uint64(uint32(c.Args[3])), c.Args[4]
	from, err := c.ArgMemory(2, n, false)
	if err != nil {
		return 0, err
	}
	if flags&^(FlagRecomputeCsum|FlagInvalidateHash) != 0 {
		return errno(eINVAL), nil
	}
	if off > 1<<31-1 || !p.writable(off+n) {
		return errno(eFAULT), nil
	}
	copy(bytesAt(p.data()+off, n), from)
	if flags&FlagInvalidateHash != 0 {
		r.clearHash(p)
	}
	return 0, nil
}

// csumField checks the offset of a 16-bit checksum like the csum_replace
// helpers and returns it, or the error result.
func csumField(p *Packet, off uint64) ([]byte, uint64, bool) {
	if off > 0xffff || off&1 != 0 || !p.writable(off+2) {
		return nil, errno(eFAULT), false
	}
	return bytesAt(p.data()+off, 2), 0, true
}

func csumAdd32(a, b uint32) uint32 { return csumAdd(a, b) }
func csumSub32(a, b uint32) uint32 { return csumAdd(a, ^b) }

// csumFold is csum_fold: the complemented 16-bit fold.
func csumFold(s uint32) uint16 { return ^csumFrom32To16(s) }

// sum16 reads and writes the __sum16 at b (kept in memory order, like the
// kernel's __force casts on a little-endian host).
func sum16(b []byte) uint32       { return uint32(binary.LittleEndian.Uint16(b)) }
func putSum16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

// csumReplace4 is csum_replace4.
func csumReplace4(b []byte, from, to uint32) {
	putSum16(b, csumFold(csumAdd32(csumSub32(^sum16(b), from), to)))
}

// inetCsumReplace4 is inet_proto_csum_replace4 for packets that are not
// CHECKSUM_PARTIAL (test runs).
func inetCsumReplace4(b []byte, from, to uint32) {
	var d [8]byte
	binary.LittleEndian.PutUint32(d[:], ^from)
	binary.LittleEndian.PutUint32(d[4:], to)
	putSum16(b, csumFold(csumPartial(d[:], ^sum16(b))))
}

// csumReplaceByDiff is csum_replace_by_diff.
func csumReplaceByDiff(b []byte, diff uint32) {
	putSum16(b, csumFold(csumAdd32(diff, ^sum16(b))))
}

// csum16Add is include/net/checksum.h's csum16_add.
func csum16Add(s, a uint16) uint16 {
	r := s + a
	if r < a {
		r++
	}
	return r
}

// csumReplace2 is csum_replace2: 16-bit one's-complement arithmetic.
func csumReplace2(b []byte, from, to uint16) {
	s := uint16(sum16(b))
	putSum16(b, ^csum16Add(csum16Add(^s, ^from), to))
}

// bpf_l3_csum_replace(skb, offset, from, to, flags): updates the 16-bit
// checksum at offset for a field of size flags&0xf (0: to is a
// bpf_csum_diff result and from must be 0; 2; 4) changing from from to to.
// -EINVAL for other flags or sizes, -EFAULT for an odd offset, one above
// 0xffff or past the end.
func l3CsumReplace(c *api.HelperCall) (uint64, error) {
	_, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	off, from, to, flags := uint64(uint32(c.Args[1])), c.Args[2], c.Args[3], c.Args[4]
	if flags&^FlagHdrFieldMask != 0 {
		return errno(eINVAL), nil
	}
	b, ret, ok := csumField(p, off)
	if !ok {
		return ret, nil
	}
	switch flags & FlagHdrFieldMask {
	case 0:
		if from != 0 {
			return errno(eINVAL), nil
		}
		csumReplaceByDiff(b, uint32(to))
	case 2:
		csumReplace2(b, uint16(from), uint16(to))
	case 4:
		csumReplace4(b, uint32(from), uint32(to))
	default:
		return errno(eINVAL), nil
	}
	return 0, nil
}

// bpf_l4_csum_replace(skb, offset, from, to, flags): like l3_csum_replace
// for a transport checksum. BPF_F_PSEUDO_HDR and BPF_F_IPV6 matter only
// to skb->csum of CHECKSUM_COMPLETE packets (not test runs): the checksum
// is updated the same way. With BPF_F_MARK_MANGLED_0 a zero checksum (UDP
// without one) is left alone unless BPF_F_MARK_ENFORCE, and a result of 0
// is written as 0xffff. A 2-byte field is summed as a 4-byte one, as
// inet_proto_csum_replace2 does.
func l4CsumReplace(c *api.HelperCall) (uint64, error) {
	_, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	off, from, to, flags := uint64(uint32(c.Args[1])), c.Args[2], c.Args[3], c.Args[4]
	if flags&^(FlagMarkMangled0|FlagMarkEnforce|FlagPseudoHdr|FlagHdrFieldMask|FlagIPv6) != 0 {
		return errno(eINVAL), nil
	}
	b, ret, ok := csumField(p, off)
	if !ok {
		return ret, nil
	}
	mmzero := flags&FlagMarkMangled0 != 0
	if mmzero && flags&FlagMarkEnforce == 0 && sum16(b) == 0 {
		return 0, nil
	}
	switch flags & FlagHdrFieldMask {
	case 0:
		if from != 0 {
			return errno(eINVAL), nil
		}
		csumReplaceByDiff(b, uint32(to))
	case 2:
		inetCsumReplace4(b, uint32(uint16(from)), uint32(uint16(to)))
	case 4:
		inetCsumReplace4(b, uint32(from), uint32(to))
	default:
		return errno(eINVAL), nil
	}
	if mmzero && sum16(b) == 0 {
		putSum16(b, csumMangled0)
	}
	return 0, nil
}

// bpf_get_hash_recalc(skb): skb->hash, computed from the packet's flow
// (FlowHash) when no hash is set, and stored in skb->hash.
func getHashRecalc(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	if !r.hashValid {
		r.setHash(p, FlowHash(p.l3(), p.protocol()))
	}
	return uint64(*p.ctxWord32(skbHashOff)), nil
}

// bpf_set_hash(skb, hash): sets skb->hash as a software hash; returns 0.
func setHash(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	r.setHash(p, uint32(c.Args[1]))
	return 0, nil
}

// l3 returns the packet from its network header: data, or data plus the
// Ethernet header for tc programs (whose data is the MAC header).
func (p *Packet) l3() []byte {
	data, end := p.data(), p.dataEnd()
	if p.Hook == HookTC {
		if end-data < ETHHeaderLen {
			return nil
		}
		data += ETHHeaderLen
	}
	return bytesAt(data, end-data)
}

// protocol is skb->protocol as a host-order EtherType.
func (p *Packet) protocol() uint16 {
	v := uint16(*p.ctxWord32(16))
	return v>>8 | v<<8
}

// Packet types of skb->pkt_type that skb_change_type accepts (up to
// PACKET_OTHERHOST).
const packetOtherHost = 3

// bpf_skb_change_type(skb, type): sets skb->pkt_type; -EINVAL unless the
// current and the new type are at most PACKET_OTHERHOST.
func skbChangeType(c *api.HelperCall) (uint64, error) {
	_, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	typ := uint32(c.Args[1])
	pt := p.ctxWord32(skbPktTypeOff)
	if *pt > packetOtherHost || typ > packetOtherHost {
		return errno(eINVAL), nil
	}
	*pt = typ
	return 0, nil
}

// bpf_skb_pull_data(skb, len): the packet is linear, so this only checks
// that len (0: the whole linear part) bytes exist; -ENOMEM otherwise, as
// pskb_may_pull makes Linux answer.
func skbPullData(c *api.HelperCall) (uint64, error) {
	_, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	if !p.writable(uint64(uint32(c.Args[1]))) {
		return errno(maps.ENOMEM), nil
	}
	return 0, nil
}

// bpf_get_cgroup_classid(skb): 0, the net_cls class id of a task outside
// any net_cls cgroup (xebpf has none).
func getCgroupClassid(c *api.HelperCall) (uint64, error) {
	if _, _, err := skbArg(c); err != nil {
		return 0, err
	}
	return 0, nil
}

// bpf_get_route_realm(skb): 0, the realm of a packet without a route (a
// test-run skb has no dst).
func getRouteRealm(c *api.HelperCall) (uint64, error) {
	if _, _, err := skbArg(c); err != nil {
		return 0, err
	}
	return 0, nil
}

// lastCookie numbers socket cookies process-wide, as Linux's sock_gen_cookie
// does system-wide (starting above 0).
var lastCookie atomic.Uint64

// bpf_get_socket_cookie(skb): the cookie of the packet's socket. A test run
// gives each skb a fresh socket, so each Run (until Reset) gets a new,
// non-zero cookie; repeated runs share it.
func getSocketCookie(c *api.HelperCall) (uint64, error) {
	r, _, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	if r.cookie == 0 {
		r.cookie = lastCookie.Add(1)
	}
	return r.cookie, nil
}

// bpf_get_socket_uid(skb): 0, the owner of the socket a test run attaches
// to its skb (sock_init_data without a struct socket).
func getSocketUID(c *api.HelperCall) (uint64, error) {
	if _, _, err := skbArg(c); err != nil {
		return 0, err
	}
	return 0, nil
}

// cgroupSlot reads the CgroupArray handle at idx: -E2BIG past the end,
// -EAGAIN for an empty slot.
func cgroupSlot(r *Run, m maps.Map, idx uint32) (uint32, uint64, bool) {
	if idx >= uint32(m.MaxEntries()) {
		return 0, errno(e2BIG), false
	}
	k := r.scratchB[miscOff : miscOff+4]
	binary.NativeEndian.PutUint32(k, idx)
	a := m.LookupAddr(uintptr(addrOf(k)))
	if a == 0 {
		return 0, errno(maps.EAGAIN), false
	}
	return binary.NativeEndian.Uint32(bytesAt(uint64(a), 4)), 0, true
}

// underCgroup answers whether the run's task is in cgroup handle h or
// below it: whether Task.Cgroups holds h.
func (r *Run) underCgroup(h uint32) uint64 {
	if r.Task == nil {
		return 0
	}
	for _, x := range r.Task.Cgroups {
		if x == h {
			return 1
		}
	}
	return 0
}

func cgroupArrayArg(c *api.HelperCall, i int, name string) (*Run, maps.Map, error) {
	r, m, err := mapArg(c, i)
	if err != nil {
		return nil, nil, err
	}
	if m.Type() != maps.CgroupArray {
		return nil, nil, wrongType(name, m)
	}
	if r.scratchB == nil {
		return nil, nil, fmt.Errorf("%s: Run has no scratch memory (use NewRun)", name)
	}
	return r, m, nil
}

// bpf_skb_under_cgroup(skb, map, index): 1 if the packet's socket belongs
// to the cgroup at index of the CgroupArray or below it, else 0; -E2BIG
// for an index past the end, -EAGAIN for an empty slot. A test run's
// socket belongs to the cgroups of the task that runs it (Run.Task).
func skbUnderCgroup(c *api.HelperCall) (uint64, error) {
	if _, _, err := skbArg(c); err != nil {
		return 0, err
	}
	r, m, err := cgroupArrayArg(c, 1, "skb_under_cgroup")
	if err != nil {
		return 0, err
	}
	h, ret, ok := cgroupSlot(r, m, uint32(c.Args[2]))
	if !ok {
		return ret, nil
	}
	return r.underCgroup(h), nil
}

// bpf_current_task_under_cgroup(map, index): like skb_under_cgroup for the
// current task (Run.Task; none is in no cgroup).
func currentTaskUnderCgroup(c *api.HelperCall) (uint64, error) {
	r, m, err := cgroupArrayArg(c, 0, "current_task_under_cgroup")
	if err != nil {
		return 0, err
	}
	h, ret, ok := cgroupSlot(r, m, uint32(c.Args[1]))
	if !ok {
		return ret, nil
	}
	return r.underCgroup(h), nil
}

// Flags of bpf_get_stackid, as in Linux.
const (
	stackSkipMask     = 0xff
	FlagUserStack     = 1 << 8  // BPF_F_USER_STACK
	FlagFastStackCmp  = 1 << 9  // BPF_F_FAST_STACK_CMP
	FlagReuseStackID  = 1 << 10 // BPF_F_REUSE_STACKID
	stackIDFlagsValid = stackSkipMask | FlagUserStack | FlagFastStackCmp | FlagReuseStackID
)

// bpf_get_stackid(ctx, map, flags): -EINVAL for unknown flags, else
// -EFAULT, what Linux answers when it cannot fetch a call stack: xebpf
// runs programs without kernel or user stacks.
func getStackID(c *api.HelperCall) (uint64, error) {
	_, m, err := mapArg(c, 1)
	if err != nil {
		return 0, err
	}
	if m.Type() != maps.StackTrace {
		return 0, wrongType("get_stackid", m)
	}
	if c.Args[2]&^stackIDFlagsValid != 0 {
		return errno(eINVAL), nil
	}
	return errno(eFAULT), nil
}
