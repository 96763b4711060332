// Package isa defines the eBPF instruction set of RFC 9669 at cpu version v4:
// instruction encoding and decoding, field types, and the structural checks
// that every consumer (assembler, interpreter, verifier, loader) relies on.
//
// An instruction is 8 bytes in host byte order (little endian on every
// platform xebpf supports):
//
//	msb                                                        lsb
//	+------------------------+----------------+----+----+--------+
//	|immediate               |offset          |src |dst |opcode  |
//	+------------------------+----------------+----+----+--------+
//	 32 bits                  16 bits          4    4    8 bits
//
// The 64-bit immediate load (lddw) takes two such slots; the second holds
// the upper 32 bits of the constant in its immediate field and must have all
// other fields zero.
//
// The package imports nothing from the rest of xebpf.
package isa

// Class is the low three bits of an opcode.
//
//	+----------------+--------+
//	|  op / mode     | class  |
//	+----------------+--------+
//	 5 bits           3 bits
type Class uint8

// Instruction classes.
const (
	ClassLD    Class = 0x00
	ClassLDX   Class = 0x01
	ClassST    Class = 0x02
	ClassSTX   Class = 0x03
	ClassALU   Class = 0x04
	ClassJMP   Class = 0x05
	ClassJMP32 Class = 0x06
	ClassALU64 Class = 0x07
)

// IsALU reports whether c is ALU or ALU64.
func (c Class) IsALU() bool { return c == ClassALU || c == ClassALU64 }

// IsJump reports whether c is JMP or JMP32.
func (c Class) IsJump() bool { return c == ClassJMP || c == ClassJMP32 }

// IsLoadStore reports whether c is LD, LDX, ST or STX.
func (c Class) IsLoadStore() bool { return c <= ClassSTX }

func (c Class) String() string {
	return [...]string{"ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"}[c&7]
}

// Source is bit 3 of arithmetic and jump opcodes: immediate or register operand.
type Source uint8

// Operand sources.
const (
	SourceImm Source = 0x00 // BPF_K
	SourceReg Source = 0x08 // BPF_X
)

// ALUOp is the upper four bits of an arithmetic opcode.
//
//	+--------+----+--------+
//	| op     |src | class  |
//	+--------+----+--------+
//	 4 bits   1    3 bits
type ALUOp uint8

// Arithmetic operations.
const (
	Add  ALUOp = 0x00
	Sub  ALUOp = 0x10
	Mul  ALUOp = 0x20
	Div  ALUOp = 0x30 // sdiv when Offset == 1
	Or   ALUOp = 0x40
	And  ALUOp = 0x50
	LSh  ALUOp = 0x60
	RSh  ALUOp = 0x70
	Neg  ALUOp = 0x80
	Mod  ALUOp = 0x90 // smod when Offset == 1
	Xor  ALUOp = 0xa0
	Mov  ALUOp = 0xb0 // movsx when Offset is 8, 16 or 32
	ArSh ALUOp = 0xc0
	End  ALUOp = 0xd0 // byte swaps
)

var aluNames = [16]string{"add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov", "arsh", "end", "", ""}

func (op ALUOp) String() string {
	if s := aluNames[op>>4]; s != "" {
		return s
	}
	return "invalid-alu-op"
}

// JumpOp is the upper four bits of a jump opcode.
type JumpOp uint8

// Jump operations.
const (
	JA   JumpOp = 0x00
	JEq  JumpOp = 0x10
	JGT  JumpOp = 0x20
	JGE  JumpOp = 0x30
	JSet JumpOp = 0x40
	JNE  JumpOp = 0x50
	JSGT JumpOp = 0x60
	JSGE JumpOp = 0x70
	Call JumpOp = 0x80
	Exit JumpOp = 0x90
	JLT  JumpOp = 0xa0
	JLE  JumpOp = 0xb0
	JSLT JumpOp = 0xc0
	JSLE JumpOp = 0xd0
)

var jumpNames = [16]string{"ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt", "jle", "jslt", "jsle", "", ""}

func (op JumpOp) String() string {
	if s := jumpNames[op>>4]; s != "" {
		return s
	}
	return "invalid-jump-op"
}

// IsConditional reports whether op compares two operands.
func (op JumpOp) IsConditional() bool {
	return op != JA && op != Call && op != Exit && jumpNames[op>>4] != ""
}

// Mode is bits 5-7 of a load or store opcode.
//
//	+--------+--------+--------+
//	| mode   | size   | class  |
//	+--------+--------+--------+
//	 3 bits   2 bits   3 bits
type Mode uint8

// Load and store modes.
const (
	ModeImm    Mode = 0x00 // 64-bit immediate (lddw)
	ModeAbs    Mode = 0x20 // legacy packet load, absolute offset
	ModeInd    Mode = 0x40 // legacy packet load, register + offset
	ModeMem    Mode = 0x60 // regular load and store
	ModeMemSX  Mode = 0x80 // sign-extending load
	ModeAtomic Mode = 0xc0 // atomic read-modify-write
)

// Size is bits 3-4 of a load or store opcode.
type Size uint8

// Access sizes.
const (
	SizeW  Size = 0x00 // 4 bytes
	SizeH  Size = 0x08 // 2 bytes
	SizeB  Size = 0x10 // 1 byte
	SizeDW Size = 0x18 // 8 bytes
)

// Bytes is the number of bytes the size accesses.
func (s Size) Bytes() int {
	return [...]int{4, 2, 1, 8}[(s>>3)&3]
}

func (s Size) String() string { return [...]string{"w", "h", "b", "dw"}[(s>>3)&3] }

// OpCode is the first byte of an instruction.
type OpCode uint8

// Class returns the instruction class.
func (op OpCode) Class() Class { return Class(op & 0x07) }

// Source returns the operand source of an arithmetic or jump opcode.
func (op OpCode) Source() Source { return Source(op & 0x08) }

// ALUOp returns the operation of an arithmetic opcode.
func (op OpCode) ALUOp() ALUOp { return ALUOp(op & 0xf0) }

// JumpOp returns the operation of a jump opcode.
func (op OpCode) JumpOp() JumpOp { return JumpOp(op & 0xf0) }

// Mode returns the mode of a load or store opcode.
func (op OpCode) Mode() Mode { return Mode(op & 0xe0) }

// Size returns the access size of a load or store opcode.
func (op OpCode) Size() Size { return Size(op & 0x18) }

// Frequently used whole opcodes.
const (
	OpLDDW  OpCode = OpCode(ClassLD) | OpCode(ModeImm) | OpCode(SizeDW)  // 0x18
	OpCall  OpCode = OpCode(ClassJMP) | OpCode(Call)                     // 0x85
	OpCallX OpCode = OpCode(ClassJMP) | OpCode(Call) | OpCode(SourceReg) // 0x8d
	OpExit  OpCode = OpCode(ClassJMP) | OpCode(Exit)                     // 0x95
	OpJA    OpCode = OpCode(ClassJMP) | OpCode(JA)                       // 0x05
	OpJA32  OpCode = OpCode(ClassJMP32) | OpCode(JA)                     // 0x06, gotol
)

// Register is an eBPF register number, R0 to R10.
type Register uint8

// Registers. R10 is the read-only frame pointer.
const (
	R0 Register = iota
	R1
	R2
	R3
	R4
	R5
	R6
	R7
	R8
	R9
	R10
	// RFP is the frame pointer, an alias of R10.
	RFP = R10
)

// MaxRegister is the highest valid register number.
const MaxRegister = R10

func (r Register) String() string {
	if r > MaxRegister {
		return "r?" + itoa(int(r))
	}
	return "r" + itoa(int(r))
}

// Pseudo source values of the lddw instruction (RFC 9669 section 5.4).
const (
	PseudoImm64         = 0 // dst = imm64
	PseudoMapFD         = 1 // dst = map_by_fd(imm)
	PseudoMapValue      = 2 // dst = map_val(map_by_fd(imm)) + next_imm
	PseudoVariable      = 3 // dst = var_addr(imm)
	PseudoFunc          = 4 // dst = code_addr(imm)
	PseudoMapIndex      = 5 // dst = map_by_idx(imm)
	PseudoMapIndexValue = 6 // dst = map_val(map_by_idx(imm)) + next_imm
)

// Source values of the call instruction.
const (
	CallHelper = 0 // call helper function by static id
	CallLocal  = 1 // call program-local function, imm is a relative offset
	CallBTF    = 2 // call helper function by BTF id
)

// Atomic operations, in the immediate of a BPF_ATOMIC instruction.
const (
	AtomicAdd     = int32(Add)
	AtomicOr      = int32(Or)
	AtomicAnd     = int32(And)
	AtomicXor     = int32(Xor)
	AtomicFetch   = 0x01
	AtomicXchg    = 0xe0 | AtomicFetch
	AtomicCmpXchg = 0xf0 | AtomicFetch
)

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	u := uint64(i)
	if neg {
		u = uint64(-i)
	}
	var b [24]byte
	n := len(b)
	for u > 0 {
		n--
		b[n] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
