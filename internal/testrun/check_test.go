package testrun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/ctxaccess"
)

// xdpMDLayout and skBuffLayout are struct xdp_md and struct __sk_buff as
// the root package declares them.
var xdpMDLayout = &ctxaccess.Layout{Name: "xdp_md", Size: 24, Fields: []ctxaccess.Field{
	{Name: "data", Offset: 0, Size: 4, Kind: ctxaccess.PacketStart},
	{Name: "data_end", Offset: 4, Size: 4, Kind: ctxaccess.PacketEnd},
	{Name: "data_meta", Offset: 8, Size: 4, Kind: ctxaccess.PacketMeta},
	{Name: "ingress_ifindex", Offset: 12, Size: 4},
	{Name: "rx_queue_index", Offset: 16, Size: 4},
	{Name: "egress_ifindex", Offset: 20, Size: 4},
}}

var skBuffLayout = func() *ctxaccess.Layout {
	f := func(name string, off, size int) ctxaccess.Field {
		return ctxaccess.Field{Name: name, Offset: off, Size: size}
	}
	fields := []ctxaccess.Field{
		f("len", 0, 4), f("pkt_type", 4, 4), f("mark", 8, 4), f("queue_mapping", 12, 4),
		f("protocol", 16, 4), f("vlan_present", 20, 4), f("vlan_tci", 24, 4), f("vlan_proto", 28, 4),
		f("priority", 32, 4), f("ingress_ifindex", 36, 4), f("ifindex", 40, 4), f("tc_index", 44, 4),
	}
	for i := range 5 {
		fields = append(fields, f(fmt.Sprintf("cb[%d]", i), 48+4*i, 4))
	}
	fields = append(fields,
		f("hash", 68, 4), f("tc_classid", 72, 4),
		ctxaccess.Field{Name: "data", Offset: 76, Size: 4, Kind: ctxaccess.PacketStart},
		ctxaccess.Field{Name: "data_end", Offset: 80, Size: 4, Kind: ctxaccess.PacketEnd},
		f("napi_id", 84, 4), f("family", 88, 4), f("remote_ip4", 92, 4), f("local_ip4", 96, 4),
		f("remote_ip6", 100, 16), f("local_ip6", 116, 16), f("remote_port", 132, 4), f("local_port", 136, 4),
		ctxaccess.Field{Name: "data_meta", Offset: 140, Size: 4, Kind: ctxaccess.PacketMeta},
		f("flow_keys", 144, 8), f("tstamp", 152, 8), f("wire_len", 160, 4), f("gso_segs", 164, 4),
		f("sk", 168, 8), f("gso_size", 176, 4), f("tstamp_type", 180, 1), f("hwtstamp", 184, 8),
	)
	return &ctxaccess.Layout{Name: "__sk_buff", Size: 192, Fields: fields}
}()

// hostLayout is a host-defined context with packet pointers; rawLayout is
// raw memory.
var (
	hostLayout = &ctxaccess.Layout{Name: "host_ctx", Size: 8, Fields: []ctxaccess.Field{
		{Name: "data", Offset: 0, Size: 4, Kind: ctxaccess.PacketStart},
		{Name: "data_end", Offset: 4, Size: 4, Kind: ctxaccess.PacketEnd},
	}}
	rawLayout = &ctxaccess.Layout{Name: "raw"}
)

// words returns size bytes with the (offset, value) 32-bit word pairs kv
// set.
func words(size int, kv ...uint32) []byte {
	b := make([]byte, size)
	for i := 0; i+1 < len(kv); i += 2 {
		binary.NativeEndian.PutUint32(b[kv[i]:], kv[i+1])
	}
	return b
}

// packet returns an Ethernet frame of n bytes (at least 14) with EtherType
// et and payload bytes counting up from 1.
func packet(n int, et uint16) []byte {
	b := make([]byte, n)
	if n >= 14 {
		binary.BigEndian.PutUint16(b[12:], et)
	}
	for i := 14; i < n; i++ {
		b[i] = byte(i - 13)
	}
	return b
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		declared Kind
		c        *ctxaccess.Layout
		want     Kind
		name     string
	}{
		{XDP, xdpMDLayout, XDP, "xdp"},
		{SkbL2, skBuffLayout, SkbL2, "skb-l2"},
		{SkbL3, skBuffLayout, SkbL3, "skb-l3"},
		{SkbL3, rawLayout, SkbL3, "skb-l3"}, // a built-in kind whose context was replaced
		{None, hostLayout, Custom, "custom"},
		{None, skBuffLayout, Custom, "custom"}, // __sk_buff declared by a host type
		{None, rawLayout, None, "none"},
		{None, &ctxaccess.Layout{Name: "ptr", Size: 8, Fields: []ctxaccess.Field{{Name: "p", Size: 8, Kind: ctxaccess.Pointer}}}, None, "none"},
		{None, nil, None, "none"},
	} {
		if got := KindOf(tc.declared, tc.c); got != tc.want || got.String() != tc.name {
			t.Errorf("KindOf(%v, %v) = %v (%q), want %v (%q)", tc.declared, tc.c, got, got.String(), tc.want, tc.name)
		}
	}
	if s := Kind(17).String(); s != "kind(17)" {
		t.Errorf("Kind(17) is %q", s)
	}
}

func TestConstants(t *testing.T) {
	// The kernel's frame on a 64-bit host: a page, XDP_PACKET_HEADROOM,
	// and SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) of tailroom.
	if FrameSize != 4096 || XDPHeadroom != 256 || MaxLinearData != 3520 {
		t.Errorf("frame %d, headroom %d, max linear data %d; want 4096, 256, 3520", FrameSize, XDPHeadroom, MaxLinearData)
	}
	for _, tc := range []struct{ ctx, want int }{{0, 4104}, {1, 4112}, {8, 4112}, {48, 4152}, {216, 4320}} {
		if got := MemorySize(tc.ctx); got != tc.want {
			t.Errorf("MemorySize(%d) = %d, want %d", tc.ctx, got, tc.want)
		}
	}
}

func TestCheckPacket(t *testing.T) {
	long := packet(MaxLinearData+100, 0x0800)
	for _, tc := range []struct {
		name     string
		k        Kind
		data     []byte
		err      error  // sentinel, or nil
		msg      string // error text, if any
		linear   int
		hasTail  bool
		tailSize int
	}{
		{"xdp: ethernet header only", XDP, packet(14, 0x0800), nil, "", 14, false, 0},
		{"xdp: 13 bytes", XDP, packet(13, 0), ErrShortPacket, "packet too short: 13 bytes, shorter than an Ethernet header", 0, false, 0},
		{"xdp: empty", XDP, nil, ErrShortPacket, "packet too short: 0 bytes, shorter than an Ethernet header", 0, false, 0},
		{"skb-l2: 13 bytes", SkbL2, packet(13, 0), ErrShortPacket, "packet too short: 13 bytes, shorter than an Ethernet header", 0, false, 0},
		{"skb-l3: 13 bytes", SkbL3, packet(13, 0), ErrShortPacket, "packet too short: 13 bytes, shorter than an Ethernet header", 0, false, 0},
		{"custom: 13 bytes", Custom, packet(13, 0), nil, "", 13, false, 0},
		{"custom: empty", Custom, []byte{}, nil, "", 0, false, 0},
		{"xdp: short IPv4 is fine", XDP, packet(33, 0x0800), nil, "", 33, false, 0},
		{"skb-l2: IPv4, 19 bytes of header", SkbL2, packet(33, 0x0800), ErrShortPacket, "packet too short: IPv4 packet with 19 bytes after the Ethernet header", 0, false, 0},
		{"skb-l2: IPv4, 20 bytes", SkbL2, packet(34, 0x0800), nil, "", 34, false, 0},
		{"skb-l3: IPv4, 19 bytes", SkbL3, packet(33, 0x0800), ErrShortPacket, "packet too short: IPv4 packet with 19 bytes after the Ethernet header", 0, false, 0},
		{"skb-l3: IPv6, 39 bytes", SkbL3, packet(53, 0x86dd), ErrShortPacket, "packet too short: IPv6 packet with 39 bytes after the Ethernet header", 0, false, 0},
		{"skb-l2: IPv6, 40 bytes", SkbL2, packet(54, 0x86dd), nil, "", 54, false, 0},
		{"skb-l2: ARP, no header check", SkbL2, packet(14, 0x0806), nil, "", 14, false, 0},
		{"custom: short IPv4 is fine", Custom, packet(20, 0x0800), nil, "", 20, false, 0},
		{"xdp: linear part full", XDP, long[:MaxLinearData], nil, "", MaxLinearData, false, 0},
		{"xdp: tail past the linear part", XDP, long, nil, "", MaxLinearData, true, 100},
		{"skb-l2: longer than the linear part", SkbL2, long, nil, "packet of 3620 bytes exceeds 3520", 0, false, 0},
		{"skb-l3: longer than the linear part", SkbL3, long[:MaxLinearData+1], nil, "packet of 3521 bytes exceeds 3520", 0, false, 0},
		{"custom: longer than the linear part", Custom, long, nil, "packet of 3620 bytes exceeds 3520", 0, false, 0},
		{"none", None, packet(60, 0x0800), ErrNotPacket, "not a packet kind: none", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			linear, tail, err := CheckPacket(tc.k, tc.data)
			if tc.msg != "" || tc.err != nil {
				if err == nil || err.Error() != tc.msg || (tc.err != nil && !errors.Is(err, tc.err)) {
					t.Fatalf("error %v, want %q (%v)", err, tc.msg, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(linear) != tc.linear || !bytes.Equal(linear, tc.data[:tc.linear]) {
				t.Errorf("linear part of %d bytes, want the first %d", len(linear), tc.linear)
			}
			if (tail != nil) != tc.hasTail || len(tail) != tc.tailSize || !bytes.Equal(tail, tc.data[tc.linear:]) {
				t.Errorf("tail %v (%d bytes), want %d bytes after the linear part", tail != nil, len(tail), tc.tailSize)
			}
		})
	}
}

// TestCheckPacketAnyLength: the soundness oracle's check takes XDP and
// custom packets of any length, keeps the Ethernet header's minimum for
// skb kinds, and otherwise is CheckPacket.
func TestCheckPacketAnyLength(t *testing.T) {
	long := packet(MaxLinearData+100, 0x0800)
	for _, tc := range []struct {
		name   string
		k      Kind
		data   []byte
		msg    string // error text, if any
		linear int
		tail   int
	}{
		{"xdp: empty", XDP, []byte{}, "", 0, 0},
		{"xdp: 1 byte", XDP, packet(1, 0), "", 1, 0},
		{"xdp: 13 bytes", XDP, packet(13, 0), "", 13, 0},
		{"custom: 5 bytes", Custom, packet(5, 0), "", 5, 0},
		{"skb-l2: 13 bytes", SkbL2, packet(13, 0), "packet too short: 13 bytes, shorter than an Ethernet header", 0, 0},
		{"skb-l3: empty", SkbL3, []byte{}, "packet too short: 0 bytes, shorter than an Ethernet header", 0, 0},
		{"skb-l3: IPv4, 19 bytes", SkbL3, packet(33, 0x0800), "packet too short: IPv4 packet with 19 bytes after the Ethernet header", 0, 0},
		{"xdp: tail past the linear part", XDP, long, "", MaxLinearData, 100},
		{"skb-l2: longer than the linear part", SkbL2, long, "packet of 3620 bytes exceeds 3520", 0, 0},
		{"none", None, []byte{}, "not a packet kind: none", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			linear, tail, err := CheckPacketAnyLength(tc.k, tc.data)
			if tc.msg != "" {
				if err == nil || err.Error() != tc.msg {
					t.Fatalf("error %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(linear) != tc.linear || len(tail) != tc.tail || !bytes.Equal(append(slices.Clone(linear), tail...), tc.data) {
				t.Errorf("split %d + %d bytes, want %d + %d", len(linear), len(tail), tc.linear, tc.tail)
			}
			if len(tc.data) < 14 && tc.k == XDP {
				if _, _, err := CheckPacket(tc.k, tc.data); !errors.Is(err, ErrShortPacket) {
					t.Errorf("CheckPacket takes it: %v", err)
				}
			}
		})
	}
}

func TestTrimContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  []byte
		want int // length of the trimmed context
		msg  string
	}{
		{"nil", nil, 0, ""},
		{"shorter", words(8, 0, 1), 8, ""},
		{"the struct", words(192, 8, 1), 192, ""},
		{"zero tail", words(200, 8, 1), 192, ""},
		{"a page", make([]byte, 4096), 192, ""},
		{"tail not zero", words(200, 196, 1), 0, "context larger than the program type's struct: 200 bytes, struct __sk_buff has 192 and byte 196 past it is not zero"},
		{"more than a page", make([]byte, 4097), 0, "context larger than the program type's struct: 4097 bytes, more than a page (struct __sk_buff has 192)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TrimContext(tc.ctx, skBuffLayout)
			if tc.msg != "" {
				if !errors.Is(err, ErrContextTooLarge) || err.Error() != tc.msg {
					t.Fatalf("error %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || !bytes.Equal(got, tc.ctx[:tc.want]) || (tc.ctx == nil) != (got == nil) {
				t.Errorf("trimmed to %d bytes, want the first %d", len(got), tc.want)
			}
		})
	}
}

// TestCheckContext pins the context rules of BPF_PROG_TEST_RUN, with
// their messages, and the XDP packet's split by the context.
func TestCheckContext(t *testing.T) {
	data := packet(60, 0x0800)
	long := packet(4000, 0x0800)
	for _, tc := range []struct {
		name    string
		k       Kind
		c       *ctxaccess.Layout
		data    []byte
		ctx     []byte
		noCtx   bool   // HaveCtx false
		err     error  // the sentinel of a refusal
		msg     string // its text
		linear  int    // the packet's split after the check
		tail    int
		meta    int
		hasTail bool
	}{
		{name: "xdp: zero context", k: XDP, c: xdpMDLayout, data: data, ctx: words(24),
			linear: 0, tail: 60, hasTail: true},
		{name: "xdp: no context: no check, no split", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 8, 4), noCtx: true,
			linear: 60},
		{name: "xdp: short context", k: XDP, c: xdpMDLayout, data: data, ctx: words(8, 4, 60),
			linear: 60},
		{name: "xdp: whole packet", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60),
			linear: 60},
		{name: "xdp: 8 bytes of metadata", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 0, 8, 4, 60),
			linear: 60, meta: 8},
		{name: "xdp: data_end before the end", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 40),
			linear: 40, tail: 20, hasTail: true},
		{name: "xdp: linear part capped", k: XDP, c: xdpMDLayout, data: long, ctx: words(24, 4, 4000),
			linear: MaxLinearData, tail: 4000 - MaxLinearData, hasTail: true},
		{name: "xdp: linear part capped after metadata", k: XDP, c: xdpMDLayout, data: long, ctx: words(24, 0, 8, 4, 4000),
			linear: MaxLinearData + 8, tail: 4000 - MaxLinearData - 8, hasTail: true, meta: 8},
		{name: "xdp: metadata of 216 bytes", k: XDP, c: xdpMDLayout, data: long, ctx: words(24, 0, 216, 4, 300),
			linear: 300, tail: 3700, hasTail: true, meta: 216},
		{name: "xdp: loopback, queue 0", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 12, 1),
			linear: 60},
		{name: "xdp: data_meta set", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 8, 4),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data_meta is 4, must be 0 (the metadata starts the data)"},
		{name: "xdp: data_end past the data", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 61),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data_end is 61, beyond the 60 bytes of data"},
		{name: "xdp: data after data_end", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 0, 20, 4, 16),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data (20) is after data_end (16)"},
		{name: "xdp: metadata not a multiple of 4", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 0, 6, 4, 60),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data is 6: the metadata's length must be a multiple of 4 up to 255"},
		{name: "xdp: metadata past the u8", k: XDP, c: xdpMDLayout, data: long, ctx: words(24, 0, 256, 4, 400),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data is 256: the metadata's length must be a multiple of 4 up to 255"},
		{name: "xdp: metadata past the headroom", k: XDP, c: xdpMDLayout, data: long, ctx: words(24, 0, 220, 4, 400),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.data is 220: the metadata must fit in the 216 bytes of headroom after struct xdp_frame"},
		{name: "xdp: 13 bytes after the metadata", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 0, 48, 4, 60),
			err: ErrShortPacket, msg: "packet too short: 12 bytes after 48 bytes of metadata, shorter than an Ethernet header"},
		{name: "xdp: egress_ifindex", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 20, 1),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.egress_ifindex is 1, must be 0"},
		{name: "xdp: rx queue without ingress", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 16, 1),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.rx_queue_index is 1 without an ingress_ifindex"},
		{name: "xdp: ingress 2", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 12, 2),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.ingress_ifindex 2: xebpf's test runs have the loopback device (ifindex 1) only"},
		{name: "xdp: loopback rx queue 1", k: XDP, c: xdpMDLayout, data: data, ctx: words(24, 4, 60, 12, 1, 16, 1),
			err: ErrInvalidContext, msg: "invalid context: xdp_md.rx_queue_index is 1: the loopback device has rx queue 0 only"},
		{name: "xdp kind, other context: no check", k: XDP, c: hostLayout, data: data, ctx: words(8, 0, 99),
			linear: 60},
		{name: "xdp_md of another size: no check", k: XDP, c: &ctxaccess.Layout{Name: "xdp_md", Size: 28, Fields: xdpMDLayout.Fields}, data: data, ctx: words(28, 8, 4),
			linear: 60},
		{name: "custom xdp_md: no check", k: Custom, c: xdpMDLayout, data: data, ctx: words(24, 8, 4),
			linear: 60},

		{name: "skb-l2: zero context", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192),
			linear: 60},
		{name: "skb-l2: allowed fields", k: SkbL2, c: skBuffLayout, data: data,
			ctx:    words(192, 8, 1, 32, 2, 36, 1, 40, 1, 48, 3, 64, 4, 152, 5, 156, 6, 160, 60, 164, 65535, 176, 1400, 184, 7, 188, 8),
			linear: 60},
		{name: "skb-l2: ifindex 2", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 40, 2),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.ifindex 2: xebpf's test runs have the loopback device (ifindex 1) only"},
		{name: "skb-l3: len set", k: SkbL3, c: skBuffLayout, data: data, ctx: words(192, 0, 60),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.len is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp"},
		{name: "skb-l3: pkt_type set", k: SkbL3, c: skBuffLayout, data: data, ctx: words(192, 4, 4),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.pkt_type is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp"},
		{name: "skb-l2: tc_index set", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 44, 1),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.tc_index is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp"},
		{name: "skb-l2: data set", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 76, 1),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.data is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp"},
		{name: "skb-l2: padding set", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 180, 0x100),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff byte 181 (padding) is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp"},
		{name: "skb-l2: wire_len the frame", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 160, 60),
			linear: 60},
		{name: "skb-l2: wire_len below len", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 160, 59),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.wire_len is 59: it must be 0 or from the skb's length (60) to 65536"},
		{name: "skb-l3: wire_len the skb, after the Ethernet header", k: SkbL3, c: skBuffLayout, data: data, ctx: words(192, 160, 46),
			linear: 60},
		{name: "skb-l3: wire_len below len", k: SkbL3, c: skBuffLayout, data: data, ctx: words(192, 160, 45),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.wire_len is 45: it must be 0 or from the skb's length (46) to 65536"},
		{name: "skb-l2: wire_len 65536", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 160, 65536),
			linear: 60},
		{name: "skb-l2: wire_len 65537", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 160, 65537),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.wire_len is 65537: it must be 0 or from the skb's length (60) to 65536"},
		{name: "skb-l2: gso_segs 65536", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 164, 65536),
			err: ErrInvalidContext, msg: "invalid context: __sk_buff.gso_segs is 65536, more than 65535"},
		{name: "skb-l2: short context", k: SkbL2, c: skBuffLayout, data: data, ctx: words(12, 8, 1),
			linear: 60},
		{name: "skb-l2: no context", k: SkbL2, c: skBuffLayout, data: data, ctx: words(192, 0, 1), noCtx: true,
			linear: 60},
		{name: "custom __sk_buff: no check", k: Custom, c: skBuffLayout, data: data, ctx: words(192, 0, 1),
			linear: 60},
		{name: "raw: no check", k: None, c: rawLayout, ctx: words(64, 0, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Ctx: tc.ctx, HaveCtx: !tc.noCtx}
			if tc.k != None {
				var err error
				if in.Linear, in.Tail, err = CheckPacket(tc.k, tc.data); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckContext(tc.k, tc.c, tc.data, &in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || err.Error() != tc.msg {
					t.Fatalf("error %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Linear) != tc.linear || !bytes.Equal(in.Linear, tc.data[:tc.linear]) ||
				(in.Tail != nil) != tc.hasTail || len(in.Tail) != tc.tail || !bytes.Equal(in.Tail, tc.data[tc.linear:tc.linear+tc.tail]) ||
				in.Meta != tc.meta {
				t.Errorf("linear %d, tail %d (%v), meta %d; want %d, %d (%v), %d", len(in.Linear), len(in.Tail), in.Tail != nil, in.Meta, tc.linear, tc.tail, tc.hasTail, tc.meta)
			}
		})
	}
}

// TestCheckContextMessages names every byte __sk_buff refuses by its
// field, or as padding.
func TestCheckContextMessages(t *testing.T) {
	// convert___skb_to_skb's fields: mark, priority, ingress_ifindex,
	// ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp.
	allowed := map[int]bool{}
	for _, f := range [][2]int{{8, 4}, {32, 4}, {36, 4}, {40, 4}, {48, 20}, {152, 8}, {160, 4}, {164, 4}, {176, 4}, {184, 8}} {
		for i := f[0]; i < f[0]+f[1]; i++ {
			allowed[i] = true
		}
	}
	data := packet(60, 0x0800)
	for off := range skBuffSize {
		if off >= 40 && off < 44 || off >= 160 && off < 168 {
			continue // ifindex, wire_len and gso_segs have rules of their own
		}
		ctx := make([]byte, skBuffSize)
		ctx[off] = 0x80
		in := Input{Ctx: ctx, Linear: data, HaveCtx: true}
		err := CheckContext(SkbL2, skBuffLayout, data, &in)
		if allowed[off] {
			if err != nil {
				t.Errorf("byte %d: %v", off, err)
			}
			continue
		}
		want := skbFieldAt(skBuffLayout, off)
		if !errors.Is(err, ErrInvalidContext) || !strings.Contains(err.Error(), want+" is not zero") {
			t.Errorf("byte %d: error %v, want one naming %s", off, err, want)
		}
	}
	for _, tc := range []struct {
		off  int
		want string
	}{{0, "__sk_buff.len"}, {47, "__sk_buff.tc_index"}, {67, "__sk_buff.cb[4]"}, {120, "__sk_buff.local_ip6"}, {180, "__sk_buff.tstamp_type"}, {183, "__sk_buff byte 183 (padding)"}} {
		if got := skbFieldAt(skBuffLayout, tc.off); got != tc.want {
			t.Errorf("skbFieldAt(%d) = %q, want %q", tc.off, got, tc.want)
		}
	}
}
