package isa

import (
	"fmt"
	"strconv"
)

// String formats the instruction in the assembly syntax of the
// bpf_conformance suite (`add32 %r0, 1`, `ldxw %r0, [%r1+4]`), with jump
// targets as signed slot offsets (`ja +3`). The asm package parses the same
// syntax back. Invalid instructions format as `.invalid` with their fields.
func (ins Instruction) String() string {
	if ins.Validate() != nil {
		return fmt.Sprintf(".invalid op=%#02x dst=%d src=%d off=%d imm=%d",
			uint8(ins.OpCode), ins.Dst, ins.Src, ins.Offset, ins.Constant)
	}
	op := ins.OpCode
	imm := ins.Constant
	switch op.Class() {
	case ClassALU, ClassALU64:
		suffix := ""
		if op.Class() == ClassALU {
			suffix = "32"
		}
		aop := op.ALUOp()
		switch aop {
		case Neg:
			return "neg" + suffix + " " + reg(ins.Dst)
		case End:
			switch {
			case op.Class() == ClassALU64:
				return "swap" + strconv.FormatInt(imm, 10) + " " + reg(ins.Dst)
			case op.Source() == SourceReg:
				return "be" + strconv.FormatInt(imm, 10) + " " + reg(ins.Dst)
			default:
				return "le" + strconv.FormatInt(imm, 10) + " " + reg(ins.Dst)
			}
		}
		name := aop.String()
		if ins.Offset == 1 && (aop == Div || aop == Mod) {
			name = "s" + name
		}
		if aop == Mov && ins.Offset != 0 {
			dw := "32"
			if op.Class() == ClassALU64 {
				dw = "64"
			}
			return "movsx" + strconv.Itoa(int(ins.Offset)) + dw + " " + reg(ins.Dst) + ", " + reg(ins.Src)
		}
		return name + suffix + " " + reg(ins.Dst) + ", " + ins.operand()
	case ClassJMP, ClassJMP32:
		jop := op.JumpOp()
		switch {
		case op == OpJA32:
			return "ja32 " + rel(imm)
		case jop == JA:
			return "ja " + rel(int64(ins.Offset))
		case op == OpExit:
			return "exit"
		case op == OpCallX:
			if imm != 0 {
				return "callx " + reg(Register(imm))
			}
			return "call " + reg(ins.Dst)
		case op == OpCall:
			switch ins.Src {
			case CallLocal:
				return "call local " + rel(imm)
			case CallBTF:
				return "call btf " + strconv.FormatInt(imm, 10)
			}
			return "call " + strconv.FormatInt(imm, 10)
		}
		suffix := ""
		if op.Class() == ClassJMP32 {
			suffix = "32"
		}
		return jop.String() + suffix + " " + reg(ins.Dst) + ", " + ins.operand() + ", " + rel(int64(ins.Offset))
	case ClassLD:
		switch op.Mode() {
		case ModeAbs:
			return "ldabs" + op.Size().String() + " " + strconv.FormatInt(imm, 10)
		case ModeInd:
			return "ldind" + op.Size().String() + " " + reg(ins.Src) + ", " + strconv.FormatInt(imm, 10)
		}
		lo, hi := int64(int32(imm)), int64(int32(uint64(imm)>>32))
		switch ins.Src {
		case PseudoImm64:
			return "lddw " + reg(ins.Dst) + ", " + fmt.Sprintf("%#x", uint64(imm))
		case PseudoFunc:
			return "lddw " + reg(ins.Dst) + ", code " + rel(lo) + pseudoNext(hi)
		}
		return "lddw " + reg(ins.Dst) + ", " + pseudoNames[ins.Src] + " " + strconv.FormatInt(lo, 10) + pseudoNext(hi)
	case ClassLDX:
		name := "ldx"
		if op.Mode() == ModeMemSX {
			name = "ldxs"
		}
		return name + op.Size().String() + " " + reg(ins.Dst) + ", " + memRef(ins.Src, ins.Offset)
	case ClassST:
		return "st" + op.Size().String() + " " + memRef(ins.Dst, ins.Offset) + ", " + strconv.FormatInt(imm, 10)
	case ClassSTX:
		if op.Mode() == ModeAtomic {
			suffix := ""
			if op.Size() == SizeW {
				suffix = "32"
			}
			var name string
			switch int32(imm) {
			case AtomicXchg:
				name = "xchg"
			case AtomicCmpXchg:
				name = "cmpxchg"
			default:
				name = ALUOp(imm &^ AtomicFetch).String()
				if imm&AtomicFetch != 0 {
					name = "fetch " + name
				}
			}
			return "lock " + name + suffix + " " + memRef(ins.Dst, ins.Offset) + ", " + reg(ins.Src)
		}
		return "stx" + op.Size().String() + " " + memRef(ins.Dst, ins.Offset) + ", " + reg(ins.Src)
	}
	return ".invalid"
}

// PseudoNames maps lddw pseudo sources 1, 2, 3, 5 and 6 to their keyword in
// assembly text.
var pseudoNames = [...]string{
	PseudoImm64:         "imm64",
	PseudoMapFD:         "map_fd",
	PseudoMapValue:      "map_value",
	PseudoVariable:      "var",
	PseudoFunc:          "code",
	PseudoMapIndex:      "map_idx",
	PseudoMapIndexValue: "map_idx_value",
}

// PseudoSource returns the lddw source for an assembly keyword such as
// "map_fd", and whether the keyword is known.
func PseudoSource(keyword string) (Register, bool) {
	for i, n := range pseudoNames {
		if n == keyword {
			return Register(i), true
		}
	}
	return 0, false
}

func pseudoNext(hi int64) string {
	if hi == 0 {
		return ""
	}
	return ", " + strconv.FormatInt(hi, 10)
}

func (ins Instruction) operand() string {
	if ins.OpCode.Source() == SourceReg {
		return reg(ins.Src)
	}
	return strconv.FormatInt(ins.Constant, 10)
}

func reg(r Register) string { return "%r" + strconv.Itoa(int(r)) }

func rel(off int64) string {
	if off < 0 {
		return strconv.FormatInt(off, 10)
	}
	return "+" + strconv.FormatInt(off, 10)
}

func memRef(r Register, off int16) string {
	if off < 0 {
		return "[" + reg(r) + strconv.Itoa(int(off)) + "]"
	}
	return "[" + reg(r) + "+" + strconv.Itoa(int(off)) + "]"
}
