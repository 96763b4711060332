package sockhook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/sockhook"
)

func TestMain(m *testing.M) {
	// The test binary is also the shim Command starts, and the client it
	// runs under the hooks.
	sockhook.RunShimIfRequested()
	runClientIfRequested()
	os.Exit(m.Run())
}

// loadHooks builds testdata/hooks.c with clang-19 and loads it, the bind
// program with eBPF for Windows' bind kind.
func loadHooks(t testing.TB) *xebpf.Collection {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), "hooks.o")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", "../include", "-c", "testdata/hooks.c", "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{
		Types: map[string]*xebpf.ProgramKind{"winbind": xebpf.WindowsBindKind(), "winbind_redirect": xebpf.WindowsBindKind()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// setConfig sets the programs' config map.
func setConfig(t testing.TB, c *xebpf.Collection, key, value uint32) {
	t.Helper()
	if err := c.Maps["config"].Put(key, value); err != nil {
		t.Fatal(err)
	}
}
