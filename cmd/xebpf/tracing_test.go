package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/kernel"
)

// buildTracingObjects compiles testdata/tracing/NAME.c for each name and
// returns the objects' directory; it skips the test without clang-19.
func buildTracingObjects(t *testing.T, names ...string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed: cannot build the test objects")
	}
	src, _ := filepath.Abs(filepath.Join("testdata", "tracing"))
	inc, _ := filepath.Abs(filepath.Join("..", "..", "include"))
	dir := t.TempDir()
	for _, n := range names {
		cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-fdebug-compilation-dir=.", "-I", inc,
			"-c", n+".c", "-o", filepath.Join(dir, n+".o"))
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("clang-19 %s.c: %v\n%s", n, err, out)
		}
	}
	return dir
}

// TestRunTracing runs tracing programs with contexts given as JSON, and
// without one; stdout and stderr go to golden files.
func TestRunTracing(t *testing.T) {
	dir := buildTracingObjects(t, "kprobe", "kprobe_arm64", "tracepoint")
	obj := func(n string) string { return filepath.Join(dir, n+".o") }
	format := filepath.Join("..", "..", "testdata", "tracing", "sys_enter_openat.format")
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"kprobe x86-64", []string{obj("kprobe"), "--ctx-json", `{"di": 4, "si": 2}`}, "run_kprobe.txt"},
		{"kprobe without a context", []string{obj("kprobe")}, "run_kprobe_noctx.txt"},
		{"kprobe arm64", []string{obj("kprobe_arm64"), "--arch", "arm64", "--ctx-json", `{"regs": [4, 2]}`}, "run_kprobe_arm64.txt"},
		{"kprobe arm64 without a context", []string{obj("kprobe_arm64"), "--arch", "arm64"}, "run_kprobe_arm64_noctx.txt"},
		{"tracepoint format", []string{obj("tracepoint"), "--program", "openat", "--format", format, "--ctx-json", `{"flags": 40, "mode": 2}`}, "run_tracepoint.txt"},
		{"tracepoint BTF names", []string{obj("tracepoint"), "--program", "openat", "--ctx-json", `{"flags": 40, "mode": 2}`}, "run_tracepoint.txt"},
		{"tracepoint without a context", []string{obj("tracepoint"), "--program", "openat"}, "run_tracepoint_noctx.txt"},
		{"raw tracepoint", []string{obj("tracepoint"), "--program", "raw", "--ctx-json", `{"args": [1, 42]}`}, "run_raw_tracepoint.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errout, code := runCmd(append([]string{"run"}, tt.args...), "")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errout)
			}
			got := durationLine.ReplaceAllString(out, "duration: N ns/run")
			if errout != "" {
				got += "--- stderr\n" + errout
			}
			golden(t, tt.golden, got)
		})
	}
}

// TestRunTypeErrors checks the one-line errors of run's type and context
// options.
func TestRunTypeErrors(t *testing.T) {
	dir := buildTracingObjects(t, "kprobe", "legacy", "tracepoint")
	kprobe, legacy := filepath.Join(dir, "kprobe.o"), filepath.Join(dir, "legacy.o")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{legacy, "--program", "tail"}, `xebpf run: program tail (section "2/7") is of unknown type, so its context is unknown: give its type with --type NAME (xdp, sched_cls, sched_act, socket_filter, cgroup_skb, kprobe, tracepoint, raw_tracepoint, perf_event, raw) or its context with --ctx FILE` + "\n"},
		{[]string{kprobe, "--ctx-json", `{"rdi": 1}`}, `xebpf run: --ctx-json: bad context field: pt_regs has no field "rdi"; its fields: r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss` + "\n"},
		{[]string{kprobe, "--arch", "arm64", "--ctx-json", `{"di": 1}`}, `xebpf run: --ctx-json: bad context field: pt_regs has no field "di"; its fields: regs[31], sp, pc, pstate, orig_x0, syscallno, unused2, sdei_ttbr1, pmr_save, stackframe[2], lockdep_hardirqs, exit_rcu` + "\n"},
		{[]string{kprobe, "--arch", "sparc"}, `xebpf run: --arch: unknown architecture "sparc" (want x86_64 or arm64)` + "\n"},
		{[]string{kprobe, "--type", "lsm"}, `xebpf run: --type: unknown program type "lsm" (want one of xdp, sched_cls, sched_act, socket_filter, cgroup_skb, kprobe, tracepoint, raw_tracepoint, perf_event, raw)` + "\n"},
		{[]string{kprobe, "--ctx", kprobe, "--ctx-json", "{}"}, "xebpf run: --ctx and --ctx-json both give the context: choose one\n"},
		{[]string{kprobe, "--format", kprobe}, "xebpf run: --format describes a tracepoint's record: program probe is of type Kprobe\n"},
		{[]string{filepath.Join(dir, "tracepoint.o"), "--program", "openat", "--format", kprobe}, "bad tracepoint format: no field lines\n"},
		{[]string{legacy, "--program", "count", "--type", "raw", "--ctx-json", "{}"}, "xebpf run: --ctx-json: program count takes raw memory, which has no named fields: give its context with --ctx FILE\n"},
		{[]string{legacy, "--program", "tail", "--ctx-json", `{"len": 1}`}, "xebpf run: --ctx-json: program tail takes raw memory, which has no named fields: give its context with --ctx FILE\n"},
	}
	for _, tt := range tests {
		_, errout, code := runCmd(append([]string{"run"}, tt.args...), "")
		if code != 1 || !strings.HasSuffix(errout, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and %q", tt.args, code, errout, tt.want)
		}
	}
}

// TestRunType gives a program of a section no convention types its type
// with --type: a TC classifier, it reads skb->len of the packet.
func TestRunType(t *testing.T) {
	dir := buildTracingObjects(t, "legacy")
	out, errout, code := runCmd([]string{"run", filepath.Join(dir, "legacy.o"), "--program", "tail", "--type", "sched_cls", "--data", examplePkt}, "")
	if code != 0 || !strings.Contains(out, "retval: 53 (0x35)") {
		t.Fatalf("exit %d\n%s%s", code, out, errout)
	}
}

// TestRunCompareKernelLegacyMaps compares with the kernel a program whose
// map is defined in a legacy "maps" section, which cilium/ebpf's reader
// refuses: the kernel's maps are built from xebpf's definitions.
func TestRunCompareKernelLegacyMaps(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("kernel side unavailable: %v", err)
	}
	dir := buildTracingObjects(t, "legacy")
	out, errout, code := runCmd([]string{"run", filepath.Join(dir, "legacy.o"), "--program", "count", "--data", examplePkt, "--compare-kernel", "--repeat", "3"}, "")
	if code != 0 || !strings.Contains(out, "kernel: identical (retval, data_out, maps)") {
		t.Fatalf("exit %d\n%s%s", code, out, errout)
	}
}
