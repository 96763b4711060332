package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// buildVerifyObjects compiles testdata/verify/NAME.c for each name into a
// temporary directory and returns the objects' directory. The objects
// record their sources as ./NAME.c. It skips the test without clang-19.
func buildVerifyObjects(t *testing.T, names ...string) string {
	t.Helper()
	return buildObjects(t, "verify", names...)
}

// buildObjects builds testdata/DIR/NAME.c for each name into a temporary
// directory, which it returns; it skips the test without clang-19.
func buildObjects(t *testing.T, dir string, names ...string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed: cannot build the test objects")
	}
	src, err := filepath.Abs(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	inc, err := filepath.Abs(filepath.Join("..", "..", "include"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, n := range names {
		cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-fdebug-compilation-dir=.", "-I", inc,
			"-c", n+".c", "-o", filepath.Join(out, n+".o"))
		cmd.Dir = src
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("clang-19 %s.c: %v\n%s", n, err, msg)
		}
	}
	return out
}

var verifyMillis = regexp.MustCompile(`, \d+\.\d ms;`)

// verifyOutput runs xebpf verify and returns its standard output with the
// durations and the objects' directory replaced.
func verifyOutput(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	out, errout, code := runCmd(append([]string{"verify"}, args...), "")
	out = strings.ReplaceAll(verifyMillis.ReplaceAllString(out, ", N ms;"), dir+string(filepath.Separator), "")
	return out, errout, code
}

func TestVerify(t *testing.T) {
	dir := buildVerifyObjects(t, "good", "bad", "untyped")
	good, bad, untyped := filepath.Join(dir, "good.o"), filepath.Join(dir, "bad.o"), filepath.Join(dir, "untyped.o")
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string // under testdata/verify
	}{
		{"accepted", []string{good}, 0, "good.txt"},
		{"rejected", []string{bad}, 1, "bad.txt"},
		{"program", []string{bad, "--program", "xdp_ok"}, 0, "bad_ok.txt"},
		{"type", []string{good, "--type", "socket_filter"}, 1, "good_socket_filter.txt"},
		{"verbose", []string{"-v", bad, "--program", "xdp_unchecked"}, 1, "bad_verbose.txt"},
		// A section that names no type: verified raw, with a note saying so.
		{"untyped", []string{untyped}, 1, "untyped.txt"},
		{"untyped given a type", []string{untyped, "--type", "xdp"}, 0, "untyped_xdp.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errout, code := verifyOutput(t, dir, tt.args...)
			if code != tt.code || errout != "" {
				t.Errorf("exit %d, stderr %q; want exit %d and no stderr", code, errout, tt.code)
			}
			golden(t, filepath.Join("verify", tt.golden), out)
			// A child process per program gives the same verdicts.
			iout, errout, code := verifyOutput(t, dir, append(tt.args, "--isolate")...)
			if code != tt.code || errout != "" {
				t.Errorf("--isolate: exit %d, stderr %q; want exit %d and no stderr", code, errout, tt.code)
			}
			if iout != out {
				t.Errorf("--isolate output differs:\n--- isolated\n%s\n--- in process\n%s", iout, out)
			}
		})
	}
}

// TestVerifyIsolateFallback checks --isolate without xebpf-verifier
// installed: xebpf serves the job itself (xebpf verify-job), with the same
// verdicts.
func TestVerifyIsolateFallback(t *testing.T) {
	dir := buildVerifyObjects(t, "bad")
	bad := filepath.Join(dir, "bad.o")
	want, _, code := verifyOutput(t, dir, "--json", bad)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	alone := t.TempDir()
	exe := filepath.Join(alone, "xebpf")
	if err := os.Symlink(xebpfBin, exe); err != nil {
		t.Skipf("symlink: %v", err)
	}
	self := selfExecutable
	selfExecutable = func() (string, error) { return exe, nil }
	defer func() { selfExecutable = self }()
	t.Setenv("PATH", alone)
	cmd, err := childCommand()
	if err != nil || len(cmd) != 2 || cmd[0] != exe || cmd[1] != "verify-job" {
		t.Fatalf("child command %q, %v; want %s verify-job", cmd, err, exe)
	}
	got, errout, code := verifyOutput(t, dir, "--json", "--isolate", bad)
	if code != 1 || errout != "" {
		t.Fatalf("exit %d, stderr %q", code, errout)
	}
	norm := regexp.MustCompile(`"seconds":[^,]*,"max_rss_kb":\d+`)
	if a, b := norm.ReplaceAllString(got, ""), norm.ReplaceAllString(want, ""); a != b {
		t.Errorf("verify-job verdicts differ:\n--- isolated\n%s\n--- in process\n%s", a, b)
	}
	if !strings.Contains(got, `"max_rss_kb":`) || strings.Contains(got, `"max_rss_kb":0`) && runtime.GOOS == "linux" {
		t.Errorf("no child memory figure: %s", got)
	}
}

func TestVerifyJSON(t *testing.T) {
	dir := buildVerifyObjects(t, "bad")
	bad := filepath.Join(dir, "bad.o")
	for _, isolate := range []bool{false, true} {
		args := []string{"verify", "--json", bad}
		if isolate {
			args = append(args, "--isolate")
		}
		out, errout, code := runCmd(args, "")
		if code != 1 || errout != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 1", args, code, errout)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%q: want 2 lines:\n%s", args, out)
		}
		var got []verifyResult
		for _, l := range lines {
			var fields map[string]any
			if err := json.Unmarshal([]byte(l), &fields); err != nil {
				t.Fatalf("%q: %v: %s", args, err, l)
			}
			for _, k := range []string{"object", "section", "program", "type", "accepted", "error", "instructions", "seconds", "max_rss_kb"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("%q: no %q in %s", args, k, l)
				}
			}
			var r verifyResult
			json.Unmarshal([]byte(l), &r)
			got = append(got, r)
		}
		ok, unchecked := got[0], got[1]
		if ok.Program != "xdp_ok" || !ok.Accepted || ok.Error != nil || ok.Instructions != 2 ||
			ok.Object != bad || ok.Section != "xdp" || ok.Type != "xdp" || ok.Seconds <= 0 {
			t.Errorf("%q: xdp_ok: %+v", args, ok)
		}
		e := unchecked.Error
		if unchecked.Program != "xdp_unchecked" || unchecked.Accepted || e == nil || unchecked.Type != "xdp" {
			t.Fatalf("%q: xdp_unchecked: %+v", args, unchecked)
		}
		if e.PC != 1 || e.File != "./bad.c" || e.Line != 10 ||
			!strings.HasPrefix(e.Message, "./bad.c:10: pc 1: ldxb ") || !strings.HasSuffix(e.Message, "\n\tif (data[12] == 0x08)") {
			t.Errorf("%q: error %+v", args, e)
		}
		for _, r := range got {
			if runtime.GOOS == "linux" && r.MaxRSSKB <= 0 {
				t.Errorf("%q: %s: max_rss_kb %d", args, r.Program, r.MaxRSSKB)
			}
		}
	}
}

func TestVerifyVerboseJSON(t *testing.T) {
	dir := buildVerifyObjects(t, "bad")
	for _, isolate := range []string{"--isolate=false", "--isolate"} {
		out, errout, code := runCmd([]string{"verify", "--json", "-v", isolate, filepath.Join(dir, "bad.o"), "--program", "xdp_unchecked"}, "")
		var r verifyResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Accepted {
			t.Errorf("%s: exit %d, %v: %q", isolate, code, err, out)
		}
		// The trace goes to standard error, out of the JSON's way.
		if !strings.Contains(errout, "1: ldxb %r1, [%r1+12]\t; r1=packet offset 0 (checked 0 bytes)") {
			t.Errorf("%s: stderr lacks the trace: %q", isolate, errout)
		}
	}
}

func TestVerifyIsolateLimits(t *testing.T) {
	dir := buildVerifyObjects(t, "good")
	good := filepath.Join(dir, "good.o")
	out, errout, code := runCmd([]string{"verify", "--isolate", "--timeout", "1ns", good}, "")
	if want := "xdp_checked: rejected\n  verifier killed after 1ns\n"; code != 1 || out != want {
		t.Errorf("--timeout 1ns: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errout, want)
	}
	out, _, code = runCmd([]string{"verify", "--isolate", "--timeout", "1ns", "--json", good}, "")
	var r verifyResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Accepted || r.Error == nil ||
		*r.Error != (verifyError{PC: -1, Message: "verifier killed after 1ns"}) {
		t.Errorf("--timeout 1ns --json: exit %d, %v: %s", code, err, out)
	}

	if runtime.GOOS != "linux" {
		t.Skip("xebpf limits the verifier's memory only on Linux")
	}
	// A program big enough that loading and verifying it needs more
	// memory than the Go runtime has mapped at its start.
	var src strings.Builder
	src.WriteString("#include \"xebpf/bpf.h\"\nSEC(\"xdp\")\nint big(struct xdp_md *ctx)\n{\n" +
		"\tunsigned char *data = (void *)(long)ctx->data;\n\tunsigned char *end = (void *)(long)ctx->data_end;\n" +
		"\tint s = 0;\n\tif (data + 64 > end)\n\t\treturn XDP_DROP;\n")
	for i := range 1000 {
		fmt.Fprintf(&src, "\tif (data[%d] == %d) s += %d; else s ^= %d;\n", i%64, i%251, i, 7*i)
	}
	src.WriteString("\treturn s & 3;\n}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n")
	inc, _ := filepath.Abs(filepath.Join("..", "..", "include"))
	c, obj := filepath.Join(dir, "big.c"), filepath.Join(dir, "big.o")
	os.WriteFile(c, []byte(src.String()), 0o644)
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", inc, "-c", c, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	out, errout, code = runCmd([]string{"verify", "--isolate", obj}, "")
	if code != 0 || !strings.HasPrefix(out, "big: accepted (") {
		t.Errorf("big.o: exit %d, stdout %q, stderr %q", code, out, errout)
	}
	out, errout, code = runCmd([]string{"verify", "--isolate", "--memory-limit", "1", obj}, "")
	if want := "too complex: verification needs more than its 1 MiB of memory\n"; code != 1 || !strings.HasPrefix(out, "big: rejected\n") || !strings.Contains(out, want) {
		t.Errorf("--memory-limit 1: exit %d, stdout %q, stderr %q; want %q", code, out, errout, want)
	}
}

func TestVerifyErrors(t *testing.T) {
	dir := buildVerifyObjects(t, "bad")
	bad := filepath.Join(dir, "bad.o")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify"}, 2, "usage: xebpf verify FILE.o"},
		{[]string{"verify", bad, bad}, 2, "usage: xebpf verify FILE.o"},
		{[]string{"verify", "--type", "lsm", bad}, 2, `unknown program type "lsm" (want one of xdp, sched_cls, sched_act, socket_filter, cgroup_skb, kprobe, tracepoint, raw_tracepoint, perf_event, raw)`},
		{[]string{"verify", "--arch", "mips", bad}, 2, `--arch: unknown architecture "mips" (want x86_64 or arm64)`},
		{[]string{"verify", "--timeout", "0", bad}, 2, "usage: xebpf verify FILE.o"},
		{[]string{"verify", bad, "--program", "nope"}, 2, `no program "nope" (have xdp_ok, xdp_unchecked)`},
		{[]string{"verify", bad + ".missing"}, 2, "no such file"},
		{[]string{"verify", "../../README.md"}, 2, "README.md"},
		{[]string{"verify", "--help"}, 0, "usage: xebpf verify FILE.o"},
	}
	for _, tt := range tests {
		_, errout, code := runCmd(tt.args, "")
		if code != tt.code || !strings.Contains(errout, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errout, tt.code, tt.want)
		}
	}
	// verify-job is for xebpf's own use.
	if _, errout, _ := runCmd(nil, ""); !strings.Contains(errout, "verify ") || strings.Contains(errout, "verify-job") {
		t.Errorf("usage: %q", errout)
	}
}

// TestVerifyWitness checks that --witness tells a real bug (a packet on
// which checked mode faults) from a rejection no input confirms.
func TestVerifyWitness(t *testing.T) {
	dir := buildVerifyObjects(t, "witness", "bad")
	out, _, code := verifyOutput(t, dir, "--witness", filepath.Join(dir, "witness.o"))
	if code != 1 || !strings.Contains(out, "witness: packet of 14 bytes: pc ") || !strings.Contains(out, "out of bounds") {
		t.Errorf("exit %d, output:\n%s\nwant a witness packet of 14 bytes", code, out)
	}
	// data[12] of an XDP packet, which has at least 14 bytes: no fault.
	out, _, _ = verifyOutput(t, dir, "--witness", "--program", "xdp_unchecked", filepath.Join(dir, "bad.o"))
	if !strings.Contains(out, "witness: none found") {
		t.Errorf("output:\n%s\nwant no witness", out)
	}
	out, _, _ = verifyOutput(t, dir, "--witness", "--json", filepath.Join(dir, "witness.o"))
	if !strings.Contains(out, `"witness":"packet of 14 bytes`) {
		t.Errorf("--json output:\n%s\nwant the witness", out)
	}
}
