package verifier

import (
	"testing"

	"github.com/xebpf/xebpf/asm"
)

// TestTermination checks which loops the verifier proves to end, and the
// bound on the instructions a run executes.
func TestTermination(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		ends     bool
		min, max uint64 // bounds on MaxInstructions when ends
	}{
		{"no loop", "mov %r0, 0\njeq %r1, 0, +1\nmov %r0, 1\nexit", true, 4, 4},
		{"count up", `
	mov %r1, 0
loop:
	add %r1, 1
	jlt %r1, 100, loop
	mov %r0, 0
	exit`, true, 200, 500},
		{"count down", `
	mov %r1, 100
loop:
	sub %r1, 1
	jne %r1, 0, loop
	mov %r0, 0
	exit`, true, 200, 500},
		{"step of 4", `
	mov %r1, 0
loop:
	add %r1, 4
	jlt %r1, 400, loop
	mov %r0, 0
	exit`, true, 200, 500},
		{"counter on the stack (volatile)", `
	mov %r1, 0
	stxw [%r10-4], %r1
loop:
	ldxw %r2, [%r10-4]
	add %r2, 1
	stxw [%r10-4], %r2
	ldxw %r2, [%r10-4]
	jlt %r2, 6000, loop
	mov %r0, 0
	exit`, true, 6000 * 5, 6000 * 5 * 2},
		{"nested", `
	mov %r1, 0
outer:
	mov %r2, 0
inner:
	add %r2, 1
	jlt %r2, 10, inner
	add %r1, 1
	jlt %r1, 10, outer
	mov %r0, 0
	exit`, true, 100 * 2, 11 * 11 * 4},
		// clang's loop over a u32 counter kept in a 64-bit register and
		// tested after zero extension (bounded_loop.c).
		{"u32 counter tested after zero extension", `
	mov %r6, 0
	ja test
loop:
	add %r6, 1
test:
	mov %r1, %r6
	lsh %r1, 32
	rsh %r1, 32
	jeq %r1, 1000, out
	ja loop
out:
	mov %r0, 0
	exit`, true, 1000 * 5, 1000 * 5 * 2},
		{"no progress", `
	ldxw %r1, [%r1+16]
loop:
	jeq %r1, 5, out
	ja loop
out:
	mov %r0, 0
	exit`, false, 0, 0},
		{"counter reset on one path", `
	ldxw %r3, [%r1+16]
	mov %r1, 0
loop:
	add %r1, 1
	jne %r3, 7, +1
	mov %r1, 0
	jlt %r1, 100, loop
	mov %r0, 0
	exit`, false, 0, 0},
		{"unbounded counter", `
	ldxw %r3, [%r1+12]
	mov %r1, 0
loop:
	add %r1, 1
	jne %r1, %r3, loop
	mov %r0, 0
	exit`, false, 0, 0},
		{"up on one path, down on the other", `
	ldxw %r3, [%r1+16]
	mov %r1, 50
loop:
	jeq %r3, 0, down
	add %r1, 1
	ja test
down:
	sub %r1, 1
test:
	jgt %r1, 100, out
	jgt %r1, 0, loop
out:
	mov %r0, 0
	exit`, false, 0, 0},
		{"bpf_loop callback", `
	mov %r1, 10
	lddw %r2, code cb
	mov %r3, 0
	mov %r4, 0
	call 181
	mov %r0, 0
	exit
cb:
	mov %r0, 0
	exit`, true, 10 * 2, 10*2 + 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := asm.Assemble("t.s", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Verify(insns, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			if p.Terminates() != tt.ends {
				t.Fatalf("Terminates = %v (bound %d), want %v", p.Terminates(), p.MaxInstructions(), tt.ends)
			}
			if tt.ends && (p.MaxInstructions() < tt.min || p.MaxInstructions() > tt.max) {
				t.Errorf("MaxInstructions = %d, want [%d, %d]", p.MaxInstructions(), tt.min, tt.max)
			}
		})
	}
}
