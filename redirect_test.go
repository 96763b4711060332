package xebpf_test

import (
	"fmt"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/isa"
)

// redirectRunner returns a Runner of an XDP program assembled from src,
// whose lddw of 0 (if any) refers to a DEVMAP of 4 entries holding
// ifindexes 7 (key 1) and 9 (key 3).
func redirectRunner(t *testing.T, src string) (*xebpf.Runner, *xebpf.Map) {
	t.Helper()
	insns, err := asm.AssembleProgram("redirect", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for i := range insns {
		if insns[i].IsLDDW() && insns[i].Dst == isa.R1 {
			insns[i].Src = isa.PseudoMapIndex
		}
	}
	spec := &xebpf.CollectionSpec{
		Maps:     map[string]*xebpf.MapSpec{"devs": {Name: "devs", Type: xebpf.DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 4}},
		MapOrder: []string{"devs"},
		Programs: map[string]*xebpf.ProgramSpec{"p": {Name: "p", SectionName: "xdp", Type: elf.XDP, Instructions: insns, License: "GPL"}},
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := c.Maps["devs"]
	for k, v := range map[uint32]uint32{1: 7, 3: 9} {
		if err := m.Put(k, v); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.Programs["p"].NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, m
}

// TestRunnerRedirect checks that Runner.Redirect reports the target of
// bpf_redirect and bpf_redirect_map after a run, none after a run that
// recorded none (a missed lookup, a plain return), and that a run does
// not see the previous run's target.
func TestRunnerRedirect(t *testing.T) {
	mapProg := func(key, flags int) string {
		return fmt.Sprintf("lddw %%r1, 0x0\nmov %%r2, %d\nmov %%r3, %d\ncall 51\nexit\n", key, flags)
	}
	for _, tc := range []struct {
		name string
		src  string
		ret  uint32
		want helpers.Redirect // Map is checked by its presence
	}{
		{"redirect_map key 3", mapProg(3, 0), xebpf.XDPRedirect, helpers.Redirect{Kind: helpers.RedirectMap, Key: 3}},
		{"redirect_map key 1 broadcast", mapProg(1, int(helpers.FlagBroadcast)), xebpf.XDPRedirect, helpers.Redirect{Kind: helpers.RedirectMap, Key: 1, Flags: helpers.FlagBroadcast}},
		{"redirect_map missing key: fallback pass", mapProg(2, 2), xebpf.XDPPass, helpers.Redirect{}},
		{"redirect ifindex 5", "mov %r1, 5\nmov %r2, 0\ncall 23\nexit\n", xebpf.XDPRedirect, helpers.Redirect{Kind: helpers.RedirectIfindex, Ifindex: 5}},
		{"redirect with flags: aborted", "mov %r1, 5\nmov %r2, 1\ncall 23\nexit\n", xebpf.XDPAborted, helpers.Redirect{}},
		{"no redirect", "mov %r0, 2\nexit\n", xebpf.XDPPass, helpers.Redirect{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, m := redirectRunner(t, tc.src)
			frame := make([]byte, 64)
			for i := range 2 { // the second run must not keep stale state
				ret, err := r.Run(&xebpf.RunOptions{Data: frame})
				if err != nil {
					t.Fatal(err)
				}
				if ret != tc.ret {
					t.Fatalf("run %d: returned %d, want %d", i, ret, tc.ret)
				}
				got := r.Redirect()
				if (got.Map != nil) != (tc.want.Kind == helpers.RedirectMap) {
					t.Fatalf("run %d: Map %v for kind %d", i, got.Map, tc.want.Kind)
				}
				if got.Map != nil && got.Map != m.Underlying() {
					t.Fatalf("run %d: Map is not the program's devmap", i)
				}
				got.Map = nil
				if got != tc.want {
					t.Fatalf("run %d: Redirect() = %+v, want %+v", i, got, tc.want)
				}
			}
		})
	}
	// A program that redirects frames whose byte 14 is not zero: a run
	// that passes after one that redirected reports no target.
	r, _ := redirectRunner(t, "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 15\njgt %r4, %r3, +8\n"+
		"ldxb %r4, [%r2+14]\njeq %r4, 0, +6\nlddw %r1, 0x0\nmov %r2, 3\nmov %r3, 0\ncall 51\nexit\nmov %r0, 2\nexit\n")
	for i, b := range []byte{1, 0, 1, 0} {
		frame := make([]byte, 64)
		frame[14] = b
		ret, err := r.Run(&xebpf.RunOptions{Data: frame})
		if err != nil {
			t.Fatal(err)
		}
		got := r.Redirect()
		if b != 0 && (ret != xebpf.XDPRedirect || got.Kind != helpers.RedirectMap || got.Key != 3) {
			t.Errorf("run %d: %d, %+v; want a redirect to key 3", i, ret, got)
		}
		if b == 0 && (ret != xebpf.XDPPass || got.Kind != helpers.RedirectNone) {
			t.Errorf("run %d: %d, %+v; want XDP_PASS and no redirect", i, ret, got)
		}
	}
}
