// Package interp executes eBPF programs with the exact semantics of
// RFC 9669 at cpu version v4.
//
// # Modes
//
// A Program runs in one of two modes chosen when it is compiled:
//
//   - Checked mode is for programs nobody has verified: the conformance
//     suite, programs a verifier rejected, and the oracle for the verifier's
//     soundness tests. Every load and store is bounds-checked against the
//     memory regions of the run (the stack frames in use plus the regions
//     the caller passes in Env), every jump and call target is validated, the
//     call depth is limited, and an instruction budget stops runaway loops. A
//     violation ends the run with a *Fault naming the pc, the instruction,
//     the address and the regions; it never crashes the Go process.
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
// Each run has a stack of MaxCallDepth frames of StackSize (512) bytes. Frame
// 0 is at the top; a local call gets a fresh frame below its caller, r10
// points one past the end of the current frame and is read-only, and r6-r9
// are restored when the callee exits.
//
// Helpers are Go functions in a table indexed by helper id, supplied in
// Config. A helper reads program memory only through HelperCall.Memory,
// which applies the same bounds checks as the program in checked mode.
package interp
