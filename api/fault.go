package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xebpf/xebpf/isa"
)

// Reason classifies a runtime fault. Reasons are comparable: use
// errors.Is(err, api.ErrOutOfBounds).
type Reason struct{ msg string }

// Error returns the reason's message.
func (r *Reason) Error() string { return r.msg }

// Runtime fault reasons.
var (
	ErrOutOfBounds     = &Reason{"memory access out of bounds"}
	ErrReadOnly        = &Reason{"write to read-only memory"}
	ErrMisaligned      = &Reason{"misaligned atomic access"}
	ErrBudgetExceeded  = &Reason{"instruction budget exceeded"}
	ErrCallDepth       = &Reason{"call depth limit exceeded"}
	ErrFellOffEnd      = &Reason{"execution fell off the end of the program"}
	ErrBadCallTarget   = &Reason{"indirect call to an invalid target"}
	ErrHelperFailed    = &Reason{"helper failed"}
	ErrInvalidInsn     = &Reason{"invalid instruction"}
	ErrBadHelperMemory = &Reason{"helper argument memory out of bounds"}
	ErrTailCallLimit   = &Reason{"tail call limit exceeded"}
	// ErrBadContextAccess is an access to the context outside its fields,
	// at a width or alignment the field does not allow, or a store to a
	// field that is not writable.
	ErrBadContextAccess = &Reason{"invalid context access"}
	// ErrReservedField is a load or store touching a field only helpers
	// may use, such as a map value's bpf_spin_lock.
	ErrReservedField = &Reason{"access to a field reserved for helpers"}
	// ErrTooManyObjects is a run that made more than the runtime's limit
	// of objects (interp.MaxObjects).
	ErrTooManyObjects = &Reason{"too many objects in one run"}
)

// ErrBadPointer is a pointer that is not what it must be: a helper
// argument number out of range, a callback argument tag that is not the
// run's, an lddw constant outside the object it is said to point into.
var ErrBadPointer = errors.New("bad pointer")

// Program is a compiled program as the packages around the runtime see
// it: what a ProgramArray slot holds, what a tail call continues with and
// what a Fault names. Package interp's *Program implements it; a runtime
// runs only programs of its own, and a tail call to any other ends the run
// with ErrBadCallTarget.
type Program interface {
	// Instructions returns the program's instructions.
	Instructions() []isa.Instruction
	// InsnAt returns the instruction at slot pc, the zero Instruction for
	// the second slot of an lddw or a slot outside the program: what a
	// Fault at pc executed.
	InsnAt(pc int) isa.Instruction
}

// Fault is a runtime error of a checked run: what went wrong, where, and
// with which memory regions in force.
type Fault struct {
	Reason  *Reason
	PC      int             // slot of the faulting instruction
	Insn    isa.Instruction // the faulting instruction
	Addr    uint64          // accessed address, for memory faults
	Size    int             // access size, for memory faults
	Write   bool
	Regions []Region // the regions the access was checked against
	// Object describes what the accessed pointer pointed into, in checked
	// mode: "map flows value", "a scalar (not a pointer)", ...
	Object string
	// Program is the program PC belongs to: the one run, or one it
	// tail-called.
	Program Program
	Err     error // underlying error, e.g. from a helper
}

// Error describes the fault: pc, instruction, reason, the access and the
// object it went through, and the underlying error.
func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pc %d (%v): %s", f.PC, f.Insn, f.Reason.msg)
	if f.Size > 0 {
		kind := "read"
		if f.Write {
			kind = "write"
		}
		fmt.Fprintf(&b, ": %s of %d bytes at %#x", kind, f.Size, f.Addr)
		if f.Object != "" {
			fmt.Fprintf(&b, " through a pointer to %s", f.Object)
		}
		if len(f.Regions) > 0 {
			b.WriteString(" outside regions ")
			for i, r := range f.Regions {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(r.String())
			}
		}
	}
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	return b.String()
}

// Unwrap returns the reason and the underlying error.
func (f *Fault) Unwrap() []error {
	if f.Err != nil {
		return []error{f.Reason, f.Err}
	}
	return []error{f.Reason}
}
