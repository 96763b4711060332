// Package api holds what the interpreter, the helpers a program calls and
// the verifier that checks it agree on: helper prototypes and argument
// kinds, the Helper function type and the HelperCall a helper receives,
// the memory a run may reach (Region, Fields, Env), tags, faults and
// their reasons, and Program, the compiled program a ProgramArray slot
// holds. It imports nothing of xebpf but the instruction set (isa), so
// that helpers, interp, maps and verifier depend on it and on none of
// each other for these types, as wazero's api package is the seam
// between its runtime and host functions.
//
// A HelperCall carries the call's arguments, their tags and what the
// helper asks of the run (Stop, Return, TailCall) itself; what needs the
// run in progress (the object table of checked mode, callbacks) goes
// through the Runtime interface, which package interp implements. A
// runtime drives the call through a Caller, which helpers never see.
package api

import "fmt"

// ArgKind is what a helper expects in one argument register, the
// counterpart of the kernel's enum bpf_arg_type. The verifier checks
// programs against it.
type ArgKind uint8

// Argument kinds. Memory arguments are followed by their size argument
// (ArgConstSize or ArgConstSizeOrZero) unless noted.
const (
	ArgNone            ArgKind = iota // unused register
	ArgAnything                       // ARG_ANYTHING: any initialized value
	ArgConstMapPtr                    // ARG_CONST_MAP_PTR: a map pointer from lddw
	ArgMapKey                         // ARG_PTR_TO_MAP_KEY: key_size readable bytes
	ArgMapValue                       // ARG_PTR_TO_MAP_VALUE: value_size readable bytes
	ArgUninitMapValue                 // ARG_PTR_TO_MAP_VALUE | MEM_UNINIT: value_size writable bytes
	ArgMem                            // ARG_PTR_TO_MEM | MEM_RDONLY: readable memory
	ArgMemOrNull                      // ARG_PTR_TO_MEM | PTR_MAYBE_NULL: readable memory or NULL
	ArgUninitMem                      // ARG_PTR_TO_UNINIT_MEM: writable memory the helper fills
	ArgUninitMemOrNull                // ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_UNINIT: writable memory or NULL
	ArgConstSize                      // ARG_CONST_SIZE: size (> 0) of the previous memory argument
	ArgConstSizeOrZero                // ARG_CONST_SIZE_OR_ZERO: size (>= 0) of the previous memory argument
	ArgConstAllocSize                 // ARG_CONST_ALLOC_SIZE_OR_ZERO: size of the memory the helper returns
	ArgCtx                            // ARG_PTR_TO_CTX: the program's context
	ArgFunc                           // ARG_PTR_TO_FUNC: a callback's code address (lddw src 4)
	ArgStackOrNull                    // ARG_PTR_TO_STACK_OR_NULL: callback context on the stack, or NULL
	ArgSpinLock                       // ARG_PTR_TO_SPIN_LOCK: a bpf_spin_lock inside a map value
	ArgRingbufMem                     // ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE: a record from ringbuf_reserve
	ArgConstStr                       // ARG_PTR_TO_CONST_STR: NUL-terminated string in read-only map memory
)

var argNames = [...]string{
	"none", "anything", "const_map_ptr", "map_key", "map_value", "uninit_map_value",
	"mem", "mem_or_null", "uninit_mem", "uninit_mem_or_null", "const_size",
	"const_size_or_zero", "const_alloc_size", "ctx", "func", "stack_or_null",
	"spin_lock", "ringbuf_mem", "const_str",
}

func (k ArgKind) String() string {
	if int(k) < len(argNames) {
		return argNames[k]
	}
	return fmt.Sprintf("ArgKind(%d)", uint8(k))
}

// IsMem reports whether the argument is a pointer to memory whose size the
// next argument gives.
func (k ArgKind) IsMem() bool {
	return k == ArgMem || k == ArgMemOrNull || k == ArgUninitMem || k == ArgUninitMemOrNull
}

// IsSize reports whether the argument is the size of the previous one.
func (k ArgKind) IsSize() bool { return k == ArgConstSize || k == ArgConstSizeOrZero }

// RetKind is what a helper returns in r0, the counterpart of the kernel's
// enum bpf_return_type.
type RetKind uint8

// Return kinds.
const (
	RetInteger          RetKind = iota // RET_INTEGER: a scalar
	RetVoid                            // RET_VOID: r0 is not defined after the call
	RetMapValueOrNull                  // RET_PTR_TO_MAP_VALUE_OR_NULL (an inner map for map-in-map)
	RetRingbufMemOrNull                // RET_PTR_TO_RINGBUF_MEM_OR_NULL, of the size in arg 2
)

var retNames = [...]string{"integer", "void", "map_value_or_null", "ringbuf_mem_or_null"}

func (k RetKind) String() string {
	if int(k) < len(retNames) {
		return retNames[k]
	}
	return fmt.Sprintf("RetKind(%d)", uint8(k))
}

// Prototype is the signature of a helper: its Linux name (without the
// bpf_ prefix), its five argument kinds and its return kind.
type Prototype struct {
	Name string
	Args [5]ArgKind
	Ret  RetKind
}

// NumArgs returns the number of arguments before the first ArgNone.
func (p Prototype) NumArgs() int {
	for i, a := range p.Args {
		if a == ArgNone {
			return i
		}
	}
	return len(p.Args)
}

func (p Prototype) String() string {
	s := p.Ret.String() + " bpf_" + p.Name + "("
	for i := range p.NumArgs() {
		if i > 0 {
			s += ", "
		}
		s += p.Args[i].String()
	}
	return s + ")"
}
