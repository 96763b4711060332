package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/conformance"
	"github.com/xebpf/xebpf/isa"
)

// xebpfBin is the command built once for the tests that run it as a process.
var xebpfBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xebpf-cmd")
	if err != nil {
		panic(err)
	}
	xebpfBin = filepath.Join(dir, "xebpf")
	// --isolate prefers xebpf-verifier beside xebpf; the tests build it
	// there (TestVerifyIsolateFallback runs without it).
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "xebpf-verifier"), "../xebpf-verifier").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	if out, err := exec.Command("go", "build", "-o", xebpfBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	// xebpf verify --isolate starts its children from the xebpf binary,
	// not from the test binary.
	selfExecutable = func() (string, error) { return xebpfBin, nil }
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func suiteDir(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "conformance", "tests"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("conformance suite not found at %s: ../shared is absent", p)
	}
	return p
}

func runCmd(args []string, stdin string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, stdio{strings.NewReader(stdin), &o, &e})
	return o.String(), e.String(), code
}

func TestConformanceCommand(t *testing.T) {
	dir := suiteDir(t)
	for _, mode := range []string{"checked", "fast"} {
		out, errout, code := runCmd([]string{"conformance", "--mode", mode, dir}, "")
		if code != 0 || !strings.HasSuffix(out, "313 passed, 0 failed\n") {
			t.Errorf("mode %s: exit %d, stdout %q, stderr %q", mode, code, out, errout)
		}
	}
}

func TestConformanceCommandReportsFailures(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "wrong.data"), []byte("-- asm\nmov %r0, 3\nexit\n-- result\n0x4\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "oob.data"), []byte("-- asm\nldxw %r0, [%r10+0]\nexit\n-- result\n0x0\n"), 0o644)
	out, _, code := runCmd([]string{"conformance", dir}, "")
	want := []string{
		"FAIL oob.data: expected 0x0, got error: pc 0 (ldxw %r0, [%r10+0]): memory access out of bounds",
		"FAIL wrong.data: expected 0x4, got 0x3",
		"0 passed, 2 failed",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// runnerHex encodes bytecode as the bpf_conformance runner sends it: two
// lower-case hex digits and two spaces per byte.
func runnerHex(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "%02x  ", c)
	}
	return s.String()
}

// TestPluginPassesSuite drives the built binary through the plugin
// protocol, one process per test, with the argument list and input of the
// upstream runner's process executor (bpf_conformance_runner --plugin_path
// xebpf --plugin_options conformance-plugin): the memory in hex first when
// the test has any, then the plugin options; the program in hex on stdin,
// ended by a newline. The tests with memory also run with xebpf's own
// order, conformance-plugin MEMORY_HEX.
func TestPluginPassesSuite(t *testing.T) {
	files, err := conformance.Files([]string{suiteDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	passed, withMem := 0, 0
	for _, f := range files {
		test, err := conformance.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		argLists := [][]string{{"conformance-plugin"}}
		if len(test.Mem) > 0 {
			withMem++
			mem := runnerHex(test.Mem)
			argLists = [][]string{{mem, "conformance-plugin"}, {"conformance-plugin", mem}}
		}
		ok := true
		for _, args := range argLists {
			cmd := exec.Command(xebpfBin, args...)
			cmd.Stdin = strings.NewReader(runnerHex(isa.Encode(nil, test.Program)) + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			got := strings.TrimSpace(stdout.String())
			if want := fmt.Sprintf("%x", test.Result); err != nil || got != want {
				t.Errorf("%s, arguments %q: got %q (err %v, stderr %q), want %q", filepath.Base(f), args, got, err, stderr.String(), want)
				ok = false
			}
		}
		if ok {
			passed++
		}
	}
	if passed != 313 || withMem == 0 {
		t.Errorf("plugin passed %d of %d (%d with memory)", passed, len(files), withMem)
	}
}

func TestRunnerOrder(t *testing.T) {
	for _, tc := range []struct {
		args, want []string
	}{
		{[]string{"01  02  ", "conformance-plugin"}, []string{"conformance-plugin", "01  02  "}},
		{[]string{"01  02  ", "conformance-plugin", "--elf"}, []string{"conformance-plugin", "01  02  ", "--elf"}},
		{[]string{"conformance-plugin", "01  02  "}, []string{"conformance-plugin", "01  02  "}},
		{[]string{"conformance-plugin"}, []string{"conformance-plugin"}},
		{[]string{"conformance-plugin", "--elf"}, []string{"conformance-plugin", "--elf"}},
		// Only hex memory before conformance-plugin is moved.
		{[]string{"zz", "conformance-plugin"}, []string{"zz", "conformance-plugin"}},
		{[]string{"asm", "conformance-plugin"}, []string{"asm", "conformance-plugin"}},
		{[]string{"01", "run"}, []string{"01", "run"}},
	} {
		if got := runnerOrder(tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("runnerOrder(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPluginRuntimeError(t *testing.T) {
	code := isa.Encode(nil, []isa.Instruction{
		{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: isa.R0, Src: isa.R1, Offset: 8},
		{OpCode: isa.OpExit},
	})
	for _, args := range [][]string{{"conformance-plugin", "01 02 03 04"}, {"01 02 03 04", "conformance-plugin"}} {
		out, errout, rc := runCmd(args, runnerHex(code))
		if rc == 0 || out != "" || !strings.Contains(errout, "memory access out of bounds") {
			t.Errorf("arguments %q: exit %d, stdout %q, stderr %q", args, rc, out, errout)
		}
	}
}

func TestPluginELF(t *testing.T) {
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void) { return 42; }\n"), 0o644)
	obj := filepath.Join(dir, "p.o")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-c", src, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	out, errout, rc := runCmd([]string{"conformance-plugin", "--elf"}, runnerHex(b))
	if rc != 0 || strings.TrimSpace(out) != "2a" {
		t.Errorf("exit %d, stdout %q, stderr %q", rc, out, errout)
	}
}

func TestAsmDisasmRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.s")
	os.WriteFile(src, []byte("# sum 1..10\nmov %r0, 0\nmov %r1, 10\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit\n"), 0o644)
	bin := filepath.Join(dir, "p.bin")
	if _, errout, rc := runCmd([]string{"asm", src, "-o", bin}, ""); rc != 0 {
		t.Fatalf("asm: exit %d: %s", rc, errout)
	}
	out, errout, rc := runCmd([]string{"disasm", bin}, "")
	want := "mov %r0, 0\nmov %r1, 10\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, -3\nexit\n"
	if rc != 0 || out != want {
		t.Fatalf("disasm: exit %d, stderr %q\ngot:\n%s\nwant:\n%s", rc, errout, out, want)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.s")
	os.WriteFile(bad, []byte("mov %r0, 1\nmovv %r0, 2\n"), 0o644)
	odd := filepath.Join(dir, "odd.bin")
	os.WriteFile(odd, []byte{1, 2, 3}, 0o644)
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"asm", bad, "-o", filepath.Join(dir, "x.bin")}, 1, bad + ":2:"},
		{[]string{"asm", bad}, 2, "usage: xebpf asm"},
		{[]string{"disasm", odd}, 1, "not a multiple of 8"},
		{[]string{"conformance", "--mode", "turbo", dir}, 1, `unknown mode "turbo"`},
		{[]string{"asm", "--help"}, 0, "usage: xebpf asm"},
	}
	for _, tt := range tests {
		_, errout, code := runCmd(tt.args, "")
		if code != tt.code || !strings.Contains(errout, tt.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errout, tt.code, tt.wantErr)
		}
	}
}
