//go:build !windows

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenCommand checks that xebpf gen is listed and runs xebpf2go's
// generator: its usage, its errors, and a Go file importing xebpf.
func TestGenCommand(t *testing.T) {
	if _, stderr, _ := runCmd([]string{"help"}, ""); !strings.Contains(stderr, "\n  gen ") {
		t.Errorf("usage does not list gen:\n%s", stderr)
	}
	if stdout, _, code := runCmd([]string{"gen", "-h"}, ""); code != 0 || !strings.Contains(stdout, "Usage: xebpf gen [options] <ident> <source file>") {
		t.Errorf("gen -h: status %d, stdout:\n%s", code, stdout)
	}
	if _, stderr, code := runCmd([]string{"gen", "-nosuch"}, ""); code != 1 || !strings.Contains(stderr, "xebpf gen: flag provided but not defined: -nosuch") {
		t.Errorf("gen -nosuch: status %d, stderr:\n%s", code, stderr)
	}

	for _, bin := range []string{"clang-19", "llvm-strip-19"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(src, []byte(`__attribute__((section("socket"), used)) int prog(void *ctx) { return 0; }`+"\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCmd([]string{"gen", "-go-package", "p", "-cc", "clang-19", "-target", "bpfel", "-output-dir", dir, "Prog", src}, "")
	if code != 0 {
		t.Fatalf("gen: status %d, stderr:\n%s", code, stderr)
	}
	out, err := os.ReadFile(filepath.Join(dir, "prog_bpfel.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\tebpf \"github.com/xebpf/xebpf\"\n") || strings.Contains(string(out), "cilium") {
		t.Errorf("prog_bpfel.go does not import xebpf alone:\n%s", out)
	}
}
