package xebpf_test

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/maps"
)

// kernelBench is one program measured in xebpf and in the kernel.
type kernelBench struct {
	name, file, program string
	data                []byte
	// fill preloads the tables both engines start with.
	tables map[string]kernel.MapState
}

// benchUDP returns an Ethernet+IPv4+UDP frame of size bytes.
func benchUDP(size int) []byte {
	p := make([]byte, size)
	copy(p, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45})
	binary.BigEndian.PutUint16(p[16:], uint16(size-14))
	p[22], p[23] = 64, 17
	copy(p[26:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(p[34:], 4242)
	binary.BigEndian.PutUint16(p[36:], 53)
	binary.BigEndian.PutUint16(p[38:], uint16(size-34))
	for i := 42; i < size; i++ {
		p[i] = byte(i)
	}
	return p
}

func kernelBenches() []kernelBench {
	table := kernel.MapState{}
	for i := range uint32(256) {
		table.Entries = append(table.Entries, kernel.Entry{
			Key: binary.NativeEndian.AppendUint32(nil, i), Value: binary.NativeEndian.AppendUint64(nil, uint64(i)),
		})
	}
	return []kernelBench{
		{"empty", "empty", "bench_empty", benchUDP(64), nil},
		{"parse_hash_64B", "parse_hash", "bench_parse_hash", benchUDP(64), nil},
		{"checksum_1500B", "checksum", "bench_checksum", benchUDP(1500), nil},
		{"array_lookup_x1000", "array_loop", "bench_array_loop", benchUDP(64), map[string]kernel.MapState{"table": table}},
		{"arith_x1000", "arith", "bench_arith", benchUDP(64), nil},
	}
}

var (
	benchBuildMu sync.Mutex
	benchObjects = map[string]string{}
	benchDir     string
)

// benchObject compiles testdata/bench/NAME.c once per test binary.
func benchObject(tb testing.TB, name string) string {
	tb.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		tb.Skipf("clang-19 not installed: %v", err)
	}
	benchBuildMu.Lock()
	defer benchBuildMu.Unlock()
	if p, ok := benchObjects[name]; ok {
		return p
	}
	if benchDir == "" {
		if benchDir, err = os.MkdirTemp("", "xebpf-bench-"); err != nil {
			tb.Fatal(err)
		}
	}
	out := filepath.Join(benchDir, name+".o")
	cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-I", "include",
		"-c", filepath.Join("testdata", "bench", name+".c"), "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("clang-19 %s.c: %v\n%s", name, err, msg)
	}
	benchObjects[name] = out
	return out
}

// benchMode is how a benchmark runs its program.
type benchMode struct {
	name string
	opts xebpf.CollectionOptions
	want xebpf.Engine
}

var benchModes = []benchMode{
	{"checked", xebpf.CollectionOptions{Checked: true}, xebpf.EngineCheckedVerified},
	// The fast mode the verifier's proof unlocks; a program whose loops
	// it does not prove to end skips it.
	{"fast", xebpf.CollectionOptions{}, xebpf.EngineFast},
	{"unsafe-fast", xebpf.CollectionOptions{UnsafeFastMode: true}, xebpf.EngineUnsafeFast},
}

// benchCollection instantiates a bench object in xebpf with its tables,
// and skips tb if the program does not run as mode says.
func benchCollection(tb testing.TB, kb kernelBench, mode benchMode) *xebpf.Collection {
	tb.Helper()
	spec, err := xebpf.LoadCollectionSpec(benchObject(tb, kb.file))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := xebpf.NewCollectionWithOptions(spec, mode.opts)
	if err != nil {
		tb.Fatal(err)
	}
	if e := c.Programs[kb.program].Engine(); e != mode.want {
		c.Close()
		tb.Skipf("%s runs %v, not %v", kb.program, e, mode.want)
	}
	tb.Cleanup(func() { c.Close() })
	for name, st := range kb.tables {
		for _, e := range st.Entries {
			if err := c.Maps[name].Underlying().Update(e.Key, e.Value, maps.UpdateAny); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return c
}

// kernelNsPerRun measures the kernel's mean time per run: the median of
// five BPF_PROG_TEST_RUNs of 100000 repetitions. It returns 0 when the
// kernel cannot test-run programs here.
func kernelNsPerRun(b *testing.B, kb kernelBench) float64 {
	if err := kernel.Available(); err != nil {
		b.Logf("kernel side skipped: %v", err)
		return 0
	}
	kc, err := kernel.Load(benchObject(b, kb.file), kernel.LoadOptions{Programs: []string{kb.program}, Maps: kb.tables})
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	var ns []float64
	for range 5 {
		d, err := kc.Bench(kb.program, kernel.RunInput{Data: kb.data}, 100000)
		if err != nil {
			b.Fatal(err)
		}
		ns = append(ns, float64(d.Nanoseconds()))
	}
	sort.Float64s(ns)
	return max(ns[2], 1) // the kernel reports whole nanoseconds
}

// BenchmarkKernel measures each reference program's time per
// Program.Run call in xebpf (checked, verified fast and unverified fast
// mode) and, in the same run,
// the kernel's mean time per run (BPF_PROG_TEST_RUN); x-kernel is xebpf's
// time over the kernel's.
func BenchmarkKernel(b *testing.B) {
	for _, kb := range kernelBenches() {
		b.Run(kb.name, func(b *testing.B) {
			for _, mode := range benchModes {
				b.Run(mode.name, func(b *testing.B) {
					prog := benchCollection(b, kb, mode).Programs[kb.program]
					opts := &xebpf.RunOptions{Data: kb.data}
					if ret, err := prog.Run(opts); err != nil || ret != xebpf.XDPPass {
						b.Fatalf("run: %d, %v", ret, err)
					}
					for b.Loop() {
						prog.Run(opts)
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					// The mean per run inside Repeat, the kernel's own measure.
					mean, err := meanRun(prog, kb.data, 10000)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(mean.Nanoseconds()), "repeat-ns/run")
					if kns := kernelNsPerRun(b, kb); kns > 0 {
						b.ReportMetric(kns, "kernel-ns/run")
						b.ReportMetric(ns/kns, "x-kernel")
						b.ReportMetric(float64(mean.Nanoseconds())/kns, "x-kernel-repeat")
					}
				})
			}
		})
	}
}

// BenchmarkMapLookupGo measures Go-side lookups of one key in a hash and
// an array map, through xebpf.Map (any key and value) and through
// maps.Map ([]byte).
func BenchmarkMapLookupGo(b *testing.B) {
	kb := kernelBenches()[3]
	c := benchCollection(b, kb, benchModes[0])
	for i := range uint32(256) {
		if err := c.Maps["hash_table"].Update(i, uint64(i), maps.UpdateAny); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{"hash_table", "table"} {
		m := c.Maps[name]
		b.Run(name+"/Map.Lookup", func(b *testing.B) {
			var v uint64
			k := uint32(77)
			for b.Loop() {
				if err := m.Lookup(k, &v); err != nil {
					b.Fatal(err)
				}
			}
			if v != 77 {
				b.Fatalf("value %d", v)
			}
		})
		b.Run(name+"/Map.LookupBytes", func(b *testing.B) {
			key := binary.NativeEndian.AppendUint32(nil, 77)
			val := make([]byte, 8)
			for b.Loop() {
				if err := m.LookupInto(key, val); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/maps.Map.Lookup", func(b *testing.B) {
			u := m.Underlying()
			key := binary.NativeEndian.AppendUint32(nil, 77)
			val := make([]byte, 8)
			for b.Loop() {
				if err := u.Lookup(key, val); err != nil {
					b.Fatal(err)
				}
			}
			if binary.NativeEndian.Uint64(val) != 77 {
				b.Fatalf("value %x", val)
			}
		})
	}
}

// BenchmarkCallEmpty measures a host→program call of an empty raw-memory
// program through Program.Run: what an embedding daemon pays per call.
func BenchmarkCallEmpty(b *testing.B) {
	obj := buildC(b, "empty_raw", `#include "xebpf/bpf.h"
SEC("raw")
int nothing(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`)
	for _, fast := range []bool{false, true} {
		name := map[bool]string{false: "checked", true: "fast"}[fast]
		b.Run(name, func(b *testing.B) {
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				b.Fatal(err)
			}
			c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Checked: !fast})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			p := c.Programs["nothing"]
			if fast && p.Engine() != xebpf.EngineFast {
				b.Fatalf("engine %v", p.Engine())
			}
			opts := &xebpf.RunOptions{}
			b.Run("Program.Run", func(b *testing.B) {
				for b.Loop() {
					p.Run(opts)
				}
			})
			b.Run("Runner.Run", func(b *testing.B) {
				r, err := p.NewRunner()
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				for b.Loop() {
					r.Run(opts)
				}
			})
		})
	}
}

// meanRun returns the mean duration of a run of prog on data over repeat
// runs, the way the kernel measures BPF_PROG_TEST_RUN.
func meanRun(prog *xebpf.Program, data []byte, repeat uint32) (time.Duration, error) {
	_, mean, err := prog.Benchmark(data, int(repeat), nil)
	return mean, err
}
