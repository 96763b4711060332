package isa

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// InstructionSize is the size of one instruction slot in bytes.
const InstructionSize = 8

// MaxInstructions bounds the number of slots in one program, equal to
// Linux's BPF_COMPLEXITY_LIMIT_INSNS.
const MaxInstructions = 1 << 20

// Instruction is one decoded instruction. The 16-byte lddw is a single
// Instruction whose Constant holds all 64 bits; every other instruction keeps
// its sign-extended 32-bit immediate in Constant.
type Instruction struct {
	OpCode   OpCode
	Dst      Register
	Src      Register
	Offset   int16
	Constant int64
}

// Imm returns the 32-bit immediate field (the low half of an lddw constant).
func (ins Instruction) Imm() int32 { return int32(ins.Constant) }

// IsLDDW reports whether the instruction is the two-slot 64-bit immediate load.
func (ins Instruction) IsLDDW() bool { return ins.OpCode == OpLDDW }

// Slots is the number of 8-byte slots the instruction occupies.
func (ins Instruction) Slots() int {
	if ins.IsLDDW() {
		return 2
	}
	return 1
}

// Reason is why an instruction or program is malformed. Reasons are
// comparable, so callers can branch with errors.Is.
type Reason struct{ msg string }

func (r *Reason) Error() string { return r.msg }

// Reasons for rejecting bytecode.
var (
	ErrUnknownOpcode     = &Reason{"unknown opcode"}
	ErrReservedField     = &Reason{"reserved field is not zero"}
	ErrBadRegister       = &Reason{"register out of range"}
	ErrFramePointerWrite = &Reason{"write to read-only frame pointer r10"}
	ErrTruncatedLDDW     = &Reason{"lddw is missing its second half"}
	ErrBadLDDWSecondHalf = &Reason{"second half of lddw has a non-zero opcode or reserved field"}
	ErrJumpOutOfRange    = &Reason{"jump target out of range"}
	ErrJumpIntoLDDW      = &Reason{"jump target is the second half of an lddw"}
	ErrBadCallTarget     = &Reason{"call to a non-existent local function"}
	ErrOddLength         = &Reason{"bytecode length is not a multiple of 8"}
	ErrEmptyProgram      = &Reason{"program has no instructions"}
	ErrTooLarge          = &Reason{"program exceeds the instruction limit"}
)

// Error reports malformed bytecode at a slot index (the pc of the
// instruction), with the instruction's raw text when it was decoded.
type Error struct {
	PC     int     // slot index
	Raw    [8]byte // the slot's bytes
	Reason *Reason
	Detail string // extra context, may be empty
}

func (e *Error) Error() string {
	s := fmt.Sprintf("insn %d (%02x %02x %02x%02x %02x%02x%02x%02x): %s", e.PC,
		e.Raw[0], e.Raw[1], e.Raw[2], e.Raw[3], e.Raw[4], e.Raw[5], e.Raw[6], e.Raw[7], e.Reason.msg)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the reason, so errors.Is(err, isa.ErrUnknownOpcode) works.
func (e *Error) Unwrap() error { return e.Reason }

// DecodeSlot splits one 8-byte slot into its fields without checking it.
func DecodeSlot(b []byte) (op OpCode, dst, src Register, off int16, imm int32) {
	_ = b[7] // bounds check hint to compiler; see golang.org/issue/14808
	return OpCode(b[0]), Register(b[1] & 0x0f), Register(b[1] >> 4),
		int16(binary.LittleEndian.Uint16(b[2:])), int32(binary.LittleEndian.Uint32(b[4:]))
}

// Decode decodes and checks bytecode: every instruction must be a valid
// RFC 9669 instruction with reserved fields zero, and every jump and local
// call must land on an instruction of the program. Errors are *Error.
func Decode(code []byte) ([]Instruction, error) {
	if len(code)%InstructionSize != 0 {
		return nil, &Error{PC: len(code) / InstructionSize, Reason: ErrOddLength,
			Detail: fmt.Sprintf("%d bytes", len(code))}
	}
	n := len(code) / InstructionSize
	if n == 0 {
		return nil, &Error{Reason: ErrEmptyProgram}
	}
	if n > MaxInstructions {
		return nil, &Error{Reason: ErrTooLarge, Detail: fmt.Sprintf("%d slots", n)}
	}
	insns := make([]Instruction, 0, n)
	for pc := 0; pc < n; pc++ {
		slot := code[pc*InstructionSize:]
		op, dst, src, off, imm := DecodeSlot(slot)
		ins := Instruction{OpCode: op, Dst: dst, Src: src, Offset: off, Constant: int64(imm)}
		if op == OpLDDW {
			if pc+1 >= n {
				return nil, slotError(code, pc, ErrTruncatedLDDW, "")
			}
			op2, dst2, src2, off2, imm2 := DecodeSlot(code[(pc+1)*InstructionSize:])
			if op2 != 0 || dst2 != 0 || src2 != 0 || off2 != 0 {
				return nil, slotError(code, pc+1, ErrBadLDDWSecondHalf, "")
			}
			ins.Constant = int64(uint64(uint32(imm)) | uint64(uint32(imm2))<<32)
		}
		if err := ins.Validate(); err != nil {
			var r *Reason
			detail := ""
			if errors.As(err, &r) {
				if de, ok := err.(*detailError); ok {
					detail = de.detail
				}
			}
			return nil, slotError(code, pc, r, detail)
		}
		insns = append(insns, ins)
		pc += ins.Slots() - 1
	}
	if err := CheckProgram(insns); err != nil {
		return nil, err
	}
	return insns, nil
}

func slotError(code []byte, pc int, r *Reason, detail string) *Error {
	e := &Error{PC: pc, Reason: r, Detail: detail}
	if (pc+1)*InstructionSize <= len(code) {
		copy(e.Raw[:], code[pc*InstructionSize:])
	}
	return e
}

// Encode appends the bytecode of insns to b.
func Encode(b []byte, insns []Instruction) []byte {
	for _, ins := range insns {
		b = ins.AppendBinary(b)
	}
	return b
}

// AppendBinary appends the instruction's one or two slots to b.
func (ins Instruction) AppendBinary(b []byte) []byte {
	b = append(b, byte(ins.OpCode), byte(ins.Dst&0x0f)|byte(ins.Src<<4))
	b = binary.LittleEndian.AppendUint16(b, uint16(ins.Offset))
	b = binary.LittleEndian.AppendUint32(b, uint32(ins.Constant))
	if ins.IsLDDW() {
		b = append(b, 0, 0, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ins.Constant)>>32))
	}
	return b
}

type detailError struct {
	*Reason
	detail string
}

func (d *detailError) Unwrap() error { return d.Reason }

func bad(r *Reason, format string, args ...any) error {
	return &detailError{r, fmt.Sprintf(format, args...)}
}

// Validate checks one instruction on its own: a known opcode, registers in
// range, reserved fields zero, and r10 never written. It returns an error
// wrapping a *Reason.
func (ins Instruction) Validate() error {
	op := ins.OpCode
	if ins.Dst > MaxRegister {
		return bad(ErrBadRegister, "dst r%d", ins.Dst)
	}
	if ins.Src > MaxRegister {
		if !(op == OpLDDW || op == OpCall) { // src is a pseudo kind there
			return bad(ErrBadRegister, "src r%d", ins.Src)
		}
	}
	imm := ins.Constant
	if op != OpLDDW && imm != int64(int32(imm)) {
		return bad(ErrReservedField, "immediate %d does not fit in 32 bits", imm)
	}
	switch op.Class() {
	case ClassALU, ClassALU64:
		return ins.validateALU()
	case ClassJMP, ClassJMP32:
		return ins.validateJump()
	case ClassLD:
		switch op.Mode() {
		case ModeImm:
			if op.Size() != SizeDW {
				return ErrUnknownOpcode
			}
			if ins.Src > PseudoMapIndexValue {
				return bad(ErrReservedField, "lddw src %d", ins.Src)
			}
			if ins.Offset != 0 {
				return bad(ErrReservedField, "offset %d", ins.Offset)
			}
			return ins.checkDstWritable()
		case ModeAbs, ModeInd:
			if op.Size() == SizeDW {
				return ErrUnknownOpcode
			}
			if ins.Dst != 0 || ins.Offset != 0 || (op.Mode() == ModeAbs && ins.Src != 0) {
				return ErrReservedField
			}
			return nil
		}
		return ErrUnknownOpcode
	case ClassLDX:
		switch op.Mode() {
		case ModeMem:
		case ModeMemSX:
			if op.Size() == SizeDW {
				return ErrUnknownOpcode
			}
		default:
			return ErrUnknownOpcode
		}
		if imm != 0 {
			return bad(ErrReservedField, "imm %d", imm)
		}
		return ins.checkDstWritable()
	case ClassST:
		if op.Mode() != ModeMem {
			return ErrUnknownOpcode
		}
		if ins.Src != 0 {
			return bad(ErrReservedField, "src r%d", ins.Src)
		}
		return nil
	case ClassSTX:
		switch op.Mode() {
		case ModeMem:
			if imm != 0 {
				return bad(ErrReservedField, "imm %d", imm)
			}
			return nil
		case ModeAtomic:
			if op.Size() != SizeW && op.Size() != SizeDW {
				return ErrUnknownOpcode
			}
			switch int32(imm) {
			case AtomicAdd, AtomicOr, AtomicAnd, AtomicXor,
				AtomicAdd | AtomicFetch, AtomicOr | AtomicFetch, AtomicAnd | AtomicFetch, AtomicXor | AtomicFetch,
				AtomicXchg, AtomicCmpXchg:
				return nil
			}
			return bad(ErrUnknownOpcode, "atomic operation %#x", uint32(imm))
		}
		return ErrUnknownOpcode
	}
	return ErrUnknownOpcode
}

func (ins Instruction) checkDstWritable() error {
	if ins.Dst == R10 {
		return ErrFramePointerWrite
	}
	return nil
}

func (ins Instruction) validateALU() error {
	op := ins.OpCode
	alu64 := op.Class() == ClassALU64
	imm, off := ins.Constant, ins.Offset
	switch aop := op.ALUOp(); aop {
	case Add, Sub, Mul, Or, And, LSh, RSh, Xor, ArSh, Div, Mod, Mov:
		switch {
		case (aop == Div || aop == Mod) && (off == 0 || off == 1):
		case aop == Mov && op.Source() == SourceReg && alu64 && (off == 0 || off == 8 || off == 16 || off == 32):
		case aop == Mov && op.Source() == SourceReg && !alu64 && (off == 0 || off == 8 || off == 16):
		case off != 0:
			return bad(ErrReservedField, "offset %d", off)
		}
		if op.Source() == SourceReg {
			if imm != 0 {
				return bad(ErrReservedField, "imm %d", imm)
			}
		} else if ins.Src != 0 {
			return bad(ErrReservedField, "src r%d", ins.Src)
		}
	case Neg:
		if op.Source() != SourceImm {
			return ErrUnknownOpcode
		}
		if ins.Src != 0 || off != 0 || imm != 0 {
			return ErrReservedField
		}
	case End:
		if alu64 && op.Source() == SourceReg {
			return ErrUnknownOpcode
		}
		if ins.Src != 0 || off != 0 {
			return ErrReservedField
		}
		if imm != 16 && imm != 32 && imm != 64 {
			return bad(ErrReservedField, "byte swap width %d", imm)
		}
	default:
		return ErrUnknownOpcode
	}
	return ins.checkDstWritable()
}

func (ins Instruction) validateJump() error {
	op := ins.OpCode
	jmp32 := op.Class() == ClassJMP32
	imm, off := ins.Constant, ins.Offset
	switch jop := op.JumpOp(); {
	case jop == JA:
		if op.Source() != SourceImm || ins.Dst != 0 || ins.Src != 0 {
			return ErrReservedField
		}
		if jmp32 && off != 0 || !jmp32 && imm != 0 {
			return ErrReservedField
		}
	case jop == Call:
		if jmp32 {
			return ErrUnknownOpcode
		}
		if op.Source() == SourceReg { // callx
			if ins.Src != 0 || off != 0 {
				return ErrReservedField
			}
			// Linux encodes the target register in dst; older assemblers
			// (binutils, LLVM before 19) put it in imm with dst zero.
			if imm != 0 && (ins.Dst != 0 || imm < 0 || imm > int64(R9)) {
				return bad(ErrReservedField, "callx imm %d", imm)
			}
			return nil
		}
		if ins.Dst != 0 || off != 0 {
			return ErrReservedField
		}
		if ins.Src > CallBTF {
			return bad(ErrReservedField, "call src %d", ins.Src)
		}
	case jop == Exit:
		if jmp32 || op.Source() != SourceImm {
			return ErrUnknownOpcode
		}
		if ins.Dst != 0 || ins.Src != 0 || off != 0 || imm != 0 {
			return ErrReservedField
		}
	case jop.IsConditional():
		if op.Source() == SourceReg {
			if imm != 0 {
				return bad(ErrReservedField, "imm %d", imm)
			}
		} else if ins.Src != 0 {
			return bad(ErrReservedField, "src r%d", ins.Src)
		}
	default:
		return ErrUnknownOpcode
	}
	return nil
}

// JumpTarget returns the slot a jump or local call at slot pc transfers
// control to, and whether the instruction has a static target.
func (ins Instruction) JumpTarget(pc int) (int, bool) {
	op := ins.OpCode
	switch {
	case op == OpJA32:
		return pc + 1 + int(int32(ins.Constant)), true
	case op == OpCall && ins.Src == CallLocal:
		return pc + 1 + int(int32(ins.Constant)), true
	case op.Class().IsJump() && op.JumpOp() != Call && op.JumpOp() != Exit:
		return pc + 1 + int(ins.Offset), true
	case op == OpLDDW && ins.Src == PseudoFunc:
		return pc + 1 + int(int32(ins.Constant)), true
	}
	return 0, false
}

// CheckProgram checks the control flow of decoded instructions: every jump,
// local call and code address (lddw src 4) lands on the first slot of an
// instruction inside the program.
func CheckProgram(insns []Instruction) error {
	if len(insns) == 0 {
		return &Error{Reason: ErrEmptyProgram}
	}
	// starts[slot] is true where an instruction begins.
	slots := 0
	for _, ins := range insns {
		slots += ins.Slots()
	}
	if slots > MaxInstructions {
		return &Error{Reason: ErrTooLarge, Detail: fmt.Sprintf("%d slots", slots)}
	}
	starts := make([]bool, slots)
	pc := 0
	for _, ins := range insns {
		starts[pc] = true
		pc += ins.Slots()
	}
	pc = 0
	for _, ins := range insns {
		if t, ok := ins.JumpTarget(pc); ok {
			reason := ErrJumpOutOfRange
			if ins.OpCode == OpCall || ins.OpCode == OpLDDW {
				reason = ErrBadCallTarget
			}
			if t < 0 || t >= slots {
				return insnError(ins, pc, reason, fmt.Sprintf("target %d, program has %d slots", t, slots))
			}
			if !starts[t] {
				return insnError(ins, pc, ErrJumpIntoLDDW, fmt.Sprintf("target %d", t))
			}
		}
		pc += ins.Slots()
	}
	return nil
}

func insnError(ins Instruction, pc int, r *Reason, detail string) *Error {
	e := &Error{PC: pc, Reason: r, Detail: detail}
	copy(e.Raw[:], ins.AppendBinary(nil))
	return e
}
