package perf_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/apimirror"
)

// TestMirrorsCilium checks that this package exports exactly what
// cilium/ebpf's perf package (the version go.mod requires) exports, with
// the same signatures and the same struct fields.
func TestMirrorsCilium(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/ebpf").Output()
	if err != nil {
		t.Fatalf("locate cilium/ebpf: %v", err)
	}
	want, err := apimirror.Exported(filepath.Join(strings.TrimSpace(string(out)), "perf"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := apimirror.Exported(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("cilium/ebpf's perf exports nothing")
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing: %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("not in cilium/ebpf: %s", g)
		}
	}
}
