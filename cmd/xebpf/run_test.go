package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/kernel"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	exampleObj  = "../../examples/xdpfilter/xdpfilter.o"
	examplePkt  = "../../examples/xdpfilter/packet.bin"
	exampleMaps = "../../examples/xdpfilter/blocklist.json"
)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var (
	durationLine = regexp.MustCompile(`duration: \d+ ns`)
	sourcePath   = regexp.MustCompile(`\S*/examples/`)
)

func TestRunExample(t *testing.T) {
	mapsOut := filepath.Join(t.TempDir(), "maps.json")
	dataOut := filepath.Join(t.TempDir(), "out.bin")
	out, errout, code := runCmd([]string{"run", exampleObj, "--data", examplePkt, "--maps-in", exampleMaps,
		"--maps-out", mapsOut, "--data-out", dataOut, "--repeat", "3"}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	golden(t, "run_example.txt", durationLine.ReplaceAllString(out, "duration: N ns"))
	b, err := os.ReadFile(mapsOut)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "run_example_maps.json", string(b))
	in, _ := os.ReadFile(examplePkt)
	got, _ := os.ReadFile(dataOut)
	if string(in) != string(got) {
		t.Errorf("--data-out differs from the input packet")
	}
	if _, err := kernel.UnmarshalMaps(b); err != nil {
		t.Errorf("--maps-out is not a valid maps file: %v", err)
	}
}

func TestRunJSON(t *testing.T) {
	out, errout, code := runCmd([]string{"run", exampleObj, "--data", examplePkt, "--json"}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for _, k := range []string{"program", "retval", "action", "data_out", "data_out_len", "duration_ns"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	if r["action"] != "XDP_PASS" || r["data_out_len"] != float64(53) {
		t.Errorf("unexpected result: %s", out)
	}
}

func TestRunCompareKernel(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("kernel side unavailable: %v", err)
	}
	out, errout, code := runCmd([]string{"run", exampleObj, "--data", examplePkt, "--maps-in", exampleMaps, "--compare-kernel", "--repeat", "100"}, "")
	if code != 0 || !strings.Contains(out, "kernel: identical") || !strings.Contains(out, "kernel duration: ") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errout)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", exampleObj, "--program", "nope"}, `no program "nope" (have xdp_filter)`},
		{[]string{"run", exampleObj, "--data", exampleMaps + ".missing"}, "no such file"},
		{[]string{"run", exampleObj}, "shorter than an Ethernet header"},
		{[]string{"run", "../../README.md"}, "README.md"},
	}
	for _, tt := range tests {
		_, errout, code := runCmd(tt.args, "")
		if code == 0 || !strings.Contains(errout, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, errout, tt.want)
		}
	}
}

func TestInspect(t *testing.T) {
	out, errout, code := runCmd([]string{"inspect", exampleObj}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	// The object records the absolute path it was compiled at.
	golden(t, "inspect_example.txt", sourcePath.ReplaceAllString(out, "REPO/examples/"))
	out, _, code = runCmd([]string{"inspect", "--json", exampleObj}, "")
	var v struct {
		Programs []struct{ Name, Type string }
		Maps     []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("inspect --json: %v, exit %d: %s", err, code, out)
	}
	if len(v.Programs) != 1 || v.Programs[0].Name != "xdp_filter" || len(v.Maps) != 2 {
		t.Errorf("inspect --json: %s", out)
	}
}

func TestDisasmObjectShowsSource(t *testing.T) {
	out, errout, code := runCmd([]string{"disasm", exampleObj}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	for _, want := range []string{
		"xdp_filter (section xdp, XDP):",
		"; void *data_end = (void *)(long)ctx->data_end;",
		"0: ldxw %r2, [%r1+4]",
		"lddw %r1, map stats",
		"call bpf_map_lookup_elem#1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("disasm lacks %q", want)
		}
	}
}

// TestRunVerifies checks that xebpf run verifies first, refuses what the
// verifier rejects unless told to run it checked, and says which engine
// ran.
func TestRunVerifies(t *testing.T) {
	dir := buildVerifyObjects(t, "bad")
	bad := filepath.Join(dir, "bad.o")
	tests := []struct {
		args     []string
		code     int
		contains string // in stdout, or stderr when code != 0
	}{
		{[]string{"run", exampleObj, "--data", examplePkt}, 0, "engine: fast (verified)\n"},
		{[]string{"run", exampleObj, "--data", examplePkt, "--checked"}, 0, "engine: checked (verified)\n"},
		{[]string{"run", exampleObj, "--data", examplePkt, "--unsafe-fast"}, 0, "engine: fast (not verified: UnsafeFastMode)\n"},
		{[]string{"run", bad, "--program", "xdp_unchecked", "--data", examplePkt}, 1, "bad.c:10: pc 1: ldxb %r1, [%r1+12]: packet read of 1 bytes at offset 12 not proven inside the packet"},
		{[]string{"run", bad, "--program", "xdp_unchecked", "--data", examplePkt}, 1, "--unverified checked runs it in checked mode"},
		{[]string{"run", bad, "--program", "xdp_unchecked", "--data", examplePkt, "--unverified", "checked"}, 0, "engine: checked (not verified)\n"},
		{[]string{"run", bad, "--program", "xdp_ok", "--data", examplePkt, "--unverified", "checked"}, 0, "retval: 2 (XDP_PASS)\nengine: checked (verified)\n"},
		{[]string{"run", bad, "--program", "xdp_unchecked", "--unverified", "maybe"}, 1, `--unverified "maybe": want refuse or checked`},
	}
	for _, tt := range tests {
		out, errout, code := runCmd(tt.args, "")
		got := out
		if tt.code != 0 {
			got = errout
		}
		if code != tt.code || !strings.Contains(got, tt.contains) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", tt.args, code, tt.code, out, errout, tt.contains)
		}
	}
	// --json says it too.
	out, errout, code := runCmd([]string{"run", bad, "--program", "xdp_unchecked", "--data", examplePkt, "--unverified", "checked", "--json"}, "")
	var r runResult
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Engine != "checked (not verified)" {
		t.Errorf("--json: exit %d, %v: %s %s", code, err, out, errout)
	}
}
