package interp_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
)

func mustAsm(t testing.TB, src string) []isa.Instruction {
	t.Helper()
	insns, err := asm.Assemble("test.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return insns
}

func compile(t testing.TB, src string, mode interp.Mode, helpers map[int32]api.Helper) *interp.Program {
	t.Helper()
	p, err := interp.Compile(mustAsm(t, src), interp.Config{Mode: mode, UnsafeTrustProgram: true, Helpers: helpers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var modes = []interp.Mode{interp.Checked, interp.Fast}

func TestSemantics(t *testing.T) {
	tests := []struct {
		desc string
		src  string
		want uint64
	}{
		{"32-bit operations zero-extend the destination", "lddw %r0, 0xffffffffffffffff\nadd32 %r0, 1\nexit", 0},
		{"64-bit shifts mask the count to 6 bits", "mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit", 2},
		{"32-bit shifts mask the count to 5 bits", "mov %r0, 1\nlsh32 %r0, 33\nexit", 2},
		{"unsigned division by zero gives zero", "mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", 0},
		{"unsigned modulo by zero leaves the destination", "mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit", 7},
		{"32-bit modulo by zero clears the upper half", "lddw %r0, 0x100000007\nmov %r1, 0\nmod32 %r0, %r1\nexit", 7},
		{"signed division of INT64_MIN by -1 wraps", "lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit", 0x8000000000000000},
		{"signed modulo takes the sign of the dividend", "mov %r0, -7\nsmod %r0, 2\nexit", 0xffffffffffffffff},
		{"signed division by zero gives zero", "mov %r0, -7\nsdiv32 %r0, 0\nexit", 0},
		{"ALU64 division sign-extends the immediate", "mov %r0, -1\ndiv %r0, -1\nexit", 1},
		{"movsx sign-extends a byte", "mov %r1, 0x80\nmovsx864 %r0, %r1\nexit", 0xffffffffffffff80},
		{"movsx32 zero-extends after sign-extending", "mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit", 0xffff8000},
		{"bswap16 swaps the low bytes and clears the rest", "lddw %r0, 0x1122334455667788\nswap16 %r0\nexit", 0x8877},
		{"be32 swaps on a little-endian host", "mov %r0, 0x11223344\nbe32 %r0\nexit", 0x44332211},
		{"le16 truncates", "lddw %r0, 0x1122334455667788\nle16 %r0\nexit", 0x7788},
		{"arsh32 shifts in the sign of the low word", "mov32 %r0, 0x80000000\narsh32 %r0, 4\nexit", 0xf8000000},
		{"jslt32 compares the low words signed", "lddw %r1, 0x7fffffff80000000\nmov %r0, 0\njslt32 %r1, 0, +1\nexit\nmov %r0, 1\nexit", 1},
		{"ldxsb sign-extends", "stb [%r10-1], 0x80\nldxsb %r0, [%r10-1]\nexit", 0xffffffffffffff80},
		{"stdw stores the sign-extended immediate", "stdw [%r10-8], -2\nldxdw %r0, [%r10-8]\nexit", 0xfffffffffffffffe},
		{"atomic fetch add returns the old value", "stdw [%r10-8], 5\nmov %r1, 3\nlock fetch add [%r10-8], %r1\nldxdw %r0, [%r10-8]\nadd %r0, %r1\nexit", 13},
		{"atomic cmpxchg32 returns the old value zero-extended", "stw [%r10-4], -1\nmov %r0, -1\nmov %r1, 7\nlock cmpxchg32 [%r10-4], %r1\nexit", 0xffffffff},
		{"local calls preserve r6-r9 and get a fresh frame", `
mov %r6, 6
stdw [%r10-8], 42
call local f
ldxdw %r1, [%r10-8]
add %r0, %r1
add %r0, %r6
exit
f:
stdw [%r10-8], 1
mov %r6, 100
ldxdw %r0, [%r10-8]
exit`, 49},
		{"callx calls a function by code address", `
lddw %r2, code +4
call %r2
add %r0, 1
exit
mov %r0, 41
exit`, 42},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			p := compile(t, tt.src, mode, nil)
			got, err := p.Run(&api.Env{})
			if err != nil {
				t.Errorf("%s: %s: %v", mode, tt.desc, err)
				continue
			}
			if got != tt.want {
				t.Errorf("%s: %s: got %#x, want %#x", mode, tt.desc, got, tt.want)
			}
		}
	}
}

func TestCheckedFaults(t *testing.T) {
	tests := []struct {
		desc   string
		src    string
		reason *api.Reason
		pc     int
	}{
		{"A load above the frame pointer is out of bounds", "ldxw %r0, [%r10+0]\nexit", api.ErrOutOfBounds, 0},
		{"A store below the stack is out of bounds", "stb [%r10-513], 1\nexit", api.ErrOutOfBounds, 0},
		{"A load through a null pointer is out of bounds", "mov %r1, 0\nldxb %r0, [%r1+0]\nexit", api.ErrOutOfBounds, 1},
		{"An infinite loop exhausts the budget", "mov %r0, 0\nja -1", api.ErrBudgetExceeded, 1},
		{"Unbounded recursion hits the call depth limit", "f:\ncall local f\nexit", api.ErrCallDepth, 0},
		{"Running past the last instruction is a fault", "mov %r0, 1", api.ErrFellOffEnd, 0},
		{"callx to a bogus address is a fault", "lddw %r1, 0x12345678\ncall %r1\nexit", api.ErrBadCallTarget, 2},
		{"A misaligned atomic is a fault", "mov %r1, 1\nlock add [%r10-7], %r1\nexit", api.ErrMisaligned, 1},
	}
	for _, tt := range tests {
		p := compile(t, tt.src, interp.Checked, nil)
		_, err := p.Run(&api.Env{})
		var f *api.Fault
		if !errors.As(err, &f) {
			t.Errorf("%s: got %v, want a *Fault", tt.desc, err)
			continue
		}
		if !errors.Is(err, tt.reason) || f.PC != tt.pc {
			t.Errorf("%s: got %v (pc %d), want %v at pc %d", tt.desc, err, f.PC, tt.reason, tt.pc)
		}
	}
}

func TestReadOnlyRegion(t *testing.T) {
	mem, err := platform.Alloc(16)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	p := compile(t, "stb [%r1+0], 1\nexit", interp.Checked, nil)
	env := &api.Env{Args: [5]uint64{uint64(mem.Addr())}, Regions: []api.Region{{Addr: uint64(mem.Addr()), Size: 16, Name: "ctx"}}}
	if _, err := p.Run(env); !errors.Is(err, api.ErrReadOnly) {
		t.Fatalf("got %v, want ErrReadOnly", err)
	}
	env.Regions[0].Writable = true
	if _, err := p.Run(env); err != nil {
		t.Fatal(err)
	}
	if mem.Bytes()[0] != 1 {
		t.Fatal("store did not reach memory")
	}
}

func TestFastModeNeedsTrust(t *testing.T) {
	_, err := interp.Compile(mustAsm(t, "exit"), interp.Config{Mode: interp.Fast})
	if !errors.Is(err, interp.ErrNeedsVerification) {
		t.Fatalf("got %v, want ErrNeedsVerification", err)
	}
}

func TestUnknownHelperIsRejectedAtCompile(t *testing.T) {
	_, err := interp.Compile(mustAsm(t, "call 7\nexit"), interp.Config{})
	if !errors.Is(err, interp.ErrUnknownHelper) {
		t.Fatalf("got %v, want ErrUnknownHelper", err)
	}
}

func TestHelperErrorsAndMemory(t *testing.T) {
	boom := errors.New("boom")
	helpers := map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			b, err := c.Memory(c.Args[0], c.Args[1], false)
			if err != nil {
				return 0, err
			}
			return uint64(len(b)), nil
		},
		2: func(c *api.HelperCall) (uint64, error) { return 0, boom },
	}
	p := compile(t, "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 1\nexit", interp.Checked, helpers)
	if got, err := p.Run(&api.Env{}); err != nil || got != 8 {
		t.Fatalf("helper on stack memory: got %d, %v", got, err)
	}
	p = compile(t, "mov %r1, %r10\nmov %r2, 8\ncall 1\nexit", interp.Checked, helpers)
	if _, err := p.Run(&api.Env{}); !errors.Is(err, api.ErrBadHelperMemory) {
		t.Fatalf("helper past the stack: got %v, want ErrBadHelperMemory", err)
	}
	p = compile(t, "call 2\nexit", interp.Checked, helpers)
	if _, err := p.Run(&api.Env{}); !errors.Is(err, boom) || !errors.Is(err, api.ErrHelperFailed) {
		t.Fatalf("failing helper: got %v", err)
	}
}

func TestLegacyPacketLoads(t *testing.T) {
	mem, err := platform.Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	copy(mem.Bytes(), []byte{0x12, 0x34, 0x56, 0x78})
	pkt := api.Region{Addr: uint64(mem.Addr()), Size: 4, Name: "packet"}
	for _, mode := range modes {
		p := compile(t, "ldabsh 1\nmov %r6, %r0\nmov %r1, 2\nldindh %r1, 0\nadd %r0, %r6\nexit", mode, nil)
		got, err := p.Run(&api.Env{Packet: pkt})
		if err != nil || got != 0x3456+0x5678 {
			t.Errorf("%s: got %#x, %v", mode, got, err)
		}
		p = compile(t, "mov %r0, 9\nldabsw 1\nexit", mode, nil)
		if got, err := p.Run(&api.Env{Packet: pkt}); err != nil || got != 0 {
			t.Errorf("%s: load past the packet: got %#x, %v; want 0 (program ends)", mode, got, err)
		}
	}
}

func TestLegacyPacketLoadsAtNegativeOffsets(t *testing.T) {
	mem, err := platform.Alloc(32)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	for i := range mem.Bytes() {
		mem.Bytes()[i] = byte(i)
	}
	base := uint64(mem.Addr())
	// The packet starts at byte 8 (a "network header"); the link-layer
	// header is at byte 2, the buffer starts at byte 0.
	env := &api.Env{Packet: api.Region{Addr: base + 8, Size: 24}, LinkHeader: base + 2, NetHeader: base + 8, PacketHead: base}
	tests := []struct {
		desc string
		src  string
		want uint64
	}{
		{"SKF_LL_OFF counts from the link-layer header", "ldabsb -2097152\nexit", 2},
		{"SKF_NET_OFF counts from the network header", "ldabsh -1048575\nexit", 0x090a},
		{"LD_IND adds the register in 32 bits", "mov %r1, -2097152\nldindb %r1, 3\nexit", 5},
		{"A read before the buffer's head ends the program with 0", "mov %r0, 7\nldabsb -1048585\nexit", 0},
		{"A read past the packet's end ends the program with 0", "mov %r0, 7\nldabsw -2097152+28\nexit", 0},
		{"Offsets below SKF_LL_OFF read nothing", "mov %r0, 7\nldabsb -2097153\nexit", 0},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			p := compile(t, strings.ReplaceAll(tt.src, "-2097152+28", "-2097124"), mode, nil)
			got, err := p.Run(env)
			if err != nil || got != tt.want {
				t.Errorf("%s: %s: got %#x, %v; want %#x", mode, tt.desc, got, err, tt.want)
			}
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	for _, mode := range modes {
		p := compile(t, `
mov %r0, 0
mov %r2, 1000
loop:
stxdw [%r10-8], %r1
ldxdw %r3, [%r10-8]
add %r0, %r3
sub %r2, 1
jne %r2, 0, loop
exit`, mode, nil)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				env := &api.Env{Args: [5]uint64{uint64(g)}}
				for range 200 {
					got, err := p.Run(env)
					if err != nil || got != uint64(g)*1000 {
						t.Errorf("goroutine %d: got %d, %v", g, got, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, mode := range modes {
		p := compile(t, "mov %r0, 1\ncall local f\nexit\nf:\nmov %r0, 2\nexit", mode, nil)
		env := &api.Env{}
		p.Run(env)
		if n := testing.AllocsPerRun(1000, func() { p.Run(env) }); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", mode, n)
		}
	}
}

func TestExecutedCountsInstructions(t *testing.T) {
	p := compile(t, "mov %r0, 0\nmov %r1, 10\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, -3\nexit", interp.Checked, nil)
	env := &api.Env{}
	if _, err := p.Run(env); err != nil {
		t.Fatal(err)
	}
	if env.Executed != 2+3*10+1 {
		t.Fatalf("Executed = %d, want 33", env.Executed)
	}
}

func TestHelperCallsBackIntoProgram(t *testing.T) {
	// Helper 1 is a bpf_loop-like helper: it calls the callback r2 r1 times
	// with (i, r3) and sums the results.
	helpers := map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			sum := uint64(0)
			n, fn, arg := c.Args[0], c.Args[1], c.Args[2]
			for i := uint64(0); i < n; i++ {
				r0, err := c.Call(fn, [5]uint64{i, arg})
				if err != nil {
					return 0, err
				}
				sum += r0
			}
			return sum, nil
		},
	}
	for _, mode := range modes {
		p := compile(t, `
stdw [%r10-8], 5
mov %r1, 4
lddw %r2, code +6
mov %r3, 100
call 1
ldxdw %r1, [%r10-8]
add %r0, %r1
exit
cb:
stdw [%r10-8], 1000
mov %r0, %r1
add %r0, %r2
exit`, mode, helpers)
		// (0+100)+(1+100)+(2+100)+(3+100) + 5: the callback's frame must not clobber the caller's stack.
		if got, err := p.Run(&api.Env{}); err != nil || got != 411 {
			t.Errorf("%s: got %d, %v; want 411", mode, got, err)
		}
	}
}

func TestTailCall(t *testing.T) {
	var target *interp.Program
	helpers := map[int32]api.Helper{
		12: func(c *api.HelperCall) (uint64, error) {
			if c.Args[0]%2 == 1 {
				c.TailCall(target, c.Args[0])
				return 0, nil
			}
			return uint64(1<<64 - 2), nil // -ENOENT: empty slot, the caller continues
		},
	}
	var err error
	target, err = interp.Compile(mustAsm(t, "mov %r0, %r1\nadd %r0, 1\nexit"), interp.Config{Helpers: helpers})
	if err != nil {
		t.Fatal(err)
	}
	p := compile(t, "mov %r6, %r1\nmov %r3, %r2\ncall 12\nmov %r0, 77\nexit", interp.Checked, helpers)
	if got, err := p.Run(&api.Env{Args: [5]uint64{41, 1}}); err != nil || got != 42 {
		t.Errorf("tail call taken: got %d, %v; want 42", got, err)
	}
	if got, err := p.Run(&api.Env{Args: [5]uint64{40}}); err != nil || got != 77 {
		t.Errorf("empty slot: got %d, %v; want 77", got, err)
	}
	// A program that tail-calls itself forever stops at the limit.
	target = p
	if _, err := p.Run(&api.Env{Args: [5]uint64{41, 1}}); !errors.Is(err, api.ErrTailCallLimit) {
		t.Errorf("self tail call: got %v, want ErrTailCallLimit", err)
	}
}

// TestRegionChangesByHelpersApply checks that a region a helper moves is
// enforced right after the call, even if an earlier access hit it, and
// that pointers into its old place no longer work.
func TestRegionChangesByHelpersApply(t *testing.T) {
	mem, err := platform.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	helpers := map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			r := c.Env().Regions[0]
			return 0, c.MoveRegion(0, r.Addr, 8)
		},
	}
	p := compile(t, "mov %r6, %r1\nldxdw %r0, [%r6+16]\ncall 1\nldxdw %r0, [%r6+16]\nexit", interp.Checked, helpers)
	env := &api.Env{Args: [5]uint64{uint64(mem.Addr())}, Regions: []api.Region{{Addr: uint64(mem.Addr()), Size: 64, Writable: true, Name: "pkt"}}}
	_, err = p.Run(env)
	var f *api.Fault
	if !errors.As(err, &f) || !errors.Is(err, api.ErrOutOfBounds) || f.PC != 3 {
		t.Fatalf("got %v, want an out-of-bounds fault at pc 3", err)
	}
}

// TestRegionChecksAfterAHit checks that the region a previous access fell
// in (tried first by the next check) never lets an access through that its
// own bounds and permissions would refuse, within a run and across runs
// with the same Env.
func TestRegionChecksAfterAHit(t *testing.T) {
	mem, err := platform.Alloc(48)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	a, b := uint64(mem.Addr()), uint64(mem.Addr())+16
	regions := func() []api.Region {
		return []api.Region{{Addr: a, Size: 16, Name: "a"}, {Addr: b, Size: 16, Writable: true, Name: "b"}}
	}
	helpers := map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			_, err := c.Memory(c.Args[0], c.Args[1], c.Args[2] != 0)
			return 0, err
		},
	}
	tests := []struct {
		desc   string
		src    string
		reason *api.Reason // nil: the run succeeds
		pc     int
	}{
		{"a read then a write of a read-only region", "ldxb %r0, [%r1+0]\nstb [%r1+0], 1\nexit", api.ErrReadOnly, 1},
		{"a write then a read past the writable region's end", "stb [%r2+0], 1\nldxdw %r0, [%r2+12]\nexit", api.ErrOutOfBounds, 1},
		{"a write, a read of the other region, a write to it", "stb [%r2+0], 1\nldxb %r0, [%r1+8]\nstb [%r1+8], 1\nexit", api.ErrReadOnly, 2},
		{"a read of one region and a helper writing to it", "ldxb %r0, [%r1+0]\nmov %r2, 1\nmov %r3, 1\ncall 1\nexit", api.ErrBadHelperMemory, 3},
		{"accesses alternating between the regions", "ldxb %r0, [%r1+15]\nstb [%r2+15], 1\nldxb %r0, [%r1+0]\nstdw [%r2+8], 1\nexit", nil, 0},
	}
	for _, tt := range tests {
		p := compile(t, tt.src, interp.Checked, helpers)
		env := &api.Env{Args: [5]uint64{a, b}, Regions: regions()}
		_, err := p.Run(env)
		if tt.reason == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.desc, err)
			}
			continue
		}
		var f *api.Fault
		if !errors.As(err, &f) || !errors.Is(err, tt.reason) || f.PC != tt.pc {
			t.Errorf("%s: got %v, want %v at pc %d", tt.desc, err, tt.reason, tt.pc)
		}
	}

	// Across runs: the Env keeps the region of the last hit, and the next
	// run must still check against its own, changed, regions.
	p := compile(t, "stb [%r1+0], 1\nexit", interp.Checked, nil)
	env := &api.Env{Args: [5]uint64{b}, Regions: regions()}
	if _, err := p.Run(env); err != nil {
		t.Fatalf("write to b: %v", err)
	}
	env.Regions[1].Writable = false
	if _, err := p.Run(env); !errors.Is(err, api.ErrReadOnly) {
		t.Fatalf("write to b made read-only: got %v, want ErrReadOnly", err)
	}
	env.Regions = env.Regions[:1]
	if _, err := p.Run(env); !errors.Is(err, api.ErrOutOfBounds) {
		t.Fatalf("write to b after it left the regions: got %v, want ErrOutOfBounds", err)
	}
}
