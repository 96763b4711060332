package elf

import (
	"errors"
	"github.com/xebpf/xebpf/isa"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedDir finds the shared data directory that lies beside the repository
// root, walking up from the package directory.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(filepath.Join(s, "corpus")); err != nil {
				t.Skipf("shared corpus not found beside the repository (%s): %v", s, err)
			}
			return s
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}

// corpusFiles returns the corpus files, valid ones and those of invalid/.
func corpusFiles(t testing.TB) (valid, invalid []string) {
	root := filepath.Join(sharedDir(t), "corpus")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(path, string(filepath.Separator)+"invalid"+string(filepath.Separator)) {
			invalid = append(invalid, path)
		} else {
			valid = append(valid, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("corpus at %s has %d valid and %d invalid files", root, len(valid), len(invalid))
	}
	return valid, invalid
}

// TestCorpus loads every valid corpus object and reports per-directory counts.
func TestCorpus(t *testing.T) {
	valid, _ := corpusFiles(t)
	loaded := map[string]int{}
	total := map[string]int{}
	for _, path := range valid {
		dir := filepath.Base(filepath.Dir(path))
		total[dir]++
		spec, err := LoadCollectionSpec(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(spec.Programs) == 0 {
			t.Errorf("%s: no programs", path)
			continue
		}
		loaded[dir]++
		for _, w := range spec.Warnings {
			t.Logf("%s: warning: %s", path, w)
		}
	}
	dirs := make([]string, 0, len(total))
	for d := range total {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	sum := 0
	for _, d := range dirs {
		t.Logf("%-16s %3d/%d loaded", d, loaded[d], total[d])
		sum += loaded[d]
	}
	t.Logf("total            %3d/%d loaded", sum, len(valid))
	// The corpus has 145 valid objects (../shared/corpus outside
	// invalid/), all of which load.
	const minLoaded = 145
	if sum < minLoaded {
		t.Errorf("%d of %d valid corpus objects loaded: want at least %d", sum, len(valid), minLoaded)
	}
}

// TestCorpusInvalid checks that hostile files load or fail with an *Error.
func TestCorpusInvalid(t *testing.T) {
	_, invalid := corpusFiles(t)
	for _, path := range invalid {
		spec, err := LoadCollectionSpec(path)
		if (err == nil) != (spec != nil) {
			t.Errorf("%s: spec %v with error %v", path, spec != nil, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%s: error %v is not an *Error", path, err)
			}
			t.Logf("%s: %v", filepath.Base(path), err)
		} else {
			t.Logf("%s: loaded %d programs", filepath.Base(path), len(spec.Programs))
		}
	}
}

// TestPreEMBPFRelocations checks an object of a toolchain from before
// EM_BPF (e_machine EM_NONE, relocation type 0): its map references must be
// relocated, not left as lddw 0 (OVS's datapath.o).
func TestPreEMBPFRelocations(t *testing.T) {
	spec, err := LoadCollectionSpec(filepath.Join(sharedDir(t), "corpus", "ovs", "datapath.o"))
	if err != nil {
		t.Fatal(err)
	}
	refs := 0
	for _, p := range spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsLDDW() && ins.Src == isa.PseudoMapIndex {
				refs++
			}
		}
	}
	if refs < 30 {
		t.Fatalf("%d map references relocated, want every one of the object's (> 30)", refs)
	}
}
