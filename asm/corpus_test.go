package asm

import (
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// corpusSections returns the executable sections of the real eBPF objects
// in the shared corpus (hostile files under invalid/ excluded).
func corpusSections(tb testing.TB) map[string][]byte {
	tb.Helper()
	root := sharedDir(tb, "corpus")
	out := make(map[string][]byte)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "invalid" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".o") {
			return nil
		}
		f, err := elf.Open(path)
		if err != nil {
			return nil // not every file need be a valid object
		}
		defer f.Close()
		for _, s := range f.Sections {
			if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || s.Size == 0 {
				continue
			}
			data, err := s.Data()
			if err != nil {
				continue
			}
			rel, _ := filepath.Rel(root, path)
			out[rel+":"+s.Name] = data
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCorpusRoundTrip disassembles every code section of the real-world
// corpus that isa.Decode accepts and checks that the text re-assembles to
// the same bytes.
func TestCorpusRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus round trip skipped in short mode")
	}
	secs := corpusSections(t)
	decoded, insns := 0, 0
	for name, code := range secs {
		prog, err := isa.Decode(code)
		if err != nil {
			continue
		}
		decoded++
		insns += len(prog)
		t.Run(name, func(t *testing.T) { checkRoundTrip(t, code, prog) })
	}
	if decoded == 0 {
		t.Fatalf("none of %d corpus code sections decoded", len(secs))
	}
	t.Logf("%d of %d code sections decoded and round-tripped (%d instructions)", decoded, len(secs), insns)
}

// smallCorpusSections returns the corpus code sections of at most 512
// bytes, as fuzz seeds; large seeds slow fuzzing down.
func smallCorpusSections(f *testing.F) [][]byte {
	f.Helper()
	if _, err := os.Stat("../../shared/corpus"); err != nil {
		return nil // sharedDir would skip the fuzz target
	}
	var out [][]byte
	for _, code := range corpusSections(f) {
		if len(code) <= 512 {
			out = append(out, code)
		}
	}
	return out
}
