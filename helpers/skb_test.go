package helpers_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/maps"
)

// skbFrame is a tc test-run skb: a struct __sk_buff (with the data and
// data_end words after it, at 192 and 200) and a packet.
type skbFrame struct {
	h       *harness
	ctx     []byte
	pkt     []byte
	regions []api.Region
}

// The packet of the measured cases: 64 bytes, an IPv4 EtherType, byte
// 14+i = i*17.
func testPacket() []byte {
	p := make([]byte, 64)
	p[12], p[13] = 0x08, 0x00
	for i := range 20 {
		p[14+i] = byte(i * 17)
	}
	return p
}

func newSkbFrame(t *testing.T, h *harness, hook helpers.Hook, pkt []byte) *skbFrame {
	t.Helper()
	mem, err := platform.Alloc(4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Free() })
	b := mem.Bytes()
	f := &skbFrame{h: h, ctx: b[:216], pkt: b[256 : 256+len(pkt)]}
	copy(f.pkt, pkt)
	data, end := addr(f.pkt), addr(f.pkt)+uint64(len(pkt))
	binary.NativeEndian.PutUint32(f.ctx[0:], uint32(len(pkt)))
	binary.NativeEndian.PutUint32(f.ctx[16:], uint32(binary.LittleEndian.Uint16(pkt[12:]))) // protocol, as stored
	h.run.Packet = &helpers.Packet{Ctx: addr(f.ctx), DataOff: 192, DataEndOff: 200, DataMetaOff: 208, Region: 0, Hook: hook,
		HardStart: uint64(mem.Addr()), HardEnd: uint64(mem.Addr()) + 4096 - helpers.SkbSharedInfoSize}
	h.run.Packet.SetBounds(data, data, end)
	f.regions = []api.Region{
		{Addr: data, Size: end - data, Writable: true, Name: "packet"},
		{Addr: addr(f.ctx), Size: 216, Writable: true, Name: "ctx"},
	}
	return f
}

// call runs helper id with r1 = ctx and r2..r5 = args.
func (f *skbFrame) call(id int32, args ...uint64) (uint64, error) {
	f.h.t.Helper()
	src := fmt.Sprintf("lddw %%r1, %#x\n", addr(f.ctx))
	for i, a := range args {
		src += fmt.Sprintf("lddw %%r%d, %#x\n", i+2, a)
	}
	src += fmt.Sprintf("call %d\nexit", id)
	env := f.h.env(addr(f.ctx))
	env.Regions = append(append([]api.Region{}, f.regions...), env.Regions...)
	return f.h.compile(src, interp.Checked).Run(env)
}

func (f *skbFrame) mustCall(id int32, args ...uint64) uint64 {
	f.h.t.Helper()
	r0, err := f.call(id, args...)
	if err != nil {
		f.h.t.Fatal(err)
	}
	return r0
}

func (f *skbFrame) field(off int) uint32 { return binary.NativeEndian.Uint32(f.ctx[off:]) }

func TestSkbStoreBytes(t *testing.T) {
	for _, tc := range []struct {
		off   uint64
		flags uint64
		want  uint64
	}{ // measured on Linux 6.18 with a 64-byte packet
		{0, 0, 0}, {60, 0, 0}, {61, 0, neg(14)}, {0, 1, 0}, {0, 3, 0}, {0, 4, neg(22)}, {0x80000000, 0, neg(14)},
	} {
		t.Run(fmt.Sprintf("offset %d flags %d", tc.off, tc.flags), func(t *testing.T) {
			h := newHarness(t)
			f := newSkbFrame(t, h, helpers.HookTC, testPacket())
			src := h.mem(4, false)
			copy(src, "\x44\x33\x22\x11")
			binary.NativeEndian.PutUint32(f.ctx[68:], 0x1234) // a hash to invalidate
			if got := f.mustCall(helpers.IDSkbStoreBytes, tc.off, addr(src), 4, tc.flags); got != tc.want {
				t.Fatalf("r0 = %#x, want %#x", got, tc.want)
			}
			wantPkt := testPacket()
			if tc.want == 0 {
				copy(wantPkt[tc.off:], src)
			}
			if string(f.pkt) != string(wantPkt) {
				t.Errorf("packet %x, want %x", f.pkt, wantPkt)
			}
			wantHash := uint32(0x1234)
			if tc.want == 0 && tc.flags&helpers.FlagInvalidateHash != 0 {
				wantHash = 0
			}
			if f.field(68) != wantHash || f.field(0) != 64 {
				t.Errorf("hash %#x len %d, want %#x and 64", f.field(68), f.field(0), wantHash)
			}
		})
	}
}

func TestCsumReplace(t *testing.T) {
	for _, tc := range []struct {
		id               int32
		off, from, to, f uint64
		want             uint64
		sum              string // the 2 bytes at offset 24 afterwards
	}{ // measured on Linux 6.18 (bytes 24-25 start as aa bb)
		{helpers.IDL3CsumReplace, 24, 0x1234, 0x4321, 2, 0, "bd8a"},
		{helpers.IDL3CsumReplace, 24, 0x12345678, 0x87654321, 4, 0, "d059"},
		{helpers.IDL3CsumReplace, 24, 0, 0x87654321, 0, 0, "23f1"},
		{helpers.IDL3CsumReplace, 24, 1, 0x87654321, 0, neg(22), "aabb"},
		{helpers.IDL3CsumReplace, 25, 1, 0x87654321, 2, neg(14), "aabb"},
		{helpers.IDL3CsumReplace, 64, 1, 0x87654321, 2, neg(14), "aabb"},
		{helpers.IDL3CsumReplace, 24, 1, 0x87654321, 3, neg(22), "aabb"},
		{helpers.IDL3CsumReplace, 24, 1, 0x87654321, 0x10, neg(22), "aabb"},
		{helpers.IDL4CsumReplace, 24, 0x1234, 0x4321, 0x12, 0, "bd8a"},
		{helpers.IDL4CsumReplace, 24, 0x1234, 0x4321, 0x32, 0, "bd8a"},
		{helpers.IDL4CsumReplace, 24, 0x1234, 0x4321, 0x82, 0, "bd8a"},
		{helpers.IDL4CsumReplace, 24, 0x1234, 0x4321, 0x102, neg(22), "aabb"},
		{helpers.IDL4CsumReplace, 0x10000, 0x1234, 0x4321, 2, neg(14), "aabb"},
	} {
		t.Run(fmt.Sprintf("%d off %d %#x→%#x flags %#x", tc.id, tc.off, tc.from, tc.to, tc.f), func(t *testing.T) {
			h := newHarness(t)
			f := newSkbFrame(t, h, helpers.HookTC, testPacket())
			if got := f.mustCall(tc.id, tc.off, tc.from, tc.to, tc.f); got != tc.want {
				t.Fatalf("r0 = %#x, want %#x", got, tc.want)
			}
			if got := hex.EncodeToString(f.pkt[24:26]); got != tc.sum {
				t.Errorf("checksum bytes %s, want %s", got, tc.sum)
			}
		})
	}
}

// TestCsumReplaceFixesIPv4Header changes an address of a valid IPv4
// header with each way of updating its checksum and checks the result
// against a checksum computed from scratch.
func TestCsumReplaceFixesIPv4Header(t *testing.T) {
	hdr, _ := hex.DecodeString("450000541c4640004001" + "0000" + "c0a80001c0a800c7")
	ipSum := func(b []byte) uint16 {
		s := uint32(0)
		for i := 0; i < 20; i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		for s>>16 != 0 {
			s = s&0xffff + s>>16
		}
		return ^uint16(s)
	}
	binary.BigEndian.PutUint16(hdr[10:], ipSum(hdr))
	oldAddr := binary.LittleEndian.Uint32(hdr[16:]) // as a program loads it
	newAddr := binary.LittleEndian.Uint32([]byte{10, 1, 2, 3})
	for _, tc := range []struct {
		name  string
		id    int32
		flags uint64
	}{{"l3 size 4", helpers.IDL3CsumReplace, 4}, {"l4 size 4 pseudo", helpers.IDL4CsumReplace, 4 | helpers.FlagPseudoHdr}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			pkt := append(make([]byte, 14), hdr...)
			pkt[12], pkt[13] = 0x08, 0x00
			f := newSkbFrame(t, h, helpers.HookTC, pkt)
			binary.LittleEndian.PutUint32(f.pkt[14+16:], newAddr)
			if got := f.mustCall(tc.id, 14+10, uint64(oldAddr), uint64(newAddr), tc.flags); got != 0 {
				t.Fatalf("r0 = %#x", got)
			}
			if got, want := binary.BigEndian.Uint16(f.pkt[24:]), ipSum(append(append([]byte{}, f.pkt[14:24]...), append([]byte{0, 0}, f.pkt[26:34]...)...)); got != want {
				t.Fatalf("checksum %#04x, want %#04x", got, want)
			}
		})
	}
}

func TestL4CsumMangled0(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sum       uint16
		from, to  uint64
		flags     uint64
		want      uint16
		unchanged bool
	}{
		{"a zero UDP checksum stays zero", 0, 1, 2, 2 | helpers.FlagMarkMangled0, 0, true},
		{"BPF_F_MARK_ENFORCE updates a zero checksum", 0, 0x0100, 0x0100, 2 | helpers.FlagMarkMangled0 | helpers.FlagMarkEnforce, 0xffff, false},
		{"a result of zero becomes CSUM_MANGLED_0", 1, 0, 1, 2 | helpers.FlagMarkMangled0, 0xffff, false},
		{"without the flag a result of zero stays zero", 1, 0, 1, 2, 0, false},
		{"adding one lowers the checksum by one", 0xfffe, 0, 1, 2, 0xfffd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := newSkbFrame(t, h, helpers.HookTC, testPacket())
			binary.LittleEndian.PutUint16(f.pkt[40:], tc.sum)
			if got := f.mustCall(helpers.IDL4CsumReplace, 40, tc.from, tc.to, tc.flags); got != 0 {
				t.Fatalf("r0 = %#x", got)
			}
			if got := binary.LittleEndian.Uint16(f.pkt[40:]); got != tc.want {
				t.Fatalf("checksum %#04x, want %#04x", got, tc.want)
			}
		})
	}
}

func TestSkbHash(t *testing.T) {
	h := newHarness(t)
	f := newSkbFrame(t, h, helpers.HookTC, testPacket())
	h.run.Reset()
	h1 := f.mustCall(helpers.IDGetHashRecalc)
	if h1 == 0 || uint64(f.field(68)) != h1 {
		t.Fatalf("get_hash_recalc = %#x, skb->hash %#x", h1, f.field(68))
	}
	if f.mustCall(helpers.IDSetHash, 77) != 0 || f.mustCall(helpers.IDGetHashRecalc) != 77 || f.field(68) != 77 {
		t.Fatalf("set_hash(77) then get_hash_recalc: skb->hash %d", f.field(68))
	}
	src := h.mem(4, false)
	f.mustCall(helpers.IDSkbStoreBytes, 0, addr(src), 1, helpers.FlagInvalidateHash)
	if f.field(68) != 0 {
		t.Fatalf("hash %d after BPF_F_INVALIDATE_HASH", f.field(68))
	}
	if got := f.mustCall(helpers.IDGetHashRecalc); got != h1 {
		t.Fatalf("recomputed hash %#x, want %#x", got, h1)
	}
	h.run.Reset()
	f.mustCall(helpers.IDSetHash, 5)
	h.run.Reset() // a new run: the hash is computed again
	if got := f.mustCall(helpers.IDGetHashRecalc); got != 5 && got != h1 {
		t.Fatalf("hash %#x after Reset", got)
	}
}

func TestFlowHash(t *testing.T) {
	ip4 := func(src, dst byte, sport, dport uint16, proto byte, frag uint16) []byte {
		b := make([]byte, 28)
		b[0], b[9] = 0x45, proto
		binary.BigEndian.PutUint16(b[6:], frag)
		b[12], b[15], b[16], b[19] = 10, src, 10, dst
		binary.BigEndian.PutUint16(b[20:], sport)
		binary.BigEndian.PutUint16(b[22:], dport)
		return b
	}
	ip6 := func(label uint32, src, dst byte, sport, dport uint16) []byte {
		b := make([]byte, 48)
		binary.BigEndian.PutUint32(b, 6<<28|label)
		b[6] = 17
		b[23], b[39] = src, dst
		binary.BigEndian.PutUint16(b[40:], sport)
		binary.BigEndian.PutUint16(b[42:], dport)
		return b
	}
	h := func(b []byte, proto uint16) uint32 { return helpers.FlowHash(b, proto) }
	for _, tc := range []struct {
		name string
		a, b uint32
		same bool
	}{
		{"IPv4 directions hash alike", h(ip4(1, 2, 1000, 80, 6, 0), 0x800), h(ip4(2, 1, 80, 1000, 6, 0), 0x800), true},
		{"IPv6 directions hash alike", h(ip6(0, 1, 2, 1000, 53), 0x86dd), h(ip6(0, 2, 1, 53, 1000), 0x86dd), true},
		{"ports count", h(ip4(1, 2, 1000, 80, 6, 0), 0x800), h(ip4(1, 2, 1001, 80, 6, 0), 0x800), false},
		{"the protocol counts", h(ip4(1, 2, 1000, 80, 6, 0), 0x800), h(ip4(1, 2, 1000, 80, 17, 0), 0x800), false},
		{"ICMP has no ports", h(ip4(1, 2, 1000, 80, 1, 0), 0x800), h(ip4(1, 2, 1001, 81, 1, 0), 0x800), true},
		{"fragments have no ports", h(ip4(1, 2, 1000, 80, 17, 0x2000), 0x800), h(ip4(1, 2, 7, 8, 17, 0x2000), 0x800), true},
		{"a flow label stops before the ports", h(ip6(5, 1, 2, 1000, 53), 0x86dd), h(ip6(5, 1, 2, 7, 8), 0x86dd), true},
		{"the flow label counts", h(ip6(5, 1, 2, 1000, 53), 0x86dd), h(ip6(6, 1, 2, 1000, 53), 0x86dd), false},
	} {
		if (tc.a == tc.b) != tc.same || tc.a == 0 || tc.b == 0 {
			t.Errorf("%s: %#x and %#x", tc.name, tc.a, tc.b)
		}
	}
	tagged := append([]byte{0, 5, 8, 0}, ip4(1, 2, 3, 4, 6, 0)...)
	if h(tagged, 0x8100) == h(ip4(1, 2, 3, 4, 6, 0), 0x800) {
		t.Error("a VLAN tag does not change the hash")
	}
	for _, b := range [][]byte{nil, {0x45}, make([]byte, 19), {0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if h(b, 0x800) == 0 || h(b, 0x86dd) == 0 || h(b, 0x8100) == 0 {
			t.Errorf("hash of %x is 0", b)
		}
	}
}

func FuzzFlowHash(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, uint16(0x800))
	f.Add(make([]byte, 48), uint16(0x86dd))
	f.Fuzz(func(t *testing.T, b []byte, proto uint16) {
		if helpers.FlowHash(b, proto) == 0 {
			t.Fatal("hash 0")
		}
	})
}

func TestSipHashVector(t *testing.T) {
	// The reference vector of the SipHash paper: key 00..0f, message 00..0e.
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := helpers.SipHash24ForTest(0x0706050403020100, 0x0f0e0d0c0b0a0908, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("SipHash-2-4 = %#x, want 0xa129ca6149be45e5", got)
	}
}

func TestSkbChangeTypeAndPull(t *testing.T) {
	for _, tc := range []struct {
		id         int32
		arg        uint64
		want       uint64
		wantPktTyp uint32
	}{ // measured on Linux 6.18 with a 64-byte packet
		{helpers.IDSkbChangeType, 1, 0, 1},
		{helpers.IDSkbChangeType, 3, 0, 3},
		{helpers.IDSkbChangeType, 4, neg(22), 0},
		{helpers.IDSkbPullData, 0, 0, 0},
		{helpers.IDSkbPullData, 64, 0, 0},
		{helpers.IDSkbPullData, 65, neg(12), 0},
	} {
		h := newHarness(t)
		f := newSkbFrame(t, h, helpers.HookTC, testPacket())
		if got := f.mustCall(tc.id, tc.arg); got != tc.want || f.field(4) != tc.wantPktTyp {
			t.Errorf("helper %d(%d) = %#x, pkt_type %d; want %#x, %d", tc.id, tc.arg, got, f.field(4), tc.want, tc.wantPktTyp)
		}
	}
}

func TestSkbScalars(t *testing.T) {
	h := newHarness(t)
	f := newSkbFrame(t, h, helpers.HookSocket, testPacket())
	h.run.Reset()
	for _, id := range []int32{helpers.IDGetCgroupClassid, helpers.IDGetRouteRealm, helpers.IDGetSocketUID} {
		if got := f.mustCall(id); got != 0 {
			t.Errorf("helper %d = %d, want 0 as in a Linux test run", id, got)
		}
	}
	c1 := f.mustCall(helpers.IDGetSocketCookie)
	if c1 == 0 || f.mustCall(helpers.IDGetSocketCookie) != c1 {
		t.Fatalf("socket cookie %d is 0 or changes within a run", c1)
	}
	h.run.Reset()
	if c2 := f.mustCall(helpers.IDGetSocketCookie); c2 == c1 || c2 == 0 {
		t.Fatalf("cookie %d after Reset, first run had %d", c2, c1)
	}
	// An XDP context is not an __sk_buff.
	f2 := newSkbFrame(t, newHarness(t), helpers.HookXDP, testPacket())
	if _, err := f2.call(helpers.IDGetSocketCookie); !errors.Is(err, helpers.ErrBadContext) {
		t.Fatalf("get_socket_cookie on an XDP context: %v", err)
	}
}

func TestUnderCgroup(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.CgroupArray, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	if err := m.Update(u32b(1), u32b(7), maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	f := newSkbFrame(t, h, helpers.HookTC, testPacket())
	for _, tc := range []struct {
		task *helpers.Task
		idx  uint64
		want uint64
	}{ // -EAGAIN and -E2BIG measured on Linux 6.18
		{nil, 0, neg(11)},
		{nil, 5, neg(7)},
		{nil, 1, 0},
		{&helpers.Task{Cgroups: []uint32{3, 7}}, 1, 1},
		{&helpers.Task{Cgroups: []uint32{3}}, 1, 0},
	} {
		h.run.Task = tc.task
		if got := f.mustCall(helpers.IDSkbUnderCgroup, p, tc.idx); got != tc.want {
			t.Errorf("skb_under_cgroup(%d) with task %+v = %#x, want %#x", tc.idx, tc.task, got, tc.want)
		}
		got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\ncall %d\nexit", p, tc.idx, helpers.IDCurrentTaskUnderCg))
		if got != tc.want {
			t.Errorf("current_task_under_cgroup(%d) with task %+v = %#x, want %#x", tc.idx, tc.task, got, tc.want)
		}
	}
	_, arr := h.addMap(maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	if _, err := f.call(helpers.IDSkbUnderCgroup, arr, 0); !errors.Is(err, helpers.ErrWrongMapType) {
		t.Fatalf("skb_under_cgroup on an array: %v", err)
	}
}

func TestGetStackID(t *testing.T) {
	h := newHarness(t)
	_, p := h.addMap(maps.Spec{Type: maps.StackTrace, KeySize: 4, ValueSize: 8 * 16, MaxEntries: 4})
	_, arr := h.addMap(maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	ctx := h.mem(64, true)
	prog := "lddw %%r1, %#x\nlddw %%r2, %#x\nlddw %%r3, %#x\ncall 27\nexit"
	for _, tc := range []struct {
		flags uint64
		want  uint64
	}{{0, neg(14)}, {helpers.FlagUserStack | helpers.FlagFastStackCmp | 3, neg(14)}, {1 << 11, neg(22)}} {
		if got := h.mustExec(fmt.Sprintf(prog, addr(ctx), p, tc.flags)); got != tc.want {
			t.Errorf("get_stackid flags %#x = %#x, want %#x", tc.flags, got, tc.want)
		}
	}
	if _, err := h.exec(fmt.Sprintf(prog, addr(ctx), arr, 0)); !errors.Is(err, helpers.ErrWrongMapType) {
		t.Fatalf("get_stackid on an array: %v", err)
	}
}

func u32b(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// TestRedirectMap follows what Linux 6.18 answered for the same maps,
// keys and flags (TestKernelRedirectMap repeats it against the kernel).
func TestRedirectMap(t *testing.T) {
	h := newHarness(t)
	dev, devP := h.addMap(maps.Spec{Type: maps.DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 8})
	hash, hashP := h.addMap(maps.Spec{Type: maps.DevMapHash, KeySize: 4, ValueSize: 4, MaxEntries: 8})
	cpu, cpuP := h.addMap(maps.Spec{Type: maps.CPUMap, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	_, xskP := h.addMap(maps.Spec{Type: maps.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	for _, err := range []error{dev.Update(u32b(1), u32b(1), 0), hash.Update(u32b(2), u32b(1), 0), cpu.Update(u32b(0), u32b(192), 0)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		m        uint64
		key      uint32
		flags    uint64
		want     uint64
		redirect bool
	}{
		{devP, 1, 0, helpers.XDPRedirect, true},
		{devP, 0, 2, helpers.XDPPass, false},
		{devP, 0, 3, helpers.XDPTx, false},
		{devP, 1, 4, helpers.XDPAborted, false},
		{devP, 1, 8, helpers.XDPRedirect, true},
		{devP, 0, 8, helpers.XDPRedirect, true},
		{devP, 0, 0x18, helpers.XDPRedirect, true},
		{devP, 9, 1, helpers.XDPDrop, false},
		{devP, 1, 0x100, helpers.XDPAborted, false},
		{hashP, 2, 0, helpers.XDPRedirect, true},
		{hashP, 3, 1, helpers.XDPDrop, false},
		{hashP, 3, 8, helpers.XDPRedirect, true},
		{cpuP, 0, 0, helpers.XDPRedirect, true},
		{cpuP, 1, 2, helpers.XDPPass, false},
		{cpuP, 0, 8, helpers.XDPAborted, false},
		{xskP, 0, 2, helpers.XDPPass, false},
		{xskP, 0, 8, helpers.XDPAborted, false},
	} {
		h.run.Packet = &helpers.Packet{Hook: helpers.HookXDP}
		got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\ncall 51\nexit", tc.m, tc.key, tc.flags))
		rd := h.run.Redirect
		if got != tc.want || (rd.Kind == helpers.RedirectMap) != tc.redirect || (tc.redirect && (rd.Key != tc.key || rd.Flags != tc.flags)) {
			t.Errorf("map %#x key %d flags %#x: r0 %d, redirect %+v; want %d, redirect %v", tc.m, tc.key, tc.flags, got, rd, tc.want, tc.redirect)
		}
	}
	_, arr := h.addMap(maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	if _, err := h.exec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 0\nmov %%r3, 0\ncall 51\nexit", arr)); !errors.Is(err, helpers.ErrWrongMapType) {
		t.Fatalf("redirect_map on an array: %v", err)
	}
}

// TestNetMapProgramAccess checks what programs may do with the new map
// types: look up DevMap values and read them, but not write them nor
// update the maps; nothing at all on CPUMap.
func TestNetMapProgramAccess(t *testing.T) {
	h := newHarness(t)
	dev, devP := h.addMap(maps.Spec{Type: maps.DevMap, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	_, cpuP := h.addMap(maps.Spec{Type: maps.CPUMap, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err := dev.Update(u32b(2), append(u32b(5), u32b(0)...), 0); err != nil {
		t.Fatal(err)
	}
	lookup := "stw [%%r10-4], 2\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\ncall 1\njeq %%r0, 0, out\n%s\nout:\nexit"
	if got := h.mustExec(fmt.Sprintf(lookup, devP, "ldxw %r0, [%r0]")); got != 5 {
		t.Fatalf("devmap lookup read %d, want ifindex 5", got)
	}
	if _, err := h.exec(fmt.Sprintf(lookup, devP, "stw [%r0], 9")); err == nil {
		t.Fatal("a program wrote a devmap value")
	}
	for _, src := range []string{
		fmt.Sprintf(lookup, cpuP, "mov %r0, 1"),
		fmt.Sprintf("stw [%%r10-4], 2\nstdw [%%r10-16], 1\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\nmov %%r3, %%r10\nadd %%r3, -16\nmov %%r4, 0\ncall 2\nexit", devP),
		fmt.Sprintf("stw [%%r10-4], 2\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\ncall 3\nexit", devP),
	} {
		if _, err := h.exec(src); !errors.Is(err, helpers.ErrWrongMapType) {
			t.Errorf("%s\n: %v, want ErrWrongMapType", src, err)
		}
	}
}

func BenchmarkFlowHash(b *testing.B) {
	pkt := testPacket()[14:]
	pkt[0], pkt[9] = 0x45, 6
	for b.Loop() {
		helpers.FlowHash(pkt, 0x800)
	}
}

func BenchmarkL4CsumReplace(b *testing.B) {
	h := newHarness(b)
	h.run.Reset()
	mem, err := platform.Alloc(4096)
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Free()
	buf := mem.Bytes()
	ctx, pkt := buf[:216], buf[256:320]
	h.run.Packet = &helpers.Packet{Ctx: addr(ctx), DataOff: 192, DataEndOff: 200, DataMetaOff: -1, Region: 0, Hook: helpers.HookTC}
	h.run.Packet.SetBounds(addr(pkt), addr(pkt), addr(pkt)+64)
	p := h.compile(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 40\nmov %%r3, 0x1234\nmov %%r4, 0x4321\nmov %%r5, 0x12\ncall 11\nexit", addr(ctx)), interp.Checked)
	env := h.env(addr(ctx))
	env.Regions = append([]api.Region{{Addr: addr(pkt), Size: 64, Writable: true}, {Addr: addr(ctx), Size: 216, Writable: true}}, env.Regions...)
	for b.Loop() {
		if _, err := p.Run(env); err != nil {
			b.Fatal(err)
		}
	}
}
