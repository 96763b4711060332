package testrun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/internal/platform"
)

// newFrame returns a frame of p in off-heap memory for a context of
// ctxSize bytes, as the root package's run states hold one.
func newFrame(t *testing.T, ctxSize int, p Program) *Frame {
	t.Helper()
	m, err := platform.Alloc(MemorySize(ctxSize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	f := NewFrame(m.Bytes(), uint64(m.Addr()), p)
	if f.Program != p || len(f.Mem) != FrameSize || cap(f.Mem) != FrameSize || len(f.Ctx) != MemorySize(ctxSize)-FrameSize || f.CtxAddr != f.Addr+FrameSize {
		t.Fatalf("frame of %d bytes (cap %d), context of %d at +%d", len(f.Mem), cap(f.Mem), len(f.Ctx), f.CtxAddr-f.Addr)
	}
	return &f
}

// ptrOffsets returns the offsets of c's data, data_end and data_meta
// words, -1 for those it lacks, as the root package computes them.
func ptrOffsets(c *ctxaccess.Layout) [3]int {
	var o [3]int
	for i, k := range [3]ctxaccess.Kind{ctxaccess.PacketStart, ctxaccess.PacketEnd, ctxaccess.PacketMeta} {
		o[i] = -1
		if off, ok := c.PointerOffset(k); ok {
			o[i] = off
		}
	}
	return o
}

// only reports whether every byte of b is v.
func only(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func word(b []byte, off int) uint32   { return binary.NativeEndian.Uint32(b[off:]) }
func word64(b []byte, off int) uint64 { return binary.NativeEndian.Uint64(b[off:]) }

// TestSetup lays runs of every kind out and checks the frame, the
// context, the helpers' packet and the layout.
func TestSetup(t *testing.T) {
	ipv4 := packet(60, 0x0800)
	for i := range 6 {
		ipv4[i] = 0 // to the loopback's address: PACKET_HOST
	}
	bcast := packet(60, 0x86dd)
	copy(bcast, "\xff\xff\xff\xff\xff\xff")
	other := packet(60, 0x0806)
	copy(other, "\x02\x00\x00\x00\x00\x01")
	for _, tc := range []struct {
		name  string
		k     Kind
		c     *ctxaccess.Layout
		in    Input
		moves bool
		// Expected, relative to the frame's address: the layout (link
		// header, network header and head absolute when set), the hook,
		// where the packet bytes lie, and context words (offset, value).
		meta, data, end  uint64
		link, net, head  bool
		hook             helpers.Hook
		at               int
		ctx              []uint32
		dirty            bool
		metaWord, noMeta bool
	}{
		{name: "xdp, no context", k: XDP, c: xdpMDLayout, in: Input{Linear: ipv4},
			meta: 256, data: 256, end: 316, hook: helpers.HookXDP, at: 256, ctx: []uint32{0, 0, 4, 0, 12, 1, 16, 0}},
		{name: "xdp, ingress given", k: XDP, c: xdpMDLayout, in: Input{Ctx: words(24, 4, 60, 12, 1), Linear: ipv4, HaveCtx: true},
			meta: 256, data: 256, end: 316, hook: helpers.HookXDP, at: 256, ctx: []uint32{4, 60, 12, 1}},
		{name: "xdp, metadata", k: XDP, c: xdpMDLayout, in: Input{Ctx: words(24, 0, 8, 4, 60), Linear: ipv4, Meta: 8, HaveCtx: true},
			meta: 248, data: 256, end: 308, hook: helpers.HookXDP, at: 248, ctx: []uint32{0, 8, 4, 60, 12, 1}, dirty: true},
		{name: "xdp, moves", k: XDP, c: xdpMDLayout, in: Input{Linear: ipv4}, moves: true,
			meta: 256, data: 256, end: 316, hook: helpers.HookXDP, at: 256, dirty: true},
		{name: "tc, context", k: SkbL2, c: skBuffLayout, in: Input{Ctx: words(192, 8, 7), Linear: ipv4, HaveCtx: true},
			meta: 256, data: 256, end: 316, link: true, net: true, head: true, hook: helpers.HookTC, at: 256,
			ctx: []uint32{0, 60, 4, 0, 8, 7, 16, 0x0008, 40, 1, 160, 60}},
		{name: "tc, no context: no wire_len", k: SkbL2, c: skBuffLayout, in: Input{Linear: bcast},
			meta: 256, data: 256, end: 316, link: true, net: true, head: true, hook: helpers.HookTC, at: 256,
			ctx: []uint32{0, 60, 4, 2, 16, 0xdd86, 40, 1, 160, 0}},
		{name: "tc, wire_len given", k: SkbL2, c: skBuffLayout, in: Input{Ctx: words(192, 160, 100), Linear: other, HaveCtx: true},
			meta: 256, data: 256, end: 316, link: true, net: true, head: true, hook: helpers.HookTC, at: 256,
			ctx: []uint32{0, 60, 4, 3, 16, 0x0608, 160, 100}},
		{name: "socket filter", k: SkbL3, c: skBuffLayout, in: Input{Ctx: words(192), Linear: ipv4, HaveCtx: true},
			meta: 270, data: 270, end: 316, link: true, net: true, head: true, hook: helpers.HookSocket, at: 256,
			ctx: []uint32{0, 46, 16, 0x0008, 40, 1, 160, 46}},
		{name: "custom", k: Custom, c: hostLayout, in: Input{Ctx: words(8, 0, 5), Linear: ipv4[:20], HaveCtx: true},
			meta: 256, data: 256, end: 276, hook: helpers.HookSocket, at: 256, ctx: []uint32{0, 5, 4, 0}, noMeta: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.CtxSize = tc.c.MemorySize()
			ptrOff := ptrOffsets(tc.c)
			f := newFrame(t, in.CtxSize, Program{Kind: tc.k, PtrOff: ptrOff, MovesPacket: tc.moves})
			// What a previous run left in the context memory.
			for i := range f.Ctx {
				f.Ctx[i] = 0xee
			}
			f.Setup(&in)
			l := f.Layout
			a := f.Addr
			want := Layout{Meta: a + tc.meta, Data: a + tc.data, End: a + tc.end}
			if tc.link {
				want.LinkHeader, want.NetHeader, want.Head = a+XDPHeadroom, a+XDPHeadroom+14, a
			}
			if l != want {
				t.Errorf("layout %+v, want %+v (frame at %#x)", l, want, a)
			}
			// The packet in a frame that is zero elsewhere.
			n := len(in.Linear)
			if !bytes.Equal(f.Mem[tc.at:tc.at+n], in.Linear) {
				t.Errorf("packet not at +%d", tc.at)
			}
			if !only(f.Mem[:tc.at], 0) || !only(f.Mem[tc.at+n:], 0) {
				t.Errorf("frame not zero outside the packet")
			}
			// The context: given, zero-extended, and what Setup writes.
			ctx := f.Ctx[:in.CtxSize]
			for i := 0; i+1 < len(tc.ctx); i += 2 {
				if got := word(ctx, int(tc.ctx[i])); got != tc.ctx[i+1] {
					t.Errorf("context word %d is %#x, want %#x", tc.ctx[i], got, tc.ctx[i+1])
				}
			}
			if f.Ctx[in.CtxSize] != 0xee {
				t.Errorf("Setup wrote past the context's memory")
			}
			if word64(ctx, ptrOff[0]) != l.Data || word64(ctx, ptrOff[1]) != l.End {
				t.Errorf("data and data_end words %#x, %#x; want %#x, %#x", word64(ctx, ptrOff[0]), word64(ctx, ptrOff[1]), l.Data, l.End)
			}
			if !tc.noMeta && word64(ctx, ptrOff[2]) != l.Meta {
				t.Errorf("data_meta word %#x, want %#x", word64(ctx, ptrOff[2]), l.Meta)
			}
			p := f.Packet
			if p.Ctx != f.CtxAddr || p.Region != 0 || p.HardStart != a || p.HardEnd != a+FrameSize-helpers.SkbSharedInfoSize ||
				p.DataOff != ptrOff[0] || p.DataEndOff != ptrOff[1] || p.DataMetaOff != ptrOff[2] || p.Hook != tc.hook || p.MaxMeta != 0 {
				t.Errorf("packet %+v", p)
			}
			if f.Dirty != tc.dirty {
				t.Errorf("dirty %v, want %v", f.Dirty, tc.dirty)
			}
		})
	}
}

// TestSetupNone lays out a run without packet: the context only.
func TestSetupNone(t *testing.T) {
	f := newFrame(t, 16, Program{Kind: None, PtrOff: [3]int{-1, -1, -1}, MovesPacket: true})
	for i := range f.Mem {
		f.Mem[i] = 0xaa
	}
	for i := range f.Ctx {
		f.Ctx[i] = 0xee
	}
	in := Input{Ctx: []byte{1, 2, 3}, CtxSize: 16}
	if f.Setup(&in); f.Layout != (Layout{}) {
		t.Errorf("layout %+v", f.Layout)
	}
	if !bytes.Equal(f.Ctx[:16], []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) || f.Ctx[16] != 0xee {
		t.Errorf("context % x", f.Ctx[:17])
	}
	if !only(f.Mem, 0xaa) || f.Dirty || f.Packet != (helpers.Packet{}) {
		t.Errorf("Setup touched the frame of a run without packet")
	}
	if out, err := f.PacketOut(make([]byte, 100), nil); !errors.Is(err, ErrNotPacket) || out != nil {
		t.Errorf("PacketOut without packet: %v, %v", out, err)
	}
}

// TestSetupClears checks that each run sees a frame that is zero outside
// its packet, whatever the runs before it left.
func TestSetupClears(t *testing.T) {
	ptrOff := ptrOffsets(xdpMDLayout)
	long := packet(200, 0x0800)
	short := packet(60, 0x0800)
	for _, tc := range []struct {
		name  string
		first Input
		moves bool
		// scribble simulates what the first run's program wrote in the
		// frame, outside the packet only when it may move it.
		scribble []int
	}{
		{name: "longer packet before", first: Input{Linear: long}},
		{name: "metadata before", first: Input{Linear: long, Meta: 16}, scribble: []int{240}},
		{name: "moved packet before", first: Input{Linear: long}, moves: true, scribble: []int{0, 100, 255, 3000, FrameSize - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFrame(t, xdpMDLayout.MemorySize(), Program{Kind: XDP, PtrOff: ptrOff, MovesPacket: tc.moves})
			first := tc.first
			first.CtxSize = xdpMDLayout.MemorySize()
			f.Setup(&first)
			for _, off := range tc.scribble {
				f.Mem[off] = 0x5a
			}
			second := Input{Linear: short, CtxSize: first.CtxSize}
			f.Setup(&second)
			if l := f.Layout; l.End-l.Meta != 60 || !bytes.Equal(f.Mem[256:316], short) {
				t.Fatalf("second packet not laid out: %+v", l)
			}
			if !only(f.Mem[:256], 0) || !only(f.Mem[316:], 0) {
				t.Errorf("frame not zero outside the second packet")
			}
			if f.Dirty != tc.moves {
				t.Errorf("dirty %v after a run without metadata, want %v", f.Dirty, tc.moves)
			}
		})
	}
}

func TestEthernet(t *testing.T) {
	for _, tc := range []struct {
		dst   string
		ptype uint32
	}{
		{"\x00\x00\x00\x00\x00\x00", 0},
		{"\xff\xff\xff\xff\xff\xff", 2},
		{"\x01\x00\x5e\x00\x00\x01", 2},
		{"\x33\x33\x00\x00\x00\x01", 2},
		{"\x02\x00\x00\x00\x00\x00", 3},
		{"\x00\x00\x00\x00\x00\x01", 3},
	} {
		if got := pktType([]byte(tc.dst)); got != tc.ptype {
			t.Errorf("pktType(% x) = %d, want %d", tc.dst, got, tc.ptype)
		}
	}
	for _, tc := range []struct {
		frame []byte
		proto uint16
	}{
		{packet(60, 0x0800), 0x0800},
		{packet(60, 0x86dd), 0x86dd},
		{packet(60, 0x0600), 0x0600},
		{append(packet(14, 0x05dc), 0xff, 0xff), 0x0001}, // raw 802.3
		{append(packet(14, 0x05dc), 0xaa, 0xaa), 0x0004}, // 802.2 LLC
		{append(packet(14, 0x05dc), 0xff), 0x0004},       // too short to tell
		{packet(14, 0x0000), 0x0004},
	} {
		if got := ethProtocol(tc.frame); got != tc.proto {
			t.Errorf("ethProtocol(% x) = %#04x, want %#04x", tc.frame[12:], got, tc.proto)
		}
	}
}

// TestPacketOut copies packets out after runs that leave them, move them
// and grow them, with and without fragments.
func TestPacketOut(t *testing.T) {
	pkt := packet(100, 0x0800)
	for _, tc := range []struct {
		name string
		k    Kind
		c    *ctxaccess.Layout
		in   Input
		// move, if set, moves the packet as a helper would: new
		// data_meta, data and data_end relative to the frame.
		move   *[3]uint64
		outCap int
		want   []byte
		err    string
	}{
		{name: "xdp", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt}, outCap: 100, want: pkt},
		{name: "xdp, metadata and tail", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt[:60], Tail: pkt[60:], Meta: 8}, outCap: 200, want: pkt},
		{name: "xdp, head grown", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt}, move: &[3]uint64{242, 242, 356}, outCap: 114,
			want: append(make([]byte, 14), pkt...)},
		{name: "xdp, tail shrunk, metadata added", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt}, move: &[3]uint64{252, 256, 306}, outCap: 4096,
			want: append(make([]byte, 4), pkt[:50]...)},
		{name: "xdp, too small", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt[:60], Tail: pkt[60:]}, outCap: 99,
			err: "DataOut is too small for the packet: need 100 bytes, have 99"},
		{name: "tc", k: SkbL2, c: skBuffLayout, in: Input{Linear: pkt}, outCap: 100, want: pkt},
		{name: "tc, too small", k: SkbL2, c: skBuffLayout, in: Input{Linear: pkt}, outCap: 10,
			err: "DataOut is too small for the packet: need 100 bytes, have 10"},
		{name: "socket filter: Ethernet header zeroed", k: SkbL3, c: skBuffLayout, in: Input{Linear: pkt}, outCap: 100,
			want: append(make([]byte, 14), pkt[14:]...)},
		{name: "socket filter, pulled", k: SkbL3, c: skBuffLayout, in: Input{Linear: pkt}, move: &[3]uint64{290, 290, 356}, outCap: 100,
			want: append(make([]byte, 14), pkt[34:]...)},
		{name: "custom", k: Custom, c: hostLayout, in: Input{Linear: pkt[:10]}, outCap: 10, want: pkt[:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.CtxSize = tc.c.MemorySize()
			f := newFrame(t, in.CtxSize, Program{Kind: tc.k, PtrOff: ptrOffsets(tc.c), MovesPacket: tc.move != nil})
			f.Setup(&in)
			if m := tc.move; m != nil {
				f.Packet.SetBounds(f.Addr+m[0], f.Addr+m[1], f.Addr+m[2])
			}
			buf := make([]byte, 1, tc.outCap)
			out, err := f.PacketOut(buf, in.Tail)
			if tc.err != "" {
				if !errors.Is(err, ErrDataOutTooSmall) || err.Error() != tc.err || out != nil {
					t.Fatalf("PacketOut: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.want) || &out[0] != &buf[:1][0] {
				t.Errorf("packet out\n% x\nwant\n% x", out, tc.want)
			}
		})
	}
}

// TestContextOut turns context memory after runs into ctx_out.
func TestContextOut(t *testing.T) {
	ff := func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }
	// convert_skb_to___skb's fields: mark, priority, ingress_ifindex,
	// ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp.
	skbOut := make([]byte, 192)
	for _, f := range [][2]int{{8, 4}, {32, 4}, {36, 4}, {40, 4}, {48, 20}, {152, 8}, {160, 4}, {164, 4}, {176, 4}, {184, 8}} {
		copy(skbOut[f[0]:f[0]+f[1]], ff(f[1]))
	}
	pkt := packet(60, 0x0800)
	for _, tc := range []struct {
		name string
		k    Kind
		c    *ctxaccess.Layout
		in   Input
		// run, if set, stands for the program: it changes the context
		// memory after Setup.
		run  func(f *Frame, ctx []byte)
		want []byte
	}{
		{name: "xdp_md: ingress_ifindex as given", k: XDP, c: xdpMDLayout, in: Input{Ctx: words(24, 4, 60), Linear: pkt},
			want: words(24, 0, 0, 4, 60)},
		{name: "xdp_md: relative to data_meta", k: XDP, c: xdpMDLayout, in: Input{Ctx: words(24, 0, 8, 4, 60, 12, 1), Linear: pkt, Meta: 8},
			want: words(24, 0, 8, 4, 60, 12, 1)},
		{name: "xdp_md: no context given", k: XDP, c: xdpMDLayout, in: Input{Linear: pkt},
			want: words(24, 0, 0, 4, 60)},
		{name: "xdp_md: after moves, program writes dropped", k: XDP, c: xdpMDLayout, in: Input{Ctx: words(24, 4, 60), Linear: pkt},
			run: func(f *Frame, ctx []byte) {
				f.Packet.SetBounds(f.Addr+236, f.Addr+240, f.Addr+300)
				copy(ctx[:24], ff(24))
			},
			want: words(24, 0, 4, 4, 64)},
		{name: "__sk_buff: the fields the kernel copies back", k: SkbL2, c: skBuffLayout, in: Input{Linear: pkt},
			run:  func(f *Frame, ctx []byte) { copy(ctx[:192], ff(192)) },
			want: skbOut},
		{name: "__sk_buff: socket filter", k: SkbL3, c: skBuffLayout, in: Input{Ctx: words(192, 8, 3, 160, 50), Linear: pkt},
			want: words(192, 8, 3, 40, 1, 160, 50)},
		{name: "custom: the struct as it is", k: Custom, c: hostLayout, in: Input{Ctx: words(4, 0, 9), Linear: pkt},
			run:  func(f *Frame, ctx []byte) { ctx[5] = 7 },
			want: []byte{9, 0, 0, 0, 0, 7, 0, 0}},
		{name: "raw: as much as was given", k: None, c: rawLayout, in: Input{Ctx: []byte{1, 2, 3}},
			run:  func(f *Frame, ctx []byte) { copy(ctx, ff(16)) },
			want: ff(3)},
		{name: "raw: nothing given", k: None, c: rawLayout, in: Input{}, want: []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.CtxSize = tc.c.MemorySize()
			if tc.c == rawLayout {
				in.CtxSize = 16
			}
			ptrOff := ptrOffsets(tc.c)
			f := newFrame(t, in.CtxSize, Program{Kind: tc.k, PtrOff: ptrOff})
			f.Setup(&in)
			ctx := f.Ctx[:in.CtxSize]
			if tc.run != nil {
				tc.run(f, ctx)
			}
			out := f.ContextOut(tc.c, &in, ctx)
			if !bytes.Equal(out, tc.want) || len(out) > 0 && &out[0] != &ctx[0] {
				t.Errorf("ctx_out\n% x\nwant\n% x", out, tc.want)
			}
		})
	}
}
