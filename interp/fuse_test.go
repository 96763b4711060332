package interp

import (
	"bytes"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/isa"
)

// compileFused compiles insns with superinstructions on or off.
func compileFused(insns []isa.Instruction, on bool) (*Program, error) {
	saved := fusion
	fusion = on
	defer func() { fusion = saved }()
	return Compile(insns, Config{InstructionBudget: 1 << 14})
}

// usesFramePointerValue reports whether r10 is used other than as a base
// address, which makes results depend on where the stack is.
func usesFramePointerValue(insns []isa.Instruction) bool {
	for _, ins := range insns {
		c := ins.OpCode.Class()
		if ins.Src == isa.R10 && c != isa.ClassLDX && ins.OpCode != isa.OpLDDW && ins.OpCode != isa.OpCall ||
			ins.Dst == isa.R10 && (c.IsALU() || c.IsJump()) ||
			ins.OpCode == isa.OpLDDW && ins.Src == isa.PseudoFunc {
			return true
		}
	}
	return false
}

// FuzzFusion checks that superinstructions change nothing a program can
// observe: r0, memory, the fault and the executed count.
func FuzzFusion(f *testing.F) {
	seed := func(words ...uint64) []byte {
		var b []byte
		for _, w := range words {
			for i := 0; i < 8; i++ {
				b = append(b, byte(w>>(8*i)))
			}
		}
		return b
	}
	f.Add(seed(0x00000005000001b7, 0x00000000000012bf, 0x0000000d00000267, 0x0000002000000267, 0x0000002000000277, 0x0000000000000095), []byte{1, 2, 3, 4})
	f.Add(seed(0x00000020000001b7, 0x0000002000000167, 0x0000002000000177, 0x00000000000010bf, 0xfffffffc00000017, 0x0000000000000095), []byte{})
	f.Fuzz(func(t *testing.T, code, mem []byte) {
		insns, err := isa.Decode(code)
		if err != nil || usesFramePointerValue(insns) {
			return
		}
		buf, err := platform.Alloc(max(len(mem), 1))
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Free()
		run := func(p *Program) (uint64, []byte, uint64, error) {
			copy(buf.Bytes(), mem)
			env := &api.Env{Args: [5]uint64{uint64(buf.Addr()), uint64(len(mem))},
				Regions: []api.Region{{Addr: uint64(buf.Addr()), Size: uint64(len(mem)), Writable: true, Name: "mem"}}}
			r0, err := p.Run(env)
			return r0, bytes.Clone(buf.Bytes()[:len(mem)]), env.Executed, err
		}
		plain, err := compileFused(insns, false)
		if err != nil {
			return // unknown helpers and the like
		}
		fused, err := compileFused(insns, true)
		if err != nil {
			t.Fatalf("compiles without fusion, not with: %v", err)
		}
		r1, m1, n1, e1 := run(plain)
		r2, m2, n2, e2 := run(fused)
		if r1 != r2 || !bytes.Equal(m1, m2) || (e1 == nil) != (e2 == nil) || n1 != n2 {
			t.Fatalf("fused run differs: r0 %#x/%#x, err %v/%v, executed %d/%d", r1, r2, e1, e2, n1, n2)
		}
		if f1, ok := e1.(*api.Fault); ok {
			f2, _ := e2.(*api.Fault)
			if f2 == nil || f1.Reason != f2.Reason || f1.PC != f2.PC {
				t.Fatalf("fused run faults differently:\n%v\n%v", e1, e2)
			}
		}
	})
}

func TestFusionApplies(t *testing.T) {
	// mov r1, 5; mov r2, r1; lsh r2, 13; lsh r2, 32; rsh r2, 32; mov r0, r2; exit
	insns := []isa.Instruction{
		{OpCode: 0xb7, Dst: 1, Constant: 5},
		{OpCode: 0xbf, Dst: 2, Src: 1},
		{OpCode: 0x67, Dst: 2, Constant: 13},
		{OpCode: 0x67, Dst: 2, Constant: 32},
		{OpCode: 0x77, Dst: 2, Constant: 32},
		{OpCode: 0xbf, Dst: 0, Src: 2},
		{OpCode: isa.OpExit},
	}
	p, err := compileFused(insns, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.code[1].op != opMovLshImm || p.code[3].op != opZext {
		t.Fatalf("not fused: ops %#x %#x", p.code[1].op, p.code[3].op)
	}
	env := &api.Env{}
	if r0, err := p.Run(env); err != nil || r0 != 5<<13 || env.Executed != 7 {
		t.Fatalf("got %#x, %v, executed %d", r0, err, env.Executed)
	}
}
