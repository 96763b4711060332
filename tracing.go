package xebpf

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/xebpf/xebpf/elf"
)

// Arch is a CPU architecture: the layout of the struct pt_regs that kprobe
// and perf_event programs read. The zero value, ArchUnknown, in
// CollectionOptions and VerifyOptions means: the object's, as its BTF says
// (ObjectArch), else the host's (HostArch).
type Arch = elf.Arch

// Architectures.
const (
	ArchUnknown = elf.ArchUnknown
	ArchX86_64  = elf.ArchX86_64
	ArchARM64   = elf.ArchARM64
)

// ParseArch returns the architecture of a name: "x86_64" (or "amd64",
// "x86"), "arm64" (or "aarch64").
func ParseArch(name string) (Arch, error) {
	switch strings.ToLower(name) {
	case "x86_64", "x86-64", "amd64", "x86":
		return ArchX86_64, nil
	case "arm64", "aarch64":
		return ArchARM64, nil
	}
	return ArchUnknown, fmt.Errorf("unknown architecture %q (want x86_64 or arm64)", name)
}

// HostArch returns the architecture xebpf runs on, or x86-64 on other
// hosts: the kernel whose registers a kprobe program of an object that does
// not say would see.
func HostArch() Arch {
	if runtime.GOARCH == "arm64" {
		return ArchARM64
	}
	return ArchX86_64
}

// ObjectArch returns the architecture the object's tracing programs were
// built for (bpf_tracing.h's __TARGET_ARCH_*), inferred from the register
// structs in its BTF; ArchUnknown when it has no BTF or they do not say.
func ObjectArch(spec *CollectionSpec) Arch {
	if spec == nil {
		return ArchUnknown
	}
	return elf.TargetArch(spec.Types)
}

// resolveArch returns arch, or when it is ArchUnknown the object's, or the
// host's.
func resolveArch(spec *CollectionSpec, arch Arch) Arch {
	if arch != ArchUnknown {
		return arch
	}
	if a := ObjectArch(spec); a != ArchUnknown {
		return a
	}
	return HostArch()
}

// PtRegsX86_64 is x86-64's struct pt_regs, the context of kprobe programs
// built for x86-64, in the kernel's layout (arch/x86/include/asm/ptrace.h;
// as /sys/kernel/btf/vmlinux of Linux 6.18 describes it, where cs and ss
// are unions of 8 bytes): bpf_tracing.h's PT_REGS_PARM1 to PT_REGS_PARM5
// read DI, SI, DX, CX and R8, PT_REGS_RC reads AX, PT_REGS_IP IP and
// PT_REGS_SP SP. It is a RunOptions.Context.
type PtRegsX86_64 struct {
	R15, R14, R13, R12, BP, BX, R11, R10, R9, R8      uint64
	AX, CX, DX, SI, DI, OrigAX, IP, CS, Flags, SP, SS uint64
}

// PtRegsARM64 is arm64's struct pt_regs, the context of kprobe programs
// built for arm64, in the kernel's layout (arch/arm64/include/asm/ptrace.h,
// Linux 5.10 to 6.12): struct user_pt_regs (Regs, SP, PC, PState), which
// bpf_tracing.h reads (PT_REGS_PARM1 to PT_REGS_PARM8 are Regs[0] to
// Regs[7], PT_REGS_RC Regs[0], PT_REGS_IP PC), then the kernel's own
// fields (OrigX0 is what PT_REGS_PARM1_SYSCALL reads). It is a
// RunOptions.Context.
type PtRegsARM64 struct {
	Regs            [31]uint64
	SP, PC, PState  uint64
	OrigX0          uint64
	SyscallNo       int32
	Unused2         uint32
	SDEITTBR1       uint64
	PMRSave         uint64
	StackFrame      [2]uint64
	LockdepHardIRQs uint64
	ExitRCU         uint64
}

// u64Fields returns read-only 8-byte fields named names from offset off on.
func u64Fields(off int, names ...string) []ContextField {
	out := make([]ContextField, len(names))
	for i, n := range names {
		out[i] = ContextField{Name: n, Offset: off + 8*i, Size: 8}
	}
	return out
}

// arrayFields returns n read-only fields name[0] to name[n-1] of size
// bytes each from offset off on.
func arrayFields(name string, off, n, size int) []ContextField {
	out := make([]ContextField, n)
	for i := range out {
		out[i] = ContextField{Name: fmt.Sprintf("%s[%d]", name, i), Offset: off + size*i, Size: size}
	}
	return out
}

// ptRegsFields returns the fields of an architecture's struct pt_regs as
// kprobe programs see it (read-only) and its size.
func ptRegsFields(arch Arch) ([]ContextField, int) {
	if arch == ArchARM64 {
		fs := arrayFields("regs", 0, 31, 8)
		fs = append(fs, u64Fields(248, "sp", "pc", "pstate", "orig_x0")...)
		fs = append(fs, ContextField{Name: "syscallno", Offset: 280, Size: 4}, ContextField{Name: "unused2", Offset: 284, Size: 4})
		fs = append(fs, u64Fields(288, "sdei_ttbr1", "pmr_save")...)
		fs = append(fs, arrayFields("stackframe", 304, 2, 8)...)
		fs = append(fs, u64Fields(320, "lockdep_hardirqs", "exit_rcu")...)
		return fs, 336
	}
	return u64Fields(0, "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8",
		"ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"), 168
}

// ptRegsContext returns struct pt_regs of an architecture.
func ptRegsContext(arch Arch) *Context {
	fs, size := ptRegsFields(arch)
	return &Context{Name: "pt_regs", Size: size, Fields: fs}
}

// perfEventContext returns struct bpf_perf_event_data of an architecture:
// the user-visible registers (bpf_user_pt_regs_t: x86-64's struct pt_regs,
// arm64's struct user_pt_regs), sample_period and addr.
func perfEventContext(arch Arch) *Context {
	regs, size := ptRegsFields(arch)
	if arch == ArchARM64 {
		regs, size = regs[:34], 272 // struct user_pt_regs
	}
	fs := append(append([]ContextField(nil), regs...), u64Fields(size, "sample_period", "addr")...)
	return &Context{Name: "bpf_perf_event_data", Size: size + 16, Fields: fs}
}

// maxRawTracepointArgs is the most arguments a raw tracepoint passes
// (Linux's MAX_BPF_FUNC_ARGS), and what raw_tracepoint programs may read.
const maxRawTracepointArgs = 12

// maxTraceSize is the largest tracepoint record (PERF_MAX_TRACE_SIZE):
// what Linux lets a tracepoint program read when it loads it.
const maxTraceSize = 2048

// Linux helper ids tracing programs may call, as Linux 6.x's
// bpf_tracing_func_proto and bpf_base_func_proto offer them: map
// operations, probe reads, the current task's ids, time, trace_printk,
// perf events, ring buffers, stacks, task and cgroup storage, loops and
// dynptrs. Not packet or socket helpers, nor the sleepable ones
// (copy_from_user) or bpf_spin_lock and timers, which Linux refuses in
// tracing programs.
var tracingHelpers = []int32{
	1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 22, 25, 27, 35, 36, 37, 42, 45, 55, 67,
	80, 87, 88, 89, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125,
	130, 131, 132, 133, 134, 141, 149, 153, 154, 156, 157, 158, 160, 164, 165,
	175, 176, 177, 180, 181, 182, 194, 195, 197, 198, 199, 200, 201, 202, 203,
	208, 209, 210, 211,
}

// allowOnly returns a LinuxHelpers function allowing the helpers of the
// given id lists.
func allowOnly(lists ...[]int32) func(int32) bool {
	set := map[int32]bool{}
	for _, l := range lists {
		for _, id := range l {
			set[id] = true
		}
	}
	return func(id int32) bool { return set[id] }
}

// Helpers only some tracing types add: kprobe programs override_return
// (58), get_func_ip (173) and get_attach_cookie (174); tracepoint
// programs get_attach_cookie; perf_event programs perf_prog_read_value
// (56), read_branch_records (119) and get_attach_cookie.
var (
	kprobeHelpers     = allowOnly(tracingHelpers, []int32{58, 173, 174})
	tracepointHelpers = allowOnly(tracingHelpers, []int32{174})
	rawTPHelpers      = allowOnly(tracingHelpers)
	perfEventHelpers  = allowOnly(tracingHelpers, []int32{56, 119, 174})
)

// The built-in tracing kinds: the program's context is read-only, its
// return value any 32-bit number (the hook's own meaning).
var (
	kprobeKinds = map[Arch]*ProgramKind{
		ArchX86_64: {Name: "kprobe", Context: ptRegsContext(ArchX86_64), LinuxHelpers: kprobeHelpers},
		ArchARM64:  {Name: "kprobe", Context: ptRegsContext(ArchARM64), LinuxHelpers: kprobeHelpers},
	}
	perfEventKinds = map[Arch]*ProgramKind{
		ArchX86_64: {Name: "perf_event", Context: perfEventContext(ArchX86_64), LinuxHelpers: perfEventHelpers},
		ArchARM64:  {Name: "perf_event", Context: perfEventContext(ArchARM64), LinuxHelpers: perfEventHelpers},
	}
	// rawTracepointKind: struct bpf_raw_tracepoint_args { __u64 args[0]; },
	// of as many arguments as a raw tracepoint may have.
	rawTracepointKind = &ProgramKind{Name: "raw_tracepoint", LinuxHelpers: rawTPHelpers,
		Context: &Context{Name: "bpf_raw_tracepoint_args", Size: 8 * maxRawTracepointArgs,
			Fields: arrayFields("args", 0, maxRawTracepointArgs, 8)}}
	// tracepointKind: a tracepoint record of unknown format, which the
	// program may read anywhere in its first 2048 bytes.
	tracepointKind = &ProgramKind{Name: "tracepoint", LinuxHelpers: tracepointHelpers,
		Context: recordContext("tracepoint", maxTraceSize)}
)

// recordContext returns a read-only context of size bytes programs may
// read anywhere, as Linux lets tracepoint programs read their record.
func recordContext(name string, size int) *Context {
	return &Context{Name: name, Size: size, Fields: []ContextField{{Name: "record", Offset: 0, Size: size}}}
}

// tracingKind returns the built-in kind of a tracing type for an
// architecture, or nil for other types.
func tracingKind(t ProgramType, arch Arch) *ProgramKind {
	switch t {
	case Kprobe:
		return kprobeKinds[arch]
	case PerfEvent:
		return perfEventKinds[arch]
	case TracePoint:
		return tracepointKind
	case RawTracepoint, RawTracepointWritable:
		return rawTracepointKind
	}
	return nil
}

// KprobeKind returns the kind of kprobe (and uprobe) programs for an
// architecture (ArchUnknown: the host's): a read-only struct pt_regs,
// PtRegsX86_64 or PtRegsARM64, and the tracing helpers Linux offers
// kprobes. The result is a copy the caller may change.
func KprobeKind(arch Arch) *ProgramKind {
	if arch == ArchUnknown {
		arch = HostArch()
	}
	return kprobeKinds[arch].clone()
}

// kindIn returns the kind of program ps of spec: the built-in kind of its
// type, for kprobe and perf_event programs that of arch (ArchUnknown: the
// object's or the host's), and for tracepoint programs with the names of
// their context struct's fields, when the object's BTF has it.
func kindIn(spec *CollectionSpec, ps *ProgramSpec, arch Arch) *ProgramKind {
	switch ps.Type {
	case Kprobe, PerfEvent:
		return tracingKind(ps.Type, resolveArch(spec, arch))
	case CGroupSockAddr:
		return sockAddrKindOf(ps.AttachType)
	case TracePoint:
		if fs := btfContextFields(spec, ps.Name); len(fs) > 0 {
			k := *tracepointKind
			k.Format = fs
			return &k
		}
	}
	return builtinKind(ps.Type)
}

// btfContextFields returns the fields of the struct the named function's
// first parameter points to, from the object's BTF: the names a
// tracepoint program gives its record's fields. Nil if the object has no
// such BTF.
func btfContextFields(spec *CollectionSpec, fn string) []ContextField {
	if spec == nil || spec.Types == nil {
		return nil
	}
	var f *btf.Func
	if err := spec.Types.TypeByName(fn, &f); err != nil {
		return nil
	}
	proto, ok := f.Type.(*btf.FuncProto)
	if !ok || len(proto.Params) == 0 {
		return nil
	}
	ptr, ok := btf.UnderlyingType(proto.Params[0].Type).(*btf.Pointer)
	if !ok {
		return nil
	}
	st, ok := btf.UnderlyingType(ptr.Target).(*btf.Struct)
	if !ok {
		return nil
	}
	fs, err := btfFields(st, "", 0, 0)
	if err != nil || len(fs) == 0 {
		return nil
	}
	return fs
}

// btfFields flattens a BTF struct's members into fields: nested structs
// as "outer.inner", arrays of numbers as "name[i]", other arrays (char
// strings) whole. Bitfields and unions are left out.
func btfFields(st *btf.Struct, prefix string, base, depth int) ([]ContextField, error) {
	if depth > 4 {
		return nil, nil
	}
	var out []ContextField
	for _, m := range st.Members {
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			continue
		}
		off := base + int(m.Offset/8)
		name := prefix + m.Name
		switch t := btf.UnderlyingType(m.Type).(type) {
		case *btf.Struct:
			inner := name + "."
			if m.Name == "" {
				inner = prefix
			}
			in, err := btfFields(t, inner, off, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, in...)
		case *btf.Array:
			esize, err := btf.Sizeof(t.Type)
			if err != nil {
				return nil, err
			}
			if it, ok := btf.UnderlyingType(t.Type).(*btf.Int); ok && it.Size == 1 || t.Nelems == 0 {
				if t.Nelems > 0 {
					out = append(out, ContextField{Name: name, Offset: off, Size: esize * int(t.Nelems)})
				}
				continue
			}
			out = append(out, arrayFields(name, off, int(t.Nelems), esize)...)
		case *btf.Int, *btf.Pointer, *btf.Enum:
			size, err := btf.Sizeof(t)
			if err != nil {
				return nil, err
			}
			out = append(out, ContextField{Name: name, Offset: off, Size: size})
		}
	}
	return out, nil
}
