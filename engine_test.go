package xebpf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/verifier"
)

// TestEngineFollowsTermination checks that a verified program whose loops
// the verifier proves to end within the instruction budget runs fast, and
// that one whose loop it cannot prove to end is rejected, naming the loop
// and its source line, and runs only unverified, in checked mode, where
// the budget ends it.
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
	unsigned int n = ctx->ingress_ifindex * 4;
	volatile unsigned int x = 1;
	while (x != n)
		x = x * 4 + 1;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	one := func(name string) *xebpf.CollectionSpec {
		return &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{name: spec.Programs[name]}, Maps: spec.Maps}
	}
	pkt := make([]byte, 64)
	pkt[0] = 1

	p, err := xebpf.VerifyProgram(spec, "bounded", xebpf.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(one("bounded"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Programs["bounded"].Engine(); got != xebpf.EngineFast {
		t.Errorf("bounded: engine %v, want %v (MaxInstructions %d)", got, xebpf.EngineFast, p.MaxInstructions())
	}
	if _, err := c.Programs["bounded"].Run(&xebpf.RunOptions{Data: pkt}); err != nil {
		t.Errorf("bounded: %v", err)
	}

	const want = "loops.c:19: pc 17: jne %r3, %r2, -9: loop at pc 9 is not proven to end"
	if _, err := xebpf.VerifyProgram(spec, "unbounded", xebpf.VerifyOptions{}); err == nil || !errors.Is(err, verifier.ErrRejected) || !strings.Contains(err.Error(), want) {
		t.Fatalf("unbounded: verify: %v, want a rejection with %q", err, want)
	}
	if _, err := xebpf.NewCollection(one("unbounded")); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("unbounded: load: %v, want a rejection with %q", err, want)
	}
	c, err = xebpf.NewCollectionWithOptions(one("unbounded"), xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked, InstructionBudget: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Programs["unbounded"].Engine(); got != xebpf.EngineChecked {
		t.Errorf("unbounded: engine %v, want %v", got, xebpf.EngineChecked)
	}
	// x = 1, 5, 21, ... is 1 mod 4 (also mod 2^32): it never meets n.
	if _, err := c.Programs["unbounded"].Run(&xebpf.RunOptions{Data: pkt}); !errors.Is(err, api.ErrBudgetExceeded) {
		t.Errorf("unbounded: run: %v, want the budget to end it", err)
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
