package asm

import (
	"math/rand/v2"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

func benchProgram() []isa.Instruction {
	r := rand.New(rand.NewPCG(7, 7))
	return randProgram(r, 1000)
}

func BenchmarkAssemble(b *testing.B) {
	src := []byte(Disassemble(benchProgram()))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Assemble("bench.s", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDisassemble(b *testing.B) {
	insns := benchProgram()
	b.ReportAllocs()
	for b.Loop() {
		_ = Disassemble(insns)
	}
}
