// Package elf loads eBPF ELF objects built by clang (and older toolchains)
// into a CollectionSpec: programs, maps and type information, decoded and
// relocated but not loaded anywhere. The spec depends only on the bytes of
// the object, never on the host: no kernel, no map is created.
//
// # Programs
//
// Every function symbol of an executable section is a program, typed by its
// section name under libbpf's SEC() conventions ("xdp", "kprobe/...",
// "cgroup_skb/ingress", ...) or, failing that, other loaders' names
// (Cilium's "from-netdev", "from-container", ...; iproute2's "ingress") and
// the legacy prefixes of samples/bpf and iproute2 ("socket1", "xdp_prog",
// ...). Cilium's XDP programs, which kept the TC entry's "from-netdev",
// are told apart by the context they read; programs in iproute2's
// numbered tail-call sections ("2/7"), which also fill the program array
// of that id, take the type of the programs sharing their program array
// (InheritTailCallTypes). Other sections give programs of type Unspec. Objects whose symbols have size 0 are split
// at the symbol offsets; code without symbols is one program named after its
// section. Functions of .text are subprograms, linked after each program
// that calls them or takes their address (call with src 1, lddw with src
// isa.PseudoFunc), with the call immediates rewritten relative to the linked
// program; a .text function no other function references is a program too.
//
// # Map references
//
// Maps are listed in CollectionSpec.MapOrder, sorted by name. A relocated
// reference to a map is an lddw whose Src is isa.PseudoMapIndex and whose
// Constant is the map's index in MapOrder. A reference to global data
// (.data, .rodata*, .bss, .data.*, extern variables in ".kconfig") is an
// lddw with Src isa.PseudoMapIndexValue: the low 32 bits of Constant hold
// the map index, the high 32 bits (the second slot's immediate) the byte
// offset into the map's value. The runtime replaces both with real
// addresses when it instantiates the maps.
//
// Global data sections are single-entry Array maps named after the section,
// whose value is the section contents (zeros for .bss).
//
// # Externs
//
// Calls to undefined functions named after a helper (bpf_map_lookup_elem)
// become helper calls. Other undefined calls are poisoned: they call
// PoisonHelper, and ProgramSpec.Unresolved lists them. __kconfig variables
// are resolved to the values xebpf chooses (see KernelVersion and the
// table in kconfig.go) in a read-only ".kconfig" map; unknown ones and
// kernel symbols (__ksym) fail the load with an error naming the symbol.
//
// # BTF and CO-RE
//
// Types come from github.com/cilium/ebpf/btf. When it cannot parse the
// object's BTF the load goes on without types (legacy maps still work) and
// CollectionSpec.Warnings says why. Line info is read from .BTF.ext by this
// package: ProgramSpec.LineInfo maps every instruction to its source line.
//
// CO-RE relocations resolve against xebpf's own context types (struct
// xdp_md, struct __sk_buff, struct bpf_sock, struct bpf_sock_ops, struct
// pt_regs with x86-64 kernel field names, or arm64's for objects whose BTF
// says they were built for arm64 (TargetArch), ...), embedded as raw BTF
// compiled by clang-19 from testdata/ctxtypes.c. As in libbpf, a relocation whose
// type or field those types lack poisons its instruction (a call to
// PoisonHelper, listed in ProgramSpec.Unresolved); "exists" relocations
// yield 0 instead.
package elf
