package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf/interp"
)

// suiteDir finds ../shared/conformance/tests beside the repository root.
func suiteDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "..", "shared", "conformance", "tests")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			t.Skipf("conformance suite not found at %s: ../shared is absent", p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("conformance suite not found")
		}
		dir = parent
	}
}

func TestSuite(t *testing.T) {
	files, err := Files([]string{suiteDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 313 {
		t.Errorf("found %d tests, want 313", len(files))
	}
	for _, mode := range []interp.Mode{interp.Checked, interp.Fast} {
		t.Run(mode.String(), func(t *testing.T) {
			for _, f := range files {
				test, err := ParseFile(f)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				if o := Run(test, mode); !o.Passed {
					t.Errorf("%s: %s", filepath.Base(f), o.Reason)
				}
			}
		})
	}
}
