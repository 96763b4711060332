package xebpf_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
)

// corpusFiles returns the objects of ../shared/corpus outside invalid/.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	root := filepath.Join("..", "shared", "corpus")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("corpus not found at %s: ../shared is absent", root)
	}
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".o") && !strings.Contains(p, "/invalid/") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// TestCorpusInstantiates creates every collection of the corpus. The
// failures allowed are named: references xebpf cannot resolve (kernel
// structs missing from xebpf's context types), map types xebpf does not
// implement, and the objects the corpus includes because
// Linux refuses their maps too.
func TestCorpusInstantiates(t *testing.T) {
	refusedByLinux := map[string]bool{
		"badrelo.o":    true, // an array map with value size 0
		"exposeptr2.o": true, // an array map with an 8-byte key
	}
	files := corpusFiles(t)
	ok, unresolved, unsupported, fast := 0, 0, 0, 0
	for _, f := range files {
		spec, err := xebpf.LoadCollectionSpec(f)
		if err != nil {
			t.Errorf("%s: load: %v", f, err)
			continue
		}
		// Programs the verifier rejects load in checked mode here: this
		// test is about instantiation (TestVerifierCorpus about verdicts).
		c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked})
		switch {
		case err == nil:
			ok++
			for _, p := range c.Programs {
				if p.Engine() == xebpf.EngineFast {
					fast++
				}
			}
			c.Close()
		case errors.Is(err, xebpf.ErrUnresolved):
			unresolved++
		case errors.Is(err, maps.ErrNotSupported):
			unsupported++
			t.Logf("%s: %v", f, err)
		case refusedByLinux[filepath.Base(f)] && errors.Is(err, maps.ErrInvalid):
		case errors.Is(err, xebpf.ErrHelperNotAllowed):
			t.Logf("%s: %v (Linux refuses it too)", f, err)
		default:
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Logf("%d of %d objects instantiated; %d with unresolved references, %d with map types xebpf lacks; %d programs verified to run fast",
		ok, len(files), unresolved, unsupported, fast)
	// Floors, measured on ../shared/corpus: fewer means objects silently
	// stopped loading or instantiating.
	const minObjects, minInstantiated = 145, 140
	if len(files) < minObjects || ok < minInstantiated {
		t.Errorf("%d of %d objects instantiated: want at least %d of %d", ok, len(files), minInstantiated, minObjects)
	}
}
