package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
)

// programTypeNames are the names --type takes (xebpf run, xebpf verify),
// Linux's BPF_PROG_TYPE_* names in lower case, and the Linux program type
// each sets; "raw" has no Linux type: it gives the program raw memory.
var programTypeNames = []struct {
	name string
	typ  xebpf.ProgramType
}{
	{"xdp", xebpf.XDP},
	{"sched_cls", xebpf.SchedCLS},
	{"sched_act", xebpf.SchedACT},
	{"socket_filter", xebpf.SocketFilter},
	{"cgroup_skb", xebpf.CGroupSKB},
	{"kprobe", xebpf.Kprobe},
	{"tracepoint", xebpf.TracePoint},
	{"raw_tracepoint", xebpf.RawTracepoint},
	{"perf_event", xebpf.PerfEvent},
	{"raw", xebpf.UnspecifiedProgram},
}

// typeNameList lists the names --type takes.
func typeNameList() string {
	names := make([]string, len(programTypeNames))
	for i, t := range programTypeNames {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

// lookupType returns the program type a --type name sets; raw is true
// for "raw".
func lookupType(name string) (typ xebpf.ProgramType, raw bool, err error) {
	for _, t := range programTypeNames {
		if t.name == name {
			return t.typ, t.typ == xebpf.UnspecifiedProgram, nil
		}
	}
	return 0, false, fmt.Errorf("unknown program type %q (want one of %s)", name, typeNameList())
}

// setType gives program name of spec the type a --type name says: it sets
// ProgramSpec.Type, and lets the type flow to the programs that share its
// program arrays, or, for "raw", returns the raw-memory kind to run it
// with.
func setType(spec *xebpf.CollectionSpec, name, typeName string) (*xebpf.ProgramKind, error) {
	t, raw, err := lookupType(typeName)
	if err != nil {
		return nil, err
	}
	if raw {
		return xebpf.KindOf(xebpf.UnspecifiedProgram), nil
	}
	spec.Programs[name].Type = t
	elf.InheritTailCallTypes((*elf.CollectionSpec)(spec))
	return nil, nil
}

// parseArch parses --arch; "" means the object's, else the host's.
func parseArch(s string) (xebpf.Arch, error) {
	if s == "" {
		return xebpf.ArchUnknown, nil
	}
	a, err := xebpf.ParseArch(s)
	if err != nil {
		return 0, fmt.Errorf("--arch: %w", err)
	}
	return a, nil
}

// archOf describes the architecture a run's struct pt_regs follows and
// where it comes from.
func archOf(spec *xebpf.CollectionSpec, flag xebpf.Arch) string {
	switch {
	case flag != xebpf.ArchUnknown:
		return fmt.Sprintf("%v, from --arch", flag)
	case xebpf.ObjectArch(spec) != xebpf.ArchUnknown:
		return fmt.Sprintf("%v, the object's", xebpf.ObjectArch(spec))
	}
	return fmt.Sprintf("%v, the host's: the object does not say; choose with --arch", xebpf.HostArch())
}

// tracepointFormat reads a --format file into the kind of a tracepoint
// program.
func tracepointFormat(path string) (*xebpf.ProgramKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	defer f.Close()
	k, err := xebpf.TracepointKind(f)
	if err != nil {
		return nil, fmt.Errorf("--format %s: %w", path, err)
	}
	return k, nil
}

// contextHint says what context a tracing program takes and how to give
// it, for a run given none; "" for other programs.
func contextHint(ps *xebpf.ProgramSpec, k *xebpf.ProgramKind, arch string) string {
	var what, example string
	switch ps.Type {
	case xebpf.Kprobe:
		what = fmt.Sprintf("a struct pt_regs (%s; %d bytes)", arch, k.Context.Size)
		example = `{"di": 1, "si": 2}`
		if k.Context.Size != 168 {
			example = `{"regs": [1, 2]}`
		}
	case xebpf.PerfEvent:
		what = fmt.Sprintf("a struct bpf_perf_event_data (%s; %d bytes)", arch, k.Context.Size)
		example = `{"sample_period": 1}`
	case xebpf.RawTracepoint, xebpf.RawTracepointWritable:
		what = fmt.Sprintf("the tracepoint's arguments as a struct bpf_raw_tracepoint_args (up to %d u64)", k.Context.Size/8)
		example = `{"args": [1, 2]}`
	case xebpf.TracePoint:
		what = fmt.Sprintf("the tracepoint's record (%d bytes", k.Context.Size)
		if len(k.Format) == 0 {
			what += "; --format FILE gives its fields"
		}
		what += ")"
		example = `{"common_pid": 1}`
		if len(k.Format) > 0 {
			example = fmt.Sprintf(`{"%s": 1}`, k.Format[len(k.Format)-1].Name)
		}
	default:
		return ""
	}
	return fmt.Sprintf("%s programs take %s as their context; this run had zeros: give one with --ctx FILE or --ctx-json '%s'", k.Name, what, example)
}
