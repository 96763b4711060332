package difftest

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/isa"
)

// corpusObjects returns the shared corpus's object files outside invalid/.
func corpusObjects(t *testing.T) []string {
	t.Helper()
	dir := sharedDir()
	if dir == "" {
		t.Skip("shared corpus not found beside the repository (../shared/corpus)")
	}
	root := filepath.Join(dir, "corpus")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "invalid" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".o") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// nondeterministic are the helpers whose results differ between two runs
// of the same input: clocks, random numbers, the CPU number.
var nondeterministic = map[int32]string{
	5: "ktime_get_ns", 7: "get_prandom_u32", 8: "get_smp_processor_id", 118: "jiffies64",
	125: "ktime_get_boot_ns", 160: "ktime_get_coarse_ns", 208: "ktime_get_tai_ns",
}

// nondeterministicCall returns the name of a nondeterministic helper the
// program calls, or "".
func nondeterministicCall(ps *xebpf.ProgramSpec) string {
	for _, ins := range ps.Instructions {
		if ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper {
			if name, ok := nondeterministic[ins.Imm()]; ok {
				return name
			}
		}
	}
	return ""
}

// corpusFamily gives the program type of the programs of corpus objects
// whose section names imply none (or none xebpf knows), following how each
// object's own loader loads them.
type corpusFamily struct {
	// glob matches the object's path relative to the corpus.
	glob string
	// typ is the type of every untyped program of the object, except those
	// whose section is in except.
	typ    elf.ProgramType
	except map[string]elf.ProgramType
}

var corpusFamilies = []corpusFamily{
	// Cilium attaches bpf_lxc.o (from-container), bpf_netdev.o and
	// bpf_lb.o (from-netdev) and bpf_overlay.o (from-overlay) with tc in
	// direct-action mode; their iproute2 tail-call sections "ID/KEY" must
	// share the type of the program that jumps to them.
	{glob: "cilium/bpf_lxc.o", typ: elf.SchedCLS},
	{glob: "cilium/bpf_netdev.o", typ: elf.SchedCLS},
	{glob: "cilium/bpf_overlay.o", typ: elf.SchedCLS},
	{glob: "cilium/bpf_lb.o", typ: elf.SchedCLS},
	// bpf_xdp*.o hold cilium's XDP entry (from-netdev) and its tail calls.
	{glob: "cilium/bpf_xdp*.o", typ: elf.XDP},
	// samples/bpf objects loaded with "tc filter ... bpf obj X sec S":
	// tcbpf1 (tcbpf1_kern.c's redirect sections), tc_l2_redirect.sh,
	// test_cgrp2_tc.sh, xdp2skb_meta.sh (tc_mark).
	{glob: "linux/tcbpf1_kern.o", typ: elf.SchedCLS},
	{glob: "linux/tc_l2_redirect_kern.o", typ: elf.SchedCLS},
	{glob: "linux/test_cgrp2_tc_kern.o", typ: elf.SchedCLS},
	{glob: "linux/xdp2skb_meta_kern.o", typ: elf.SchedCLS},
	// prototype-kernel's tc programs (tc_bench01_redirect, xdp_vlan01's
	// tc_vlan_push), loaded with tc as well.
	{glob: "prototype-kernel/tc_bench01_redirect_kern.o", typ: elf.SchedCLS},
	{glob: "prototype-kernel/xdp_vlan01_kern.o", typ: elf.SchedCLS},
	// The OVS eBPF datapath attaches ingress, egress, downcall and its
	// tail-N calls with tc; af_xdp is its AF_XDP redirect program.
	{glob: "ovs/datapath.o", typ: elf.SchedCLS, except: map[string]elf.ProgramType{"af_xdp": elf.XDP}},
	// Suricata's util-ebpf.c loads the section it is given as a socket
	// filter when AF_PACKET uses it (ebpf-filter-file, ebpf-lb-file:
	// "filter", "loadbalancer"), as XDP otherwise ("xdp", typed already).
	{glob: "suricata/*.o", typ: elf.SocketFilter},
}

// familyTypes returns the type overrides of an object's untyped programs
// (the functions of .text excepted: they are subprograms or tests).
func familyTypes(rel string, spec *xebpf.CollectionSpec) map[string]elf.ProgramType {
	out := map[string]elf.ProgramType{}
	for _, f := range corpusFamilies {
		if ok, _ := filepath.Match(f.glob, filepath.ToSlash(rel)); !ok {
			continue
		}
		for name, ps := range spec.Programs {
			if ps.Type != elf.Unspec || ps.SectionName == ".text" {
				continue
			}
			typ, ok := f.except[ps.SectionName]
			if !ok {
				typ = f.typ
			}
			out[name] = typ
		}
		break
	}
	return out
}

// packetType returns xebpf's type for a program of one of the packet types
// both engines test-run (XDP, socket filter, TC), or nil.
func packetType(ps *xebpf.ProgramSpec, override map[string]elf.ProgramType) *xebpf.ProgramKind {
	typ := ps.Type
	if t, ok := override[ps.Name]; ok {
		typ = t
	}
	switch typ {
	case elf.XDP:
		return xebpf.KindOf(xebpf.XDP)
	case elf.SocketFilter, elf.CGroupSKB:
		return xebpf.KindOf(xebpf.SocketFilter)
	case elf.SchedCLS, elf.SchedACT:
		return xebpf.KindOf(xebpf.SchedCLS)
	}
	return nil
}

// withPrograms returns a copy of spec holding only the named programs, with
// program-array slots naming others left out.
func withPrograms(spec *xebpf.CollectionSpec, keep map[string]bool) *xebpf.CollectionSpec {
	out := *spec
	out.Programs = map[string]*xebpf.ProgramSpec{}
	for name := range keep {
		out.Programs[name] = spec.Programs[name]
	}
	out.Maps = make(map[string]*xebpf.MapSpec, len(spec.Maps))
	for name, ms := range spec.Maps {
		cp := *ms
		cp.Contents = nil
		for _, kv := range ms.Contents {
			if kv.Ref != nil && kv.Ref.Kind == elf.RefProgram && !keep[kv.Ref.Name] {
				continue
			}
			cp.Contents = append(cp.Contents, kv)
		}
		out.Maps[name] = &cp
	}
	return &out
}

// corpusObject is one corpus object opened in both engines with the
// programs both can load.
type corpusObject struct {
	*engines
	programs []string          // compared, sorted
	xFailed  map[string]string // program → why xebpf cannot instantiate it
	kFailed  map[string]string // program → the kernel's first line
}

// openCorpus instantiates an object's packet programs in xebpf and in the
// kernel (LoadSpec, with the same types on both sides). A program one side
// cannot take is left out of both, and out of the program arrays, so that
// tail calls go to the same programs.
func openCorpus(spec *xebpf.CollectionSpec, types map[string]*xebpf.ProgramKind, ktypes map[string]elf.ProgramType) (*corpusObject, error) {
	co := &corpusObject{xFailed: map[string]string{}, kFailed: map[string]string{}}
	keep := map[string]bool{}
	for name := range types {
		keep[name] = true
	}
	instantiate := func() (*xebpf.Collection, error) {
		for len(keep) > 0 {
			x, err := xebpf.NewCollectionWithOptions(withPrograms(spec, keep), xebpf.CollectionOptions{Types: types, Unverified: xebpf.RunUnverifiedChecked})
			if err == nil {
				return x, nil
			}
			name, ok := failedProgram(err, keep)
			if !ok {
				return nil, fmt.Errorf("%w: xebpf instantiation: %v", errSkipObject, err)
			}
			co.xFailed[name] = firstLine(err)
			delete(keep, name)
		}
		return nil, fmt.Errorf("%w: xebpf instantiates none of its packet programs", errSkipObject)
	}
	x, err := instantiate()
	if err != nil {
		return co, err
	}
	names := make([]string, 0, len(keep))
	for name := range keep {
		names = append(names, name)
	}
	k, err := kernel.LoadSpec((*elf.CollectionSpec)(spec), kernel.LoadOptions{Programs: names, Types: ktypes})
	if err != nil {
		x.Close()
		return co, fmt.Errorf("%w: kernel LoadSpec: %v", errSkipObject, err)
	}
	for _, err := range k.ProgramErrors() {
		var pe *kernel.ProgramError
		if errors.As(err, &pe) {
			co.kFailed[pe.Program] = firstLine(pe.Err)
			delete(keep, pe.Program)
		}
	}
	if len(co.kFailed) > 0 {
		// The kernel left the rejected programs out of its program
		// arrays: leave them out of xebpf's too.
		x.Close()
		if x, err = instantiate(); err != nil {
			k.Close()
			return co, err
		}
	}
	co.engines = &engines{x: x, k: k, masks: k.ValueMasks()}
	for name := range keep {
		co.programs = append(co.programs, name)
	}
	sort.Strings(co.programs)
	return co, nil
}

// failedProgram returns the program that NewCollection's error names
// ("program NAME: ..."), if it is one of keep.
func failedProgram(err error, keep map[string]bool) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "program ")
	if !ok {
		return "", false
	}
	for name := range keep {
		if strings.HasPrefix(rest, name+": ") {
			return name, true
		}
	}
	return "", false
}

// TestCorpus replays the generated packets through every XDP, socket-filter
// and TC program of the shared corpus that both the kernel and xebpf
// accept, comparing each run's return value and output packet, and every
// map after each program's sequence. The kernel side loads xebpf's own
// parse of the object (kernel.LoadSpec); programs whose sections name no
// runnable type get, on both sides, the type their object's loader gives
// them (corpusFamilies).
func TestCorpus(t *testing.T) {
	if err := kernelSide(); err != nil {
		t.Skipf("the corpus is compared with the kernel, which cannot be here: %v", err)
	}
	files := corpusObjects(t)
	pkts := packets()
	var (
		compared, typed, random, runs, total int
		unreadable, untyped                  int
		rejected, notInstantiable, skipped   []string
	)
	for _, path := range files {
		rel, _ := filepath.Rel(filepath.Join(sharedDir(), "corpus"), path)
		spec, err := xebpf.LoadCollectionSpec(path)
		if err != nil {
			unreadable++
			continue
		}
		override := familyTypes(rel, spec)
		types := map[string]*xebpf.ProgramKind{}
		ktypes := map[string]elf.ProgramType{}
		for name, ps := range spec.Programs {
			if typ := packetType(ps, override); typ != nil {
				types[name] = typ
				if t, ok := override[name]; ok {
					ktypes[name] = t
				}
			}
		}
		if len(types) == 0 {
			untyped++ // tracing, cgroup, LWT or verifier-test objects
			continue
		}
		typed += len(ktypes)
		t.Run(rel, func(t *testing.T) {
			pinCPU(t)
			co, err := openCorpus(spec, types, ktypes)
			for _, name := range sortedKeys(co.xFailed) {
				notInstantiable = append(notInstantiable, fmt.Sprintf("%s %s: %s", rel, name, co.xFailed[name]))
			}
			for _, name := range sortedKeys(co.kFailed) {
				rejected = append(rejected, fmt.Sprintf("%s %s: %s", rel, name, co.kFailed[name]))
			}
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", rel, firstLine(err)))
				t.Skip(err)
			}
			defer co.close()
			var diffs []string
			for _, name := range co.programs {
				ps := spec.Programs[name]
				if h := nondeterministicCall(ps); h != "" {
					random++
					skipped = append(skipped, fmt.Sprintf("%s %s: calls bpf_%s", rel, name, h))
					continue
				}
				compared++
				for i, pk := range pkts {
					x, k := co.run(name, pk.data, nil)
					runs++
					ds := co.diff(x, k)
					for _, d := range ds {
						diffs = append(diffs, fmt.Sprintf("%s (%s) #%d %s: %s", name, types[name].Name, i, pk.name, d))
					}
				}
				for _, d := range co.mapDiffs() {
					diffs = append(diffs, fmt.Sprintf("%s (%s), maps after %d packets: %s", name, types[name].Name, len(pkts), d))
				}
			}
			total += len(diffs)
			report(t, diffs, 20)
		})
	}
	t.Logf("corpus: %d objects; %d packet programs compared (%d runs, %d typed by their object's family): %d differences",
		len(files), compared, runs, typed, total)
	t.Logf("not compared: %d programs rejected by the kernel, %d xebpf cannot instantiate, %d calling nondeterministic helpers; %d objects xebpf cannot parse, %d without XDP/socket/TC programs",
		len(rejected), len(notInstantiable), random, unreadable, untyped)
	// Floors, measured on ../shared/corpus with Linux 6.18.44: a drop
	// means objects or programs silently fell out of the comparison. A
	// kernel rejecting more (or fewer) programs moves them between the
	// compared and the rejected, so the floor is on their sum.
	const minObjects, minComparable, maxNotInstantiable = 145, 137, 2
	if len(files) < minObjects || unreadable > 0 {
		t.Errorf("%d corpus objects, %d unreadable: want at least %d, all readable", len(files), unreadable, minObjects)
	}
	if compared+len(rejected) < minComparable {
		t.Errorf("%d programs compared and %d rejected by kernel %s: want at least %d together", compared, len(rejected), kernel.Release(), minComparable)
	}
	if len(notInstantiable) > maxNotInstantiable {
		t.Errorf("xebpf cannot instantiate %d programs: want at most %d", len(notInstantiable), maxNotInstantiable)
	}
	for _, s := range rejected {
		t.Logf("kernel rejects: %s", s)
	}
	for _, s := range notInstantiable {
		t.Logf("xebpf cannot instantiate: %s", s)
	}
	for _, s := range skipped {
		t.Logf("not compared: %s", s)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
