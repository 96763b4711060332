package xebpf_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
)

// FuzzLoadAndRun loads arbitrary objects, instantiates them and runs every
// program in checked mode on a small packet: whatever the bytes, each step
// ends with a result or an error, never a crash.
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
	f.Fuzz(func(t *testing.T, obj []byte) { loadAndRun(obj) })
}

// loadAndRun loads, instantiates and runs obj, ignoring every error.
func loadAndRun(obj []byte) {
	spec, err := elf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{InstructionBudget: 1 << 12})
	if err != nil {
		return
	}
	defer c.Close()
	pkt := make([]byte, 64)
	pkt[12], pkt[13] = 0x08, 0x00
	for _, p := range c.Programs {
		p.Run(&xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096), Context: make([]byte, 8)})
	}
}

// TestMutatedObjects runs a fixed number of randomly corrupted corpus and
// example objects through the whole load-and-run path: each must end, well
// within a few seconds, without a crash. (This found a context-analysis
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
		done := make(chan struct{})
		go func() {
			defer close(done)
			loadAndRun(obj)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("mutated input %d (deterministic: rerun to reproduce) did not finish in 10 s", i)
		}
	}
}
