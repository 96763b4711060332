//go:build linux || darwin || freebsd || netbsd || openbsd

package xebpf_test

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/verifier"
)

var soundnessPrograms = flag.Int("soundness.programs", 0, "generated programs the soundness test verifies (0: a CI-sized default)")

// TestVerifierSoundness is the verifier's differential test: it generates
// programs (the hostile generator's, at rates of wrong choices from none
// to one in eight), verifies them, and runs every accepted one in checked
// mode on packets of many sizes. Checked mode catches every out-of-bounds
// access, leak, misuse of a helper and leftover lock or reservation: any
// such fault in a program the verifier accepted is a verifier bug.
func TestVerifierSoundness(t *testing.T) {
	n := *soundnessPrograms
	if n == 0 {
		n = 20000
		if testing.Short() {
			n = 2000
		}
	}
	ge, err := hostileGlobals()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted, runs, terminating := 0, 0, 0
	reasons := map[string]int{}
	sizes := append(slices.Clone(soundnessSizes), shortSizes...)
	for i := range n {
		var progs [2][]isa.Instruction
		if i%4 == 3 {
			// A quarter from the hostile generator, mostly rejected: it
			// reaches constructs the idioms do not.
			input := make([]byte, 64+rng.IntN(512))
			for k := range input {
				input[k] = byte(rng.Uint32())
			}
			input[0] = byte(rng.IntN(64))
			g := newGen(input, uint64(uintptr(unsafe.Pointer(&ge.page[0]))))
			progs = [2][]isa.Instruction{g.program(), g.program()}
		} else {
			g := &soundGen{r: rng, mutate: []float64{0, 0.02, 0.1}[i%3]}
			progs[0] = g.program(1 + rng.IntN(8))
			progs[1] = g.program(1 + rng.IntN(3))
		}
		spec := hostileSpec(progs)
		vmain, err := verifyOrReport(t, i, spec, "main", progs)
		if err != nil {
			reasons[reasonKey(err)]++
			continue
		}
		vtail, err := verifyOrReport(t, i, spec, "tail", progs)
		if err != nil {
			continue
		}
		// A run is main, then at most 33 tail calls of tail.
		bound := uint64(math.MaxUint64)
		if vmain.Terminates() && vtail.Terminates() {
			bound = vmain.MaxInstructions() + 33*vtail.MaxInstructions()
			terminating++
		}
		accepted++
		n, msg := checkedRuns(t, ge, progs, sizes, rng, bound)
		runs += n
		if msg != "" {
			t.Errorf("program %d: %s\n%s", i, msg, listing(progs))
		}
	}
	if testing.Verbose() {
		for r, c := range reasons {
			if c > n/100 {
				t.Logf("%5d rejected: %s", c, r)
			}
		}
	}
	t.Logf("%d programs generated, %d accepted by the verifier (%d proven to end, their runs within the bound), %d checked runs", n, accepted, terminating, runs)
	if accepted < n/50 {
		t.Errorf("only %d of %d generated programs accepted: the test no longer exercises the verifier", accepted, n)
	}
}

// soundnessFault says what is wrong with a run's error for a verified
// program, "" if nothing: the budget may end a loop the verifier does not
// bound, and helpers xebpf lacks fail, but no memory fault or misuse may
// happen.
func soundnessFault(err error) string {
	if err == nil || errors.Is(err, xebpf.ErrHelperNotImplemented) {
		return ""
	}
	var f *api.Fault
	if errors.As(err, &f) && (f.Reason == api.ErrBudgetExceeded || f.Reason == api.ErrTailCallLimit) {
		return ""
	}
	return fmt.Sprint(err)
}

// soundnessSizes are the packet sizes accepted programs run on, as
// BPF_PROG_TEST_RUN takes them: at least an Ethernet header.
var soundnessSizes = []int{14, 15, 16, 17, 18, 19, 21, 22, 23, 33, 34, 54, 60, 64, 79, 128, 255, 256, 1500}

// shortSizes are the packet sizes shorter than an Ethernet header, which
// test runs and hooks refuse for XDP but a custom packet type takes. The
// verifier assumes no packet length, so its oracle runs accepted programs
// on them too (world.run's xebpf.RunAnyLength): a read of bytes 0 to 13
// without a check must fault there.
var shortSizes = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}

// checkedRuns runs a pair of programs the verifier accepted in checked
// mode on packets of the given sizes, and says what went wrong, if
// anything: a fault, a run longer than bound instructions, a leak or a
// corrupted map. It returns the number of runs.
func checkedRuns(t *testing.T, ge *hostileEnv, progs [2][]isa.Instruction, sizes []int, rng *rand.Rand, bound uint64) (int, string) {
	w, err := newWorld(ge, progs)
	if err != nil {
		t.Fatalf("verified but not loadable: %v\n%s", err, listing(progs))
	}
	defer func() {
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
	}()
	for n, size := range sizes {
		pkt := w.packet(size)
		if size > 0 {
			pkt[0] = byte(rng.Uint32()) // the byte header lengths come from
		}
		_, out, err := w.run(pkt)
		if msg := soundnessFault(err); msg != "" {
			return n + 1, fmt.Sprintf("packet of %d bytes: verified, but checked mode stopped it: %s", size, msg)
		}
		if w.executed > bound {
			return n + 1, fmt.Sprintf("packet of %d bytes: the verifier bounds a run at %d instructions, but it executed %d", size, bound, w.executed)
		}
		if msg := w.check(out); msg != "" {
			return n + 1, fmt.Sprintf("packet of %d bytes: verified, but: %s", size, msg)
		}
		w.restore()
	}
	return len(sizes), ""
}

// verifyOrReport verifies a generated program as XDP; a verifier panic
// fails the test with the program's listing (and counts as a rejection).
func verifyOrReport(t *testing.T, i int, spec *xebpf.CollectionSpec, name string, progs [2][]isa.Instruction) (p *verifier.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("program %d: the verifier panicked on %s: %v\n%s", i, name, r, listing(progs))
			p, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return xebpf.VerifyProgram(spec, name, xebpf.VerifyOptions{Type: xebpf.KindOf(xebpf.XDP)})
}

// TestSoundnessOracleShortPackets shows that the oracle's runs see packet
// bytes 0 to 13: a verdict that wrongly accepts a read of byte 5 without a
// bounds check (the program is rejected, and run as if accepted: checked,
// as RunUnverifiedChecked runs it) passes every run on test-run sizes,
// and faults on the short packets that end before byte 5.
func TestSoundnessOracleShortPackets(t *testing.T) {
	unsound := []isa.Instruction{
		ldx(isa.SizeW, isa.R2, isa.R1, 0), // r2 = ctx->data
		ldx(isa.SizeB, isa.R0, isa.R2, 5), // r0 = packet[5], unchecked
		aluImm(isa.ClassALU64, isa.And, isa.R0, 3),
		{OpCode: isa.OpExit},
	}
	progs := [2][]isa.Instruction{unsound, {movImm(isa.R0, 2), {OpCode: isa.OpExit}}}
	_, err := xebpf.VerifyProgram(hostileSpec(progs), "main", xebpf.VerifyOptions{Type: xebpf.KindOf(xebpf.XDP)})
	if !errors.Is(err, verifier.ErrRejected) {
		t.Fatalf("the verifier must reject the unchecked read: %v", err)
	}
	ge, err := hostileGlobals()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	// The test-run sizes cannot show it: byte 5 is in every packet.
	if n, msg := checkedRuns(t, ge, progs, soundnessSizes, rng, math.MaxUint64); msg != "" || n != len(soundnessSizes) {
		t.Fatalf("test-run sizes: %d runs, %q; want every run clean", n, msg)
	}
	// Nor can Run on short packets: it refuses them before the program
	// runs.
	w, err := newWorld(ge, progs)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for _, size := range shortSizes {
		_, err := w.runner.Run(&xebpf.RunOptions{Data: w.packet(size)})
		if !errors.Is(err, xebpf.ErrShortPacket) {
			t.Errorf("Run on %d bytes: %v, want ErrShortPacket", size, err)
		}
	}
	// The oracle's runs do: packets of 0 to 5 bytes fault on the read,
	// longer ones do not.
	for _, size := range shortSizes {
		_, _, err := w.run(w.packet(size))
		w.restore()
		var f *api.Fault
		switch {
		case size <= 5 && (!errors.As(err, &f) || !errors.Is(err, api.ErrOutOfBounds)):
			t.Errorf("oracle run on %d bytes: %v, want an out-of-bounds fault", size, err)
		case size > 5 && err != nil:
			t.Errorf("oracle run on %d bytes: %v, want none", size, err)
		}
	}
	if n, msg := checkedRuns(t, ge, progs, shortSizes, rng, math.MaxUint64); n != 1 || !strings.Contains(msg, "packet of 0 bytes") {
		t.Errorf("checkedRuns on short sizes: %d runs, %q; want the first (0 bytes) to fault", n, msg)
	}
}
