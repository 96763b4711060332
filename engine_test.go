package xebpf_test

import (
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
)

// TestEngineFollowsTermination checks that a verified program whose loops
// the verifier proves to end within the instruction budget runs fast, and
// one whose loop it cannot bound runs checked, where the budget ends it.
func TestEngineFollowsTermination(t *testing.T) {
	obj := buildC(t, "loops", `#include "xebpf/bpf.h"
SEC("xdp")
int bounded(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	int sum = 0;
	if (data + 64 > end)
		return XDP_DROP;
	for (int i = 0; i < 64; i++)
		sum += data[i];
	return sum & 1 ? XDP_PASS : XDP_DROP;
}
SEC("xdp")
int unbounded(struct xdp_md *ctx)
{
	unsigned int n = ctx->ingress_ifindex;
	volatile unsigned int x = 1;
	while (x != n)
		x = x * 3 + 1;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]xebpf.Engine{"bounded": xebpf.EngineFast, "unbounded": xebpf.EngineCheckedVerified} {
		p, err := xebpf.VerifyProgram(spec, name, xebpf.VerifyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		one := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{name: spec.Programs[name]}, Maps: spec.Maps}
		c, err := xebpf.NewCollection(one)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.Programs[name].Engine(); got != want {
			t.Errorf("%s: engine %v, want %v (MaxInstructions %d)", name, got, want, p.MaxInstructions())
		}
		pkt := make([]byte, 64)
		pkt[0] = 1
		if _, err := c.Programs[name].Run(&xebpf.RunOptions{Data: pkt}); name == "bounded" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFixedRawContext checks that a verified program whose raw context
// has a fixed size (pt_regs for a kprobe) runs fast and sees zeros past a
// shorter context the caller gives, while a program of xebpf's raw type,
// whose context is the caller's bytes alone, runs checked when it reads
// its context and faults past them.
func TestFixedRawContext(t *testing.T) {
	obj := buildC(t, "rawctx", `#include "xebpf/bpf.h"
SEC("kprobe/sys_write")
int probe(unsigned long *regs)
{
	return regs[14] == 0 ? 7 : 8; /* a pt_regs slot past 8 bytes */
}
SEC("raw")
int plugin(unsigned long *ctx)
{
	return ctx[14] == 0 ? 7 : 8;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		engine xebpf.Engine
		fault  bool
	}{
		{"probe", xebpf.EngineFast, false},
		{"plugin", xebpf.EngineCheckedVerified, true},
	} {
		one := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{tc.name: spec.Programs[tc.name]}, Maps: spec.Maps}
		c, err := xebpf.NewCollection(one)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		defer c.Close()
		p := c.Programs[tc.name]
		if p.Engine() != tc.engine {
			t.Errorf("%s: engine %v, want %v", tc.name, p.Engine(), tc.engine)
		}
		ret, err := p.Run(&xebpf.RunOptions{Context: make([]byte, 8)})
		if tc.fault != (err != nil) || !tc.fault && ret != 7 {
			t.Errorf("%s: %d, %v; want fault %v", tc.name, ret, err, tc.fault)
		}
	}
}

// TestProgramTypeReturns checks that a host type's return range is the
// verifier's: a plug-in that may return a value the host gives no
// meaning is refused at load.
func TestProgramTypeReturns(t *testing.T) {
	obj := buildC(t, "returns", `#include "xebpf/bpf.h"
SEC("raw")
int verdict(unsigned int *ctx)
{
	return *ctx > 10 ? 2 : 1;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		returns [2]uint32
		ok      bool
	}{{[2]uint32{0, 2}, true}, {[2]uint32{0, 1}, false}, {[2]uint32{2, 5}, false}} {
		typ := *xebpf.KindOf(xebpf.UnspecifiedProgram)
		typ.Returns = &tc.returns
		c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Types: map[string]*xebpf.ProgramKind{"verdict": &typ}})
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "may return a value outside") {
			t.Errorf("returns %v: %v, want ok %v", tc.returns, err, tc.ok)
		}
		if err == nil {
			c.Close()
		}
	}
}
