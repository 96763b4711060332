package isa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// slot encodes one 8-byte instruction slot.
func slot(op OpCode, dst, src Register, off int16, imm int32) []byte {
	b := []byte{byte(op), byte(dst) | byte(src)<<4}
	b = binary.LittleEndian.AppendUint16(b, uint16(off))
	return binary.LittleEndian.AppendUint32(b, uint32(imm))
}

// prog concatenates slots.
func prog(slots ...[]byte) []byte { return bytes.Join(slots, nil) }

// lddw encodes a 64-bit immediate load with pseudo source src.
func lddw(dst, src Register, v uint64) []byte {
	return prog(slot(OpLDDW, dst, src, 0, int32(uint32(v))), slot(0, 0, 0, 0, int32(uint32(v>>32))))
}

var exit = slot(OpExit, 0, 0, 0, 0)

func op(parts ...any) OpCode {
	var o OpCode
	for _, p := range parts {
		switch p := p.(type) {
		case Class:
			o |= OpCode(p)
		case ALUOp:
			o |= OpCode(p)
		case JumpOp:
			o |= OpCode(p)
		case Source:
			o |= OpCode(p)
		case Mode:
			o |= OpCode(p)
		case Size:
			o |= OpCode(p)
		}
	}
	return o
}

var (
	alu64K = func(a ALUOp) OpCode { return op(ClassALU64, a, SourceImm) }
	alu64X = func(a ALUOp) OpCode { return op(ClassALU64, a, SourceReg) }
	alu32K = func(a ALUOp) OpCode { return op(ClassALU, a, SourceImm) }
	alu32X = func(a ALUOp) OpCode { return op(ClassALU, a, SourceReg) }
	jmpK   = func(j JumpOp) OpCode { return op(ClassJMP, j, SourceImm) }
	jmpX   = func(j JumpOp) OpCode { return op(ClassJMP, j, SourceReg) }
	jmp32K = func(j JumpOp) OpCode { return op(ClassJMP32, j, SourceImm) }
	jmp32X = func(j JumpOp) OpCode { return op(ClassJMP32, j, SourceReg) }
	ldx    = func(m Mode, s Size) OpCode { return op(ClassLDX, m, s) }
	st     = func(s Size) OpCode { return op(ClassST, ModeMem, s) }
	stx    = func(m Mode, s Size) OpCode { return op(ClassSTX, m, s) }
	ld     = func(m Mode, s Size) OpCode { return op(ClassLD, m, s) }
)

// decodeValid lists programs Decode accepts, with their disassembly.
var decodeValid = []struct {
	name string
	code []byte
	want string // disassembly, one line per instruction
}{
	{"exit", exit, "exit"},
	{"alu64 imm", prog(slot(alu64K(Add), 1, 0, 0, 22), exit), "add %r1, 22\nexit"},
	{"alu64 reg", prog(slot(alu64X(Xor), 1, 10, 0, 0), exit), "xor %r1, %r10\nexit"},
	{"alu32 imm", prog(slot(alu32K(ArSh), 0, 0, 0, -3), exit), "arsh32 %r0, -3\nexit"},
	{"alu32 reg", prog(slot(alu32X(Mod), 0, 9, 0, 0), exit), "mod32 %r0, %r9\nexit"},
	{"sdiv smod", prog(slot(alu64K(Div), 1, 0, 1, -2), slot(alu32X(Mod), 1, 2, 1, 0), exit), "sdiv %r1, -2\nsmod32 %r1, %r2\nexit"},
	{"neg", prog(slot(alu64K(Neg), 3, 0, 0, 0), slot(alu32K(Neg), 3, 0, 0, 0), exit), "neg %r3\nneg32 %r3\nexit"},
	{"byte swaps", prog(slot(alu32K(End), 1, 0, 0, 16), slot(alu32X(End), 1, 0, 0, 32), slot(alu64K(End), 1, 0, 0, 64), exit),
		"le16 %r1\nbe32 %r1\nswap64 %r1\nexit"},
	{"movsx", prog(slot(alu64X(Mov), 1, 2, 8, 0), slot(alu64X(Mov), 1, 2, 32, 0), slot(alu32X(Mov), 1, 2, 16, 0), exit),
		"movsx864 %r1, %r2\nmovsx3264 %r1, %r2\nmovsx1632 %r1, %r2\nexit"},
	{"cond jumps", prog(slot(jmpK(JEq), 1, 0, 2, 5), slot(jmpX(JSLE), 1, 2, 1, 0), slot(jmp32K(JSet), 1, 0, 0, -1), slot(jmp32X(JLT), 1, 10, -4, 0), exit),
		"jeq %r1, 5, +2\njsle %r1, %r2, +1\njset32 %r1, -1, +0\njlt32 %r1, %r10, -4\nexit"},
	{"ja and ja32", prog(slot(OpJA, 0, 0, 1, 0), slot(OpJA32, 0, 0, 0, -2), exit), "ja +1\nja32 -2\nexit"},
	{"jump over lddw", prog(slot(OpJA, 0, 0, 2, 0), lddw(1, 0, 7), exit), "ja +2\nlddw %r1, 0x7\nexit"},
	{"calls", prog(slot(OpCall, 0, 0, 0, 5), slot(OpCall, 0, CallBTF, 0, 77), slot(OpCall, 0, CallLocal, 0, 1), exit, exit),
		"call 5\ncall btf 77\ncall local +1\nexit\nexit"},
	{"callx", prog(slot(OpCallX, 2, 0, 0, 0), slot(OpCallX, 0, 0, 0, 9), exit), "call %r2\ncallx %r9\nexit"},
	{"lddw forms", prog(lddw(0, 0, 0x1122334455667788), lddw(1, PseudoMapFD, 3), lddw(2, PseudoMapValue, 16<<32|3),
		lddw(3, PseudoVariable, 1), lddw(4, PseudoFunc, 1), lddw(5, PseudoMapIndex, 0), lddw(6, PseudoMapIndexValue, 1<<32|2), exit),
		"lddw %r0, 0x1122334455667788\nlddw %r1, map_fd 3\nlddw %r2, map_value 3, 16\nlddw %r3, var 1\nlddw %r4, code +1\nlddw %r5, map_idx 0\nlddw %r6, map_idx_value 2, 1\nexit"},
	{"legacy packet loads", prog(slot(ld(ModeAbs, SizeW), 0, 0, 0, 12), slot(ld(ModeInd, SizeB), 0, 7, 0, -1), exit),
		"ldabsw 12\nldindb %r7, -1\nexit"},
	{"loads", prog(slot(ldx(ModeMem, SizeDW), 0, 10, -8, 0), slot(ldx(ModeMemSX, SizeH), 9, 1, 2, 0), exit),
		"ldxdw %r0, [%r10-8]\nldxsh %r9, [%r1+2]\nexit"},
	{"stores", prog(slot(st(SizeB), 10, 0, -1, 255), slot(stx(ModeMem, SizeW), 1, 10, 4, 0), exit),
		"stb [%r10-1], 255\nstxw [%r1+4], %r10\nexit"},
	{"atomics", prog(slot(stx(ModeAtomic, SizeDW), 10, 1, -8, AtomicAdd), slot(stx(ModeAtomic, SizeW), 10, 1, -8, AtomicXor|AtomicFetch),
		slot(stx(ModeAtomic, SizeDW), 1, 2, 0, AtomicXchg), slot(stx(ModeAtomic, SizeW), 1, 2, 0, AtomicCmpXchg), exit),
		"lock add [%r10-8], %r1\nlock fetch xor32 [%r10-8], %r1\nlock xchg [%r1+0], %r2\nlock cmpxchg32 [%r1+0], %r2\nexit"},
}

func TestDecodeValid(t *testing.T) {
	for _, tt := range decodeValid {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := Decode(tt.code)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if insns == nil {
				t.Fatal("nil instructions without error")
			}
			lines := make([]string, len(insns))
			for i, ins := range insns {
				lines[i] = ins.String()
			}
			if got := strings.Join(lines, "\n"); got != tt.want {
				t.Errorf("disassembly\n%s\nwant\n%s", got, tt.want)
			}
			if got := Encode(nil, insns); !bytes.Equal(got, tt.code) {
				t.Errorf("Encode(Decode(x)) = % x, want % x", got, tt.code)
			}
		})
	}
}

// decodeInvalid lists programs Decode rejects, with the reason and the pc.
var decodeInvalid = []struct {
	name   string
	code   []byte
	reason *Reason
	pc     int
}{
	// Lengths.
	{"empty", nil, ErrEmptyProgram, 0},
	{"odd 7 bytes", exit[:7], ErrOddLength, 0},
	{"odd 12 bytes", prog(exit, exit[:4]), ErrOddLength, 1},
	// Unknown opcodes.
	{"0x8e jmp32 callx", prog(slot(0x8e, 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0xe5 jmp op 0xe0", prog(exit, slot(0xe5, 0, 0, 0, 0)), ErrUnknownOpcode, 1},
	{"0xf7 alu64 op 0xf0", prog(slot(0xf7, 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x00 ld imm w", prog(slot(0x00, 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x86 jmp32 call", prog(slot(0x86, 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x96 jmp32 exit", prog(slot(0x96, 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x8f neg reg", prog(slot(alu64X(Neg), 1, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0xdf alu64 end reg", prog(slot(alu64X(End), 1, 0, 0, 16), exit), ErrUnknownOpcode, 0},
	{"0x38 ldabsdw", prog(slot(ld(ModeAbs, SizeDW), 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x60 ld mem", prog(slot(ld(ModeMem, SizeW), 0, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x99 ldxsdw", prog(slot(ldx(ModeMemSX, SizeDW), 0, 1, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0xa1 ldx mode 0xa0", prog(slot(0xa1, 0, 1, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0x82 st memsx", prog(slot(op(ClassST, ModeMemSX, SizeW), 1, 0, 0, 0), exit), ErrUnknownOpcode, 0},
	{"0xd3 atomic byte", prog(slot(stx(ModeAtomic, SizeB), 1, 2, 0, AtomicAdd), exit), ErrUnknownOpcode, 0},
	{"atomic sub", prog(slot(stx(ModeAtomic, SizeDW), 1, 2, 0, int32(Sub)), exit), ErrUnknownOpcode, 0},
	{"atomic fetch xchg without fetch", prog(slot(stx(ModeAtomic, SizeDW), 1, 2, 0, 0xe0), exit), ErrUnknownOpcode, 0},
	{"stx memsx", prog(slot(stx(ModeMemSX, SizeW), 1, 2, 0, 0), exit), ErrUnknownOpcode, 0},
	// Reserved fields.
	{"alu imm with src", prog(slot(alu64K(Add), 1, 2, 0, 1), exit), ErrReservedField, 0},
	{"alu reg with imm", prog(slot(alu64X(Add), 1, 2, 0, 1), exit), ErrReservedField, 0},
	{"alu with offset", prog(slot(alu32K(Add), 1, 0, 1, 1), exit), ErrReservedField, 0},
	{"sdiv offset 2", prog(slot(alu64K(Div), 1, 0, 2, 1), exit), ErrReservedField, 0},
	{"movsx imm", prog(slot(alu64K(Mov), 1, 0, 8, 1), exit), ErrReservedField, 0},
	{"movsx32 from 32", prog(slot(alu32X(Mov), 1, 2, 32, 0), exit), ErrReservedField, 0},
	{"movsx from 64", prog(slot(alu64X(Mov), 1, 2, 64, 0), exit), ErrReservedField, 0},
	{"neg with imm", prog(slot(alu64K(Neg), 1, 0, 0, 1), exit), ErrReservedField, 0},
	{"swap width 8", prog(slot(alu64K(End), 1, 0, 0, 8), exit), ErrReservedField, 0},
	{"le with src", prog(slot(alu32K(End), 1, 1, 0, 16), exit), ErrReservedField, 0},
	{"exit with dst", prog(slot(OpExit, 1, 0, 0, 0)), ErrReservedField, 0},
	{"exit with imm", prog(slot(OpExit, 0, 0, 0, 1)), ErrReservedField, 0},
	{"ja with imm", prog(slot(OpJA, 0, 0, 0, 1), exit), ErrReservedField, 0},
	{"ja with dst", prog(slot(OpJA, 1, 0, 0, 0), exit), ErrReservedField, 0},
	{"ja reg source", prog(slot(jmpX(JA), 0, 0, 0, 0), exit), ErrReservedField, 0},
	{"ja32 with offset", prog(slot(OpJA32, 0, 0, 1, 0), exit), ErrReservedField, 0},
	{"jeq imm with src", prog(slot(jmpK(JEq), 1, 2, 0, 0), exit), ErrReservedField, 0},
	{"jeq reg with imm", prog(slot(jmpX(JEq), 1, 2, 0, 3), exit), ErrReservedField, 0},
	{"call with offset", prog(slot(OpCall, 0, 0, 1, 5), exit), ErrReservedField, 0},
	{"call with dst", prog(slot(OpCall, 1, 0, 0, 5), exit), ErrReservedField, 0},
	{"call src 3", prog(slot(OpCall, 0, 3, 0, 5), exit), ErrReservedField, 0},
	{"callx with src", prog(slot(OpCallX, 1, 2, 0, 0), exit), ErrReservedField, 0},
	{"callx imm and dst", prog(slot(OpCallX, 1, 0, 0, 2), exit), ErrReservedField, 0},
	{"callx imm 10", prog(slot(OpCallX, 0, 0, 0, 10), exit), ErrReservedField, 0},
	{"lddw with offset", prog(slot(OpLDDW, 1, 0, 1, 0), slot(0, 0, 0, 0, 0), exit), ErrReservedField, 0},
	{"lddw src 7", prog(lddw(1, 7, 0), exit), ErrReservedField, 0},
	{"ldabs with dst", prog(slot(ld(ModeAbs, SizeW), 1, 0, 0, 0), exit), ErrReservedField, 0},
	{"ldabs with src", prog(slot(ld(ModeAbs, SizeW), 0, 1, 0, 0), exit), ErrReservedField, 0},
	{"ldind with offset", prog(slot(ld(ModeInd, SizeH), 0, 1, 1, 0), exit), ErrReservedField, 0},
	{"ldx with imm", prog(slot(ldx(ModeMem, SizeW), 0, 1, 0, 1), exit), ErrReservedField, 0},
	{"st with src", prog(slot(st(SizeW), 1, 2, 0, 1), exit), ErrReservedField, 0},
	{"stx with imm", prog(slot(stx(ModeMem, SizeW), 1, 2, 0, 1), exit), ErrReservedField, 0},
	// Registers.
	{"dst r11", prog(slot(alu64K(Mov), 11, 0, 0, 0), exit), ErrBadRegister, 0},
	{"src r12", prog(slot(alu64X(Mov), 1, 12, 0, 0), exit), ErrBadRegister, 0},
	{"dst r15 on exit", prog(exit, slot(OpExit, 15, 0, 0, 0)), ErrBadRegister, 1},
	{"ldx src r11", prog(slot(ldx(ModeMem, SizeW), 0, 11, 0, 0), exit), ErrBadRegister, 0},
	{"stx dst r13", prog(slot(stx(ModeMem, SizeW), 13, 1, 0, 0), exit), ErrBadRegister, 0},
	{"lddw dst r11", prog(lddw(11, 0, 0), exit), ErrBadRegister, 0},
	{"ldind src r11", prog(slot(ld(ModeInd, SizeW), 0, 11, 0, 0), exit), ErrBadRegister, 0},
	{"callx src r11", prog(slot(OpCallX, 1, 11, 0, 0), exit), ErrBadRegister, 0},
	// Frame pointer.
	{"mov r10", prog(slot(alu64K(Mov), 10, 0, 0, 0), exit), ErrFramePointerWrite, 0},
	{"add32 r10", prog(exit, slot(alu32X(Add), 10, 1, 0, 0)), ErrFramePointerWrite, 1},
	{"neg r10", prog(slot(alu64K(Neg), 10, 0, 0, 0), exit), ErrFramePointerWrite, 0},
	{"be r10", prog(slot(alu32X(End), 10, 0, 0, 16), exit), ErrFramePointerWrite, 0},
	{"ldx into r10", prog(slot(ldx(ModeMem, SizeDW), 10, 1, 0, 0), exit), ErrFramePointerWrite, 0},
	{"lddw into r10", prog(lddw(10, 0, 1), exit), ErrFramePointerWrite, 0},
	// lddw halves.
	{"truncated lddw", prog(exit, slot(OpLDDW, 1, 0, 0, 0)), ErrTruncatedLDDW, 1},
	{"lddw second half opcode", prog(slot(OpLDDW, 1, 0, 0, 0), exit), ErrBadLDDWSecondHalf, 1},
	{"lddw second half dst", prog(exit, slot(OpLDDW, 1, 0, 0, 0), slot(0, 1, 0, 0, 0), exit), ErrBadLDDWSecondHalf, 2},
	{"lddw second half src", prog(slot(OpLDDW, 1, 0, 0, 0), slot(0, 0, 1, 0, 0), exit), ErrBadLDDWSecondHalf, 1},
	{"lddw second half offset", prog(slot(OpLDDW, 1, 0, 0, 0), slot(0, 0, 0, 1, 0), exit), ErrBadLDDWSecondHalf, 1},
	// Control flow.
	{"jump past end", prog(slot(OpJA, 0, 0, 1, 0), exit), ErrJumpOutOfRange, 0},
	{"jump before start", prog(exit, slot(jmpK(JEq), 1, 0, -3, 0), exit), ErrJumpOutOfRange, 1},
	{"ja32 past end", prog(slot(OpJA32, 0, 0, 0, 1<<30), exit), ErrJumpOutOfRange, 0},
	{"jump after lddw counts slots", prog(lddw(1, 0, 0), slot(OpJA, 0, 0, 1, 0), exit), ErrJumpOutOfRange, 2},
	{"jump into lddw", prog(slot(OpJA, 0, 0, 1, 0), lddw(1, 0, 0), exit), ErrJumpIntoLDDW, 0},
	{"backward jump into lddw", prog(lddw(1, 0, 0), slot(jmp32K(JNE), 1, 0, -2, 0), exit), ErrJumpIntoLDDW, 2},
	{"call local past end", prog(slot(OpCall, 0, CallLocal, 0, 10), exit), ErrBadCallTarget, 0},
	{"call local before start", prog(exit, slot(OpCall, 0, CallLocal, 0, -3), exit), ErrBadCallTarget, 1},
	{"call local into lddw", prog(slot(OpCall, 0, CallLocal, 0, 1), lddw(1, 0, 0), exit), ErrJumpIntoLDDW, 0},
	{"lddw code past end", prog(lddw(1, PseudoFunc, 5), exit), ErrBadCallTarget, 0},
}

func TestDecodeInvalid(t *testing.T) {
	for _, tt := range decodeInvalid {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := Decode(tt.code)
			if err == nil {
				t.Fatalf("Decode succeeded with %v, want %v", insns, tt.reason)
			}
			if insns != nil {
				t.Error("instructions returned with an error")
			}
			if !errors.Is(err, tt.reason) {
				t.Errorf("error %q is not %q", err, tt.reason)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *isa.Error", err)
			}
			if e.PC != tt.pc {
				t.Errorf("PC = %d, want %d (%v)", e.PC, tt.pc, err)
			}
			if end := (tt.pc + 1) * InstructionSize; tt.reason != ErrOddLength && tt.reason != ErrEmptyProgram && end <= len(tt.code) {
				if want := tt.code[tt.pc*InstructionSize : end]; !bytes.Equal(e.Raw[:], want) {
					t.Errorf("Raw = % x, want % x", e.Raw, want)
				}
			}
			if !strings.Contains(err.Error(), tt.reason.Error()) {
				t.Errorf("message %q lacks the reason %q", err, tt.reason)
			}
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	code := make([]byte, (MaxInstructions+1)*InstructionSize)
	_, err := Decode(code)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

// TestStringInvalid checks that invalid instructions format as .invalid
// rather than as something that looks assemblable.
func TestStringInvalid(t *testing.T) {
	for _, ins := range []Instruction{
		{OpCode: 0xe5},
		{OpCode: OpLDDW, Src: 9},
		{OpCode: alu64K(Mov), Dst: 200},
		{OpCode: alu64K(Add), Constant: 1 << 40},
		{OpCode: stx(ModeAtomic, SizeW), Constant: 0x77},
	} {
		if s := ins.String(); !strings.HasPrefix(s, ".invalid ") {
			t.Errorf("%#v formats as %q, want .invalid", ins, s)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	var code []byte
	for range 1000 {
		code = append(code, slot(alu64K(Add), 1, 0, 0, 1)...)
		code = append(code, slot(jmpK(JEq), 1, 0, 1, 5)...)
		code = append(code, slot(ldx(ModeMem, SizeW), 0, 1, 4, 0)...)
	}
	code = append(code, exit...)
	b.SetBytes(int64(len(code)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(code); err != nil {
			b.Fatal(err)
		}
	}
}
