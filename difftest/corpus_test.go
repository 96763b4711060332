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

// packetPrograms returns the XDP, socket-filter and TC programs of an
// object, sorted.
func packetPrograms(spec *xebpf.CollectionSpec) []string {
	var names []string
	for name, ps := range spec.Programs {
		switch xebpf.TypeOf(ps) {
		case xebpf.XDP, xebpf.SocketFilter, xebpf.SchedCLS:
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
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

// TestCorpus replays the generated packets through every XDP, socket-filter
// and TC program of the shared corpus that both the kernel and xebpf
// accept, comparing each run's return value and output packet, and every
// map after each program's sequence.
func TestCorpus(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("the corpus is compared with the kernel, which is unavailable: %v", err)
	}
	files := corpusObjects(t)
	pkts := packets()
	var (
		compared, rejected, notInstantiable, random, runs, total int
		unreadable, untyped                                      int
		skipped                                                  []string
	)
	for _, path := range files {
		rel, _ := filepath.Rel(filepath.Join(sharedDir(), "corpus"), path)
		spec, err := xebpf.LoadCollectionSpec(path)
		if err != nil {
			unreadable++
			continue
		}
		progs := packetPrograms(spec)
		if len(progs) == 0 {
			untyped++ // tracing, cgroup, or iproute2-style section names
			continue
		}
		t.Run(rel, func(t *testing.T) {
			pinCPU(t)
			e, err := open(path, true)
			if err != nil {
				notInstantiable += len(progs)
				skipped = append(skipped, fmt.Sprintf("%s (%d programs): %v", rel, len(progs), firstLine(err)))
				t.Skip(err)
			}
			defer e.close()
			bad := map[string]bool{}
			for _, err := range e.k.ProgramErrors() {
				var pe *kernel.ProgramError
				if errors.As(err, &pe) {
					bad[pe.Program] = true
				}
			}
			var diffs []string
			for _, name := range progs {
				if bad[name] {
					rejected++
					continue
				}
				if h := nondeterministicCall(spec.Programs[name]); h != "" {
					random++
					skipped = append(skipped, fmt.Sprintf("%s %s: calls bpf_%s", rel, name, h))
					continue
				}
				compared++
				for i, pk := range pkts {
					x, k := e.run(name, pk.data, nil)
					runs++
					for _, d := range e.diff(x, k) {
						diffs = append(diffs, fmt.Sprintf("%s #%d %s: %s", name, i, pk.name, d))
					}
				}
				for _, d := range e.diffMaps() {
					diffs = append(diffs, fmt.Sprintf("%s, maps after %d packets: %s", name, len(pkts), d))
				}
			}
			total += len(diffs)
			report(t, diffs, 20)
		})
	}
	t.Logf("corpus: %d objects; %d packet programs compared (%d runs): %d differences", len(files), compared, runs, total)
	t.Logf("not compared: %d programs rejected by the kernel, %d calling nondeterministic helpers, %d in objects one side cannot load; %d objects xebpf cannot parse, %d without XDP/socket/TC sections",
		rejected, random, notInstantiable, unreadable, untyped)
	for _, s := range skipped {
		t.Logf("not compared: %s", s)
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
