package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunRepeat: --repeat counts runs, from 1; the duration says what
// it is, a single cold run or a mean.
func TestRunRepeat(t *testing.T) {
	for _, tt := range []struct {
		repeat string
		code   int
		want   string // in stdout, or stderr when code != 0
	}{
		{"0", 1, "xebpf run: --repeat 0: want a number of runs from 1 to 4294967295\n"},
		{"-1", 1, "xebpf run: --repeat -1: want a number of runs from 1 to 4294967295\n"},
		{"4294967296", 1, "xebpf run: --repeat 4294967296: want a number of runs from 1 to 4294967295\n"},
		{"1", 0, " ns (a single, cold run: first-run costs included; --repeat N gives the mean of N runs)\n"},
		{"7", 0, " ns/run (mean of 7 runs, the first, cold one included)\n"},
	} {
		out, errout, code := runCmd([]string{"run", exampleObj, "--data", examplePkt, "--repeat", tt.repeat}, "")
		got := out
		if tt.code != 0 {
			got = errout
		}
		if code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("--repeat %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", tt.repeat, code, tt.code, out, errout, tt.want)
		}
	}
	for _, tt := range []struct {
		repeat int
		want   string
	}{{1, " (xebpf's single run is cold: --repeat N compares means)"}, {2, ""}, {1000, ""}} {
		if got := coldNote(tt.repeat); got != tt.want {
			t.Errorf("coldNote(%d) = %q, want %q", tt.repeat, got, tt.want)
		}
	}
	out, _, _ := runCmd([]string{"run", exampleObj, "--data", examplePkt, "--repeat", "5", "--json"}, "")
	var r runResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Repeat != 5 {
		t.Errorf("--json: repeat %d, %v: %s", r.Repeat, err, out)
	}
}

// TestRunWithoutPacket: a program type without a packet refuses --data
// and --data-out, and its result has no data_out.
func TestRunWithoutPacket(t *testing.T) {
	obj := filepath.Join(buildObjects(t, "run", "probe"), "probe.o")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", examplePkt}, "xebpf run: --data: program count_open is of type Kprobe, which runs without a packet (XDP, socket filter and TC programs take one)\n"},
		{[]string{"--data-out", filepath.Join(t.TempDir(), "out")}, "xebpf run: --data-out: program count_open is of type Kprobe, which runs without a packet"},
	} {
		_, errout, code := runCmd(append([]string{"run", obj}, tt.args...), "")
		if code != 1 || !strings.Contains(errout, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tt.args, code, errout, tt.want)
		}
	}
	out, errout, code := runCmd([]string{"run", obj}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	golden(t, "run_nopacket_kprobe.txt", durationLine.ReplaceAllString(out, "duration: N ns"))
	out, _, _ = runCmd([]string{"run", obj, "--json"}, "")
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"data_out", "data_out_len"} {
		if _, ok := r[k]; ok {
			t.Errorf("--json has %q for a program without a packet: %s", k, out)
		}
	}
}

// TestRunMapsIn checks --maps-in: one value for a per-CPU map on every
// CPU, array indexes out of range, and errors that name the file and,
// in its JSON, the line and column.
func TestRunMapsIn(t *testing.T) {
	obj := filepath.Join(buildObjects(t, "run", "probe"), "probe.o")
	dir := t.TempDir()
	for _, tt := range []struct {
		name, text string
		code       int
		want       string // in stdout, or stderr when code != 0
	}{
		// hits[0] starts at 41 on every CPU: the run counts 42 on its own.
		{"percpu.json", `{"hits": {"entries": [{"key": "00000000", "value": "2900000000000000"}]}}`, 0, "retval: 42 (0x2a)\n"},
		{"index.json", `{"limits": {"entries": [{"key": "07000000", "value": "0100000000000000"}]}}`, 1,
			"percpu.json: map limits: key 07000000: index 7 out of range [0, 4)\n"},
		{"syntax.json", "{\"limits\": {\n  \"entries\": [{\"key\": \"00000000\" \"value\": \"00\"}]}}", 1,
			"syntax.json:2:34: invalid character '\"' after object key:value pair\n"},
		{"type.json", "{\"limits\": {\"max_entries\": \"4\"}}", 1,
			`type.json:1:28: map "limits": max_entries: want a number, have a string` + "\n"},
		{"nomap.json", `{"nosuch": {}}`, 1, `nomap.json: no map "nosuch" in the object` + "\n"},
		{"size.json", `{"hits": {"entries": [{"key": "00000000", "value": "01"}]}}`, 1,
			`size.json: map hits: key 00000000: wrong value size: a 1-byte value for a PerCPUArray map of 8-byte values`},
	} {
		path := writeFile(t, dir, tt.name, tt.text)
		out, errout, code := runCmd([]string{"run", obj, "--maps-in", path}, "")
		got, want := out, tt.want
		if tt.code != 0 {
			got, want = strings.ReplaceAll(errout, dir+string(filepath.Separator), ""), strings.Replace(tt.want, "percpu.json", tt.name, 1)
		}
		if code != tt.code || !strings.Contains(got, want) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", tt.name, code, tt.code, out, errout, want)
		}
		if tt.code != 0 && (strings.Contains(errout, "Go ") || strings.Contains(errout, "struct")) {
			t.Errorf("%s: error names Go types: %s", tt.name, errout)
		}
	}
}

// TestDisasmNames checks that disasm names helpers in raw bytecode, that
// its text assembles back to the same bytes, and that it says when it
// takes a file that is not ELF for raw bytecode.
func TestDisasmNames(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "p.s", "mov %r1, 0\ncall 5\ncall bpf_map_lookup_elem#1\ncall 9999\nexit\n")
	bin := filepath.Join(dir, "p.bin")
	if _, errout, code := runCmd([]string{"asm", src, "-o", bin}, ""); code != 0 {
		t.Fatalf("asm: %s", errout)
	}
	want := "mov %r1, 0\ncall bpf_ktime_get_ns#5\ncall bpf_map_lookup_elem#1\ncall 9999\nexit\n"
	note := "xebpf disasm: " + bin + " is not an ELF object: disassembling it as raw bytecode (--raw skips this note)\n"
	for _, tt := range []struct {
		args           []string
		stdout, stderr string
	}{
		{[]string{"disasm", bin}, want, note},
		{[]string{"disasm", "--raw", bin}, want, ""},
		{[]string{"disasm", "--raw", "--pc", bin}, "   0: mov %r1, 0\n   1: call bpf_ktime_get_ns#5\n   2: call bpf_map_lookup_elem#1\n   3: call 9999\n   4: exit\n", ""},
	} {
		out, errout, code := runCmd(tt.args, "")
		if code != 0 || out != tt.stdout || errout != tt.stderr {
			t.Errorf("%v: exit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tt.args, code, out, tt.stdout, errout, tt.stderr)
		}
		// The text assembles back to the same bytecode.
		again := filepath.Join(dir, "again.bin")
		if _, errout, code := runCmd([]string{"asm", writeFile(t, dir, "again.s", out), "-o", again}, ""); code != 0 {
			t.Errorf("%v: its output does not assemble: %s", tt.args, errout)
			continue
		}
		a, _ := os.ReadFile(bin)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("%v: reassembled % x, want % x", tt.args, b, a)
		}
	}
}

// TestDisasmObject is the listing of an object: source lines, map and
// helper names.
func TestDisasmObject(t *testing.T) {
	out, errout, code := runCmd([]string{"disasm", exampleObj}, "")
	if code != 0 || errout != "" {
		t.Fatalf("exit %d: %s", code, errout)
	}
	golden(t, "disasm_example.txt", regexp.MustCompile(`\[\S*/examples/`).ReplaceAllString(out, "[REPO/examples/"))
}

// TestInsnText checks the names disasm gives helpers and maps.
func TestInsnText(t *testing.T) {
	maps := []string{".bss", "flows"}
	lddw := func(src isa.Register, imm int64) isa.Instruction {
		return isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R1, Src: src, Constant: imm}
	}
	call := func(src isa.Register, imm int64) isa.Instruction {
		return isa.Instruction{OpCode: isa.OpCall, Src: src, Constant: imm}
	}
	for _, tt := range []struct {
		ins  isa.Instruction
		maps []string
		want string
	}{
		{lddw(isa.PseudoMapIndex, 1), maps, "lddw %r1, map flows"},
		{lddw(isa.PseudoMapIndexValue, 0|16<<32), maps, "lddw %r1, map_value .bss+16"},
		{lddw(isa.PseudoMapIndex, 2), maps, "lddw %r1, map_idx 2"}, // no such map
		{lddw(isa.PseudoMapIndex, 1), nil, "lddw %r1, map_idx 1"},
		{lddw(isa.PseudoImm64, 7), maps, "lddw %r1, 0x7"},
		{call(isa.CallHelper, 12), nil, "call bpf_tail_call#12"},
		{call(isa.CallHelper, 0xbad2310), nil, "call 195896080"}, // libbpf's poison: no helper
		{call(isa.CallLocal, 3), nil, "call local +3"},
		{call(isa.CallBTF, 12), nil, "call btf 12"},
	} {
		if got := insnText(tt.ins, tt.maps); got != tt.want {
			t.Errorf("insnText(%v) = %q, want %q", tt.ins, got, tt.want)
		}
	}
}

// TestAsmChecksJumps: asm refuses a jump past the end, which disasm (and
// every loader) would refuse, at its line.
func TestAsmChecksJumps(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ src, want string }{
		{"mov %r0, 0\nja +2\nexit\n", "p.s:2: ja +2: jump target out of range: target 4, program has 3 slots"},
		{"lddw %r0, 1\nja -2\nexit\n", "p.s:2: ja -2: jump target is the second half of an lddw: target 1"},
	} {
		src := writeFile(t, dir, "p.s", tt.src)
		out := filepath.Join(dir, "p.bin")
		os.Remove(out)
		_, errout, code := runCmd([]string{"asm", src, "-o", out}, "")
		if code != 1 || !strings.Contains(strings.ReplaceAll(errout, dir+string(filepath.Separator), ""), tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tt.src, code, errout, tt.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: asm wrote %s", tt.src, out)
		}
	}
}

// TestVersionText checks the version text of builds with and without
// version control information.
func TestVersionText(t *testing.T) {
	bi := func(version string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/xebpf/xebpf", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	for _, tt := range []struct {
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{bi("v0.4.0", "vcs.revision", "1ce76a0c", "vcs.time", "2025-06-01T10:00:00Z", "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm64"), true,
			"xebpf v0.4.0\nmodule: github.com/xebpf/xebpf v0.4.0\nrevision: 1ce76a0c (2025-06-01T10:00:00Z)\ngo: go1.26.8 linux/arm64\n"},
		{bi("(devel)", "vcs.revision", "abc", "vcs.modified", "true"), true,
			"xebpf (devel)\nmodule: github.com/xebpf/xebpf (devel)\nrevision: abc (with uncommitted changes)\ngo: go1.26.8\n"},
		{bi("(devel)"), true, "xebpf (devel)\nmodule: github.com/xebpf/xebpf (devel)\nrevision: unknown (built without version control information)\ngo: go1.26.8\n"},
		{nil, false, "xebpf: no build information (a binary built without module support)\n"},
	} {
		if got := versionText(tt.bi, tt.ok); got != tt.want {
			t.Errorf("got\n%s\nwant\n%s", got, tt.want)
		}
	}
	if _, errout, code := runCmd([]string{"version", "extra"}, ""); code != 2 || !strings.Contains(errout, "usage: xebpf version") {
		t.Errorf("version extra: exit %d, %s", code, errout)
	}
}

// TestVersionRevision builds xebpf with version control information when
// the checkout allows (Go stamps none in a git worktree, whose .git is a
// file) and checks that xebpf version and --version report the revision
// go version -m reads from the binary.
func TestVersionRevision(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "xebpf")
	if msg, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "revision: unknown (built without version control information)"
	for _, line := range strings.Split(string(meta), "\n") {
		if rev, ok := strings.CutPrefix(strings.TrimSpace(line), "build\tvcs.revision="); ok {
			want = "revision: " + rev
		}
	}
	t.Logf("expecting %q", want)
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(out), "xebpf ") || !strings.Contains(string(out), "\n"+want) {
			t.Errorf("xebpf %s:\n%s\nwant a line starting %q", arg, out, want)
		}
	}
}

// TestUsageNamesEscapeHatches: run's synopsis lists the flags that choose
// the engine, --unsafe-fast included.
func TestUsageNamesEscapeHatches(t *testing.T) {
	_, errout, _ := runCmd([]string{"run", "--help"}, "")
	synopsis, _, _ := strings.Cut(errout, "\n")
	for _, f := range []string{"[--unverified refuse|checked]", "[--checked]", "[--unsafe-fast]", "[--repeat N]"} {
		if !strings.Contains(synopsis, f) {
			t.Errorf("run synopsis lacks %s: %s", f, synopsis)
		}
	}
	_, errout, _ = runCmd(nil, "")
	if !strings.Contains(errout, "  version ") {
		t.Errorf("usage lacks version:\n%s", errout)
	}
}
