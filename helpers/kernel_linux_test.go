package helpers_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/maps"
)

// kernelPair is testdata/kernel_cmp.c loaded into the kernel and into
// xebpf, with the same map contents.
type kernelPair struct {
	k *kernel.Collection
	x *xebpf.Collection
}

func loadKernelPair(t *testing.T) *kernelPair {
	t.Helper()
	// devmap[1] and devhash[2] hold the loopback device, cpumap[0] a
	// 192-packet queue on CPU 0; xskmap and cgroups stay empty (their
	// values must be real sockets and cgroups in Linux).
	return loadKernelObject(t, "kernel_cmp", map[string][][2][]byte{
		"devmap":  {{u32b(1), u32b(1)}},
		"devhash": {{u32b(2), u32b(1)}},
		"cpumap":  {{u32b(0), u32b(192)}},
	})
}

// loadKernelObject builds testdata/NAME.c and loads it into the kernel and
// into xebpf, with the map entries of preload on both sides.
func loadKernelObject(t *testing.T, name string, preload map[string][][2][]byte) *kernelPair {
	t.Helper()
	if err := kernel.Available(); err != nil {
		t.Skipf("kernel test-run unavailable: %v", err)
	}
	// xebpf's frames, whose sizes the packet-moving helpers' limits and
	// results show, are Linux 6.18's on 4 KiB pages.
	if err := kernel.CheckLayout(); err != nil {
		t.Skip(err)
	}
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), name+".o")
	cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-I", filepath.Join("..", "include"),
		"-c", filepath.Join("testdata", name+".c"), "-o", obj)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, msg)
	}
	st := map[string]kernel.MapState{}
	for name, kvs := range preload {
		var es []kernel.Entry
		for _, kv := range kvs {
			es = append(es, kernel.Entry{Key: kv[0], Value: kv[1]})
		}
		st[name] = kernel.MapState{Entries: es}
	}
	k, err := kernel.Load(obj, kernel.LoadOptions{Maps: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	for _, e := range k.ProgramErrors() {
		t.Fatalf("kernel: %v", e)
	}
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	for name, kvs := range preload {
		for _, kv := range kvs {
			if err := x.Maps[name].Update(kv[0], kv[1], maps.UpdateAny); err != nil {
				t.Fatalf("xebpf map %s: %v", name, err)
			}
		}
	}
	return &kernelPair{k: k, x: x}
}

// outcome is what a test run reports, as compared.
type outcome struct {
	ret  uint32
	data string
	cb   [5]uint32
}

func (o outcome) String() string {
	d := o.data
	if len(d) > 240 {
		d = fmt.Sprintf("%s...%s (%d bytes)", d[:200], d[len(d)-40:], len(d)/2)
	}
	return fmt.Sprintf("r0 %#x cb %x data %s", o.ret, o.cb, d)
}

func (p *kernelPair) run(t *testing.T, prog string, data []byte, cb *[5]uint32) (kern, xe outcome) {
	t.Helper()
	var ctx []byte
	if cb != nil {
		ctx = make([]byte, 192)
		for i, v := range cb {
			binary.NativeEndian.PutUint32(ctx[48+4*i:], v)
		}
	}
	kr, err := p.k.Run(prog, kernel.RunInput{Data: data, Context: ctx})
	if err != nil {
		t.Fatalf("kernel %s: %v", prog, err)
	}
	opts := &xebpf.RunOptions{Data: data, DataOut: make([]byte, 4096), Context: ctx}
	if ctx != nil {
		opts.ContextOut = make([]byte, 192)
	}
	xr, err := p.x.Programs[prog].Run(opts)
	if err != nil {
		t.Fatalf("xebpf %s: %v", prog, err)
	}
	kern = outcome{ret: kr.Retval, data: fmt.Sprintf("%x", kr.DataOut)}
	xe = outcome{ret: xr, data: fmt.Sprintf("%x", opts.DataOut)}
	for i := range 5 {
		if ctx != nil {
			kern.cb[i] = binary.NativeEndian.Uint32(kr.ContextOut[48+4*i:])
			xe.cb[i] = binary.NativeEndian.Uint32(opts.ContextOut.([]byte)[48+4*i:])
		}
	}
	return kern, xe
}

// TestKernelRedirectMap compares bpf_redirect_map and devmap lookups with
// the kernel: return values and data_out of BPF_PROG_TEST_RUN (which
// sends nothing: XDP_REDIRECT comes back as 4 with the frame unchanged).
func TestKernelRedirectMap(t *testing.T) {
	p := loadKernelPair(t)
	pkt := testPacket()
	for m := range byte(4) {
		for _, key := range []byte{0, 1, 2, 3, 9} {
			for _, flags := range []uint16{0, 1, 2, 3, 4, 8, 0x10, 0x18, 0x1a, 0x20, 0x100} {
				d := append([]byte(nil), pkt...)
				d[14], d[15] = m, key
				binary.LittleEndian.PutUint16(d[16:], flags)
				for _, prog := range []string{"xdp_redirect", "xdp_devmap_lookup"} {
					if prog == "xdp_devmap_lookup" && (m > 1 || flags != 0) {
						continue
					}
					k, x := p.run(t, prog, d, nil)
					if k != x {
						t.Errorf("%s map %d key %d flags %#x:\nkernel %v\nxebpf  %v", prog, m, key, flags, k, x)
					}
				}
			}
		}
	}
}

// TestKernelSkbHelpers compares the skb helpers with the kernel on a tc
// program: results, the packet, and what the programs leave in cb[].
func TestKernelSkbHelpers(t *testing.T) {
	p := loadKernelPair(t)
	pkt := testPacket()
	rng := rand.New(rand.NewPCG(1, 2))
	type tcase struct {
		prog string
		cb   [5]uint32
	}
	var cases []tcase
	for _, off := range []uint32{0, 1, 13, 24, 58, 60, 61, 62, 63, 64, 0x7fffffff, 0x80000000} {
		for _, flags := range []uint32{0, 1, 2, 3, 4} {
			cases = append(cases, tcase{"tc_store_bytes", [5]uint32{0, off, rng.Uint32(), 0, flags}})
		}
	}
	csumFlags := map[string][]uint32{
		"tc_l3_csum": {0, 1, 2, 3, 4, 5, 8, 0x10, 0x12},
		"tc_l4_csum": {0, 2, 4, 8, 0x10, 0x12, 0x14, 0x20, 0x22, 0x24, 0x62, 0x64, 0x82, 0x92, 0x100, 0x200},
	}
	for prog, fl := range csumFlags {
		for _, off := range []uint32{0, 1, 24, 40, 62, 63, 64, 0xfffe, 0x10000} {
			for _, f := range fl {
				cases = append(cases, tcase{prog, [5]uint32{0, off, 0, rng.Uint32(), f}})
				cases = append(cases, tcase{prog, [5]uint32{0, off, rng.Uint32(), rng.Uint32(), f}})
				cases = append(cases, tcase{prog, [5]uint32{0, off, uint32(rng.IntN(0x10000)), uint32(rng.IntN(0x10000)), f}})
			}
		}
	}
	// Checksums that land on 0 and 0xffff.
	for _, from := range []uint32{0, 1, 0xffff, 0xfffe, 0x5544} {
		for _, to := range []uint32{0, 1, 0xffff, 0xfffe, 0x4455} {
			for _, f := range []uint32{2, 4, 0x22, 0x24, 0x62, 0x12} {
				cases = append(cases, tcase{"tc_l4_csum", [5]uint32{0, 40, from, to, f}}, tcase{"tc_l3_csum", [5]uint32{0, 40, from, to, f & 0xf}})
			}
		}
	}
	for _, typ := range []uint32{0, 1, 2, 3, 4, 7, 0xffffffff} {
		cases = append(cases, tcase{"tc_change_type", [5]uint32{0, typ}})
	}
	for _, n := range []uint32{0, 1, 14, 63, 64, 65, 0xffffffff} {
		cases = append(cases, tcase{"tc_pull", [5]uint32{0, n}})
	}
	for _, idx := range []uint32{0, 1, 2, 5} {
		cases = append(cases, tcase{"tc_misc", [5]uint32{0, 0, 0, 0, idx}})
	}
	for _, tc := range cases {
		for _, zeroSum := range []bool{false, true} {
			d := append([]byte(nil), pkt...)
			if zeroSum {
				d[40], d[41] = 0, 0
			}
			k, x := p.run(t, tc.prog, d, &tc.cb)
			if k != x {
				t.Errorf("%s cb %x (zero sum %v):\nkernel %v\nxebpf  %v", tc.prog, tc.cb, zeroSum, k, x)
			}
		}
	}
}

// TestKernelHashHelpers compares get_hash_recalc and set_hash with the
// kernel where they can agree: the kernel keys its flow hash with a
// random boot-time secret, so the computed hash is compared only as
// "the flow hash" (non-zero, stable), and everything else exactly.
func TestKernelHashHelpers(t *testing.T) {
	p := loadKernelPair(t)
	norm := func(o outcome, set uint32) [5]string {
		var r [5]string
		for i, v := range o.cb {
			switch {
			case v == 0:
				r[i] = "0"
			case v == set:
				r[i] = "set"
			default:
				r[i] = "flow"
			}
		}
		return r
	}
	for _, cb := range [][5]uint32{{}, {0, 77}, {0, 77, 1}, {0, 0, 1}} {
		k, x := p.run(t, "tc_hash", testPacket(), &cb)
		if nk, nx := norm(k, cb[1]), norm(x, cb[1]); nk != nx || k.ret != x.ret || k.data != x.data {
			t.Errorf("tc_hash cb %x:\nkernel %v %v\nxebpf  %v %v", cb, nk, k, nx, x)
		}
	}
}
