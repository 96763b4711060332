package verifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
)

// rewriteUnverified is the root package's context rewriting of an
// unverified program: the permissive analysis' facts, applied to insns.
func rewriteUnverified(insns []isa.Instruction, cfg *Config) ([]isa.Instruction, error) {
	f, err := Analyze(insns, cfg)
	if err != nil {
		return nil, err
	}
	return f.RewriteContext(insns, cfg.Context)
}

// TestAnalyzeRewrite are the cases of internal/ctxaccess's former data-flow
// pass, now found by the permissive analysis, and programs that launder
// the context where the pass could not follow it: each gets a correct
// rewrite or an ErrContextAccess.
func TestAnalyzeRewrite(t *testing.T) {
	tests := []struct {
		desc string
		src  string
		want string // the rewritten program, or the error
	}{
		{"Pointer fields become 64-bit loads of their words after the struct",
			"ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nldxw %r4, [%r1+12]\nmov %r0, 0\nexit",
			"ldxdw %r2, [%r1+24]\nldxdw %r3, [%r1+32]\nldxw %r4, [%r1+12]\nmov %r0, 0\nexit\n"},
		{"The context is followed through copies, constant offsets and stack spills",
			"mov %r6, %r1\nstxdw [%r10-8], %r6\nmov %r1, 0\nldxdw %r7, [%r10-8]\nadd %r7, 4\nldxw %r2, [%r7+0]\nexit",
			"mov %r6, %r1\nstxdw [%r10-8], %r6\nmov %r1, 0\nldxdw %r7, [%r10-8]\nadd %r7, 4\nldxdw %r2, [%r7+28]\nexit\n"},
		{"Subprograms see the context their caller passes",
			"call local +1\nexit\nldxw %r0, [%r1+8]\nexit",
			"call local +1\nexit\nldxdw %r0, [%r1+40]\nexit\n"},
		{"Loads through other pointers are left alone",
			"ldxw %r2, [%r1+0]\nldxw %r0, [%r2+0]\nexit",
			"ldxdw %r2, [%r1+24]\nldxw %r0, [%r2+0]\nexit\n"},
		{"A spill slot overwritten by a scalar no longer holds the context",
			"stxdw [%r10-8], %r1\nstdw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit",
			"stxdw [%r10-8], %r1\nstdw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit\n"},
		{"A constant or a scalar moved over the context makes a scalar",
			"mov %r6, %r1\nmov %r1, 0\nldxw %r0, [%r1+12]\nmov32 %r6, 7\nldxw %r0, [%r6+0]\nmovsx864 %r6, %r0\nldxw %r0, [%r6+0]\nexit",
			"mov %r6, %r1\nmov %r1, 0\nldxw %r0, [%r1+12]\nmov32 %r6, 7\nldxw %r0, [%r6+0]\nmovsx864 %r6, %r0\nldxw %r0, [%r6+0]\nexit\n"},
		{"A constant moved over the context on one path and loaded on the other makes a scalar",
			"jeq %r2, 0, +2\nmov %r1, 0\nja +2\nlddw %r1, 0x1000\nldxw %r0, [%r1+12]\nexit",
			"jeq %r2, 0, +2\nmov %r1, 0\nja +2\nlddw %r1, 0x1000\nldxw %r0, [%r1+12]\nexit\n"},
		{"Writing a pointer field is rejected",
			"stw [%r1+4], 0\nexit", "pc 0: stw [%r1+4], 0: write to xdp_md pointer field data_end"},
		{"Writing a read-only scalar field is rejected",
			"stw [%r1+12], 0\nexit", "write to read-only xdp_md field ingress_ifindex"},
		{"Reading past the struct is rejected",
			"ldxw %r0, [%r1+24]\nexit", "xdp_md context access out of bounds: offset 24, size 4, struct size 24"},
		{"A narrow read of a pointer field is rejected",
			"ldxh %r0, [%r1+0]\nexit", "narrow or offset read of xdp_md pointer field data"},
		{"An access through a register that is the context on one path only is rejected",
			"jeq %r2, 0, +1\nmov %r1, %r10\nldxw %r0, [%r1+12]\nexit", "the context on some paths"},

		// Where the analysis goes past failed checks.
		{"Failed checks before and after a context access do not stop the analysis",
			"mov %r0, %r5\nldxw %r2, [%r1+0]\nldxb %r3, [%r2+5]\nldxw %r4, [%r1+4]\nexit",
			"mov %r0, %r5\nldxdw %r2, [%r1+24]\nldxb %r3, [%r2+5]\nldxdw %r4, [%r1+32]\nexit\n"},
		{"A context pointer moved in 32 bits is not the context, nor a scalar",
			"mov32 %r2, %r1\nldxw %r0, [%r2+12]\nexit", "r2 may be the context and may be another value"},
		{"Arithmetic the verifier refuses on the context leaves maybe the context",
			"mov %r2, %r1\nand %r2, -8\nldxw %r0, [%r2+12]\nexit", "r2 may be the context and may be another value"},
		{"Spilled at a misaligned slot, the context is maybe the context",
			"stxdw [%r10-12], %r1\nldxdw %r2, [%r10-12]\nldxw %r0, [%r2+0]\nexit", "r2 may be the context and may be another value"},
		{"Laundered through a map value, the context is a number: the access is left alone",
			"mov %r6, %r1\nstw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_idx 0\ncall 1\njeq %r0, 0, +3\nstxdw [%r0+0], %r6\nldxdw %r7, [%r0+0]\nldxw %r0, [%r7+0]\nmov %r0, 0\nexit",
			"mov %r6, %r1\nstw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_idx 0\ncall 1\njeq %r0, 0, +3\nstxdw [%r0+0], %r6\nldxdw %r7, [%r0+0]\nldxw %r0, [%r7+0]\nmov %r0, 0\nexit\n"},
		{"Laundered through a helper the program may not call, the context is maybe the context",
			"mov %r6, %r1\ncall 9999\nldxw %r0, [%r1+0]\nldxw %r0, [%r6+12]\nexit", "r1 may be the context and may be another value"},
		{"Through a helper's return, a number: the access is left alone",
			"call 5\nldxw %r0, [%r0+0]\nexit", "call 5\nldxw %r0, [%r0+0]\nexit\n"},
		{"The context and a packet pointer merged on different paths are refused",
			"ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 16\njgt %r4, %r3, +1\nmov %r1, %r2\nldxw %r0, [%r1+0]\nexit",
			"the context on some paths"},
		{"The context and a packet pointer merged in a stack slot in a loop are refused",
			"stxdw [%r10-8], %r1\nldxw %r6, [%r1+0]\nmov %r7, 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nstxdw [%r10-8], %r6\nadd %r7, 1\njlt %r7, 100, -5\nmov %r0, 0\nexit",
			"the context on some paths"},
		{"Recursion the verifier refuses still rewrites the caller's accesses",
			"ldxw %r2, [%r1+0]\ncall local -2\nexit",
			"ldxdw %r2, [%r1+24]\ncall local -2\nexit\n"},
		{"A context offset that differs between paths is refused",
			"jeq %r2, 0, +1\nadd %r1, 4\nldxw %r0, [%r1+0]\nexit", "the context on some paths"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			insns, err := asm.Assemble("t.s", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			out, err := rewriteUnverified(insns, testConfig())
			got := ""
			if err != nil {
				if !errors.Is(err, ErrContextAccess) {
					t.Errorf("error %v is not ErrContextAccess", err)
				}
				got = err.Error()
			} else {
				got = asm.Disassemble(out)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestAnalyzeRecordsRejections: the analysis reports the first failed
// check of each instruction, in order, and none for a verified program.
func TestAnalyzeRecordsRejections(t *testing.T) {
	insns, err := asm.Assemble("t.s", []byte("mov %r0, %r5\nldxw %r2, [%r1+0]\nldxb %r3, [%r2+5]\nexit"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Analyze(insns, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range f.Rejections() {
		got = append(got, e.Error())
	}
	if len(got) != 2 || !strings.Contains(got[0], "pc 0: ") || !strings.Contains(got[0], "r5 is not initialized") ||
		!strings.Contains(got[1], "pc 2: ") || !strings.Contains(got[1], "not proven inside the packet") {
		t.Errorf("rejections %q", got)
	}
	if _, err := Verify(insns, testConfig()); err == nil || !strings.Contains(err.Error(), "r5 is not initialized") {
		t.Errorf("Verify: %v, want the first of them", err)
	}
	ok, err := asm.Assemble("t.s", []byte(packetPrologue+"mov %r0, 2\nexit"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Analyze(ok, testConfig()); err != nil || len(f.Rejections()) != 0 || len(f.ContextAccesses()) != 2 {
		t.Errorf("verified program: %v, %v", f, err)
	}
}

// TestAnalyzeMatchesVerify: on the verifier's accepted test programs the
// permissive analysis finds the context accesses Verify finds.
func TestAnalyzeMatchesVerify(t *testing.T) {
	n := 0
	for _, c := range cases {
		if c.reject != "" {
			continue
		}
		insns, err := asm.Assemble("t.s", []byte(c.src))
		if err != nil {
			continue
		}
		p, err := Verify(insns, testConfig())
		if err != nil {
			continue
		}
		f, err := Analyze(insns, testConfig())
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got, want := f.ContextAccesses(), p.ContextAccesses(); !equalAccesses(got, want) || len(f.Rejections()) != 0 {
			t.Errorf("%s: accesses %v, rejections %v; Verify's %v", c.name, got, f.Rejections(), want)
		}
		n++
	}
	if n < 20 {
		t.Errorf("compared %d programs", n)
	}
}

func equalAccesses(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRawLayoutIsUntouched(t *testing.T) {
	insns := []isa.Instruction{{OpCode: 0x61, Dst: 0, Src: 1, Offset: 100}, {OpCode: isa.OpExit}}
	cfg := testConfig()
	cfg.Context, cfg.ContextSize = &ctxaccess.Layout{Name: "raw", Size: 8}, 8
	f, err := Analyze(insns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.RewriteContext(insns, cfg.Context)
	if err != nil || out[0] != insns[0] {
		t.Fatalf("got %v, %v", out, err)
	}
}

// permissiveProgram builds a program from b out of the instructions that
// move, spill, offset, launder, use and compare the context, calls (one
// the program type lacks), and jumps forward and back; nil if b is too
// short.
func permissiveProgram(b []byte) []isa.Instruction {
	var insns []isa.Instruction
	type jump struct{ at, to int }
	var jumps []jump
	for i := 0; i+2 < len(b) && len(insns) < 64; i += 3 {
		op, x, y := b[i]%14, b[i+1], b[i+2]
		ra, rb := isa.Register(x%10), isa.Register(y%11)
		slot := -8 * int16(1+x%4)
		off := int16(4 * (y % 7))
		alu := func(o isa.ALUOp, c isa.Class, src isa.Source) isa.OpCode {
			return isa.OpCode(c) | isa.OpCode(src) | isa.OpCode(o)
		}
		switch op {
		case 0:
			insns = append(insns, isa.Instruction{OpCode: alu(isa.Mov, isa.ClassALU64, isa.SourceReg), Dst: ra, Src: rb})
		case 1:
			insns = append(insns, isa.Instruction{OpCode: alu(isa.Mov, isa.ClassALU, isa.SourceReg), Dst: ra, Src: rb})
		case 2:
			insns = append(insns, isa.Instruction{OpCode: alu(isa.Add, isa.ClassALU64, isa.SourceImm), Dst: ra, Constant: int64(int8(y)) / 16 * 4})
		case 3:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeDW), Dst: isa.R10, Src: rb, Offset: slot - int16(y%2)*4})
		case 4:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeDW), Dst: ra, Src: isa.R10, Offset: slot})
		case 5:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: ra, Src: rb, Offset: off})
		case 6:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassST) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: rb, Offset: off})
		case 7:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassJMP) | isa.OpCode(isa.SourceImm) | isa.OpCode(isa.JEq), Dst: ra})
			jumps = append(jumps, jump{len(insns) - 1, len(insns) + int(y%8)})
		case 8:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCall, Constant: int64([]int32{1, 5, 7, 44, 9999}[y%5])})
		case 9:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeDW), Dst: ra, Src: rb})
		case 10:
			insns = append(insns, isa.Instruction{OpCode: alu(isa.And, isa.ClassALU64, isa.SourceImm), Dst: ra, Constant: -8})
		case 11:
			insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeDW), Dst: ra, Src: rb, Offset: off})
		case 12:
			if len(insns) > 0 {
				insns = append(insns, isa.Instruction{OpCode: isa.OpCode(isa.ClassJMP) | isa.OpCode(isa.SourceImm) | isa.OpCode(isa.JLT), Dst: ra, Constant: 4})
				jumps = append(jumps, jump{len(insns) - 1, len(insns) - 1 - int(y)%len(insns)})
			}
		case 13:
			insns = append(insns, isa.Instruction{OpCode: alu(isa.Add, isa.ClassALU64, isa.SourceReg), Dst: ra, Src: rb})
		}
	}
	if len(insns) == 0 {
		return nil
	}
	insns = append(insns, isa.Instruction{OpCode: alu0(), Dst: isa.R0}, isa.Instruction{OpCode: isa.OpExit})
	for _, j := range jumps {
		to := min(j.to, len(insns)-2)
		insns[j.at].Offset = int16(to - j.at - 1)
	}
	return insns
}

func alu0() isa.OpCode {
	return isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.SourceImm) | isa.OpCode(isa.Mov)
}

// FuzzAnalyze feeds programs that shuffle the context around to the
// permissive analysis: it must not panic; its errors are ErrContextAccess,
// ErrTooComplex or ErrRejected (a structure it cannot follow); its facts
// rewrite or refuse with ErrContextAccess; and on a program Verify accepts
// it finds Verify's accesses, no failed check, and rewrites as Lower does.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{0, 6, 1, 3, 0, 6, 4, 7, 0, 5, 7, 0})
	f.Add([]byte{7, 2, 3, 0, 2, 10, 5, 2, 0, 12, 1, 5, 8, 0, 4})
	f.Add([]byte{1, 2, 1, 5, 0, 2, 3, 1, 1, 4, 3, 1, 5, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		insns := permissiveProgram(b)
		if insns == nil {
			return
		}
		cfg := testConfig()
		cfg.MaxSteps = 200_000
		facts, err := Analyze(insns, cfg)
		if err != nil {
			if !errors.Is(err, ErrContextAccess) && !errors.Is(err, ErrTooComplex) && !errors.Is(err, ErrRejected) {
				t.Fatalf("Analyze: %v", err)
			}
			if _, verr := Verify(insns, cfg); verr == nil && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("Verify accepts what Analyze refuses: %v\n%s", err, asm.Disassemble(insns))
			}
			return
		}
		out, rerr := facts.RewriteContext(insns, cfg.Context)
		if rerr != nil && !errors.Is(rerr, ErrContextAccess) {
			t.Fatalf("RewriteContext: %v", rerr)
		}
		p, verr := Verify(insns, cfg)
		if verr != nil {
			return
		}
		if !equalAccesses(p.ContextAccesses(), facts.ContextAccesses()) || len(facts.Rejections()) != 0 {
			t.Fatalf("verified: accesses %v, Analyze's %v and rejections %v\n%s", p.ContextAccesses(), facts.ContextAccesses(), facts.Rejections(), asm.Disassemble(insns))
		}
		lp, lerr := p.Lower(func(int, isa.Instruction) (uint64, error) { return 0, nil }, cfg.Context)
		if (lerr == nil) != (rerr == nil) {
			t.Fatalf("Lower: %v, RewriteContext: %v", lerr, rerr)
		}
		if lerr == nil {
			for i, ins := range lp.Instructions() {
				if ins != out[i] {
					t.Fatalf("insn %d: Lower %v, RewriteContext %v", i, ins, out[i])
				}
			}
		}
	})
}
