package verifier

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf/isa"
)

func mov(dst isa.Register, imm int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.Mov), Dst: dst, Constant: int64(imm)}
}

func jeq(dst isa.Register, imm int32, off int16) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(isa.ClassJMP) | isa.OpCode(isa.JEq), Dst: dst, Constant: int64(imm), Offset: off}
}

func ja(off int16) isa.Instruction { return isa.Instruction{OpCode: isa.OpJA, Offset: off} }

var exit = isa.Instruction{OpCode: isa.OpExit}

func call(off int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCall, Src: isa.CallLocal, Constant: int64(off)}
}

// TestBadInput checks that malformed and pathological programs get a
// clear rejection, within the limits, and never a panic or a hang.
func TestBadInput(t *testing.T) {
	big := make([]isa.Instruction, 0, 1<<20)
	for len(big) < 1<<20-2 {
		big = append(big, mov(isa.R0, int32(len(big))))
	}
	big = append(big, exit)
	tooBig := append(append([]isa.Instruction(nil), big[:len(big)-1]...), mov(isa.R0, 0), mov(isa.R0, 0), exit)

	// Many diamonds in a row: 2^500 paths.
	var diamonds []isa.Instruction
	diamonds = append(diamonds, isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: isa.R2, Src: isa.R1, Offset: 12})
	for i := range 500 {
		diamonds = append(diamonds, jeq(isa.R2, int32(i), 1), mov(isa.R3, int32(i)), mov(isa.R4, int32(i)))
	}
	diamonds = append(diamonds, mov(isa.R0, 0), exit)

	// A chain of 10 nested calls.
	var deep []isa.Instruction
	for range 10 {
		deep = append(deep, call(1), exit)
	}
	deep = append(deep, mov(isa.R0, 0), exit)

	tests := []struct {
		name   string
		insns  []isa.Instruction
		reject string // "" to accept
	}{
		{"empty", nil, "empty program"},
		{"falls off the end", []isa.Instruction{mov(isa.R0, 0)}, "falls off"},
		{"jump into lddw", []isa.Instruction{ja(1), {OpCode: isa.OpLDDW, Dst: isa.R0, Constant: 1}, exit}, "lddw"},
		{"jump out of range", []isa.Instruction{ja(5), exit}, "target"},
		{"infinite loop", []isa.Instruction{mov(isa.R0, 0), ja(-1)}, "infinite loop at pc 1: no path leaves it"},
		{"irreducible", []isa.Instruction{
			mov(isa.R0, 0), isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: isa.R2, Src: isa.R1, Offset: 12},
			jeq(isa.R2, 0, 2), // into the middle of the loop
			isa.Instruction{OpCode: isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.Add), Dst: isa.R0, Constant: 1},
			jeq(isa.R0, 100, 2),
			isa.Instruction{OpCode: isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.Add), Dst: isa.R0, Constant: 2},
			ja(-4),
			exit,
		}, "entered other than through its head"},
		{"a million instructions", big, ""},
		{"more than a million", tooBig, "slots"},
		{"2^500 paths", diamonds, ""},
		{"deep calls", deep, "deeper than"},
		{"recursion", []isa.Instruction{call(-1), exit}, "recursive"},
		{"unknown opcode", []isa.Instruction{{OpCode: 0xff}, exit}, "instruction 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Verify(tc.insns, testConfig())
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			switch {
			case tc.reject == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.reject != "" && err == nil:
				t.Fatalf("accepted; want %q", tc.reject)
			case tc.reject != "" && !strings.Contains(err.Error(), tc.reject):
				t.Fatalf("error %v; want %q", err, tc.reject)
			}
			var e *Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
		})
	}
}

// TestTooComplex checks the step and time limits.
func TestTooComplex(t *testing.T) {
	var insns []isa.Instruction
	insns = append(insns, mov(isa.R0, 0))
	for i := range 2000 {
		insns = append(insns, mov(isa.R1, int32(i)))
	}
	insns = append(insns, exit)
	cfg := testConfig()
	cfg.MaxSteps = 100
	_, err := Verify(insns, cfg)
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("error %v; want ErrTooComplex", err)
	}
}

// FuzzVerify feeds random instruction streams to the verifier: it must
// return, without panicking, for any of them.
func FuzzVerify(f *testing.F) {
	f.Add([]byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
	r := rand.New(rand.NewPCG(3, 4))
	for range 16 {
		b := make([]byte, 8*(1+r.IntN(32)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		insns, err := isa.Decode(code)
		if err != nil {
			return
		}
		cfg := testConfig()
		cfg.Timeout = 10 * time.Second
		Verify(insns, cfg)
	})
}
