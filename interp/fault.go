package interp

import (
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/isa"
)

// Faults are api.Faults with one of api's reasons (api.ErrOutOfBounds,
// ...), so that helpers raise the same faults as the interpreter; a
// fault names its Program.
var _ api.Program = (*Program)(nil)

// InsnAt returns the instruction at slot pc, the zero Instruction for the
// second slot of an lddw or a slot outside the program.
func (p *Program) InsnAt(pc int) isa.Instruction {
	if pc >= 0 && pc < len(p.slotInsn) && p.slotInsn[pc] >= 0 {
		return p.insns[p.slotInsn[pc]]
	}
	return isa.Instruction{}
}

func (p *Program) fault(r *api.Reason, pc int) *api.Fault {
	return &api.Fault{Reason: r, PC: pc, Insn: p.InsnAt(pc), Program: p}
}
