//go:build !windows

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun checks bpf2go's conventions: usage on stdout and status 0 for
// -h, "Error: ..." on stderr and status 1 for a bad command line.
func TestRun(t *testing.T) {
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-h"}, 0, "Usage: xebpf2go [options] <ident> <source file> [-- <C flags>]", ""},
		{[]string{"-nosuch"}, 1, "flag provided but not defined: -nosuch", "Error: flag provided but not defined: -nosuch\n"},
		{[]string{"-go-package", "p", "Ident"}, 1, "", "Error: expected at least two arguments\n"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(&stdout, &stderr, c.args)
		if code != c.code || !strings.Contains(stdout.String(), c.stdout) || stderr.String() != c.stderr && c.stderr != "" {
			t.Errorf("%q: status %d, stdout:\n%s\nstderr:\n%s\nwant status %d, stdout with %q, stderr %q",
				c.args, code, &stdout, &stderr, c.code, c.stdout, c.stderr)
		}
	}
}

// TestGoGenerate runs xebpf2go the way its users do, through go generate
// in a module of their own, and checks the files it leaves.
func TestGoGenerate(t *testing.T) {
	for _, bin := range []string{"go", "clang-19", "llvm-strip-19"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/user\n\ngo 1.26\n\nrequire github.com/xebpf/xebpf v0.0.0\n\nreplace github.com/xebpf/xebpf => " + root + "\n",
		"go.sum": string(sum),
		"gen.go": "package user\n\n//go:generate go run github.com/xebpf/xebpf/cmd/xebpf2go -cc clang-19 Prog prog.c\n",
		"prog.c": `__attribute__((section("socket"), used)) int prog(void *ctx) { return 0; }` + "\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "generate", ".")
	cmd.Dir = dir
	// Offline: everything comes from the module cache this module uses.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate: %v\n%s", err, out)
	}
	for _, name := range []string{"prog_bpfel.go", "prog_bpfel.o", "prog_bpfeb.go", "prog_bpfeb.o"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".go") {
			s := string(data)
			if !strings.Contains(s, "package user\n") || !strings.Contains(s, "\tebpf \"github.com/xebpf/xebpf\"\n") || strings.Contains(s, "cilium") {
				t.Errorf("%s is not xebpf's binding for package user:\n%s", name, s)
			}
		}
	}
}
