// Package xebpf loads unmodified clang-built eBPF objects and runs their
// programs in pure Go, on any operating system Go runs on, without kernel
// privileges — the way wazero runs WebAssembly.
//
// The API is cilium/ebpf's (v0.22): LoadCollectionSpec parses an ELF
// object into a CollectionSpec (programs, maps, global variables, types;
// nothing created yet), and NewCollection creates its maps and prepares
// its programs:
//
//	spec, err := xebpf.LoadCollectionSpec("filter.o")
//	coll, err := xebpf.NewCollection(spec)
//	ret, err := coll.Programs["xdp_filter"].Run(&xebpf.RunOptions{Data: packet})
//
// Code written for cilium/ebpf, including what its bpf2go generates
// (LoadAndAssign into structs of *Program, *Map and *Variable fields),
// compiles against this package imported as `ebpf
// "github.com/xebpf/xebpf"`, with packages ringbuf and perf beside it;
// docs/migrating-from-cilium-ebpf.md lists every name and what differs.
//
// Program.Run gives a program the environment the Linux kernel's
// BPF_PROG_TEST_RUN gives it — an XDP frame of 4096 bytes with 256 bytes of
// headroom, an skb starting at the Ethernet header (TC) or at the network
// header (socket filters) — so results compare with the kernel's; the
// command `xebpf run --compare-kernel` does that comparison. A Runner runs
// one program from one goroutine without per-call pooling, for hosts that
// call a program per request.
//
// Collection.Close (and Program.Close, Map.Close) may be called while other
// goroutines still run the programs and use the maps: runs in progress
// finish, later ones return ErrClosed, and the memory is freed when the
// last run ends. A collection allocates at most
// CollectionOptions.MemoryLimit bytes (DefaultMemoryLimit, 1 GiB), maps
// and run states together.
//
// Every program has a ProgramType, the Linux enum its section implies
// (ProgramSpec.Type), and runs with a ProgramKind: its context struct, the
// helpers it may call and the meaning of its return value. KindOf gives
// the built-in kinds: those of XDP, socket filter and TC programs, of
// tracing programs — kprobes get a read-only struct pt_regs of the
// architecture the object was built for (PtRegsX86_64, PtRegsARM64;
// CollectionOptions.Arch), tracepoints their record (TracepointKind reads
// its format), raw tracepoints their u64 arguments — and raw memory for
// programs of unknown type; contexts can be built from JSON
// (ProgramKind.ContextFromJSON). A host declares its own to run eBPF
// plug-ins with a context and helpers of its choosing (see
// examples/hostplugin). Loads of context fields are rewritten when the
// program is prepared, as the kernel rewrites them, so that a field the C
// code declares as a 32-bit pointer (xdp_md.data) yields the real address.
//
// NewCollection verifies every program before it may run: a program the
// verifier rejects fails the load with a *VerifierError, unless
// CollectionOptions.Unverified runs it in the interpreter's checked mode,
// where every memory access is bounds-checked and runaway loops are
// stopped. Verified programs run without per-access checks when the
// verifier proves what they need (Program.Engine says which).
// CollectionOptions.UnsafeFastMode skips the verifier, for programs the
// caller vouches for.
package xebpf
