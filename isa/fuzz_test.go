package isa

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, tt := range decodeValid {
		f.Add(tt.code)
	}
	for _, tt := range decodeInvalid {
		f.Add(tt.code)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		insns, err := Decode(code)
		if (err == nil) != (insns != nil) {
			t.Fatalf("err = %v but insns != nil is %v", err, insns != nil)
		}
		// Formatting never panics, valid or not. The first slots are
		// enough: formatting is per instruction, and long inputs would only
		// slow the fuzzer down.
		for i := 0; i+InstructionSize <= len(code) && i < 16*InstructionSize; i += InstructionSize {
			_ = rawInstruction(code[i:]).String()
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *isa.Error: %v", err, err)
			}
			_ = rawInstruction(e.Raw[:]).String() // the rejected slot
			if e.Reason == nil || !errors.Is(err, e.Reason) {
				t.Fatalf("error %v has no reason", err)
			}
			if e.PC < 0 || e.PC > len(code)/InstructionSize {
				t.Fatalf("error pc %d outside a program of %d bytes", e.PC, len(code))
			}
			_ = err.Error()
			return
		}
		if got := Encode(nil, insns); !bytes.Equal(got, code) {
			t.Fatalf("Encode(Decode(x)) = % x, want % x", got, code)
		}
		for _, ins := range insns {
			if err := ins.Validate(); err != nil {
				t.Fatalf("decoded instruction %#v fails Validate: %v", ins, err)
			}
			if s := ins.String(); strings.HasPrefix(s, ".invalid") {
				t.Fatalf("decoded instruction %#v formats as %q", ins, s)
			}
		}
		if err := CheckProgram(insns); err != nil {
			t.Fatalf("CheckProgram rejects a decoded program: %v", err)
		}
	})
}

// rawInstruction splits one slot into an Instruction without checking it.
func rawInstruction(b []byte) Instruction {
	op, dst, src, off, imm := DecodeSlot(b)
	return Instruction{OpCode: op, Dst: dst, Src: src, Offset: off, Constant: int64(imm)}
}
