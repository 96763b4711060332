package interp_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
)

// provenanceEnv is the memory of the provenance tests: r1 points to a
// 64-byte writable region "mem", r3 to the 64-byte read-only region "ro"
// right after it, r2 to a context with a writable field a (0, 4 bytes), a
// read-only field b (4, 4 bytes) and a pointer field p (8) into "mem".
type provenanceEnv struct {
	mem       []byte
	base      uint64
	valueKind api.Region
}

const (
	memOff, roOff, ctxOff, valueOff = 0, 64, 128, 192
)

func newProvenanceEnv(t *testing.T) *provenanceEnv {
	t.Helper()
	m, err := platform.Alloc(256)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	return &provenanceEnv{mem: m.Bytes()[:256], base: uint64(m.Addr()), valueKind: api.Region{Name: "value", Writable: true}}
}

func (pe *provenanceEnv) env(t *testing.T) *api.Env {
	t.Helper()
	fields, err := api.NewFields(16, []api.Field{
		{Name: "a", Offset: 0, Size: 4, Writable: true, Points: -1},
		{Name: "b", Offset: 4, Size: 4, Points: -1},
		{Name: "p", Offset: 8, Size: 8, Points: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	clear(pe.mem)
	binary.NativeEndian.PutUint64(pe.mem[ctxOff+8:], pe.base+memOff)
	return &api.Env{
		Args: [5]uint64{pe.base + memOff, pe.base + ctxOff, pe.base + roOff},
		Regions: []api.Region{
			{Addr: pe.base + memOff, Size: 64, Writable: true, Name: "mem"},
			{Addr: pe.base + ctxOff, Size: 16, Writable: true, Name: "ctx", Fields: fields},
			{Addr: pe.base + roOff, Size: 64, Name: "ro"},
		},
	}
}

// helpers: 1 returns a pointer to an 8-byte "value" object; 2 moves region
// 0 ("mem") to its first 32 bytes; 3 calls the callback in r1 r2 times
// with r2 = the pointer in r3; 4 kills the object of r1; 5 does nothing;
// 6 returns a new object on every call; 7 returns a pointer with a tag
// that is not the run's.
func (pe *provenanceEnv) helpers() map[int32]api.Helper {
	n := uint64(0)
	return map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			tag, err := c.Object(&pe.valueKind, pe.base+valueOff, 8)
			c.Return(tag)
			return pe.base + valueOff, err
		},
		2: func(c *api.HelperCall) (uint64, error) {
			return 0, c.MoveRegion(0, pe.base+memOff, 32)
		},
		3: func(c *api.HelperCall) (uint64, error) {
			for i := uint64(0); i < c.Args[1]; i++ {
				if _, err := c.CallWith(c.Args[0], [5]uint64{i, c.Args[2]}, [5]api.Tag{api.NoTag, c.ArgTag(2)}); err != nil {
					return 0, err
				}
			}
			return 0, nil
		},
		4: func(c *api.HelperCall) (uint64, error) {
			c.Kill(c.ArgTag(0))
			return 0, nil
		},
		5: func(c *api.HelperCall) (uint64, error) { return 0, nil },
		7: func(c *api.HelperCall) (uint64, error) {
			c.Return(api.Tag(1 << 30))
			return pe.base + memOff, nil
		},
		6: func(c *api.HelperCall) (uint64, error) {
			n++
			tag, err := c.Object(&pe.valueKind, pe.base+valueOff, n)
			c.Return(tag)
			return pe.base + valueOff, err
		},
	}
}

// TestProvenance checks that checked mode follows pointers to the object
// they came from, and that fast mode computes the same results for
// programs that stay within their objects.
func TestProvenance(t *testing.T) {
	pe := newProvenanceEnv(t)
	tests := []struct {
		desc   string
		src    string
		reason *api.Reason // nil: the run succeeds
		pc     int
	}{
		{"A pointer spilled to the stack and filled keeps its object",
			"stxdw [%r10-8], %r1\nldxdw %r4, [%r10-8]\nldxb %r0, [%r4+63]\nexit", nil, 0},
		{"A pointer stored in memory and loaded back is a scalar",
			"stxdw [%r1+0], %r1\nldxdw %r4, [%r1+0]\nldxb %r0, [%r4+8]\nexit", api.ErrOutOfBounds, 2},
		{"A partial overwrite of a spilled pointer makes it a scalar",
			"stxdw [%r10-8], %r1\nldxb %r5, [%r10-8]\nstxb [%r10-8], %r5\nldxdw %r4, [%r10-8]\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 4},
		{"An unaligned fill is a scalar",
			"stxdw [%r10-16], %r1\nstxdw [%r10-8], %r1\nldxdw %r4, [%r10-12]\nstxdw [%r10-12], %r4\nldxdw %r4, [%r10-12]\nexit", nil, 0},
		{"A pointer plus a scalar stays in its object",
			"mov %r4, %r1\nadd %r4, 63\nldxb %r0, [%r4+0]\nexit", nil, 0},
		{"A pointer moved past its object's end faults, even into a neighbouring region",
			"mov %r4, %r1\nadd %r4, 64\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 2},
		{"A pointer rebuilt from another object's pointer belongs to that object",
			"mov %r4, %r1\nsub %r4, %r3\nadd %r4, %r3\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 3},
		{"The difference of two pointers is a scalar",
			"mov %r4, %r3\nsub %r4, %r1\nadd %r4, %r1\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 3},
		{"A bitwise operation makes a scalar",
			"mov %r4, %r1\nor %r4, 0\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 2},
		{"A 32-bit operation makes a scalar",
			"mov %r4, %r1\nadd32 %r4, 0\nldxb %r0, [%r4+0]\nexit", api.ErrOutOfBounds, 2},
		{"A store to a read-only region faults", "stb [%r3+0], 1\nexit", api.ErrReadOnly, 0},
		{"A writable context field may be stored to", "stw [%r2+0], 7\nldxw %r0, [%r2+0]\nexit", nil, 0},
		{"A read-only context field may not", "stw [%r2+4], 7\nexit", api.ErrBadContextAccess, 0},
		{"A narrow aligned context load is allowed", "ldxb %r0, [%r2+1]\nldxh %r0, [%r2+6]\nexit", nil, 0},
		{"A misaligned context load faults", "ldxh %r0, [%r2+1]\nexit", api.ErrBadContextAccess, 0},
		{"A context load across two fields faults", "ldxdw %r0, [%r2+0]\nexit", api.ErrBadContextAccess, 0},
		{"A context pointer field gives a pointer into its region",
			"ldxdw %r4, [%r2+8]\nldxb %r0, [%r4+63]\nexit", nil, 0},
		{"A context pointer field read narrower is refused", "ldxw %r4, [%r2+8]\nexit", api.ErrBadContextAccess, 0},
		{"A context pointer field may not be written", "stxdw [%r2+8], %r3\nexit", api.ErrBadContextAccess, 0},
		{"An atomic operation on the context faults", "mov %r4, 1\nlock add [%r2+0], %r4\nexit", api.ErrBadContextAccess, 1},
		{"A helper's object is reachable through r0",
			"call 1\nstdw [%r0+0], 5\nldxdw %r0, [%r0+0]\nexit", nil, 0},
		{"A helper's object is only its own bytes",
			"call 1\nldxb %r0, [%r0+8]\nexit", api.ErrOutOfBounds, 1},
		{"Argument registers are scalars after a helper call",
			"call 5\nldxb %r0, [%r1+0]\nexit", api.ErrOutOfBounds, 1},
		{"A moved region kills the pointers into its old place",
			"mov %r6, %r1\ncall 2\nldxb %r0, [%r6+0]\nexit", api.ErrOutOfBounds, 2},
		{"A pointer loaded from the context after a move points to the new place",
			"mov %r7, %r2\ncall 2\nldxdw %r4, [%r7+8]\nldxb %r0, [%r4+31]\nldxb %r0, [%r4+32]\nexit", api.ErrOutOfBounds, 4},
		{"A killed object faults", "call 1\nmov %r6, %r0\nmov %r1, %r6\ncall 4\nldxb %r0, [%r6+0]\nexit", api.ErrOutOfBounds, 4},
		{"A callback receives the pointer its helper passes",
			"mov %r3, %r1\nlddw %r1, code +4\nmov %r2, 2\ncall 3\nexit\nldxb %r0, [%r2+63]\nexit", nil, 0},
		{"A callback's laundered pointer faults",
			"stxdw [%r1+0], %r1\nldxdw %r3, [%r1+0]\nlddw %r1, code +4\nmov %r2, 2\ncall 3\nexit\nldxb %r0, [%r2+0]\nexit", api.ErrOutOfBounds, 5},
		{"A subprogram's stack pointer dies with its frame",
			"call local sub\nldxb %r0, [%r0+0]\nexit\nsub:\nstb [%r10-8], 1\nmov %r0, %r10\nadd %r0, -8\nexit", api.ErrOutOfBounds, 1},
		{"A callee may use its caller's stack through a pointer",
			"stb [%r10-8], 9\nmov %r1, %r10\nadd %r1, -8\ncall local sub\nexit\nsub:\nldxb %r0, [%r1+0]\nexit", nil, 0},
		{"A helper's return tag that is not the run's makes a scalar",
			"call 7\nldxb %r0, [%r0+0]\nexit", api.ErrOutOfBounds, 1},
		{"A callee's frame pointer does not reach its caller's frame",
			"call local sub\nexit\nsub:\nstb [%r10+8], 1\nexit", api.ErrOutOfBounds, 2},
		{"A misaligned atomic faults", "mov %r4, 1\nlock add [%r1+2], %r4\nexit", api.ErrMisaligned, 1},
		{"Too many objects end the run",
			"mov %r6, 0\nloop:\ncall 6\nadd %r6, 1\njlt %r6, 1100000, loop\nexit", api.ErrTooManyObjects, 1},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			if mode == interp.Fast && tt.reason != nil {
				continue // fast mode has no checks to test
			}
			p := compile(t, tt.src, mode, pe.helpers())
			_, err := p.Run(pe.env(t))
			if tt.reason == nil {
				if err != nil {
					t.Errorf("%s (%v): %v", tt.desc, mode, err)
				}
				continue
			}
			var f *api.Fault
			if !errors.Is(err, tt.reason) || !errors.As(err, &f) || f.PC != tt.pc && tt.reason != api.ErrTooManyObjects {
				t.Errorf("%s: got %v, want %v at pc %d", tt.desc, err, tt.reason, tt.pc)
			}
		}
	}
}

// TestBudgetSharedWithCallbacks checks that callbacks draw on the run's
// one instruction budget: a helper calling a callback over and over ends
// at the budget, not after a budget per call.
func TestBudgetSharedWithCallbacks(t *testing.T) {
	pe := newProvenanceEnv(t)
	const budget = 10000
	src := "lddw %r1, code +5\nlddw %r2, 1000000\ncall 3\nexit\nmov %r0, 0\nmov %r0, 0\nmov %r0, 0\nexit"
	p, err := interp.Compile(mustAsm(t, src), interp.Config{Helpers: pe.helpers(), InstructionBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	env := pe.env(t)
	if _, err := p.Run(env); !errors.Is(err, api.ErrBudgetExceeded) {
		t.Fatalf("got %v, want ErrBudgetExceeded", err)
	}
	if env.Executed > budget+8 {
		t.Errorf("executed %d instructions, budget %d", env.Executed, budget)
	}
}

// TestStackClearedBetweenRuns checks that a run does not see what an
// earlier run on the same machine left on the stack, in any frame.
func TestStackClearedBetweenRuns(t *testing.T) {
	mc, err := interp.NewMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	write := compile(t, "lddw %r1, 0x5ec2e75ec2e7\nstxdw [%r10-8], %r1\nstxdw [%r10-512], %r1\ncall local sub\nexit\nsub:\nstxdw [%r10-8], %r10\nexit", interp.Checked, nil)
	read := compile(t, "ldxdw %r0, [%r10-8]\nldxdw %r1, [%r10-512]\nor %r0, %r1\ncall local sub\nor %r0, %r1\nexit\nsub:\nldxdw %r1, [%r10-8]\nexit", interp.Checked, nil)
	if _, err := write.RunOn(mc, &api.Env{}); err != nil {
		t.Fatal(err)
	}
	if got, err := read.RunOn(mc, &api.Env{}); err != nil || got != 0 {
		t.Fatalf("second run read %#x, %v; want 0", got, err)
	}
}
