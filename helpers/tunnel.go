package helpers

import (
	"encoding/binary"

	"github.com/xebpf/xebpf/api"
)

// Tunnel metadata of an skb: what bpf_skb_set_tunnel_key attaches (Linux's
// per-CPU metadata dst, struct ip_tunnel_info) and bpf_skb_get_tunnel_key
// reads back. A test run's skb arrives without any.

// Flags of the tunnel key helpers, as in Linux.
const (
	FlagTunInfoIPv6   = 1 << 0 // BPF_F_TUNINFO_IPV6
	FlagZeroCsumTx    = 1 << 1 // BPF_F_ZERO_CSUM_TX
	FlagDontFragment  = 1 << 2 // BPF_F_DONT_FRAGMENT
	FlagSeqNumber     = 1 << 3 // BPF_F_SEQ_NUMBER
	FlagNoTunnelKey   = 1 << 4 // BPF_F_NO_TUNNEL_KEY (set_tunnel_key)
	FlagTunInfoFlags  = 1 << 4 // BPF_F_TUNINFO_FLAGS (get_tunnel_key)
	tunnelKeySize     = 44     // sizeof(struct bpf_tunnel_key)
	tunnelLabelMask   = 0xfffff
	tunnelKeySetFlags = FlagTunInfoIPv6 | FlagZeroCsumTx | FlagDontFragment | FlagSeqNumber | FlagNoTunnelKey
)

// ip_tunnel_info key flags (IP_TUNNEL_*_BIT), as bpf_tunnel_key.tunnel_flags
// reports them.
const (
	tunnelCsum     = 1 << 0
	tunnelKey      = 1 << 2
	tunnelSeq      = 1 << 3
	tunnelDontFrag = 1 << 8
	tunnelNoCache  = 1 << 13
)

// tunnelInfo is the struct ip_tunnel_info bpf_skb_set_tunnel_key fills.
type tunnelInfo struct {
	set      bool
	ipv6     bool
	id       uint32 // tunnel_id as set (tun_id holds it as a __be64)
	tos, ttl uint8
	flags    uint16
	// remote and local are the key's addresses as bpf_tunnel_key gives
	// them: an IPv4 address as a host integer in the first 4 bytes, an
	// IPv6 address as 16 bytes.
	remote, local [16]byte
	label         uint32 // host order, masked to 20 bits
}

// compatKeySize reports whether size is one of the older struct
// bpf_tunnel_key layouts Linux accepts: up to local_ipv6, tunnel_label,
// tunnel_ext, or remote_ipv6[1].
func compatKeySize(size uint64) bool { return size == 28 || size == 24 || size == 22 || size == 8 }

// bpf_skb_get_tunnel_key(skb, key, size, flags): the tunnel metadata
// bpf_skb_set_tunnel_key attached earlier in the run (Linux reports the
// transmit key's destination as local and its source as remote). Without
// metadata or with unknown flags: -EINVAL; for the other address family:
// -EPROTO; for a size that is not one of struct bpf_tunnel_key's layouts:
// -EINVAL. On failure the key is zeroed.
func skbGetTunnelKey(c *api.HelperCall) (uint64, error) {
	r, _, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	size, flags := uint64(uint32(c.Args[2])), c.Args[3]
	to, err := c.ArgMemory(1, size, true)
	if err != nil {
		return 0, err
	}
	ret := r.getTunnelKey(to, flags)
	if ret != 0 {
		clear(to)
	}
	return ret, nil
}

func (r *Run) getTunnelKey(to []byte, flags uint64) uint64 {
	t := &r.tunnel
	if !t.set || flags&^uint64(FlagTunInfoIPv6|FlagTunInfoFlags) != 0 {
		return errno(eINVAL)
	}
	if t.ipv6 != (flags&FlagTunInfoIPv6 != 0) {
		return errno(ePROTO)
	}
	size := uint64(len(to))
	if size != tunnelKeySize && (!compatKeySize(size) || size == 8 && t.ipv6) {
		return errno(eINVAL)
	}
	var k [tunnelKeySize]byte
	binary.NativeEndian.PutUint32(k[0:], t.id)
	k[20], k[21] = t.tos, t.ttl
	if flags&FlagTunInfoFlags != 0 {
		binary.BigEndian.PutUint16(k[22:], t.flags)
	}
	if t.ipv6 {
		copy(k[4:20], t.local[:])
		copy(k[28:44], t.remote[:])
		binary.NativeEndian.PutUint32(k[24:], t.label)
	} else {
		copy(k[4:8], t.local[:4])
		copy(k[28:32], t.remote[:4])
	}
	copy(to, k[:])
	return 0
}

// bpf_skb_set_tunnel_key(skb, key, size, flags): attaches transmit tunnel
// metadata to the skb. -EINVAL for unknown flags, a size that is not one
// of struct bpf_tunnel_key's layouts, a flow label without
// BPF_F_TUNINFO_IPV6 or a non-zero tunnel_ext.
func skbSetTunnelKey(c *api.HelperCall) (uint64, error) {
	r, _, err := skbArg(c)
	if err != nil {
		return 0, err
	}
	size, flags := uint64(uint32(c.Args[2])), c.Args[3]
	from, err := c.ArgMemory(1, size, false)
	if err != nil {
		return 0, err
	}
	if flags&^uint64(tunnelKeySetFlags) != 0 || size != tunnelKeySize && !compatKeySize(size) {
		return errno(eINVAL), nil
	}
	var k [tunnelKeySize]byte
	copy(k[:], from)
	ipv6 := flags&FlagTunInfoIPv6 != 0
	label := binary.NativeEndian.Uint32(k[24:])
	if !ipv6 && label != 0 || binary.NativeEndian.Uint16(k[22:]) != 0 {
		return errno(eINVAL), nil
	}
	t := tunnelInfo{set: true, ipv6: ipv6, id: binary.NativeEndian.Uint32(k[0:]), tos: k[20], ttl: k[21], flags: tunnelNoCache}
	if flags&FlagDontFragment != 0 {
		t.flags |= tunnelDontFrag
	}
	if flags&FlagZeroCsumTx == 0 {
		t.flags |= tunnelCsum
	}
	if flags&FlagSeqNumber != 0 {
		t.flags |= tunnelSeq
	}
	if flags&FlagNoTunnelKey == 0 {
		t.flags |= tunnelKey
	}
	if ipv6 {
		copy(t.remote[:], k[4:20])
		copy(t.local[:], k[28:44])
		t.label = label & tunnelLabelMask
	} else {
		copy(t.remote[:4], k[4:8])
		copy(t.local[:4], k[28:32])
	}
	r.tunnel = t
	return 0, nil
}
