package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/kernel"
)

// runTypeFlags are the options of xebpf run that choose a program's type
// and context.
type runTypeFlags struct {
	typeName, arch, ctxJSON, format *string
	archVal                         xebpf.Arch
}

// addRunTypeFlags defines them on fs.
func addRunTypeFlags(fs *flag.FlagSet) *runTypeFlags {
	return &runTypeFlags{
		typeName: fs.String("type", "", "run as this program type ("+typeNameList()+"; default: the section's)"),
		arch:     fs.String("arch", "", "architecture whose struct pt_regs kprobe programs read: x86_64 or arm64 (default: the object's, else the host's)"),
		ctxJSON:  fs.String("ctx-json", "", `context as a JSON object of field values, e.g. '{"di": 1}' for a kprobe`),
		format:   fs.String("format", "", "tracepoint format file (/sys/kernel/tracing/events/CATEGORY/NAME/format) describing a tracepoint program's context"),
	}
}

// apply gives program name of spec its type and kind as the flags say,
// and returns the kinds to run programs with (CollectionOptions.Types)
// and the architecture. It refuses a program of unknown type run
// without a context, whose context xebpf cannot know.
func (f *runTypeFlags) apply(spec *xebpf.CollectionSpec, name string, haveCtx bool) (map[string]*xebpf.ProgramKind, error) {
	var err error
	if f.archVal, err = parseArch(*f.arch); err != nil {
		return nil, err
	}
	if haveCtx && *f.ctxJSON != "" {
		return nil, errors.New("--ctx and --ctx-json both give the context: choose one")
	}
	types := map[string]*xebpf.ProgramKind{}
	if *f.typeName != "" {
		k, err := setType(spec, name, *f.typeName)
		if err != nil {
			return nil, fmt.Errorf("--type: %w", err)
		}
		if k != nil {
			types[name] = k
		}
	}
	ps := spec.Programs[name]
	if *f.format != "" {
		if ps.Type != xebpf.TracePoint {
			return nil, fmt.Errorf("--format describes a tracepoint's record: program %s is of type %v", name, ps.Type)
		}
		k, err := tracepointFormat(*f.format)
		if err != nil {
			return nil, err
		}
		types[name] = k
	}
	if k := types[name]; *f.ctxJSON != "" && (k != nil && len(k.Context.Fields) == 0 || k == nil && ps.Type == xebpf.UnspecifiedProgram) {
		return nil, fmt.Errorf("--ctx-json: program %s takes raw memory, which has no named fields: give its context with --ctx FILE", name)
	}
	if ps.Type == xebpf.UnspecifiedProgram && types[name] == nil && !haveCtx && *f.ctxJSON == "" {
		return nil, fmt.Errorf("program %s (section %q) is of unknown type, so its context is unknown: give its type with --type NAME (%s) or its context with --ctx FILE", name, ps.SectionName, typeNameList())
	}
	return types, nil
}

// context returns the context --ctx-json gives prog, or, with no context
// given, says on w what context a tracing program takes and how to give
// it, and returns nil.
func (f *runTypeFlags) context(spec *xebpf.CollectionSpec, prog *xebpf.Program, w io.Writer) ([]byte, error) {
	if *f.ctxJSON != "" {
		b, err := prog.Kind().ContextFromJSON([]byte(*f.ctxJSON))
		if err != nil {
			return nil, fmt.Errorf("--ctx-json: %w", err)
		}
		return b, nil
	}
	if hint := contextHint(prog.Spec(), prog.Kind(), archOf(spec, f.archVal)); hint != "" {
		fmt.Fprintf(w, "xebpf run: note: %s\n", hint)
	}
	return nil, nil
}

// loadKernel loads program name into the kernel for --compare-kernel:
// through cilium/ebpf's own reader, or, for objects it cannot read (legacy
// "maps" sections, symbols of size 0) and programs whose type xebpf
// decided (--type, section names libbpf does not know), from xebpf's
// spec, with the maps built from its map definitions.
func (f *runTypeFlags) loadKernel(path string, spec *xebpf.CollectionSpec, name string, states map[string]kernel.MapState) (*kernel.Collection, error) {
	ps := spec.Programs[name]
	fromSpec := *f.typeName != "" || ps.Type != xebpf.UnspecifiedProgram && !elf.LibbpfSection(ps.SectionName)
	for _, ms := range spec.Maps {
		fromSpec = fromSpec || ms.Legacy != nil
	}
	if !fromSpec {
		kc, err := kernel.Load(path, kernel.LoadOptions{Programs: []string{name}, Maps: states})
		if err == nil || errors.Is(err, kernel.ErrUnavailable) || errors.Is(err, kernel.ErrUnknownMap) {
			return kc, err
		}
		// cilium/ebpf could not read the object: xebpf could.
	}
	// Every program, for the program arrays the loader fills from
	// iproute2's tail-call sections.
	return kernel.LoadSpec((*elf.CollectionSpec)(spec), kernel.LoadOptions{Maps: states})
}
