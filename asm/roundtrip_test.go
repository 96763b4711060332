package asm

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// randInstruction returns a random instruction that isa.Instruction.Validate
// accepts. Fields are biased towards the values that make opcodes valid
// (zero, byte-swap widths, atomic operations, movsx widths) so that every
// form comes up often; jump targets are fixed later by randProgram.
func randInstruction(r *rand.Rand) isa.Instruction {
	for {
		ins := isa.Instruction{
			OpCode:   isa.OpCode(r.IntN(256)),
			Dst:      randRegister(r),
			Src:      randRegister(r),
			Offset:   randOffset(r),
			Constant: int64(randImm(r)),
		}
		if ins.OpCode == isa.OpLDDW {
			switch r.IntN(3) {
			case 0:
				ins.Constant = int64(r.Uint64())
			case 1:
				ins.Constant = int64(uint64(uint32(randImm(r))) | uint64(uint32(randImm(r)))<<32)
			}
		}
		if ins.Validate() == nil {
			return ins
		}
	}
}

func randRegister(r *rand.Rand) isa.Register {
	if r.IntN(2) == 0 {
		return 0
	}
	return isa.Register(r.IntN(int(isa.MaxRegister) + 1))
}

func randOffset(r *rand.Rand) int16 {
	switch r.IntN(4) {
	case 0, 1:
		return 0
	case 2:
		return []int16{1, 8, 16, 32, -1, -8, 32767, -32768}[r.IntN(8)]
	}
	return int16(r.Uint32())
}

var specialImms = []int32{1, 16, 32, 64, -1, 0x7fffffff, -0x80000000,
	isa.AtomicAdd | isa.AtomicFetch, isa.AtomicOr, isa.AtomicOr | isa.AtomicFetch,
	isa.AtomicAnd, isa.AtomicAnd | isa.AtomicFetch, isa.AtomicXor, isa.AtomicXor | isa.AtomicFetch,
	isa.AtomicXchg, isa.AtomicCmpXchg}

func randImm(r *rand.Rand) int32 {
	switch r.IntN(4) {
	case 0, 1:
		return 0
	case 2:
		return specialImms[r.IntN(len(specialImms))]
	}
	return int32(r.Uint32())
}

// randProgram returns a random program that isa.Decode accepts: random
// valid instructions whose jumps, local calls and code addresses are
// pointed at random instruction starts.
func randProgram(r *rand.Rand, n int) []isa.Instruction {
	insns := make([]isa.Instruction, n)
	for i := range insns {
		insns[i] = randInstruction(r)
	}
	var starts []int
	pc := 0
	for _, ins := range insns {
		starts = append(starts, pc)
		pc += ins.Slots()
	}
	for i := range insns {
		ins := &insns[i]
		if _, ok := ins.JumpTarget(starts[i]); !ok {
			continue
		}
		off := starts[r.IntN(len(starts))] - starts[i] - 1
		switch {
		case ins.OpCode == isa.OpLDDW:
			ins.Constant = int64(uint64(ins.Constant)&^0xffffffff | uint64(uint32(int32(off))))
		case ins.OpCode == isa.OpJA32 || ins.OpCode == isa.OpCall:
			ins.Constant = int64(off)
		default:
			ins.Offset = int16(off)
		}
	}
	return insns
}

// checkRoundTrip asserts that the disassembly (and the listing) of a valid
// program assemble back to the program's bytes.
func checkRoundTrip(t *testing.T, code []byte, insns []isa.Instruction) {
	t.Helper()
	text := Disassemble(insns)
	got, err := Assemble("roundtrip.s", []byte(text))
	if err != nil {
		t.Fatalf("Assemble(Disassemble(% x)): %v\n%s", code, err, text)
	}
	if b := isa.Encode(nil, got); !bytes.Equal(b, code) {
		t.Fatalf("round trip changed bytes\n have % x\n want % x\n%s", b, code, text)
	}
	listed, err := Assemble("listing.s", []byte(Listing(insns)))
	if err != nil {
		t.Fatalf("Assemble(Listing(% x)): %v", code, err)
	}
	if b := isa.Encode(nil, listed); !bytes.Equal(b, code) {
		t.Fatalf("listing round trip changed bytes\n have % x\n want % x", b, code)
	}
}

// TestRoundTripProperty checks Assemble(Disassemble(p)) == p, byte for
// byte, over random valid programs.
func TestRoundTripProperty(t *testing.T) {
	iterations := 20000
	if testing.Short() {
		iterations = 2000
	}
	seed := uint64(0x5eed)
	r := rand.New(rand.NewPCG(seed, seed))
	forms := make(map[isa.OpCode]bool)
	for i := range iterations {
		insns := randProgram(r, 1+r.IntN(12))
		code := isa.Encode(nil, insns)
		decoded, err := isa.Decode(code)
		if err != nil {
			t.Fatalf("iteration %d: generated program does not decode: %v\n%s", i, err, Disassemble(insns))
		}
		if b := isa.Encode(nil, decoded); !bytes.Equal(b, code) {
			t.Fatalf("iteration %d: Decode/Encode changed bytes", i)
		}
		checkRoundTrip(t, code, decoded)
		for _, ins := range insns {
			forms[ins.OpCode] = true
		}
	}
	// Every valid opcode must have come up: count them from Validate.
	valid := 0
	for op := range 256 {
		for _, ins := range []isa.Instruction{
			{OpCode: isa.OpCode(op)}, {OpCode: isa.OpCode(op), Constant: 16},
			{OpCode: isa.OpCode(op), Constant: isa.AtomicXchg},
		} {
			if ins.Validate() == nil {
				valid++
				if !forms[ins.OpCode] {
					t.Errorf("opcode %#02x never generated", op)
				}
				break
			}
		}
	}
	t.Logf("%d programs, %d of %d valid opcodes covered", iterations, len(forms), valid)
}

func FuzzRoundTrip(f *testing.F) {
	for _, tt := range golden {
		f.Add(append(append([]byte(nil), tt.raw...), 0x95, 0, 0, 0, 0, 0, 0, 0))
	}
	for _, src := range conformanceSources() {
		if insns, err := Assemble("seed.s", []byte(src)); err == nil {
			f.Add(isa.Encode(nil, insns))
		}
	}
	for _, code := range smallCorpusSections(f) {
		f.Add(code)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 64 {
		f.Add(isa.Encode(nil, randProgram(r, 1+r.IntN(8))))
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		insns, err := isa.Decode(code)
		if err != nil {
			return
		}
		checkRoundTrip(t, code, insns)
	})
}

func FuzzAssemble(f *testing.F) {
	for _, tt := range golden {
		f.Add(tt.text + "\nexit\n")
	}
	f.Add("a:\nmov %r0, 0x1\nlddw %r1, map_value 1, 2\njeq %r0, 1, a\ncall local a\nlddw %r2, code a\nja exit\nexit\n")
	f.Add("0: lock fetch add [%r10-8], %r1 # c\n1: ldxw %r0, [%r1]\nexit")
	for _, src := range conformanceSources() {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		insns, err := Assemble("fuzz.s", []byte(src))
		if err != nil {
			if insns != nil {
				t.Fatalf("instructions returned with error %v", err)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T is not *asm.Error: %v", err, err)
			}
			return
		}
		if len(insns) == 0 {
			t.Fatal("no instructions and no error")
		}
		for _, ins := range insns {
			if err := ins.Validate(); err != nil {
				t.Fatalf("assembled invalid instruction %s: %v", ins, err)
			}
		}
		// Disassembly is canonical: it re-assembles to the same bytes.
		code := isa.Encode(nil, insns)
		again, err := Assemble("again.s", []byte(Disassemble(insns)))
		if err != nil {
			t.Fatalf("disassembly does not re-assemble: %v\n%s", err, Disassemble(insns))
		}
		if !bytes.Equal(isa.Encode(nil, again), code) {
			t.Fatalf("disassembly re-assembles to different bytes\n%s", Disassemble(insns))
		}
	})
}

// conformanceSources returns the asm sections of the bpf_conformance suite
// as fuzz seeds, or nothing when the shared data is absent.
func conformanceSources() []string {
	files, _ := filepath.Glob("../../shared/conformance/tests/*.data")
	var out []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		if src, ok := sections(string(data))["asm"]; ok {
			out = append(out, src)
		}
	}
	return out
}
