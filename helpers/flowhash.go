package helpers

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// flowKeys are the fields of Linux's struct flow_keys that its skb hash
// covers (from the basic key on): protocols, VLAN, IPv6 flow label,
// ports and addresses.
type flowKeys struct {
	nProto  uint16
	ipProto uint8
	vlan    uint32 // VLAN id | TPID << 16 of the outer tag
	label   uint32 // IPv6 flow label
	ports   [4]byte
	addrLen int // 8 (IPv4), 32 (IPv6) or 0
	addrs   [32]byte
}

// FlowHash is the flow hash Linux's __skb_get_hash computes for a packet
// whose network header starts l3 and whose skb->protocol is proto (host
// order): the flow dissector's keys (EtherType, one 802.1Q/802.1ad tag,
// IPv4 or IPv6 addresses, the IP protocol, the IPv6 flow label, TCP, UDP,
// UDP-Lite, SCTP and DCCP ports, the ESP SPI or AH SPI; no ports for
// fragments nor after a non-zero flow label) put in a canonical order
// (__flow_hash_consistentify: both directions of a flow hash alike) and
// hashed with SipHash-2-4, 0 becoming 1.
//
// Linux keys its SipHash with a random secret drawn at boot, so its values
// differ from boot to boot and cannot be reproduced; FlowHash uses a fixed
// key, so that its values are stable, and hashes the keys in its own
// layout. What programs can rely on holds for both: equal flows (in either
// direction) hash alike, different flows almost never do, and the hash is
// never 0.
func FlowHash(l3 []byte, proto uint16) uint32 {
	var k flowKeys
	dissect(&k, l3, proto)
	k.consistentify()
	var buf [52]byte
	binary.BigEndian.PutUint16(buf[0:], k.nProto)
	buf[2] = k.ipProto
	binary.BigEndian.PutUint32(buf[4:], k.vlan)
	binary.BigEndian.PutUint32(buf[8:], k.label)
	copy(buf[12:16], k.ports[:])
	copy(buf[16:], k.addrs[:k.addrLen])
	h := uint32(sipHash24(flowHashKey0, flowHashKey1, buf[:16+k.addrLen]))
	if h == 0 {
		h = 1
	}
	return h
}

// The fixed SipHash key of FlowHash ("xebpf flow hash.").
const (
	flowHashKey0 = 0x6c66206670626578
	flowHashKey1 = 0x2e687361682077f6
)

const (
	ethPIP     = 0x0800
	ethPIPv6   = 0x86dd
	ethP8021Q  = 0x8100
	ethP8021AD = 0x88a8
)

// dissect fills k from the packet like __skb_flow_dissect with the flags
// __skb_get_hash uses (stop at a non-zero IPv6 flow label).
func dissect(k *flowKeys, b []byte, proto uint16) {
	if proto == ethP8021Q || proto == ethP8021AD {
		if len(b) < 4 {
			k.nProto = proto
			return
		}
		k.vlan = uint32(binary.BigEndian.Uint16(b)&0xfff) | uint32(proto)<<16
		proto = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	k.nProto = proto
	var l4 []byte
	frag := false
	switch proto {
	case ethPIP:
		if len(b) < 20 {
			return
		}
		ihl := int(b[0]&0xf) * 4
		if ihl < 20 || len(b) < ihl {
			return
		}
		k.addrLen = 8
		copy(k.addrs[:8], b[12:20])
		k.ipProto = b[9]
		if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or an offset
			frag = true
		}
		l4 = b[ihl:]
	case ethPIPv6:
		if len(b) < 40 {
			return
		}
		k.addrLen = 32
		copy(k.addrs[:], b[8:40])
		next := b[6]
		k.ipProto = next
		if lbl := binary.BigEndian.Uint32(b) & 0xfffff; lbl != 0 {
			k.label = lbl
			return // FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL
		}
		l4 = b[40:]
		for i := 0; i < 8; i++ { // extension headers
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(l4) < 8 {
					return
				}
				n := (int(l4[1]) + 1) * 8
				if len(l4) < n {
					return
				}
				next, l4 = l4[0], l4[n:]
			case 44: // fragment
				if len(l4) < 8 {
					return
				}
				frag = true
				next, l4 = l4[0], l4[8:]
			default:
				i = 8
			}
			k.ipProto = next
		}
	default:
		return
	}
	if frag {
		return
	}
	off := -1
	switch k.ipProto {
	case 6, 17, 33, 50, 132, 136: // TCP, UDP, DCCP, ESP, SCTP, UDP-Lite
		off = 0
	case 51: // AH: the SPI
		off = 4
	}
	if off >= 0 && len(l4) >= off+4 {
		copy(k.ports[:], l4[off:off+4])
	}
}

// consistentify orders addresses and ports so that both directions of a
// flow have the same keys (__flow_hash_consistentify).
func (k *flowKeys) consistentify() {
	n := k.addrLen / 2
	if n == 0 {
		return
	}
	src, dst := k.addrs[:n], k.addrs[n:2*n]
	sport, dport := k.ports[:2], k.ports[2:]
	c := bytes.Compare(dst, src)
	if n == 4 { // IPv4 addresses compare as host-order words
		s, d := binary.NativeEndian.Uint32(src), binary.NativeEndian.Uint32(dst)
		c = 0
		if d < s {
			c = -1
		} else if d > s {
			c = 1
		}
	}
	if c < 0 || (c == 0 && binary.NativeEndian.Uint16(dport) < binary.NativeEndian.Uint16(sport)) {
		var t [16]byte
		copy(t[:n], src)
		copy(src, dst)
		copy(dst, t[:n])
		sport[0], sport[1], dport[0], dport[1] = dport[0], dport[1], sport[0], sport[1]
	}
}

// sipHash24 is SipHash-2-4 of b under the key (k0, k1).
func sipHash24(k0, k1 uint64, b []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(b)
	for ; len(b) >= 8; b = b[8:] {
		m := binary.LittleEndian.Uint64(b)
		v3 ^= m
		round()
		round()
		v0 ^= m
	}
	var last [8]byte
	copy(last[:], b)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
