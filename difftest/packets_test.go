package difftest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// packet is one generated test input.
type packet struct {
	name string
	data []byte
}

var (
	macA  = []byte{0x02, 0, 0, 0, 0, 0x01}
	macB  = []byte{0x02, 0, 0, 0, 0, 0x02}
	macBc = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macMc = []byte{0x01, 0x00, 0x5e, 0, 0, 0x01}
	mac0  = []byte{0, 0, 0, 0, 0, 0}
	ipA   = []byte{10, 0, 0, 1}
	ipB   = []byte{10, 0, 0, 2}
	ip6A  = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	ip6B  = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2}
)

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// eth returns an Ethernet header; tags are 802.1Q TCIs pushed outermost
// first (the outer one 802.1ad when there are two).
func eth(dst, src []byte, etype uint16, tags ...uint16) []byte {
	b := append(append([]byte{}, dst...), src...)
	for i, tci := range tags {
		tpid := uint16(0x8100)
		if len(tags) == 2 && i == 0 {
			tpid = 0x88a8
		}
		b = be16(be16(b, tpid), tci)
	}
	return be16(b, etype)
}

// csum is the Internet checksum of b.
func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ipv4opts says how to shape an IPv4 header.
type ipv4opts struct {
	ihl      int // 0 means 5
	tos, ttl uint8
	id       uint16
	frag     uint16
	src, dst []byte
	badSum   bool
}

func ipv4(o ipv4opts, proto uint8, payload []byte) []byte {
	ihl := o.ihl
	if ihl == 0 {
		ihl = 5
	}
	hl := max(ihl, 5) * 4
	h := make([]byte, hl)
	h[0] = 0x40 | byte(ihl&15)
	h[1] = o.tos
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[4:], o.id)
	binary.BigEndian.PutUint16(h[6:], o.frag)
	h[8] = o.ttl
	if h[8] == 0 {
		h[8] = 64
	}
	h[9] = proto
	src, dst := o.src, o.dst
	if src == nil {
		src = ipA
	}
	if dst == nil {
		dst = ipB
	}
	copy(h[12:], src)
	copy(h[16:], dst)
	for i := 20; i < hl; i++ {
		h[i] = 1 // NOP options
	}
	sum := csum(h)
	if o.badSum {
		sum ^= 0x5555
	}
	binary.BigEndian.PutUint16(h[10:], sum)
	return append(h, payload...)
}

func ipv6(next uint8, src, dst []byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60 | 0x0a // traffic class nibble
	h[1] = 0x30
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:], src)
	copy(h[24:], dst)
	return append(h, payload...)
}

// ext6 is an IPv6 extension header of (hdrlen+1)*8 bytes.
func ext6(next uint8, hdrlen uint8, payload []byte) []byte {
	h := make([]byte, (int(hdrlen)+1)*8)
	h[0], h[1] = next, hdrlen
	return append(h, payload...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := be16(be16(nil, sport), dport)
	b = be16(be16(b, uint16(8+len(payload))), 0)
	return append(b, payload...)
}

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

func tcp(sport, dport uint16, flags uint8, doff int, payload []byte) []byte {
	hl := max(doff, 5) * 4
	b := make([]byte, hl)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 0x01020304)
	b[12] = byte(doff << 4)
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 0xffff)
	return append(b, payload...)
}

func icmp(typ, code uint8, payload []byte) []byte {
	b := []byte{typ, code, 0, 0, 0, 1, 0, 1}
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[2:], csum(b))
	return b
}

// fill returns n bytes counting up from seed.
func fill(n int, seed byte) []byte {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// sized pads or cuts a frame to exactly n bytes.
func sized(b []byte, n int) []byte {
	if len(b) >= n {
		return b[:n]
	}
	return append(b, fill(n-len(b), 0x30)...)
}

// packets returns the deterministic input set every program runs on, in
// order: protocols (IPv4/IPv6, TCP/UDP/ICMP, VLAN and QinQ tags, ARP),
// sizes from 14 to 1500 bytes, malformed and truncated headers, and
// seeded random frames.
func packets() []packet {
	var ps []packet
	add := func(name string, b []byte) { ps = append(ps, packet{name, b}) }
	v4 := func(o ipv4opts, proto uint8, l4 []byte, tags ...uint16) []byte {
		return append(eth(macB, macA, 0x0800, tags...), ipv4(o, proto, l4)...)
	}
	v6 := func(next uint8, l4 []byte, tags ...uint16) []byte {
		return append(eth(macB, macA, 0x86dd, tags...), ipv6(next, ip6A, ip6B, l4)...)
	}
	pad := func(b []byte, n int) []byte {
		if len(b) >= n {
			return b
		}
		// Trailing bytes after the headers' lengths, like Ethernet padding.
		return append(b, fill(n-len(b), 0x41)...)
	}

	// UDP over IPv4 at several sizes and ports.
	for _, c := range []struct {
		size  int
		dport uint16
	}{{42, 53}, {60, 53}, {64, 9}, {64, 7}, {128, 53}, {333, 4789}, {512, 9}, {1024, 7}, {1500, 53}, {1499, 80}} {
		l4 := udp(4242, c.dport, fill(c.size-42, byte(c.dport)))
		add(fmt.Sprintf("udp4-%d-port%d", c.size, c.dport), v4(ipv4opts{id: uint16(c.size), ttl: uint8(c.size)}, 17, l4))
	}
	// TCP over IPv4.
	add("tcp4-syn-80", pad(v4(ipv4opts{id: 1}, 6, tcp(40000, 80, syn, 5, nil)), 60))
	add("tcp4-ack-23", v4(ipv4opts{id: 2}, 6, tcp(40001, 23, ack|psh, 5, fill(100, 1))))
	add("tcp4-opts-443", v4(ipv4opts{id: 3}, 6, tcp(40002, 443, syn|ack, 8, fill(700, 2))))
	add("tcp4-fin-80", v4(ipv4opts{id: 4}, 6, tcp(40000, 80, fin|ack, 5, fill(6, 3))))
	add("tcp4-rst-443", v4(ipv4opts{id: 5, tos: 0xff}, 6, tcp(40002, 443, rst, 5, nil)))
	add("tcp4-1500", v4(ipv4opts{id: 6, ttl: 200}, 6, tcp(5555, 53, ack, 5, fill(1500-54, 4))))
	add("tcp4-baddoff", v4(ipv4opts{id: 7}, 6, tcp(1, 2, syn, 3, fill(20, 5))))
	// ICMP.
	add("icmp4-echo", v4(ipv4opts{id: 8}, 1, icmp(8, 0, fill(56, 6))))
	add("icmp4-reply", v4(ipv4opts{id: 9}, 1, icmp(0, 0, fill(56, 7))))
	add("icmp4-unreach-ttl1", v4(ipv4opts{id: 10, ttl: 1}, 1, icmp(3, 3, fill(28, 8))))
	// IPv4 variations.
	add("udp4-ipopts", v4(ipv4opts{ihl: 7, id: 11}, 17, udp(1000, 53, fill(30, 9))))
	add("udp4-ihl15", v4(ipv4opts{ihl: 15, id: 12}, 17, udp(1000, 9, fill(10, 10))))
	add("ip4-ihl3", v4(ipv4opts{ihl: 3, id: 13}, 17, udp(1, 2, fill(30, 11))))
	add("udp4-fragment", v4(ipv4opts{id: 14, frag: 0x2000 | 185}, 17, fill(100, 12)))
	add("udp4-badsum", v4(ipv4opts{id: 15, badSum: true}, 17, udp(1, 53, fill(40, 13))))
	add("udp4-tos10", v4(ipv4opts{id: 16, tos: 0x10, dst: []byte{10, 0, 0, 77}}, 17, udp(1, 53, fill(40, 14))))
	add("udp4-192.168", v4(ipv4opts{id: 17, src: []byte{172, 16, 5, 4}, dst: []byte{192, 168, 1, 1}, ttl: 33}, 17, udp(7, 7, fill(64, 15))))
	add("udp4-other-net", v4(ipv4opts{id: 18, src: []byte{8, 8, 4, 4}, dst: []byte{1, 1, 1, 1}, ttl: 100}, 17, udp(53, 5353, fill(90, 16))))
	add("udp4-other-net-again", v4(ipv4opts{id: 18, src: []byte{8, 8, 4, 4}, dst: []byte{1, 1, 1, 1}, ttl: 100}, 17, udp(53, 5353, fill(91, 16))))
	add("udp4-badlen", append(eth(macB, macA, 0x0800), ipv4(ipv4opts{id: 19}, 17, []byte{0, 1, 0, 53, 0, 4, 0, 0, 1, 2, 3, 4})...))
	add("gre4", v4(ipv4opts{id: 20}, 47, fill(60, 17)))
	add("ip4-version6", func() []byte {
		b := v4(ipv4opts{id: 21}, 17, udp(1, 53, fill(20, 18)))
		b[14] = 0x65
		return b
	}())
	// IPv6.
	add("udp6-53", v6(17, udp(3000, 53, fill(50, 19))))
	add("udp6-9", v6(17, udp(3000, 9, fill(300, 20))))
	add("tcp6-syn-23", v6(6, tcp(3001, 23, syn, 5, nil)))
	add("tcp6-1500", v6(6, tcp(3002, 443, ack, 5, fill(1500-74, 21))))
	add("icmp6-echo", v6(58, icmp(128, 0, fill(32, 22))))
	add("icmp6-ns", v6(58, icmp(135, 0, fill(24, 23))))
	add("udp6-hopbyhop", v6(0, ext6(17, 0, udp(1, 53, fill(20, 24)))))
	add("tcp6-ext3", v6(0, ext6(43, 1, ext6(60, 0, tcp(9, 80, ack, 5, fill(10, 25))))))
	add("ip6-ext-truncated", sized(v6(0, ext6(60, 200, nil)), 70))
	// VLAN.
	add("vlan-udp4-53", v4(ipv4opts{id: 30}, 17, udp(1, 53, fill(40, 26)), 100))
	add("vlan-tcp4-23", v4(ipv4opts{id: 31}, 6, tcp(1, 23, ack, 5, fill(40, 27)), 4095))
	add("qinq-udp4-9", v4(ipv4opts{id: 32}, 17, udp(1, 9, fill(40, 28)), 10, 20))
	add("vlan-udp6", v6(17, udp(2, 7, fill(40, 29)), 7))
	add("vlan-truncated", eth(macB, macA, 0x8100)[:14+2])
	// Other EtherTypes and addresses.
	add("arp", append(eth(macBc, macA, 0x0806), fill(28, 30)...))
	add("bcast-udp4", append(eth(macBc, macA, 0x0800), ipv4(ipv4opts{id: 40}, 17, udp(68, 67, fill(250, 31)))...))
	add("mcast-udp4", append(eth(macMc, macA, 0x0800), ipv4(ipv4opts{id: 41, dst: []byte{224, 0, 0, 1}}, 17, udp(5000, 5000, fill(30, 32)))...))
	add("host-udp4", append(eth(mac0, macA, 0x0800), ipv4(ipv4opts{id: 42}, 17, udp(5000, 53, fill(30, 33)))...))
	add("lldp-1500", sized(eth(macMc, macA, 0x88cc), 1500))
	// Truncated headers.
	add("eth-only-14", eth(macB, macA, 0x0800))
	add("ip4-truncated-20", sized(v4(ipv4opts{id: 50}, 17, nil), 20))
	add("ip4-no-l4-34", v4(ipv4opts{id: 51}, 17, nil))
	add("udp4-truncated-38", sized(v4(ipv4opts{id: 52}, 17, udp(1, 53, nil)), 38))
	add("tcp4-truncated-40", sized(v4(ipv4opts{id: 53}, 6, tcp(1, 80, syn, 5, nil)), 40))
	add("ip6-truncated-40", sized(v6(17, udp(1, 53, nil)), 40))
	add("udp6-truncated-58", sized(v6(17, udp(1, 53, nil)), 58))
	add("icmp4-truncated-36", sized(v4(ipv4opts{id: 54}, 1, icmp(8, 0, nil)), 36))
	// Seeded random frames, some with a valid-looking EtherType.
	rng := rand.New(rand.NewPCG(1, 2))
	for i, n := range []int{14, 15, 33, 60, 77, 200, 511, 999, 1500} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%3 == 1 && n >= 34 {
			binary.BigEndian.PutUint16(b[12:], 0x0800)
			b[14] = 0x45
		}
		if i%3 == 2 && n >= 54 {
			binary.BigEndian.PutUint16(b[12:], 0x86dd)
			b[14] = 0x60
		}
		add(fmt.Sprintf("random-%d", n), b)
	}
	return ps
}
