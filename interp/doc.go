// Package interp executes eBPF programs with the exact semantics of
// RFC 9669 at cpu version v4.
//
// # Modes
//
// A Program runs in one of two modes chosen when it is compiled:
//
//   - Checked mode is for programs nobody has verified: the conformance
//     suite, programs a verifier rejected, and the oracle for the verifier's
//     soundness tests. Every load and store is checked against the one
//     object its pointer was derived from (see Provenance), every jump and
//     call target is validated, the call depth is limited, and an
//     instruction budget stops runaway loops. A violation ends the run with
//     an *api.Fault naming the pc, the instruction, the address and the object;
//     it never crashes the Go process.
//   - Fast mode performs no per-access checks. It is for programs a verifier
//     has accepted. Until xebpf's verifier exists, fast mode is reachable only
//     through Config.UnsafeTrustProgram, for tests and benchmarks on programs
//     known to be correct.
//
// Both modes are safe for concurrent use: each run takes its own stack and
// register file from a per-program free list, so a Program may be run from
// many goroutines at once, and a run allocates nothing on the Go heap.
//
// # Memory model
//
// Programs see real 64-bit addresses. Everything a program may touch — its
// stack, the context, the packet, map values — lives in memory that the Go
// garbage collector neither moves nor frees while a program can reach it:
// blocks obtained from the operating system outside the Go heap
// (internal/platform: mmap on Unix, VirtualAlloc on Windows). A register
// holding a pointer is therefore an ordinary integer that loads and stores
// dereference directly, exactly as in the kernel, and a future JIT can emit
// plain machine loads. The verifier and the checked interpreter reason about
// the same addresses: a region is a [start, start+size) range of such memory
// with a writable flag.
//
// Each run has a stack of api.MaxCallDepth frames of api.StackSize (512)
// bytes. Frame 0 is at the top; a local call gets a fresh frame below its
// caller, r10 points one past the end of the current frame and is
// read-only, and r6-r9 are restored when the callee exits.
//
// Helpers are Go functions (api.Helper) in a table indexed by helper id,
// supplied in Config. They see the run through an api.HelperCall and read
// program memory only through its ArgMemory (or Memory), which applies the
// same checks as the program's own accesses in checked mode. The run's
// machine (its stack and object table) is the api.Runtime behind those
// calls: the HelperCall keeps the arguments and their tags, the machine
// the objects they are checked against.
//
// # Provenance
//
// In checked mode every register and every 8-byte stack slot carries an api.Tag:
// the object of the run its value points into, or api.NoTag for a scalar. The
// objects of a run are the stack frames in use, the regions of Env (the
// packet, the context), the static objects of lddw constants
// (Config.Pointers: map handles and global data values), and the objects
// helpers hand out (api.HelperCall.Object: one map value, one ring-buffer
// record, one key copy). Tags flow as in Linux's verifier: a register move
// copies the tag, adding or subtracting a scalar keeps it, every other
// operation (32-bit ones included) gives a scalar; an aligned 8-byte spill
// to the stack and its fill keep it, any other store to a stack slot makes
// it a scalar; a value loaded from any other memory is a scalar, except
// the context's pointer fields (api.Fields), whose loads are pointers into
// their region. An access through a register is checked against that one
// object: inside its bounds, writable for stores, inside one context field
// at a permitted width, outside the object's reserved spans. A forged or
// laundered pointer is a scalar, and faults.
//
// # What checked mode guarantees
//
//  1. Host integrity: no program, whatever its bytes, reads or writes a byte
//     outside the objects the run was given or helpers handed out, directly
//     or through a helper (helpers check their pointer arguments against
//     the arguments' objects), and never a byte the runtime trusts: map keys
//     and metadata, lock words (api.Region.Reserved), ring-buffer headers,
//     context words holding pointers or read-only fields, read-only maps.
//  2. Object bounds like the kernel's: a pointer derived from a map value
//     stays inside that value; one derived from the context touches only its
//     fields, at their widths, writing only writable ones; packet pointers
//     stay inside the packet region, and die when a helper moves the packet
//     (api.HelperCall.MoveRegion); the stack as the frames in use.
//  3. Liveness: one instruction budget (Config.InstructionBudget, default
//     DefaultInstructionBudget = 16M) per run, shared by the program, its
//     callbacks, BPF-to-BPF calls and tail calls. Every instruction and every
//     callback invocation counts, so a run ends after at most the budget's
//     instructions plus the bounded work of the helpers it called (each
//     helper call is bounded by its arguments and the map sizes).
//  4. Nothing flows between runs: each checked run starts with a cleared
//     stack and no tags from an earlier run, and objects live only for the
//     run (a pointer a program stores in a map is a scalar when loaded).
//  5. No panic escapes: faults are errors, and a helper that panics ends
//     the run with a fault (ErrPanic) instead of taking the process down.
//
// The runtime built on this package (package xebpf) adds the rest of what
// a hostile program must not break: spin locks only on a map value's
// bpf_spin_lock field, one at a time, never across another helper call and
// released whatever the run's end; ring buffer records submitted or
// discarded once, and discarded if a run leaves them; memory released only
// after the last run that can reach it has ended (closing a collection,
// program, map or runner while runs are in flight is safe, and later runs
// get ErrClosed); and a memory limit per collection
// (CollectionOptions.MemoryLimit) covering maps, ring buffers, per-CPU
// copies and run states.
//
// Fast mode gives none of these: it is only for programs a verifier
// accepted or a caller explicitly trusts (Config.UnsafeTrustProgram).
package interp
