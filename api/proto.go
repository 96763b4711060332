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

	// Kinds of the helpers xebpf does not implement (their prototypes are
	// in helpers.Prototype), appended so that the values above stay.

	ArgWritableMem         // ARG_PTR_TO_MEM without MEM_RDONLY (| MEM_WRITE since Linux 6.12): initialized memory the helper reads and writes
	ArgWritableMemOrNull   // ARG_PTR_TO_MEM_OR_NULL (| MEM_WRITE): the same, or NULL
	ArgCtxOrNull           // ARG_PTR_TO_CTX_OR_NULL: the program's context, or NULL
	ArgMapValueOrNull      // ARG_PTR_TO_MAP_VALUE_OR_NULL: value_size readable bytes of the map in arg 1, or NULL
	ArgSockCommon          // ARG_PTR_TO_SOCK_COMMON: a socket pointer from the context or a helper (sock_common, socket or tcp_sock)
	ArgSocketOrNull        // ARG_PTR_TO_SOCKET_OR_NULL: a full socket pointer, or NULL
	ArgBTFSockCommon       // ARG_PTR_TO_BTF_ID_SOCK_COMMON: any socket pointer, including a BTF pointer to struct sock_common
	ArgReleaseSock         // ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE: a referenced socket (from sk_lookup_*, skc_lookup_tcp) the call releases
	ArgBTFID               // ARG_PTR_TO_BTF_ID: a trusted pointer to the kernel struct the helper names (see each prototype's comment)
	ArgBTFIDOrNull         // ARG_PTR_TO_BTF_ID_OR_NULL: the same, or NULL
	ArgReleaseBTFIDOrNull  // ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE: a referenced allocated object whose reference the call takes, or NULL
	ArgPercpuBTFID         // ARG_PTR_TO_PERCPU_BTF_ID: a per-CPU kernel variable (a typed ksym)
	ArgKptrXchgDest        // ARG_KPTR_XCHG_DEST (ARG_PTR_TO_KPTR before Linux 6.10): a referenced kptr field in a map value or allocated object
	ArgTimer               // ARG_PTR_TO_TIMER: a struct bpf_timer inside a map value
	ArgDynptr              // ARG_PTR_TO_DYNPTR | MEM_RDONLY: an initialized struct bpf_dynptr (16 bytes) on the stack
	ArgUninitDynptr        // ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_LOCAL | MEM_UNINIT: 16 stack bytes the helper makes a local dynptr
	ArgUninitRingbufDynptr // ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | MEM_UNINIT: 16 stack bytes the helper makes a ring buffer dynptr, to be submitted or discarded
	ArgRingbufDynptr       // ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE: a ring buffer dynptr the call submits or discards
	ArgPtrToLong           // ARG_PTR_TO_LONG (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED, size 8, since 6.12): 8 aligned writable bytes the helper fills
	ArgPtrToInt            // ARG_PTR_TO_INT (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE | MEM_ALIGNED, size 4, since 6.12): 4 aligned initialized bytes the helper reads and writes
	ArgFixedMem20          // ARG_PTR_TO_FIXED_SIZE_MEM (| MEM_RDONLY), size 20 (struct iphdr, struct tcphdr): 20 readable bytes, no size argument
	ArgFixedMem40          // ARG_PTR_TO_FIXED_SIZE_MEM (| MEM_RDONLY), size 40 (struct ipv6hdr): 40 readable bytes, no size argument
)

var argNames = [...]string{
	"none", "anything", "const_map_ptr", "map_key", "map_value", "uninit_map_value",
	"mem", "mem_or_null", "uninit_mem", "uninit_mem_or_null", "const_size",
	"const_size_or_zero", "const_alloc_size", "ctx", "func", "stack_or_null",
	"spin_lock", "ringbuf_mem", "const_str",
	"writable_mem", "writable_mem_or_null", "ctx_or_null", "map_value_or_null",
	"sock_common", "socket_or_null", "btf_sock_common", "release_sock", "btf_id",
	"btf_id_or_null", "release_btf_id_or_null", "percpu_btf_id", "kptr_xchg_dest",
	"timer", "dynptr", "uninit_dynptr", "uninit_ringbuf_dynptr", "ringbuf_dynptr",
	"ptr_to_long", "ptr_to_int", "fixed_mem20", "fixed_mem40",
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
	return k == ArgMem || k == ArgMemOrNull || k == ArgUninitMem || k == ArgUninitMemOrNull ||
		k == ArgWritableMem || k == ArgWritableMemOrNull
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

	RetMapValue         // RET_PTR_TO_MAP_VALUE: a value of the map in arg 1, never NULL
	RetSocketOrNull     // RET_PTR_TO_SOCKET_OR_NULL (referenced when from sk_lookup_tcp/udp)
	RetTCPSockOrNull    // RET_PTR_TO_TCP_SOCK_OR_NULL
	RetSockCommonOrNull // RET_PTR_TO_SOCK_COMMON_OR_NULL (referenced when from skc_lookup_tcp)
	RetBTFIDOrNull      // RET_PTR_TO_BTF_ID_OR_NULL: a pointer to the kernel struct the helper names, or NULL
	RetBTFID            // RET_PTR_TO_BTF_ID or RET_PTR_TO_BTF_ID_TRUSTED: a pointer to the kernel struct the helper names
	RetMemOrBTFIDOrNull // RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL | MEM_RDONLY: the per-CPU variable of arg 1 on a CPU, or NULL
	RetMemOrBTFID       // RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY: the per-CPU variable of arg 1 on this CPU
	RetDynptrMemOrNull  // RET_PTR_TO_DYNPTR_MEM_OR_NULL: memory of the dynptr in arg 1, of the size in arg 3, or NULL
)

var retNames = [...]string{
	"integer", "void", "map_value_or_null", "ringbuf_mem_or_null",
	"map_value", "socket_or_null", "tcp_sock_or_null", "sock_common_or_null",
	"btf_id_or_null", "btf_id", "mem_or_btf_id_or_null", "mem_or_btf_id",
	"dynptr_mem_or_null",
}

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
