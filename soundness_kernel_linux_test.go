package xebpf_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/isa"
)

// TestVerifierAgainstKernel loads the soundness test's idiom programs into
// the running kernel too, whose verifier is a second oracle: a program
// xebpf accepts and Linux rejects for a memory-safety reason is either a
// xebpf bug or an imprecision of Linux's; it runs in checked mode on every
// packet size, and a fault there fails the test. Programs both accept, and those both reject, are counted.
// It relies on Linux loading XDP programs with maps created from specs
// (BPF_PROG_LOAD as root), and skips where bpf() is unavailable.
func TestVerifierAgainstKernel(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("kernel eBPF unavailable: %v", err)
	}
	n := 600
	if testing.Short() {
		n = 100
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var both, none, onlyXebpf, onlyKernel, misaligned, linuxImprecise int
	ge, err := hostileGlobals()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		g := &soundGen{r: rng, mutate: []float64{0, 0.05, 0.2}[i%3], linuxOnly: true}
		progs := [2][]isa.Instruction{g.program(1 + rng.IntN(8)), {movImm(isa.R0, 2), exitInsn}}
		spec := hostileSpec(progs)
		_, xerr := xebpf.VerifyProgram(spec, "main", xebpf.VerifyOptions{Type: xebpf.KindOf(xebpf.XDP)})
		kc, err := kernel.LoadSpec((*elf.CollectionSpec)(spec), kernel.LoadOptions{Programs: []string{"main"}, Types: map[string]elf.ProgramType{"main": elf.XDP}})
		if err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
		kerrs := kc.ProgramErrors()
		kc.Close()
		kok := len(kerrs) == 0
		switch {
		case xerr == nil && kok:
			both++
		case xerr != nil && !kok:
			none++
		case xerr == nil:
			onlyXebpf++
			msg := kerrs[0].Error()
			if strings.Contains(msg, "misaligned stack access") {
				// Linux requires variable-offset stack accesses aligned
				// to their size; xebpf's interpreters need no alignment.
				misaligned++
				continue
			}
			if memorySafety(msg) {
				// Checked mode tells a xebpf bug from an imprecision of
				// Linux's (which bounds a pointer's accesses by the checks
				// made on its own base only).
				if _, fault := checkedRuns(t, ge, progs, soundnessSizes, rng, math.MaxUint64); fault != "" {
					t.Errorf("program %d: xebpf accepts it, Linux rejects it for memory safety, and checked mode confirms: %s\n%s\n%s", i, fault, lastLines(msg, 6), listing(progs))
				} else {
					linuxImprecise++
					t.Logf("program %d: xebpf accepts it, Linux rejects it for memory safety, no packet size faults in checked mode: %s\n%s", i, lastLines(msg, 2), listing(progs))
				}
			} else {
				t.Logf("program %d: xebpf accepts it, Linux rejects it: %s", i, lastLines(msg, 3))
			}
		default:
			onlyKernel++
			if testing.Verbose() {
				// Mostly uninitialized stack bytes, which Linux lets
				// privileged programs read.
				t.Logf("program %d: Linux accepts it, xebpf rejects it: %v", i, xerr)
			}
		}
	}
	t.Logf("%d programs: both accept %d, both reject %d, only xebpf accepts %d (%d more for Linux's alignment rule; %d that Linux rejects for memory safety run clean in checked mode), only Linux accepts %d",
		n, both, none, onlyXebpf, misaligned, linuxImprecise, onlyKernel)
}

// memorySafety reports whether a Linux verifier log's verdict is about
// memory safety.
func memorySafety(log string) bool {
	for _, s := range []string{"invalid access", "out of bounds", "invalid mem access", "invalid read from stack",
		"invalid indirect read", "leaks addr", "unreleased reference", "min value is negative", "unbounded memory access",
		"invalid variable-offset", "value is outside of the allowed memory range", "cannot write into", "invalid size", "!read_ok"} {
		if strings.Contains(log, s) {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
