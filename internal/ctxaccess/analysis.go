package ctxaccess

import (
	"fmt"

	"github.com/xebpf/xebpf/isa"
)

// A value's abstract kind.
const (
	kindScalar   uint8 = iota // anything that is not the context or the frame pointer
	kindCtx                   // context + off
	kindFP                    // frame pointer of the current frame + off
	kindCtxMixed              // the context on some paths, something else on others
)

type value struct {
	kind uint8
	off  int32
}

func joinValue(a, b value) value {
	if a == b {
		return a
	}
	if a.kind == kindCtx || b.kind == kindCtx || a.kind == kindCtxMixed || b.kind == kindCtxMixed {
		return value{kind: kindCtxMixed}
	}
	return value{kind: kindScalar}
}

// state is the abstract state before an instruction.
type state struct {
	regs  [11]value
	stack map[int32]value // 8-byte slots of the current frame holding ctx, fp or mixed values
}

func (s *state) clone() *state {
	c := &state{regs: s.regs}
	if len(s.stack) > 0 {
		c.stack = make(map[int32]value, len(s.stack))
		for k, v := range s.stack {
			c.stack[k] = v
		}
	}
	return c
}

// join merges o into s and reports whether s changed.
func (s *state) join(o *state) bool {
	changed := false
	for i := range s.regs {
		if v := joinValue(s.regs[i], o.regs[i]); v != s.regs[i] {
			s.regs[i] = v
			changed = true
		}
	}
	for k, v := range s.stack {
		w, ok := o.stack[k]
		if !ok {
			w = value{kind: kindScalar}
		}
		if j := joinValue(v, w); j != v {
			changed = true
			if j.kind == kindScalar {
				delete(s.stack, k)
			} else {
				s.stack[k] = j
			}
		}
	}
	for k, w := range o.stack {
		if _, ok := s.stack[k]; ok {
			continue
		}
		if j := joinValue(value{kind: kindScalar}, w); j.kind != kindScalar {
			if s.stack == nil {
				s.stack = map[int32]value{}
			}
			s.stack[k] = j
			changed = true
		}
	}
	return changed
}

type analysis struct {
	insns  []isa.Instruction
	pcs    []int       // slot of each instruction
	index  map[int]int // slot -> instruction index
	before []*state
}

// maxStateChanges bounds the fixpoint iteration; the lattice is finite, so
// it is only a guard against pathological programs.
const maxStateChanges = 1 << 22

func analyze(insns []isa.Instruction) (*analysis, error) {
	a := &analysis{insns: insns, pcs: make([]int, len(insns)), index: make(map[int]int, len(insns)), before: make([]*state, len(insns))}
	pc := 0
	for i, ins := range insns {
		a.pcs[i] = pc
		a.index[pc] = i
		pc += ins.Slots()
	}
	entry := &state{}
	entry.regs[1] = value{kind: kindCtx}
	entry.regs[10] = value{kind: kindFP}
	var work []int
	a.before[0] = entry
	work = append(work, 0)
	// Callbacks referenced by lddw src 4 start with no context.
	for i, ins := range insns {
		if ins.OpCode == isa.OpLDDW && ins.Src == isa.PseudoFunc {
			t, _ := ins.JumpTarget(a.pcs[i])
			cb := &state{}
			cb.regs[10] = value{kind: kindFP}
			if a.merge(a.index[t], cb) {
				work = append(work, a.index[t])
			}
		}
	}
	changes := 0
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if changes++; changes > maxStateChanges {
			return nil, fmt.Errorf("context analysis did not converge")
		}
		for _, succ := range a.step(i) {
			if a.merge(succ.idx, succ.st) {
				work = append(work, succ.idx)
			}
		}
	}
	return a, nil
}

// merge joins st into the state before instruction i.
func (a *analysis) merge(i int, st *state) bool {
	if a.before[i] == nil {
		a.before[i] = st.clone()
		return true
	}
	return a.before[i].join(st)
}

type successor struct {
	idx int
	st  *state
}

func (a *analysis) target(i int) (int, bool) {
	t, ok := a.insns[i].JumpTarget(a.pcs[i])
	if !ok {
		return 0, false
	}
	j, ok := a.index[t]
	return j, ok
}

// step applies instruction i to its state and returns its successors.
func (a *analysis) step(i int) []successor {
	ins := a.insns[i]
	in := a.before[i]
	s := in.clone()
	next := i + 1
	scalar := value{kind: kindScalar}
	op := ins.OpCode
	switch c := op.Class(); {
	case c.IsALU() && op.ALUOp() == isa.Mov && (op.Source() == isa.SourceImm || s.regs[ins.Src].kind == kindScalar):
		// A constant, or a scalar's bits, replace the register's value.
		s.regs[ins.Dst] = scalar
	case c == isa.ClassALU64:
		d := &s.regs[ins.Dst]
		switch {
		case op.ALUOp() == isa.Mov && op.Source() == isa.SourceReg && ins.Offset == 0:
			*d = s.regs[ins.Src]
		case op.ALUOp() == isa.Add && op.Source() == isa.SourceImm && (d.kind == kindCtx || d.kind == kindFP):
			d.off += int32(ins.Constant)
		case op.ALUOp() == isa.Sub && op.Source() == isa.SourceImm && (d.kind == kindCtx || d.kind == kindFP):
			d.off -= int32(ins.Constant)
		case d.kind == kindCtx || d.kind == kindCtxMixed:
			*d = value{kind: kindCtxMixed}
		default:
			*d = scalar
		}
	case c == isa.ClassALU:
		if d := &s.regs[ins.Dst]; d.kind == kindCtx || d.kind == kindCtxMixed {
			*d = value{kind: kindCtxMixed}
		} else {
			*d = scalar
		}
	case c == isa.ClassLD:
		if op == isa.OpLDDW {
			s.regs[ins.Dst] = scalar
		} else { // legacy packet loads clobber r0-r5
			for r := 0; r <= 5; r++ {
				s.regs[r] = scalar
			}
		}
	case c == isa.ClassLDX:
		v := scalar
		if b := s.regs[ins.Src]; b.kind == kindFP && op.Size() == isa.SizeDW && op.Mode() == isa.ModeMem {
			if w, ok := s.stack[b.off+int32(ins.Offset)]; ok {
				v = w
			}
		}
		s.regs[ins.Dst] = v
	case c == isa.ClassST || c == isa.ClassSTX:
		if b := s.regs[ins.Dst]; b.kind == kindFP {
			slot := b.off + int32(ins.Offset)
			size := int32(op.Size().Bytes())
			for k := range s.stack { // drop every slot the store overlaps
				if k < slot+size && slot < k+8 {
					delete(s.stack, k)
				}
			}
			if c == isa.ClassSTX && op.Mode() == isa.ModeMem && size == 8 {
				if v := s.regs[ins.Src]; v.kind != kindScalar {
					if s.stack == nil {
						s.stack = map[int32]value{}
					}
					s.stack[slot] = v
				}
			}
		}
		if op.Mode() == isa.ModeAtomic {
			imm := int32(ins.Constant)
			if imm&isa.AtomicFetch != 0 {
				s.regs[ins.Src] = scalar
			}
			if imm == isa.AtomicCmpXchg {
				s.regs[0] = scalar
			}
		}
	case op == isa.OpExit:
		return nil
	case op == isa.OpCall && ins.Src == isa.CallLocal, op == isa.OpCallX:
		var out []successor
		if op == isa.OpCall {
			if t, ok := a.target(i); ok {
				callee := &state{}
				copy(callee.regs[1:6], s.regs[1:6])
				callee.regs[10] = value{kind: kindFP}
				out = append(out, successor{t, callee})
			}
		}
		for r := 0; r <= 5; r++ {
			s.regs[r] = scalar
		}
		if next < len(a.insns) {
			out = append(out, successor{next, s})
		}
		return out
	case op == isa.OpCall:
		for r := 0; r <= 5; r++ {
			s.regs[r] = scalar
		}
	case op == isa.OpJA || op == isa.OpJA32:
		t, _ := a.target(i)
		return []successor{{t, s}}
	case c.IsJump(): // conditional
		t, _ := a.target(i)
		out := []successor{{t, s}}
		if next < len(a.insns) {
			out = append(out, successor{next, s})
		}
		return out
	}
	if next >= len(a.insns) {
		return nil
	}
	return []successor{{next, s}}
}
