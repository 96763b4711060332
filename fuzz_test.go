package xebpf_test

import (
	"bytes"
	"os"
	"testing"

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
	pkt := make([]byte, 64)
	pkt[12], pkt[13] = 0x08, 0x00
	f.Fuzz(func(t *testing.T, obj []byte) {
		spec, err := elf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
		if err != nil {
			return
		}
		c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{InstructionBudget: 1 << 12})
		if err != nil {
			return
		}
		defer c.Close()
		for _, p := range c.Programs {
			p.Run(&xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096), Context: make([]byte, 8)})
		}
	})
}
