package helpers_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
)

// skbFrames are the frames every skb case runs on.
func skbFrames() map[string][]byte {
	return map[string][]byte{
		"ipv4":   ethFrame(0x0800, ipv4Hdr(40)),
		"ipv6":   ethFrame(0x86dd, ipv6Hdr(24)),
		"vlan":   ethFrame(0x8100, vlanTag(0x8100, 0x2005, 0x0800, ipv4Hdr(16))),
		"qinq":   ethFrame(0x88a8, vlanTag(0x88a8, 0x0007, 0x8100, vlanTag(0x8100, 0x3009, 0x86dd, ipv6Hdr(8)))),
		"vlan16": ethFrame(0x8100, []byte{0, 5}),
		"vlan18": ethFrame(0x8100, []byte{0, 5, 0, 9}),
		"vlanll": ethFrame(0x8100, []byte{0, 5, 0, 9, 0xff, 0xff, 1, 2}),
		"arp":    ethFrame(0x0806, make([]byte, 28)),
	}
}

type skbCase struct {
	prog string
	cb   [5]uint32
}

// compareSkb runs every case on every frame in both engines.
func compareSkb(t *testing.T, p *kernelPair, cases []skbCase) {
	t.Helper()
	for _, tc := range cases {
		for name, f := range skbFrames() {
			k, x := p.run(t, tc.prog, f, &tc.cb)
			if k != x {
				t.Errorf("%s cb %x on %s:\nkernel %v\nxebpf  %v", tc.prog, tc.cb, name, k, x)
			}
		}
	}
}

func loadSkbPair(t *testing.T) *kernelPair { return loadKernelObject(t, "kernel_skb", nil) }

// TestKernelVlan compares bpf_skb_vlan_push and bpf_skb_vlan_pop in
// sequences of up to three, with the tag protocols Linux accepts and
// others (which become 802.1Q).
func TestKernelVlan(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	args := []uint32{be(0x8100) | 5<<16, be(0x88a8) | 0xffff<<16, be(0x0800) | 7<<16, 0, be(0x8100)}
	for ops := uint32(0); ops < 64; ops++ {
		for _, a := range args {
			cases = append(cases, skbCase{"tc_vlan", [5]uint32{ops, a, args[ops%5], args[(ops/5)%5]}})
		}
	}
	compareSkb(t, p, cases)
}

// TestKernelChangeProto compares bpf_skb_change_proto, once or twice.
func TestKernelChangeProto(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	for _, p1 := range []uint32{be(0x86dd), be(0x0800), be(0x8100), 0} {
		for _, f := range []uint32{0, 1} {
			for _, p2 := range []uint32{0, be(0x86dd), be(0x0800)} {
				cases = append(cases, skbCase{"tc_proto", [5]uint32{0, p1, f, p2}})
			}
		}
	}
	compareSkb(t, p, cases)
}

// TestKernelChangeTailHead compares bpf_skb_change_tail and
// bpf_skb_change_head within the frame xebpf has.
func TestKernelChangeTailHead(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	// Lengths up to the frame's 3776 bytes (Linux allows 16064, see
	// TestSkbChangeTailHead for xebpf past the frame), and above 16064.
	for _, l := range []uint32{0, 13, 14, 15, 16, 33, 34, 60, 68, 100, 1000, 3520, 3776, 16065, 0xffffffff} {
		for _, f := range []uint32{0, 1} {
			cases = append(cases, skbCase{"tc_tail", [5]uint32{0, l, f}})
		}
		cases = append(cases, skbCase{"tc_tail", [5]uint32{0, 200, 0, l}})
	}
	var trims []skbCase
	for _, h := range []uint32{0, 1, 14, 63, 64, 65, 100, 256, 1000, 3690, 0x7fffffff, 0x80000000, 0xffffffff} {
		for _, f := range []uint32{0, 1} {
			cases = append(cases, skbCase{"tc_head", [5]uint32{0, h, f}})
		}
		c := skbCase{"tc_head", [5]uint32{0, h, 0, 3}}
		if h > testRunHeadroom && h <= 3690 {
			trims = append(trims, c) // the push reallocates
		} else {
			cases = append(cases, c)
		}
	}
	compareSkb(t, p, cases)
	t.Run("trim after reallocation", func(t *testing.T) {
		skipUnlessMinLenTakesLarger(t, p)
		compareSkb(t, p, trims)
	})
}

// testRunHeadroom is the headroom of the test-run skb (NET_SKB_PAD): a
// push of more bytes reallocates it.
const testRunHeadroom = 64

// skipUnlessMinLenTakesLarger skips unless the kernel's
// bpf_skb_change_tail keeps both the network and the transport header
// once a reallocation has set the transport header (one byte before the
// old buffer start) ahead of the network header, as Linux 6.18.44 does and
// xebpf follows: after bpf_skb_change_head(100) on the 74-byte IPv4 frame
// the network header is 114 bytes in and the transport header 35, so a
// trim to 113 bytes fails with -EINVAL. A kernel whose __bpf_skb_min_len
// lets any set transport header replace the network header (the source of
// its December 2024 fix reads so) trims instead.
func skipUnlessMinLenTakesLarger(t *testing.T, p *kernelPair) {
	t.Helper()
	cb := [5]uint32{0, 0, 113, 100}
	k, _ := p.run(t, "tc_min_len", skbFrames()["ipv4"], &cb)
	if want := uint32(neg(22)) << 16; k.ret != want {
		t.Skipf("kernel %s: bpf_skb_change_head(100) then bpf_skb_change_tail(113) on a 74-byte IPv4 frame gives r0 %#x, not %#x: "+
			"its __bpf_skb_min_len lets a transport header set by reallocation replace the network header, "+
			"where Linux 6.18.44 (which xebpf follows) keeps the larger offset", kernel.Release(), k.ret, want)
	}
}

// TestKernelChangeTailMinLen compares the shortest length
// bpf_skb_change_tail accepts once bpf_skb_change_head or
// bpf_skb_adjust_room (twice, at the MAC header) moved the headers, within
// the headroom and past it, where the reallocation sets the transport
// header. It relies on the kernel keeping the larger of the network and
// transport offsets (skipUnlessMinLenTakesLarger).
func TestKernelChangeTailMinLen(t *testing.T) {
	p := loadSkbPair(t)
	skipUnlessMinLenTakesLarger(t, p)
	var cases []skbCase
	around := func(ls ...int) []uint32 {
		var out []uint32
		for _, l := range ls {
			for _, d := range []int{-1, 0, 1} {
				if l+d >= 0 {
					out = append(out, uint32(l+d))
				}
			}
		}
		return out
	}
	for _, h := range []int{0, 1, 63, 64, 65, 66, 100, 1000} {
		// The network header ends up h+14 bytes in, a transport header
		// set by reallocation h-65.
		for _, l := range around(h+14, h-65) {
			cases = append(cases, skbCase{"tc_min_len", [5]uint32{0, 0, l, uint32(h)}})
		}
	}
	for _, d1 := range []int{20, 64, 65, 66, 100, 200} {
		for _, d2 := range []int{0, -10, -20, -30, -34, -40} {
			// The network header stays 14 bytes in; a transport header
			// set by reallocation ends up d1+d2-65.
			for _, l := range around(14, d1+d2-65) {
				cases = append(cases, skbCase{"tc_min_len", [5]uint32{0, 1, l, uint32(d1), uint32(d2)}})
			}
		}
	}
	compareSkb(t, p, cases)
}

// TestKernelAdjustRoom compares bpf_skb_adjust_room: modes, flags, limits,
// encapsulation and what it leaves for the helpers after it.
func TestKernelAdjustRoom(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	// Growth stays within the frame (Linux's limit is 0xfff bytes).
	diffs := []int32{0, 4, 8, 20, 40, 64, 65, 100, 0xe00, 0x1000, -4, -8, -20, -28, -40, -48, -1000, -0xfff, -0x1000}
	flagSets := [][2]uint32{
		{0, 0}, {1, 0}, {2, 0}, {4, 0}, {6, 0}, {2 | 8, 0}, {2 | 16, 0}, {2 | 8 | 16, 0}, {4 | 16, 0}, {0x20, 0},
		{2 | 0x40, 0}, {2 | 0x40, 14 << 24}, {2 | 0x40, 20 << 24}, {2, 4 << 24}, {2, 200 << 24}, {0x80, 0}, {0x100, 0}, {0x180, 0}, {0x200, 0},
		{0x80 | 0x20, 0}, {8, 0}, {16, 0},
	}
	for _, d := range diffs {
		for _, mode := range []uint32{0, 1, 2} {
			for _, fs := range flagSets {
				cases = append(cases, skbCase{"tc_room", [5]uint32{0, uint32(d), mode, fs[0], fs[1]}})
			}
		}
	}
	for _, then := range []uint32{0x100, 0x200, 0x400, 0x800} {
		for _, fs := range [][2]uint32{{0, 0}, {2, 0}, {4 | 16, 0}, {2 | 8, 0}} {
			for _, d := range []int32{8, 20, 40, -20} {
				cases = append(cases, skbCase{"tc_room", [5]uint32{0, uint32(d), then, fs[0], fs[1]}})
				cases = append(cases, skbCase{"tc_room", [5]uint32{0, uint32(d), then | 1, fs[0], fs[1]}})
			}
		}
	}
	compareSkb(t, p, cases)
}

// TestKernelLoadBytesRelative compares bpf_skb_load_bytes_relative in tc
// programs (also after change_proto moved the headers) and socket filters.
func TestKernelLoadBytesRelative(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	for _, off := range []uint32{0, 1, 6, 12, 14, 40, 50, 54, 56, 60, 62, 64, 0xffff, 0x10000} {
		for _, start := range []uint32{0, 1, 2} {
			for _, small := range []uint32{0, 1} {
				for _, prog := range []string{"tc_relative", "sock_relative"} {
					cases = append(cases, skbCase{prog, [5]uint32{0, off, start, 0, small}})
				}
				cases = append(cases, skbCase{"tc_relative", [5]uint32{0, off, start, 1, small}}, skbCase{"tc_relative", [5]uint32{0, off, start, 2, small}})
			}
		}
	}
	compareSkb(t, p, cases)
}

// TestKernelTunnelKey compares bpf_skb_set_tunnel_key followed by
// bpf_skb_get_tunnel_key over the struct sizes and flags Linux knows.
func TestKernelTunnelKey(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	for setSel := uint32(0); setSel <= 6; setSel++ {
		for _, sf := range []uint32{0, 1, 2, 4, 8, 0x10, 0x1f, 0x20} {
			for getSel := uint32(0); getSel <= 5; getSel++ {
				for _, gf := range []uint32{0, 1, 0x10, 0x11, 2} {
					for _, w3 := range []uint32{0x4020, 0x00014020} {
						for _, label := range []uint32{0, 0x123456} {
							sel := setSel | sf<<8 | getSel<<16 | gf<<24
							cases = append(cases, skbCase{"tc_tunnel", [5]uint32{sel, 0x01020304, 0xc0a80001, w3, label}})
						}
					}
				}
			}
		}
	}
	// The frames are the same for this program: one is enough.
	frame := skbFrames()["ipv4"]
	for _, tc := range cases {
		k, x := p.run(t, tc.prog, frame, &tc.cb)
		if k != x {
			t.Errorf("%s cb %x:\nkernel %v\nxebpf  %v", tc.prog, tc.cb, k, x)
		}
	}
}

// TestKernelCloneRedirect compares bpf_clone_redirect to the loopback
// device (which Linux and xebpf both have) and to devices neither has;
// xebpf's other host devices are a Devices matter, so indexes of this
// machine's other devices are left out.
func TestKernelCloneRedirect(t *testing.T) {
	p := loadSkbPair(t)
	var cases []skbCase
	for _, ifindex := range []uint32{0, 1, 0xfffff} {
		for _, flags := range []uint32{0, 1, 2, 0x10000} {
			cases = append(cases, skbCase{"tc_clone", [5]uint32{0, ifindex, flags}}, skbCase{"tc_clone", [5]uint32{0, ifindex, flags, 14}})
		}
	}
	compareSkb(t, p, cases)
	// A GSO skb (gso_size in ctx_in) is refused.
	ctx := make([]byte, 192)
	binary.NativeEndian.PutUint32(ctx[48+4:], 1)
	binary.NativeEndian.PutUint32(ctx[176:], 1000)
	kr, err := p.k.Run("tc_clone", kernel.RunInput{Data: skbFrames()["ipv4"], Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	xr, err := p.x.Programs["tc_clone"].Run(&xebpf.RunOptions{Data: skbFrames()["ipv4"], Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if kr.Retval != xr || kr.Retval != uint32(neg(74)) {
		t.Errorf("GSO clone_redirect: kernel %#x, xebpf %#x, want -EBADMSG", kr.Retval, xr)
	}
}

// fibParams is a struct bpf_fib_lookup in a frame: family, ifindex,
// source and destination (4 or 16 bytes), and the flags after it.
func fibFrame(family byte, ifindex uint32, src, dst []byte, flags uint16) []byte {
	f := ethFrame(0x0800, ipv4Hdr(80))
	p := f[14 : 14+64]
	clear(p)
	p[0], p[1] = family, 17
	binary.BigEndian.PutUint16(p[2:], 1000)
	binary.BigEndian.PutUint16(p[4:], 53)
	binary.NativeEndian.PutUint32(p[8:], ifindex)
	copy(p[16:], src)
	copy(p[32:], dst)
	binary.LittleEndian.PutUint16(f[78:], flags)
	return f
}

// TestKernelFibLookup compares bpf_fib_lookup on this machine, whose
// devices all have forwarding disabled (checked first), for the loopback
// device and missing ones: the argument checks, -EAFNOSUPPORT, -ENODEV,
// BPF_FIB_LKUP_RET_NOT_FWDED for link-local IPv6 and
// BPF_FIB_LKUP_RET_FWD_DISABLED.
func TestKernelFibLookup(t *testing.T) {
	requireForwardingOff(t)
	p := loadSkbPair(t)
	v4 := [][]byte{{127, 0, 0, 1}, {10, 0, 0, 2}, {192, 0, 2, 1}, {8, 8, 8, 8}, {0, 0, 0, 0}}
	v6 := [][]byte{
		make([]byte, 16),
		{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
		{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	}
	type fc struct {
		family  byte
		ifindex uint32
		src     []byte
		dst     []byte
	}
	var fcs []fc
	for _, ifindex := range []uint32{0, 1, 0xfffff} {
		for _, family := range []byte{0, 1, 2, 10, 11} {
			for _, d := range v4 {
				fcs = append(fcs, fc{family, ifindex, v4[0], d})
			}
		}
		for _, s := range v6 {
			for _, d := range v6 {
				fcs = append(fcs, fc{10, ifindex, s, d})
			}
		}
	}
	for _, c := range fcs {
		for _, flags := range []uint16{0, 1, 2, 4, 8, 0x10, 0x20, 0x3f, 0x40, 0x100} {
			f := fibFrame(c.family, c.ifindex, c.src, c.dst, flags)
			k, x := p.run(t, "xdp_fib", f, nil)
			if k != x {
				t.Errorf("xdp_fib family %d ifindex %d %x→%x flags %#x:\nkernel %v\nxebpf  %v", c.family, c.ifindex, c.src, c.dst, flags, k, x)
			}
			for _, sel := range []uint32{0, 1, 2} {
				cb := [5]uint32{0, uint32(flags), sel}
				k, x := p.run(t, "tc_fib", f, &cb)
				if k != x {
					t.Errorf("tc_fib family %d ifindex %d %x→%x flags %#x plen sel %d:\nkernel %v\nxebpf  %v", c.family, c.ifindex, c.src, c.dst, flags, sel, k, x)
				}
			}
		}
	}
}

// requireForwardingOff skips unless this machine's loopback device has
// IPv4 and IPv6 forwarding disabled, the host xebpf answers for.
func requireForwardingOff(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/proc/sys/net/ipv4/conf/lo/forwarding", "/proc/sys/net/ipv6/conf/lo/forwarding"} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 || b[0] != '0' {
			t.Skipf("%s is %q (%v): the kernel would route, xebpf answers as a host without forwarding", f, b, err)
		}
	}
}
