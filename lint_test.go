package xebpf_test

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestPackageDAG keeps the package layering: the instruction set depends
// on nothing, the engines and the loader only on what lies below them.
func TestPackageDAG(t *testing.T) {
	allowed := map[string][]string{
		"isa":                {},
		"internal/platform":  {},
		"asm":                {"isa"},
		"elf":                {"isa"},
		"internal/ctxaccess": {"isa"},
		"interp":             {"isa", "internal/platform"},
		"maps":               {"internal/platform"},
		"helpers":            {"interp", "maps", "internal/platform"},
	}
	for pkg, want := range allowed {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		var got []string
		for _, imp := range strings.Fields(string(out)) {
			if rest, ok := strings.CutPrefix(imp, "github.com/xebpf/xebpf/"); ok {
				got = append(got, rest)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s imports %v, want %v", pkg, got, want)
		}
	}
}

// TestStaticcheck runs staticcheck (pinned in go.mod's tool block) and
// gofmt over the tree.
func TestStaticcheck(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds and runs staticcheck")
	}
	if out, err := exec.Command("go", "tool", "staticcheck", "./...").CombinedOutput(); err != nil {
		t.Errorf("staticcheck: %v\n%s", err, out)
	}
	out, err := exec.Command("gofmt", "-l", ".").Output()
	if err != nil {
		t.Skipf("gofmt not available: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("files not gofmt'ed:\n%s", s)
	}
}
