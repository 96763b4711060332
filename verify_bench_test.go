package xebpf_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/verifier"
)

// corpusJob is one anchored program ready to verify.
type corpusJob struct {
	row  anchorRow
	spec *xebpf.CollectionSpec
	name string
	typ  *xebpf.ProgramKind
}

func corpusJobs(b *testing.B) []corpusJob {
	rows := loadAnchors(b)
	specs := map[string]*xebpf.CollectionSpec{}
	var jobs []corpusJob
	for _, r := range rows {
		spec, ok := specs[r.Object]
		if !ok {
			spec, _ = xebpf.LoadCollectionSpec(filepath.Join("..", "shared", "corpus", r.Object))
			specs[r.Object] = spec
		}
		if spec == nil {
			continue
		}
		name := programName(spec, r)
		jobs = append(jobs, corpusJob{r, spec, name, anchorType(spec, name, r)})
	}
	return jobs
}

// BenchmarkVerifierCorpus verifies every program of ../shared/corpus that
// PREVAIL's anchors list, and reports the time against PREVAIL's total
// (prevail-ratio; the target is at most 0.5), and the largest
// ratio of one program's time to PREVAIL's (max-program-ratio; target at
// most 2), with the program times the minimum of five runs.
func BenchmarkVerifierCorpus(b *testing.B) {
	jobs := corpusJobs(b)
	var prevail float64
	for _, j := range jobs {
		prevail += j.row.PrevailSeconds
	}
	for b.Loop() {
		for _, j := range jobs {
			xebpf.VerifyProgram(j.spec, j.name, xebpf.VerifyOptions{Type: j.typ})
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/prevail, "prevail-ratio")
	b.StopTimer()
	type ratio struct {
		name string
		r    float64
	}
	var rs []ratio
	type point struct {
		n    int
		d    time.Duration
		name string
	}
	var scale []point
	for _, j := range jobs {
		if j.row.PrevailSeconds == 0 {
			continue
		}
		best := time.Duration(1 << 62)
		var err error
		for range 5 {
			start := time.Now()
			_, err = xebpf.VerifyProgram(j.spec, j.name, xebpf.VerifyOptions{Type: j.typ})
			best = min(best, time.Since(start))
		}
		rs = append(rs, ratio{j.row.Object + " " + j.row.Program, best.Seconds() / j.row.PrevailSeconds})
		if ps := j.spec.Programs[j.name]; ps != nil && err == nil && len(ps.Instructions) >= 500 && strings.HasPrefix(j.row.Object, "cilium") {
			n := len(ps.Instructions)
			scale = append(scale, point{n, best, j.row.Object + " " + j.row.Program})
		}
	}
	// Scaling: time per instruction over the large Cilium programs
	// accepted (a rejection stops early).
	sort.Slice(scale, func(i, k int) bool { return scale[i].n < scale[k].n })
	var table strings.Builder
	for _, p := range scale {
		fmt.Fprintf(&table, "\nscaling: %5d instructions %8.2f ms %6.2f µs/insn  %s", p.n, p.d.Seconds()*1e3, p.d.Seconds()*1e6/float64(p.n), p.name)
	}
	sort.Slice(rs, func(i, k int) bool { return rs[i].r > rs[k].r })
	defer func() { fmt.Println(table.String()) }()
	if len(rs) > 0 {
		b.ReportMetric(rs[0].r, "max-program-ratio")
		for _, r := range rs[:min(3, len(rs))] {
			fmt.Fprintf(&table, "\nslowest against PREVAIL: %s: %.3f", r.name, r.r)
		}
	}
}

// BenchmarkVerifierMemory verifies every anchored corpus program in a
// child process (cmd/xebpf-verifier, as xebpf verify --isolate does) and
// compares the child's peak resident memory with PREVAIL's in the CSV:
// over-prevail is the number of programs above PREVAIL's figure (the
// issue's target is 0), max-memory-ratio the largest ratio, and
// median-kb the median peak. Each child's peak is its own address space's
// (VmHWM), not counting the parent's.
func BenchmarkVerifierMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("peak memory is read on Linux only")
	}
	jobs := corpusJobs(b)
	bin := filepath.Join(b.TempDir(), "xebpf-verifier")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/xebpf-verifier").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	iso := &xebpf.Isolation{Command: []string{bin}}
	var over, measured int
	var worst float64
	var worstName string
	var peaks []int64
	// (b.N, not b.Loop: Go 1.26's compiler crashes on this loop body
	// under b.Loop's keep-alive rewriting.)
	for range b.N {
		over, measured, worst, peaks = 0, 0, 0, peaks[:0]
		for _, j := range jobs {
			if j.row.PrevailRSS == 0 {
				continue
			}
			p, err := xebpf.VerifyProgram(j.spec, j.name, xebpf.VerifyOptions{Type: j.typ, Isolate: iso})
			var kb int64
			var ve *verifier.Error
			switch {
			case err == nil:
				kb = p.Stats().MaxRSSKB
			case errors.As(err, &ve):
				kb = ve.Stats.MaxRSSKB
			}
			if kb == 0 {
				continue // rejected before the child ran (malformed object)
			}
			measured++
			peaks = append(peaks, kb)
			if kb > int64(j.row.PrevailRSS) {
				over++
			}
			if r := float64(kb) / float64(j.row.PrevailRSS); r > worst {
				worst, worstName = r, j.row.Object+" "+j.name
			}
		}
	}
	sort.Slice(peaks, func(i, k int) bool { return peaks[i] < peaks[k] })
	b.ReportMetric(float64(over), "over-prevail")
	b.ReportMetric(float64(measured), "measured")
	b.ReportMetric(worst, "max-memory-ratio")
	if len(peaks) > 0 {
		b.ReportMetric(float64(peaks[len(peaks)/2]), "median-kb")
	}
	b.Logf("largest ratio: %s (%.2f)", worstName, worst)
}
