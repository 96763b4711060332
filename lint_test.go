package xebpf_test

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestPackageDAG keeps the package layering: the instruction set depends
// on nothing, api (what the interpreter, the helpers and the verifier
// share) on the instruction set alone, the engines and the loader only on
// what lies below them; helpers never import the interpreter, and the
// verifier never imports the interpreter it unlocks fast mode of.
func TestPackageDAG(t *testing.T) {
	allowed := map[string][]string{
		"isa":                {},
		"api":                {"isa"},
		"internal/platform":  {},
		"asm":                {"isa"},
		"elf":                {"isa", "internal/binenc"},
		"internal/binenc":    {},
		"internal/netns":     {},
		"internal/ctxaccess": {"isa"},
		"interp":             {"api", "isa", "internal/platform", "verifier"},
		"verifier":           {"api", "isa", "internal/ctxaccess", "maps"},
		"maps":               {"api", "internal/platform"},
		"helpers":            {"api", "maps", "internal/platform"},
		"internal/isolate":   {"verifier"},
		// BPF_PROG_TEST_RUN's environment, below the root's Program.Run.
		"internal/testrun": {"helpers", "internal/ctxaccess"},
		// The isolated verifier's child links the verifier alone, which
		// keeps its memory below PREVAIL's.
		"cmd/xebpf-verifier": {"internal/isolate"},
		// Readers of ring buffers and perf event arrays: over maps.Map,
		// and cilium/ebpf's API over *xebpf.Map (".", the root) above them.
		"maps/ringbuf":       {"maps"},
		"maps/perf":          {"maps"},
		"ringbuf":            {".", "maps", "maps/ringbuf"},
		"perf":               {".", "maps", "maps/perf"},
		"internal/apimirror": {},
		// The daemon over the root package; its protocol and client
		// stand alone, so that clients do not link the runtime.
		"service":        {".", "helpers", "hooks/xdp", "isa", "service/proto"},
		"service/proto":  {},
		"service/client": {"service/proto"},
		// Socket hooks: programs of the root API on real calls.
		"sockhook": {".", "elf", "helpers", "isa"},
		// Hooks that run programs on real traffic sit above the root.
		"hooks/xdp": {".", "helpers", "maps"},
	}
	for pkg, want := range allowed {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		var got []string
		for _, imp := range strings.Fields(string(out)) {
			if imp == "github.com/xebpf/xebpf" {
				got = append(got, ".")
			}
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

// TestCrossPlatform builds the tree without cgo and runs go vet over it,
// tests included, for every supported platform: Linux, Windows and macOS
// on amd64 and arm64, so that code behind build constraints keeps
// compiling and stays vet-clean.
func TestCrossPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds and vets the tree for six platforms")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not available: %v", err)
	}
	for _, goos := range []string{"linux", "windows", "darwin"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			t.Run(goos+"/"+goarch, func(t *testing.T) {
				for _, args := range [][]string{{"build", "-o", os.DevNull, "./..."}, {"vet", "./..."}} {
					cmd := exec.Command(goCmd, args...)
					cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
					}
				}
			})
		}
	}
}
