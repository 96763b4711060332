package elf

import (
	"github.com/cilium/ebpf/btf"
)

// Arch is the CPU architecture a tracing program was written for: the
// layout of the struct pt_regs its kprobe programs read. eBPF objects are
// all EM_BPF; only the C they were compiled from says which kernel's
// registers they expect (bpf_tracing.h's __TARGET_ARCH_*).
type Arch uint8

// Architectures.
const (
	// ArchUnknown is an object whose types do not say: no BTF, or no
	// register struct in it.
	ArchUnknown Arch = iota
	// ArchX86_64 is x86-64: struct pt_regs of 21 unsigned longs, r15 to ss.
	ArchX86_64
	// ArchARM64 is arm64: struct user_pt_regs (regs[31], sp, pc, pstate)
	// at the start of the kernel's struct pt_regs.
	ArchARM64
)

func (a Arch) String() string {
	switch a {
	case ArchX86_64:
		return "x86_64"
	case ArchARM64:
		return "arm64"
	}
	return "unknown"
}

// Member names only one architecture's register structs have: x86-64's
// struct pt_regs, with the kernel's names (vmlinux.h) or the user-space
// ones (<asm/ptrace.h>, which bpf_tracing.h reads without vmlinux.h), and
// arm64's struct pt_regs and struct user_pt_regs.
var (
	x86RegNames = map[string]bool{
		"di": true, "si": true, "dx": true, "cx": true, "ax": true, "bx": true, "bp": true,
		"ip": true, "orig_ax": true, "r8": true, "flags": true,
		"rdi": true, "rsi": true, "rdx": true, "rcx": true, "rax": true, "rbx": true, "rbp": true,
		"rip": true, "rsp": true, "orig_rax": true, "eflags": true,
	}
	arm64RegNames = map[string]bool{
		"regs": true, "user_regs": true, "pc": true, "pstate": true, "orig_x0": true, "syscallno": true,
	}
)

// TargetArch infers the architecture an object's tracing code was built
// for from its BTF: the register structs its programs read through
// (struct pt_regs, struct user_pt_regs, and their CO-RE flavours such as
// pt_regs___arm64) have members only one architecture names. It returns
// ArchUnknown when types is nil, holds no such struct, or holds both
// architectures' registers.
func TargetArch(types *btf.Spec) Arch {
	if types == nil {
		return ArchUnknown
	}
	x86, arm64 := false, false
	for t, err := range types.All() {
		if err != nil {
			break
		}
		st, ok := t.(*btf.Struct)
		if !ok {
			continue
		}
		switch essentialName(st.Name) {
		case "user_pt_regs":
			// Only arm64 (and its 32-bit ancestors, which xebpf does not
			// model) gives user space a struct of this name.
			arm64 = true
		case "pt_regs":
			for _, m := range allMembers(st.Members, 0) {
				x86 = x86 || x86RegNames[m]
				arm64 = arm64 || arm64RegNames[m]
			}
		}
	}
	switch {
	case x86 && !arm64:
		return ArchX86_64
	case arm64 && !x86:
		return ArchARM64
	}
	return ArchUnknown
}

// allMembers returns the names of ms and of the members of its anonymous
// structs and unions (arm64's pt_regs keeps regs in one).
func allMembers(ms []btf.Member, depth int) []string {
	var out []string
	for _, m := range ms {
		if m.Name != "" {
			out = append(out, m.Name)
			continue
		}
		if depth >= 4 {
			continue
		}
		switch in := btf.UnderlyingType(m.Type).(type) {
		case *btf.Struct:
			out = append(out, allMembers(in.Members, depth+1)...)
		case *btf.Union:
			out = append(out, allMembers(in.Members, depth+1)...)
		}
	}
	return out
}
