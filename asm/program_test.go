package asm

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// TestAssembleProgram checks that AssembleProgram refuses, at the
// instruction's line, control flow that isa.Decode (and so xebpf disasm)
// would refuse, where Assemble takes it.
func TestAssembleProgram(t *testing.T) {
	for _, tt := range []struct {
		src, want string
		reason    *isa.Reason
	}{
		{"mov %r0, 0\nja +5\nexit\n", "p.s:2: ja +5: jump target out of range: target 7, program has 3 slots", isa.ErrJumpOutOfRange},
		{"mov %r0, 0\n# a comment\njeq %r0, 0, -3\nexit\n", "p.s:3: jeq %r0, 0, -3: jump target out of range: target -1, program has 3 slots", isa.ErrJumpOutOfRange},
		{"lddw %r0, 1\nja -2\nexit\n", "p.s:2: ja -2: jump target is the second half of an lddw: target 1", isa.ErrJumpIntoLDDW},
		{"call local +3\nexit\n", "p.s:1: call local +3: call to a non-existent local function: target 4, program has 2 slots", isa.ErrBadCallTarget},
		{"mov %r0, 0\nja +1\nexit\nexit\n", "", nil},
	} {
		insns, err := AssembleProgram("p.s", []byte(tt.src))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.src, err)
			}
			continue
		}
		var ae *Error
		if err == nil || err.Error() != tt.want || !errors.As(err, &ae) || !errors.Is(err, tt.reason) || insns != nil {
			t.Errorf("%q: got %v (%T), want %q wrapping %v", tt.src, err, err, tt.want, tt.reason)
		}
		// Assemble leaves the control flow to isa.CheckProgram.
		if _, err := Assemble("p.s", []byte(tt.src)); err != nil {
			t.Errorf("Assemble(%q): %v", tt.src, err)
		}
	}
}

// TestHelperCallNames checks the bpftool form of a helper call, which
// xebpf disasm prints, and that '#' still starts comments elsewhere.
func TestHelperCallNames(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want int64 // helper id; -1 for an error
	}{
		{"call bpf_map_lookup_elem#1", 1},
		{"call bpf_ktime_get_ns#5 # a comment", 5},
		{"l: call bpf_trace_printk#6", 6},
		{"call 12 # bpf_tail_call#12", 12},
		{"call #1", -1},
		{"call bpf-x#1", -1},
		{"call bpf_x#", -1},
		{"call bpf_x#y", -1},
	} {
		insns, err := Assemble("c.s", []byte(tt.src+"\nexit\n"))
		if tt.want < 0 {
			if err == nil {
				t.Errorf("%q: no error", tt.src)
			}
			continue
		}
		if err != nil || insns[0].OpCode != isa.OpCall || insns[0].Src != isa.CallHelper || insns[0].Constant != tt.want {
			t.Errorf("%q: %v, %v; want call %d", tt.src, insns, err, tt.want)
		}
	}
	insns, err := Assemble("c.s", []byte("mov %r0, 1 # two\nmov %r1, 3# four\nexit\n"))
	if err != nil || len(insns) != 3 || insns[1].Constant != 3 {
		t.Errorf("comments: %v, %v", insns, err)
	}
}
