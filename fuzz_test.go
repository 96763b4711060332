package xebpf_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
)

// FuzzLoadAndRun loads arbitrary objects, instantiates them and runs every
// program in checked mode on a small packet: whatever the bytes, each step
// ends with a result or an error of the kinds its API documents, never a
// crash (loadAndRun).
func FuzzLoadAndRun(f *testing.F) {
	for _, p := range []string{"examples/xdpfilter/xdpfilter.o", "examples/hostplugin/bpf/filter.o"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	if files, err := os.ReadDir("../shared/corpus/build"); err == nil {
		for i, e := range files {
			if i%4 != 0 {
				continue // a sample keeps the seed run short
			}
			if b, err := os.ReadFile("../shared/corpus/build/" + e.Name()); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		if err := loadAndRun(obj); err != nil {
			t.Fatal(err)
		}
	})
}

// loadAndRun loads, instantiates and runs obj. Errors are allowed at every
// step; loadAndRun reports a step that breaks its contract: a spec or
// collection together with an error, or neither; a load error that is not
// an *elf.Error; a run error that is neither a fault of the program
// (*api.Fault) nor one of Program.Run's own errors.
func loadAndRun(obj []byte) error {
	spec, err := elf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if (err == nil) != (spec != nil) {
		return fmt.Errorf("load: spec %v with error %v", spec != nil, err)
	}
	if err != nil {
		if e := (*elf.Error)(nil); !errors.As(err, &e) {
			return fmt.Errorf("load: error %v (%T) is not an *elf.Error", err, err)
		}
		return nil
	}
	c, err := xebpf.NewCollectionWithOptions((*xebpf.CollectionSpec)(spec), xebpf.CollectionOptions{InstructionBudget: 1 << 12, Unverified: xebpf.RunUnverifiedChecked})
	if (err == nil) != (c != nil) {
		return fmt.Errorf("instantiate: collection %v with error %v", c != nil, err)
	}
	if err != nil {
		return nil
	}
	defer c.Close()
	pkt := make([]byte, 64)
	pkt[12], pkt[13] = 0x08, 0x00
	for name, p := range c.Programs {
		_, err := p.Run(&xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096), Context: make([]byte, 8)})
		if errors.Is(err, xebpf.ErrNoPacket) { // a type without a packet
			_, err = p.Run(&xebpf.RunOptions{Context: make([]byte, 8)})
		}
		if err != nil && !isRunError(err) {
			return fmt.Errorf("run %s: error %v (%T) is neither a fault nor an error of Program.Run", name, err, err)
		}
	}
	return nil
}

// isRunError reports whether err is one Program.Run returns for a run
// of a program that instantiated: a fault of the run, or the input and
// state errors it documents.
func isRunError(err error) bool {
	var f *api.Fault
	if errors.As(err, &f) {
		return true
	}
	for _, e := range []error{xebpf.ErrShortPacket, xebpf.ErrDataOutTooSmall, xebpf.ErrContextTooLarge, xebpf.ErrInvalidContext, helpers.ErrSpinLock, helpers.ErrLeakedReservation} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestMutatedObjects runs a fixed number of randomly corrupted corpus and
// example objects through the whole load-and-run path: each must end, well
// within a few seconds, without a crash and within loadAndRun's contract. (This found a context-analysis
// panic, a run that hung on a spin lock left taken, and slow instantiation
// of objects with thousands of programs.)
func TestMutatedObjects(t *testing.T) {
	var seeds [][]byte
	for _, p := range []string{"examples/xdpfilter/xdpfilter.o", "examples/hostplugin/bpf/filter.o"} {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	if files, err := os.ReadDir("../shared/corpus/build"); err == nil {
		for _, e := range files {
			if b, err := os.ReadFile("../shared/corpus/build/" + e.Name()); err == nil {
				seeds = append(seeds, b)
			}
		}
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		obj := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for k := rng.IntN(8) + 1; k > 0; k-- {
			obj[rng.IntN(len(obj))] = byte(rng.Uint32())
		}
		done := make(chan error, 1)
		go func() { done <- loadAndRun(obj) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("mutated input %d (deterministic: rerun to reproduce): %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("mutated input %d (deterministic: rerun to reproduce) did not finish in 10 s", i)
		}
	}
}
