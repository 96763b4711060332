package helpers

import (
	"encoding/binary"

	"github.com/xebpf/xebpf/api"
)

// LoopbackIfindex is the index of the loopback device, the device a test
// run's packet arrives on (xdp_md.ingress_ifindex, __sk_buff.ifindex).
const LoopbackIfindex = 1

// Devices is the host's network devices as bpf_clone_redirect and
// bpf_fib_lookup see them. Without one (Run.Devices nil), the host has
// only the loopback device, up, with forwarding disabled: clone redirects
// to it succeed and the clones are dropped.
type Devices interface {
	// Exists reports whether a device has index ifindex.
	Exists(ifindex uint32) bool
	// CloneRedirect receives a copy of the packet (frame, from its MAC
	// header; valid only during the call) that a program sends to device
	// ifindex, to its ingress path when ingress is set, and returns the
	// helper's result: 0, or what Linux's transmit or receive path
	// answered (a negative errno, or NET_XMIT_DROP / NET_RX_DROP).
	CloneRedirect(ifindex uint32, ingress bool, frame []byte) int64
}

// FIBLookup answers bpf_fib_lookup for the families Linux routes, AF_INET
// and AF_INET6, on a host that has a routing table. Without one
// (Run.FIB nil), xebpf answers as a Linux host whose devices
// (Run.Devices; the loopback device alone by default) have forwarding
// disabled, as net.ipv4.conf.<dev>.forwarding and
// net.ipv6.conf.<dev>.forwarding are by default:
//   - AF_INET: -ENODEV when no device has params.ifindex, else
//     BPF_FIB_LKUP_RET_FWD_DISABLED (3);
//   - AF_INET6: BPF_FIB_LKUP_RET_NOT_FWDED (4) when the source or
//     destination is link-local, loopback or multicast (checked first),
//     then as AF_INET.
//
// params is not changed on these paths.
type FIBLookup interface {
	// Lookup resolves params, the program's struct bpf_fib_lookup
	// (FIBParamsSize bytes, laid out as in Linux's uapi: __u fields in
	// host order, __be fields in network order), rewriting it as Linux
	// does, for flags (BPF_FIB_LOOKUP_*, already checked) and returns a
	// BPF_FIB_LKUP_RET_* code or a negative errno. hook tells the XDP
	// variant (which checks params' tot_len against the route's MTU) from
	// the skb one (which also checks the packet, of pktLen bytes, when
	// tot_len is 0).
	Lookup(params []byte, flags uint32, hook Hook, pktLen uint32) int64
}

// bpf_fib_lookup return codes and flags, as in Linux.
const (
	FIBLkupRetSuccess     = 0 // BPF_FIB_LKUP_RET_SUCCESS
	FIBLkupRetBlackhole   = 1 // BPF_FIB_LKUP_RET_BLACKHOLE
	FIBLkupRetUnreachable = 2 // BPF_FIB_LKUP_RET_UNREACHABLE
	FIBLkupRetProhibit    = 3 // BPF_FIB_LKUP_RET_PROHIBIT
	FIBLkupRetNotFwded    = 4 // BPF_FIB_LKUP_RET_NOT_FWDED
	FIBLkupRetFwdDisabled = 5 // BPF_FIB_LKUP_RET_FWD_DISABLED
	FIBLkupRetUnsuppLWT   = 6 // BPF_FIB_LKUP_RET_UNSUPP_LWT
	FIBLkupRetNoNeigh     = 7 // BPF_FIB_LKUP_RET_NO_NEIGH
	FIBLkupRetFragNeeded  = 8 // BPF_FIB_LKUP_RET_FRAG_NEEDED
	FIBLkupRetNoSrcAddr   = 9 // BPF_FIB_LKUP_RET_NO_SRC_ADDR

	// FIBParamsSize is sizeof(struct bpf_fib_lookup).
	FIBParamsSize = 64
	// fibLookupMask: DIRECT, OUTPUT, SKIP_NEIGH, TBID, SRC, MARK.
	fibLookupMask = 0x3f

	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6
)

// Offsets in struct bpf_fib_lookup.
const (
	fibFamily  = 0
	fibIfindex = 8
	fibSrc     = 16
	fibDst     = 32
)

// deviceExists reports whether ifindex names a device of the run's host.
func (r *Run) deviceExists(ifindex uint32) bool {
	if r.Devices != nil {
		return r.Devices.Exists(ifindex)
	}
	return ifindex == LoopbackIfindex
}

// bpf_fib_lookup(ctx, params, plen, flags), for XDP and tc: -EINVAL for a
// plen below sizeof(struct bpf_fib_lookup) or unknown flags,
// -EAFNOSUPPORT for families other than AF_INET and AF_INET6, which go to
// Run.FIB (see FIBLookup for the answer without one).
func fibLookup(c *api.HelperCall) (uint64, error) {
	r, p, err := packetArg(c)
	if err != nil {
		return 0, err
	}
	plen, flags := uint64(uint32(c.Args[2])), uint32(c.Args[3])
	params, err := c.ArgMemory(1, plen, true)
	if err != nil {
		return 0, err
	}
	if int32(plen) < FIBParamsSize || flags&^fibLookupMask != 0 {
		return errno(eINVAL), nil
	}
	params = params[:FIBParamsSize]
	family := params[fibFamily]
	if family != afInet && family != afInet6 {
		return errno(eAFNOSUP), nil
	}
	if r.FIB != nil {
		return uint64(r.FIB.Lookup(params, flags, p.Hook, uint32(p.dataEnd()-p.data()))), nil
	}
	if family == afInet6 && (v6NeedStrict(params[fibDst:fibDst+16]) || v6NeedStrict(params[fibSrc:fibSrc+16])) {
		return FIBLkupRetNotFwded, nil
	}
	if !r.deviceExists(binary.NativeEndian.Uint32(params[fibIfindex:])) {
		return errno(eNODEV), nil
	}
	return FIBLkupRetFwdDisabled, nil
}

// v6NeedStrict is rt6_need_strict: a multicast (ff00::/8), link-local
// unicast (fe80::/10) or loopback (::1) address.
func v6NeedStrict(a []byte) bool {
	if a[0] == 0xff || a[0] == 0xfe && a[1]&0xc0 == 0x80 {
		return true
	}
	for _, b := range a[:15] {
		if b != 0 {
			return false
		}
	}
	return a[15] == 1
}

// bpf_clone_redirect(skb, ifindex, flags): sends a copy of the packet to
// device ifindex (its ingress with BPF_F_INGRESS) and returns the device's
// answer. -EINVAL for other flags or an unknown device, -EBADMSG for a
// GSO skb (a test run's GSO skb has no GSO type), -ERANGE without a MAC
// header or for an empty packet. See Devices for the devices there are.
func cloneRedirect(c *api.HelperCall) (uint64, error) {
	r, p, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	ifindex, flags := uint32(c.Args[1]), c.Args[2]
	if flags&^FlagIngress != 0 {
		return errno(eINVAL), nil
	}
	if p.gso() {
		return errno(eBADMSG), nil
	}
	if !r.deviceExists(ifindex) {
		return errno(eINVAL), nil
	}
	h := r.headers(p)
	data, end := p.data(), p.dataEnd()
	if h.mac >= h.net || end == data {
		return errno(eRANGE), nil
	}
	if r.Devices == nil {
		return 0, nil
	}
	return uint64(r.Devices.CloneRedirect(ifindex, flags&FlagIngress != 0, bytesAt(data, end-data))), nil
}
