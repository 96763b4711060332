package interp_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
)

// FuzzInterpreter runs arbitrary bytecode in checked mode: it must end with
// a result or a *Fault, never a crash. Programs that finish cleanly are run
// again in fast mode, which must agree on r0 and on the memory they wrote.
func FuzzInterpreter(f *testing.F) {
	for _, bp := range benchPrograms {
		f.Add(isa.Encode(nil, mustAsm(f, bp.src)), []byte("0123456789abcdef"))
	}
	f.Add(isa.Encode(nil, mustAsm(f, "lddw %r2, code +4\ncall %r2\nadd %r0, 1\nexit\nmov %r0, 41\nexit")), []byte{})
	f.Add(isa.Encode(nil, mustAsm(f, "mov %r2, 16\nlock fetch add [%r1+8], %r2\nldxdw %r0, [%r1+8]\nexit")), make([]byte, 16))
	helpers := map[int32]api.Helper{
		1: func(c *api.HelperCall) (uint64, error) {
			b, err := c.Memory(c.Args[0], c.Args[1]&0xff, true)
			for i := range b {
				b[i] ^= 42
			}
			return uint64(len(b)), err
		},
		5: func(c *api.HelperCall) (uint64, error) {
			if c.Args[0] == 0 {
				c.Stop()
			}
			return c.Args[0], nil
		},
	}
	f.Fuzz(func(t *testing.T, code, mem []byte) {
		insns, err := isa.Decode(code)
		if err != nil {
			return
		}
		cfg := interp.Config{Helpers: helpers, InstructionBudget: 1 << 14}
		p, err := interp.Compile(insns, cfg)
		if err != nil {
			return
		}
		defer p.Close()
		buf, err := platform.Alloc(max(len(mem), 1))
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Free()
		r0, after, err := runOn(p, buf, mem)
		if err != nil {
			var fault *api.Fault
			if !errors.As(err, &fault) {
				t.Fatalf("error is not a *Fault: %v", err)
			}
			return
		}
		if leaksAddresses(insns) {
			return // r0 or memory may hold a stack or code address, which differ between programs
		}
		cfg.Mode, cfg.UnsafeTrustProgram = interp.Fast, true
		fp, err := interp.Compile(insns, cfg)
		if err != nil {
			t.Fatalf("fast compile: %v", err)
		}
		defer fp.Close()
		fr0, fafter, err := runOn(fp, buf, mem)
		if err != nil || fr0 != r0 || !bytes.Equal(after, fafter) {
			t.Fatalf("fast mode disagrees: r0 %#x vs checked %#x, err %v, memory equal %v", fr0, r0, err, bytes.Equal(after, fafter))
		}
	})
}

// runOn copies mem into buf and runs p with r1 = its address, r2 = its
// length, and returns r0 and the memory afterwards.
func runOn(p *interp.Program, buf *platform.Memory, mem []byte) (uint64, []byte, error) {
	env := &api.Env{}
	if len(mem) > 0 {
		copy(buf.Bytes(), mem)
		env.Args[0], env.Args[1] = uint64(buf.Addr()), uint64(len(mem))
		env.Regions = []api.Region{{Addr: uint64(buf.Addr()), Size: uint64(len(mem)), Writable: true, Name: "mem"}}
		env.Packet = env.Regions[0]
	}
	r0, err := p.Run(env)
	return r0, bytes.Clone(buf.Bytes()[:len(mem)]), err
}

// leaksAddresses reports whether a program may observe a stack or code
// address as a value (r10 used other than as a load/store base, or lddw of a
// code address).
func leaksAddresses(insns []isa.Instruction) bool {
	for _, ins := range insns {
		c := ins.OpCode.Class()
		if ins.Src == isa.R10 && c != isa.ClassLDX && ins.OpCode != isa.OpLDDW && ins.OpCode != isa.OpCall {
			return true
		}
		if ins.Dst == isa.R10 && c != isa.ClassST && c != isa.ClassSTX && c != isa.ClassLDX {
			return true
		}
		if ins.Dst == isa.R10 && ins.OpCode == isa.OpCallX {
			return true
		}
		if ins.OpCode == isa.OpLDDW && ins.Src == isa.PseudoFunc {
			return true
		}
	}
	return false
}
