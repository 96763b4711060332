package verifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/asm"
)

// TestTermination checks which loops the verifier proves to end, and the
// bound on the instructions a run executes.
func TestTermination(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		reject   string // "": accepted, proven to end
		min, max uint64 // bounds on MaxInstructions when accepted
	}{
		{"no loop", "mov %r0, 0\njeq %r1, 0, +1\nmov %r0, 1\nexit", "", 4, 4},
		{"count up", `
	mov %r1, 0
loop:
	add %r1, 1
	jlt %r1, 100, loop
	mov %r0, 0
	exit`, "", 200, 500},
		{"count down", `
	mov %r1, 100
loop:
	sub %r1, 1
	jne %r1, 0, loop
	mov %r0, 0
	exit`, "", 200, 500},
		{"step of 4", `
	mov %r1, 0
loop:
	add %r1, 4
	jlt %r1, 400, loop
	mov %r0, 0
	exit`, "", 200, 500},
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
	exit`, "", 6000 * 5, 6000 * 5 * 2},
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
	exit`, "", 100 * 2, 11 * 11 * 4},
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
	exit`, "", 1000 * 5, 1000 * 5 * 2},
		{"no progress", `
	ldxw %r1, [%r1+16]
loop:
	jeq %r1, 5, out
	ja loop
out:
	mov %r0, 0
	exit`, "not proven to end", 0, 0},
		{"counter reset on one path", `
	ldxw %r3, [%r1+16]
	mov %r1, 0
loop:
	add %r1, 1
	jne %r3, 7, +1
	mov %r1, 0
	jlt %r1, 100, loop
	mov %r0, 0
	exit`, "not proven to end", 0, 0},
		{"unbounded counter", `
	ldxw %r3, [%r1+12]
	mov %r1, 0
loop:
	add %r1, 1
	jne %r1, %r3, loop
	mov %r0, 0
	exit`, "not proven to end", 0, 0},
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
	exit`, "goes up by 1 on one way back to the loop's head and down by 1 on another", 0, 0},
		{"!= exit, stride 8", `
	mov %r1, 0
	mov %r2, 0
loop:
	add %r2, 8
	add %r1, 1
	jne %r2, 12000, loop
	mov %r0, %r1
	exit`, "", 1500 * 3, 1500 * 3 * 2},
		{"!= exit, stride 8, 32-bit", `
	mov32 %r2, 8
loop:
	add32 %r2, 8
	jne32 %r2, 12000, loop
	mov %r0, 0
	exit`, "", 1499 * 2, 1500 * 2 * 2},
		{"!= exit, counting down by 3", `
	mov %r2, 3000
loop:
	sub %r2, 3
	jne %r2, 0, loop
	mov %r0, 0
	exit`, "", 1000 * 2, 1000 * 2 * 2},
		{"!= exit, wrong residue", `
	mov %r2, 1
loop:
	add %r2, 8
	jne %r2, 12000, loop
	mov %r0, 0
	exit`, "r2 starts at 1 and the first iteration adds 8 on every way back, but the exit at pc 2 needs r2 == 12000, r2 being r2 + 8 there, which is not 1 plus a multiple of 8", 0, 0},
		{"!= exit, starts past the exit", `
	mov %r2, 16000
loop:
	add %r2, 8
	jne %r2, 12000, loop
	mov %r0, 0
	exit`, "r2 starts at 16000, past its exit", 0, 0},
		{"!= exit, 32-bit counter ends only by wrapping", `
	mov32 %r2, 16000
loop:
	add32 %r2, 8
	jne32 %r2, 12000, loop
	mov %r0, 0
	exit`, "it reaches the exit only by wrapping around", 0, 0},
		{"!= exit, steps of 8 and 16 can jump over it", `
	ldxw %r3, [%r1+16]
	mov %r2, 0
loop:
	jeq %r3, 0, +1
	add %r2, 8
	add %r2, 8
	jne %r2, 12000, loop
	mov %r0, 0
	exit`, "not proven to end", 0, 0},
		{"!= exit, the start unknown", `
	ldxw %r2, [%r1+16]
	lsh %r2, 3
loop:
	add %r2, 8
	jne %r2, 12000, loop
	mov %r0, 0
	exit`, "r2 enters the loop anywhere in [0, 34359738360], so it can start past its exit", 0, 0},
		{"i < n, n a u32", `
	ldxw %r3, [%r1+16]
	mov %r1, 0
loop:
	add %r1, 1
	jlt %r1, %r3, loop
	mov %r0, 0
	exit`, "", 1 << 33, 1 << 34},
		{"i < n, n at most 1000", `
	ldxw %r3, [%r1+16]
	jgt %r3, 1000, out
	mov %r1, 0
loop:
	add %r1, 1
	jlt %r1, %r3, loop
out:
	mov %r0, 0
	exit`, "", 2000, 4000},
		{"i < n, n on the stack", `
	ldxw %r3, [%r1+16]
	and %r3, 255
	stxdw [%r10-8], %r3
	mov %r1, 0
loop:
	add %r1, 1
	ldxdw %r4, [%r10-8]
	jgt %r4, %r1, loop
	mov %r0, 0
	exit`, "", 255 * 3, 256 * 3 * 2},
		{"i < n, n moves with i", `
	ldxw %r3, [%r1+16]
	ldxw %r5, [%r1+20]
	mov %r1, 0
loop:
	add %r1, 1
	jeq %r5, 0, +2
	mov %r3, %r1
	add %r3, 1
	jlt %r1, %r3, loop
	mov %r0, 0
	exit`, "the value r1 is compared with at pc 7 (r3) is not shown to be the same on every iteration", 0, 0},
		{"steps of 1 and 4", `
	ldxw %r3, [%r1+16]
	mov %r1, 0
loop:
	jeq %r3, 0, one
	add %r1, 4
	ja test
one:
	add %r1, 1
test:
	jlt %r1, 1000, loop
	mov %r0, 0
	exit`, "", 1000 * 4, 1000 * 5 * 2},
		{"fold until below 2^16 (unrolled)", `
	ldxw %r2, [%r1+16]
	ldxw %r1, [%r1+12]
	lsh %r2, 32
	or %r1, %r2
loop:
	mov %r3, %r1
	rsh %r3, 16
	and %r1, 0xffff
	add %r1, %r3
	jgt %r1, 0xffff, loop
	mov %r0, %r1
	exit`, "", 3 * 5, 8*5 + 6},
		{"halving until zero (unrolled)", `
	ldxw %r2, [%r1+16]
	ldxw %r1, [%r1+12]
	lsh %r2, 32
	or %r1, %r2
loop:
	rsh %r1, 1
	jne %r1, 0, loop
	mov %r0, 0
	exit`, "", 64 * 2, 66*2 + 6},
		{"a fold that does not shrink", `
	ldxw %r2, [%r1+16]
	ldxw %r1, [%r1+12]
	lsh %r2, 32
	or %r1, %r2
loop:
	or %r1, 1
	jgt %r1, 5, loop
	mov %r0, 0
	exit`, "not proven to end", 0, 0},
		{"no exit", `
	mov %r1, 0
loop:
	add %r1, 1
	jgt %r1, 0, loop
	ja loop
	exit`, "infinite loop at pc 1", 0, 0},
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
	exit`, "", 10 * 2, 10*2 + 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns, err := asm.Assemble("t.s", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Verify(insns, testConfig())
			if tt.reject != "" {
				var e *Error
				if err == nil || !errors.As(err, &e) || !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tt.reject) {
					t.Fatalf("error %v, want a rejection with %q", err, tt.reject)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Terminates() {
				t.Fatalf("Terminates = false (bound %d)", p.MaxInstructions())
			}
			if p.MaxInstructions() < tt.min || p.MaxInstructions() > tt.max {
				t.Errorf("MaxInstructions = %d, want [%d, %d]", p.MaxInstructions(), tt.min, tt.max)
			}
		})
	}
}
