package helpers_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
)

// frame is an XDP test-run frame: a 4096-byte buffer with the packet at
// XDP_PACKET_HEADROOM and a context holding data, data_end and data_meta.
type frame struct {
	h               *harness
	buf             []byte
	base            uint64
	ctx             []byte
	pkt             *helpers.Packet
	regions         []api.Region
	data, end, meta uint64 // initial values
}

func newFrame(t *testing.T, pktLen, metaLen int, withMeta bool) *frame {
	h := newHarness(t)
	m, err := platform.Alloc(helpers.TestRunFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	f := &frame{h: h, buf: m.Bytes()[:helpers.TestRunFrameSize], base: uint64(m.Addr())}
	for i := range f.buf {
		f.buf[i] = 0xaa
	}
	f.ctx = h.mem(24, false)
	h.extra = nil // the frame test builds its own regions
	f.data = f.base + helpers.XDPPacketHeadroom
	f.end = f.data + uint64(pktLen)
	f.meta = f.data - uint64(metaLen)
	metaOff := 16
	if !withMeta {
		metaOff = -1
	}
	f.pkt = &helpers.Packet{Ctx: addr(f.ctx), DataOff: 0, DataEndOff: 8, DataMetaOff: metaOff,
		HardStart: f.base, HardEnd: f.base + helpers.TestRunFrameSize - helpers.SkbSharedInfoSize, Region: 0}
	h.run.Packet = f.pkt
	f.pkt.SetBounds(f.meta, f.data, f.end)
	start := f.meta
	if !withMeta {
		start = f.data
	}
	f.regions = []api.Region{
		{Addr: start, Size: f.end - start, Writable: true, Name: "packet"},
		{Addr: addr(f.ctx), Size: 24, Name: "ctx"},
	}
	return f
}

func (f *frame) words() (data, end, meta uint64) {
	return binary.NativeEndian.Uint64(f.ctx), binary.NativeEndian.Uint64(f.ctx[8:]), binary.NativeEndian.Uint64(f.ctx[16:])
}

// call runs helper id with (ctx, delta).
func (f *frame) call(id int32, delta int) uint64 {
	f.h.t.Helper()
	p := f.h.compile(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\ncall %d\nexit", addr(f.ctx), delta, id), interp.Checked)
	env := &api.Env{Args: [5]uint64{addr(f.ctx)}, Regions: f.regions, Context: f.h.run}
	r0, err := p.Run(env)
	if err != nil {
		f.h.t.Fatal(err)
	}
	return r0
}

func TestXDPAdjustHead(t *testing.T) {
	const room = helpers.XDPPacketHeadroom - helpers.XDPFrameSize // 216
	for _, tc := range []struct {
		desc    string
		metaLen int
		delta   int
		want    uint64
	}{
		{"Growing the head to the end of struct xdp_frame is allowed", 0, -room, 0},
		{"Growing one byte more is -EINVAL", 0, -room - 1, neg(22)},
		{"Shrinking to ETH_HLEN bytes is allowed", 0, 50, 0},
		{"Shrinking below ETH_HLEN is -EINVAL", 0, 51, neg(22)},
		{"Metadata reduces the headroom", 8, -room + 8, 0},
		{"Metadata reduces the headroom, one byte past is -EINVAL", 8, -room + 7, neg(22)},
		{"A zero delta is a no-op", 0, 0, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFrame(t, 64, tc.metaLen, true)
			copy(f.buf[f.meta-f.base:], "METAMETA"[:tc.metaLen])
			got := f.call(helpers.IDXDPAdjustHead, tc.delta)
			if got != tc.want {
				t.Fatalf("r0 = %#x, want %#x", got, tc.want)
			}
			data, end, meta := f.words()
			wd := f.data
			if got == 0 {
				wd = uint64(int64(f.data) + int64(tc.delta))
			}
			if data != wd || end != f.end || data-meta != uint64(tc.metaLen) {
				t.Errorf("data %+d end %+d metalen %d; want data %+d", int64(data-f.data), int64(end-f.end), data-meta, int64(wd-f.data))
			}
			if m := f.buf[meta-f.base : data-f.base]; string(m) != "METAMETA"[:tc.metaLen] {
				t.Errorf("metadata %q did not move with data", m)
			}
			if r := f.regions[0]; r.Addr != meta || r.Size != end-meta {
				t.Errorf("packet region %v, want [%#x,%#x)", r, meta, end)
			}
		})
	}
}

func TestXDPAdjustMeta(t *testing.T) {
	const room = helpers.XDPPacketHeadroom - helpers.XDPFrameSize
	for _, tc := range []struct {
		desc     string
		withMeta bool
		maxMeta  int
		delta    int
		want     uint64
	}{
		{"32 bytes of metadata are allowed", true, 0, -32, 0},
		{"36 bytes are -EACCES", true, 0, -36, neg(13)},
		{"A length not a multiple of 4 is -EACCES", true, 0, -2, neg(13)},
		{"Metadata past data is -EINVAL", true, 0, 4, neg(22)},
		{"Metadata into struct xdp_frame is -EINVAL before the length check", true, 0, -room - 4, neg(22)},
		{"Metadata reaching struct xdp_frame passes the bounds, fails the length", true, 0, -room, neg(13)},
		{"Newer kernels allow more than 32 bytes", true, 252, -212, 0},
		{"Packet.MaxMeta bounds the length", true, 100, -104, neg(13)},
		{"Without metadata support it is -ENOTSUPP", false, 0, -4, neg(524)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFrame(t, 64, 0, tc.withMeta)
			f.pkt.MaxMeta = tc.maxMeta
			if got := f.call(helpers.IDXDPAdjustMeta, tc.delta); got != tc.want {
				t.Fatalf("r0 = %#x, want %#x", got, tc.want)
			}
			data, _, meta := f.words()
			if tc.want == 0 && (data != f.data || meta != uint64(int64(f.data)+int64(tc.delta)) || f.regions[0].Addr != meta) {
				t.Errorf("data %+d meta %+d region %v", int64(data-f.data), int64(meta-f.data), f.regions[0])
			}
		})
	}
}

func TestXDPAdjustTail(t *testing.T) {
	const tailroom = helpers.TestRunFrameSize - helpers.SkbSharedInfoSize - helpers.XDPPacketHeadroom - 64
	for _, tc := range []struct {
		desc  string
		delta int
		want  uint64
	}{
		{"Growing to the frame's hard end is allowed", tailroom, 0},
		{"Growing one byte past it is -EINVAL", tailroom + 1, neg(22)},
		{"Shrinking to ETH_HLEN is allowed", -50, 0},
		{"Shrinking below ETH_HLEN is -EINVAL", -51, neg(22)},
		{"Growing a little zeroes the new bytes", 8, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := newFrame(t, 64, 0, true)
			if got := f.call(helpers.IDXDPAdjustTail, tc.delta); got != tc.want {
				t.Fatalf("r0 = %#x, want %#x", got, tc.want)
			}
			_, end, _ := f.words()
			we := f.end
			if tc.want == 0 {
				we = uint64(int64(f.end) + int64(tc.delta))
			}
			if end != we || f.regions[0].Size != we-f.data {
				t.Errorf("end %+d region %v, want end %+d", int64(end-f.end), f.regions[0], int64(we-f.end))
			}
			if tc.delta > 0 && tc.want == 0 {
				if grown := f.buf[f.end-f.base : end-f.base]; bytes.ContainsFunc(grown, func(r rune) bool { return r != 0 }) {
					t.Errorf("grown bytes not zeroed: % x", grown[:8])
				}
				if f.buf[end-f.base] != 0xaa {
					t.Error("bytes past the new end were touched")
				}
			}
		})
	}
}

func TestXDPBytesAndContext(t *testing.T) {
	f := newFrame(t, 64, 0, true)
	copy(f.buf[f.data-f.base:], "0123456789abcdef")
	if got := f.call(helpers.IDXDPGetBuffLen, 0); got != 64 {
		t.Errorf("xdp_get_buff_len = %d, want 64", got)
	}
	dst := f.h.mem(8, true)
	f.regions = append(f.regions, f.h.extra...)
	load := func(id int32, off, n int) uint64 {
		p := f.h.compile(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\nmov %%r4, %d\ncall %d\nexit", addr(f.ctx), off, addr(dst), n, id), interp.Checked)
		r0, err := p.Run(&api.Env{Regions: f.regions, Context: f.h.run})
		if err != nil {
			t.Fatal(err)
		}
		return r0
	}
	if r0 := load(helpers.IDXDPLoadBytes, 4, 8); r0 != 0 || string(dst) != "456789ab" {
		t.Errorf("xdp_load_bytes: %d %q", int64(r0), dst)
	}
	if r0 := load(helpers.IDXDPLoadBytes, 60, 8); r0 != neg(22) {
		t.Errorf("xdp_load_bytes past the end: %d, want -EINVAL", int64(r0))
	}
	if r0 := load(helpers.IDXDPLoadBytes, 0x10000, 8); r0 != neg(14) {
		t.Errorf("xdp_load_bytes at 0x10000: %d, want -EFAULT", int64(r0))
	}
	copy(dst, "XXXXXXXX")
	if r0 := load(helpers.IDXDPStoreBytes, 56, 8); r0 != 0 || string(f.buf[f.data-f.base+56:][:8]) != "XXXXXXXX" {
		t.Errorf("xdp_store_bytes: %d", int64(r0))
	}
	if r0 := load(helpers.IDSkbLoadBytes, 0, 8); r0 != 0 || string(dst) != "01234567" {
		t.Errorf("skb_load_bytes: %d %q", int64(r0), dst)
	}
	if r0 := load(helpers.IDSkbLoadBytes, 60, 8); r0 != neg(14) || !bytes.Equal(dst, make([]byte, 8)) {
		t.Errorf("skb_load_bytes past the end: %d % x, want -EFAULT and zeroes", int64(r0), dst)
	}
	// Another context pointer is refused.
	p := f.h.compile("mov %r1, %r10\nmov %r2, 0\ncall 44\nexit", interp.Checked)
	if _, err := p.Run(&api.Env{Regions: f.regions, Context: f.h.run}); !errors.Is(err, helpers.ErrBadContext) {
		t.Errorf("stack as context: %v, want ErrBadContext", err)
	}
}

func TestRedirect(t *testing.T) {
	h := newHarness(t)
	redirect := "mov %%r1, %d\nmov %%r2, %d\ncall 23\nexit"
	for _, tc := range []struct {
		desc        string
		hook        helpers.Hook
		prog        string
		want        uint64
		wantKind    helpers.RedirectKind
		wantIfindex uint32
	}{
		{"XDP redirect records the ifindex", helpers.HookXDP, fmt.Sprintf(redirect, 5, 0), helpers.XDPRedirect, helpers.RedirectIfindex, 5},
		{"XDP redirect with flags aborts", helpers.HookXDP, fmt.Sprintf(redirect, 5, 1), helpers.XDPAborted, helpers.RedirectNone, 0},
		{"tc redirect to ingress", helpers.HookTC, fmt.Sprintf(redirect, 6, 1), helpers.TCActRedirect, helpers.RedirectIfindex, 6},
		{"tc redirect with internal flags is shot", helpers.HookTC, fmt.Sprintf(redirect, 6, 2), helpers.TCActShot, helpers.RedirectNone, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h.run.Packet = &helpers.Packet{Hook: tc.hook}
			got := h.mustExec(tc.prog)
			if rd := h.run.Redirect; got != tc.want || rd.Kind != tc.wantKind || rd.Ifindex != tc.wantIfindex {
				t.Errorf("r0 = %d, redirect %+v; want %d, kind %d ifindex %d", got, rd, tc.want, tc.wantKind, tc.wantIfindex)
			}
		})
	}
}

// refCsum is an RFC 1071 style one's-complement sum of little-endian
// 16-bit words, folded, independent of the helper's 32-bit arithmetic.
func refCsum(b []byte, seed uint32) uint32 {
	s := uint64(seed&0xffff) + uint64(seed>>16)
	for i := 0; i < len(b); i += 2 {
		w := uint64(b[i])
		if i+1 < len(b) {
			w |= uint64(b[i+1]) << 8
		}
		s += w
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint32(s)
}

func fold16(v uint64) uint32 {
	for v>>16 != 0 {
		v = v&0xffff + v>>16
	}
	return uint32(v)
}

func TestCsumDiff(t *testing.T) {
	h := newHarness(t)
	a := &arena{b: h.mem(2048, false)}
	legacy := h.compileWith
	run := func(folded bool, from []byte, to []byte, seed uint32) uint64 {
		fa, ta := uint64(0), uint64(0)
		if len(from) > 0 {
			fa = a.put(from)
		}
		if len(to) > 0 {
			ta = a.put(to)
		}
		cfg := helpers.Config(nil) // the default is the folded variant
		if !folded {
			cfg[helpers.IDCsumDiff] = helpers.CsumDiffUnfolded().Impl
		}
		p := legacy(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\nmov %%r4, %d\nlddw %%r5, %#x\ncall 28\nexit", fa, len(from), ta, len(to), seed), cfg)
		r0, err := p.Run(h.env())
		if err != nil {
			t.Fatal(err)
		}
		a.off = 0
		return r0
	}
	// Exact values: ~1 + 2 wraps to 1 with end-around carry.
	one, two := []byte{1, 0, 0, 0}, []byte{2, 0, 0, 0}
	if got := run(false, one, two, 0); got != 1 {
		t.Errorf("legacy diff(1 -> 2) = %#x, want 1", got)
	}
	if got := run(true, one, two, 0); got != 1 {
		t.Errorf("folded diff(1 -> 2) = %#x, want 1", got)
	}
	if got := run(false, nil, []byte{0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0}, 0); got != 1 {
		t.Errorf("legacy sum(0xffffffff, 1) = %#x, want 1 (unfolded 32-bit)", got)
	}
	if got := run(false, nil, []byte{0, 0, 1, 0}, 0); got != 0x10000 {
		t.Errorf("legacy result must not be folded: %#x, want 0x10000", got)
	}
	if got := run(true, nil, []byte{0, 0, 1, 0}, 0); got != 1 {
		t.Errorf("folded result: %#x, want 1", got)
	}
	// The 4-byte and 512-byte rules of Linux up to 6.12.
	if got := run(false, nil, []byte{1, 2, 3}, 0); got != neg(22) {
		t.Errorf("legacy 3 bytes: %#x, want -EINVAL", got)
	}
	if got := run(false, make([]byte, 256), make([]byte, 260), 0); got != neg(22) {
		t.Errorf("legacy 516 bytes: %#x, want -EINVAL", got)
	}
	if got := run(true, nil, []byte{1, 2, 3}, 0); got != uint64(refCsum([]byte{1, 2, 3}, 0)) {
		t.Errorf("folded 3 bytes: %#x, want %#x", got, refCsum([]byte{1, 2, 3}, 0))
	}
	// Random differences against the reference: the results agree modulo
	// 0xffff (one's complement has two zeroes).
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		from := make([]byte, 4*rng.IntN(40))
		to := make([]byte, 4*rng.IntN(40))
		for j := range from {
			from[j] = byte(rng.Uint32())
		}
		for j := range to {
			to[j] = byte(rng.Uint32())
		}
		seed := rng.Uint32()
		if i%3 == 0 {
			seed = 0
		}
		inv := make([]byte, len(from))
		for j := range from {
			inv[j] = ^from[j]
		}
		want := refCsum(append(inv, to...), seed) % 0xffff
		for _, folded := range []bool{false, true} {
			if got := fold16(run(folded, from, to, seed)) % 0xffff; got != want {
				t.Fatalf("folded=%v from %d to %d seed %#x: %#x, want %#x", folded, len(from), len(to), seed, got, want)
			}
		}
	}
}

func TestProbeRead(t *testing.T) {
	h := newHarness(t)
	a := &arena{b: h.mem(64, false)}
	src := a.str("hello")
	tail := a.put([]byte("abcdefgh"))
	a.b = a.b[:a.off] // the region ends right after "abcdefgh"
	h.extra[0].Size = uint64(a.off)
	dst := h.mem(16, true)
	for _, tc := range []struct {
		desc  string
		id    int32
		size  int
		src   uint64
		want  uint64
		wantB string
	}{
		{"probe_read copies", helpers.IDProbeReadKernel, 6, src, 0, "hello\x00\xff\xff"},
		{"probe_read of unreadable memory zeroes dst", helpers.IDProbeRead, 8, bad, neg(14), "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"probe_read past a region's end fails", helpers.IDProbeReadUser, 9, tail, neg(14), "\x00\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"probe_read_str returns the length with NUL, leaves the rest", helpers.IDProbeReadKernelStr, 16, src, 6, "hello\x00\xff\xff"},
		{"probe_read_str truncates and terminates", helpers.IDProbeReadStr, 4, src, 4, "hel\x00\xff"},
		{"probe_read_str of a string running off the region fails", helpers.IDProbeReadUserStr, 16, tail, neg(14), "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"probe_read_str of size 0 does nothing", helpers.IDProbeReadKernelStr, 0, bad, 0, "\xff"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for i := range dst {
				dst[i] = 0xff
			}
			got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\ncall %d\nexit", addr(dst), tc.size, tc.src, tc.id))
			if got != tc.want || string(dst[:len(tc.wantB)]) != tc.wantB {
				t.Errorf("r0 = %d, dst %q; want %d, %q", int64(got), dst[:len(tc.wantB)], int64(tc.want), tc.wantB)
			}
		})
	}
	// A host reader serves its own address space.
	h.run.Probe = fakeKernel{0xffff_8000_0000_0000: []byte("kernel!\x00")}
	got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 16\nlddw %%r3, 0xffff800000000000\ncall 115\nexit", addr(dst)))
	if got != 8 || string(dst[:8]) != "kernel!\x00" {
		t.Errorf("custom reader: r0 = %d, dst %q", got, dst[:8])
	}
}

// fakeKernel is a ProbeReader over a few fixed blocks.
type fakeKernel map[uint64][]byte

func (k fakeKernel) ReadAt(_ *api.HelperCall, _ helpers.Space, dst []byte, a uint64) bool {
	for base, b := range k {
		if a >= base && a-base+uint64(len(dst)) <= uint64(len(b)) {
			copy(dst, b[a-base:])
			return true
		}
	}
	return false
}
