package xebpf_test

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
)

// libbpfHeaders returns the directory of libbpf's headers (bpf_helpers.h,
// bpf_tracing.h) that cilium/ebpf's examples carry, or skips the test.
func libbpfHeaders(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/ebpf").Output()
	if err != nil {
		t.Skipf("cilium/ebpf's module directory: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "examples", "headers")
	if _, err := os.Stat(filepath.Join(dir, "bpf_tracing.h")); err != nil {
		t.Skipf("libbpf headers: %v", err)
	}
	return dir
}

// buildTracing compiles testdata/tracing/NAME.c with clang-19 and the
// given flags, against libbpf's headers.
func buildTracing(t testing.TB, name string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	inc := libbpfHeaders(t)
	obj := filepath.Join(t.TempDir(), name+".o")
	args := append([]string{"-target", "bpf", "-O2", "-g", "-I", inc}, flags...)
	args = append(args, "-c", filepath.Join("testdata", "tracing", name+".c"), "-o", obj)
	if out, err := exec.Command("clang-19", args...).CombinedOutput(); err != nil {
		t.Fatalf("clang-19 %v: %v\n%s", flags, err, out)
	}
	return obj
}

// outValues reads the first n values of the test programs' "out" array.
func outValues(t *testing.T, c *xebpf.Collection, n int) []uint64 {
	t.Helper()
	vals := make([]uint64, n)
	for i := range vals {
		if err := c.Maps["out"].Lookup(uint32(i), &vals[i]); err != nil {
			t.Fatalf("out[%d]: %v", i, err)
		}
	}
	return vals
}

func TestPtRegsLayout(t *testing.T) {
	tests := []struct {
		arch xebpf.Arch
		regs any
		size int
	}{
		{xebpf.ArchX86_64, xebpf.PtRegsX86_64{}, 168},
		{xebpf.ArchARM64, xebpf.PtRegsARM64{}, 336},
	}
	for _, tt := range tests {
		t.Run(tt.arch.String(), func(t *testing.T) {
			k := xebpf.KprobeKind(tt.arch)
			if got := binary.Size(tt.regs); got != tt.size || k.Context.Size != tt.size {
				t.Fatalf("Go struct %d bytes, context %d, want %d", got, k.Context.Size, tt.size)
			}
			// Every named field sits where the Go struct puts it: set each
			// through JSON and find its bytes at the Go field's offset.
			for _, f := range k.Context.Fields {
				b, err := k.ContextFromJSON([]byte(`{"` + f.Name + `": 1}`))
				if err != nil {
					t.Fatal(err)
				}
				if b[f.Offset] != 1 {
					t.Errorf("%s: byte %d not set", f.Name, f.Offset)
				}
			}
		})
	}
	// The Go struct's fields at their kernel offsets.
	x := xebpf.PtRegsX86_64{DI: 0xd1, SI: 0x51, IP: 0x1b, SS: 0x55}
	b, _ := binary.Append(nil, binary.LittleEndian, x)
	for off, want := range map[int]byte{112: 0xd1, 104: 0x51, 128: 0x1b, 160: 0x55} {
		if b[off] != want {
			t.Errorf("x86-64 byte %d = %#x, want %#x", off, b[off], want)
		}
	}
	a := xebpf.PtRegsARM64{SP: 0x5b, PC: 0x9c, OrigX0: 0x0f, SyscallNo: 0x5c, ExitRCU: 0xe7}
	a.Regs[1] = 0x11
	b, _ = binary.Append(nil, binary.LittleEndian, a)
	for off, want := range map[int]byte{8: 0x11, 248: 0x5b, 256: 0x9c, 272: 0x0f, 280: 0x5c, 328: 0xe7} {
		if b[off] != want {
			t.Errorf("arm64 byte %d = %#x, want %#x", off, b[off], want)
		}
	}
}

// TestKprobeArch runs BPF_KPROBE programs built for x86-64 and arm64 with
// their architecture's struct pt_regs and checks that PT_REGS_PARM1..5,
// PT_REGS_RC, PT_REGS_SP and PT_REGS_IP read the right registers.
func TestKprobeArch(t *testing.T) {
	x86 := xebpf.PtRegsX86_64{DI: 11, SI: 22, DX: 33, CX: 44, R8: 55, AX: 66, SP: 77, IP: 88,
		R9: 1, R10: 2, BX: 3, BP: 4, OrigAX: 5, Flags: 6}
	arm := xebpf.PtRegsARM64{SP: 77, PC: 88, OrigX0: 99, PState: 7}
	for i := range arm.Regs {
		arm.Regs[i] = uint64(100 + i)
	}
	arm.Regs[0], arm.Regs[1], arm.Regs[2], arm.Regs[3], arm.Regs[4] = 11, 22, 33, 44, 55
	tests := []struct {
		name  string
		flags []string
		arch  xebpf.Arch
		ctx   any
		want  []uint64 // PARM1..5, RC, SP, IP
		extra uint64   // out[8]: orig_x0 (arm64 CO-RE)
	}{
		{"x86 user names", []string{"-D__TARGET_ARCH_x86"}, xebpf.ArchX86_64, x86, []uint64{11, 22, 33, 44, 55, 66, 77, 88}, 0},
		{"x86 kernel names CO-RE", []string{"-D__TARGET_ARCH_x86", "-DKERNEL_NAMES", "-DCORE"}, xebpf.ArchX86_64, &x86, []uint64{11, 22, 33, 44, 55, 66, 77, 88}, 0},
		// Without CO-RE the object's BTF has no register struct (arm64's
		// bpf_tracing.h casts to struct user_pt_regs, which only a
		// dereference puts in BTF): the architecture must be given.
		{"arm64 given", []string{"-D__TARGET_ARCH_arm64"}, xebpf.ArchARM64, arm, []uint64{11, 22, 33, 44, 55, 11, 77, 88}, 0},
		{"arm64 CO-RE", []string{"-D__TARGET_ARCH_arm64", "-DCORE"}, xebpf.ArchARM64, arm, []uint64{11, 22, 33, 44, 55, 11, 77, 88}, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := buildTracing(t, "kprobe", tt.flags...)
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			opts := xebpf.CollectionOptions{}
			wantArch := tt.arch
			if strings.HasSuffix(tt.name, " given") {
				wantArch, opts.Arch = xebpf.ArchUnknown, tt.arch
			}
			if got := xebpf.ObjectArch(spec); got != wantArch {
				t.Fatalf("ObjectArch = %v, want %v", got, wantArch)
			}
			if ps := spec.Programs["probe"]; len(ps.Unresolved) > 0 || ps.Type != xebpf.Kprobe {
				t.Fatalf("type %v, unresolved %v", ps.Type, ps.Unresolved)
			}
			c, err := xebpf.NewCollectionWithOptions(spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p := c.Programs["probe"]
			if p.Engine() != xebpf.EngineFast || p.Kind().Name != "kprobe" || p.Kind().Context.Size != binary.Size(tt.ctx) {
				t.Fatalf("engine %v, kind %s, context %d bytes", p.Engine(), p.Kind().Name, p.Kind().Context.Size)
			}
			if _, err := p.Run(&xebpf.RunOptions{Context: tt.ctx}); err != nil {
				t.Fatal(err)
			}
			got := outValues(t, c, 9)
			for i, w := range append(tt.want, tt.extra) {
				if got[i] != w {
					t.Errorf("out[%d] = %d, want %d (all: %v)", i, got[i], w, got)
				}
			}
		})
	}
}

// TestKprobeArchOverride checks that CollectionOptions.Arch decides the
// layout over the object's own: an arm64 object run as x86-64 reads
// x86-64 offsets of the same bytes.
func TestKprobeArchOverride(t *testing.T) {
	obj := buildTracing(t, "kprobe", "-D__TARGET_ARCH_x86")
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Arch: xebpf.ArchARM64})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := c.Programs["probe"]
	if p.Kind().Context.Size != 336 {
		t.Fatalf("context %d bytes, want arm64's 336", p.Kind().Context.Size)
	}
	var arm xebpf.PtRegsARM64
	arm.Regs[14] = 1234 // where x86-64 keeps di
	if _, err := p.Run(&xebpf.RunOptions{Context: arm}); err != nil {
		t.Fatal(err)
	}
	if got := outValues(t, c, 1)[0]; got != 1234 {
		t.Errorf("PT_REGS_PARM1 = %d, want 1234", got)
	}
}

func TestKprobeRejects(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"write to pt_regs", `SEC("kprobe/f") int f(unsigned long *ctx) { ctx[14] = 1; return 0; }`, "may only read"},
		{"read past pt_regs", `SEC("kprobe/f") int f(unsigned long *ctx) { return ctx[21]; }`, "pt_regs context access at offset 168"},
		{"packet helper", `SEC("kprobe/f") int f(void *ctx) { char b[4]; return bpf_skb_load_bytes(ctx, 0, b, 4); }`, "kprobe programs may not call bpf_skb_load_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := buildC(t, "bad", "#include \"xebpf/bpf.h\"\n"+tt.src+"\n")
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			_, err = xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Arch: xebpf.ArchX86_64})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseArch(t *testing.T) {
	for in, want := range map[string]xebpf.Arch{"x86_64": xebpf.ArchX86_64, "amd64": xebpf.ArchX86_64, "arm64": xebpf.ArchARM64, "aarch64": xebpf.ArchARM64} {
		if got, err := xebpf.ParseArch(in); err != nil || got != want {
			t.Errorf("ParseArch(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := xebpf.ParseArch("mips"); err == nil || !strings.Contains(err.Error(), "x86_64 or arm64") {
		t.Errorf("ParseArch(mips): %v", err)
	}
}

// sysEnterOpenat is the format of syscalls/sys_enter_openat on Linux 6.18.
const sysEnterOpenat = "testdata/tracing/sys_enter_openat.format"

// openatRecord is sys_enter_openat's record as a Go struct.
type openatRecord struct {
	CommonType         uint16 `ctx:"common_type"`
	CommonFlags        uint8  `ctx:"common_flags"`
	CommonPreemptCount uint8  `ctx:"common_preempt_count"`
	CommonPID          int32  `ctx:"common_pid"`
	SyscallNr          int32  `ctx:"__syscall_nr"`
	_                  [4]byte
	Dfd                int64  `ctx:"dfd"`
	Filename           uint64 `ctx:"filename"`
	Flags              uint64 `ctx:"flags"`
	Mode               uint64 `ctx:"mode"`
}

// TestTracepoint runs a tracepoint program on records built from the
// format file, from a Go struct and from the program's own BTF.
func TestTracepoint(t *testing.T) {
	obj := buildTracing(t, "tracepoint")
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(sysEnterOpenat)
	if err != nil {
		t.Fatal(err)
	}
	fromFormat, err := xebpf.TracepointKind(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	fromStruct, err := xebpf.TracepointKindFor(openatRecord{})
	if err != nil {
		t.Fatal(err)
	}
	const js = `{"common_pid": 42, "__syscall_nr": 257, "dfd": -100, "filename": "0x7ffd1000", "flags": 2, "mode": "0o644"}`
	want := []uint64{42, 257, uint64(0xffffffffffffff9c), 0x7ffd1000, 2, 0o644, 257}
	fromJSON := func(k *xebpf.ProgramKind, _ string) (any, error) { return k.ContextFromJSON([]byte(js)) }
	tests := []struct {
		name string
		kind *xebpf.ProgramKind // nil: the program's own (BTF names)
		ctx  func(k *xebpf.ProgramKind, program string) (any, error)
	}{
		{"format JSON", fromFormat, fromJSON},
		{"Go struct JSON", fromStruct, fromJSON},
		{"Go struct value", fromStruct, func(*xebpf.ProgramKind, string) (any, error) {
			return openatRecord{CommonPID: 42, SyscallNr: 257, Dfd: -100, Filename: 0x7ffd1000, Flags: 2, Mode: 0o644}, nil
		}},
		// Each program names the record's fields as its C struct does.
		{"BTF names", nil, func(k *xebpf.ProgramKind, program string) (any, error) {
			if program == "openat_legacy" {
				return k.ContextFromJSON([]byte(`{"syscall_nr": 257}`))
			}
			return k.ContextFromJSON([]byte(`{"common_pid": 42, "__syscall_nr": 257, "dfd": -100, "filename": "0x7ffd1000", "flags": 2, "mode": "0o644"}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := xebpf.CollectionOptions{}
			if tt.kind != nil {
				opts.Types = map[string]*xebpf.ProgramKind{"openat": tt.kind, "openat_legacy": tt.kind}
			}
			c, err := xebpf.NewCollectionWithOptions(spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, name := range []string{"openat", "openat_legacy"} {
				p := c.Programs[name]
				if p.Engine() != xebpf.EngineFast {
					t.Errorf("%s runs %v", name, p.Engine())
				}
				ctx, err := tt.ctx(p.Kind(), name)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Run(&xebpf.RunOptions{Context: ctx}); err != nil {
					t.Fatal(err)
				}
			}
			got := outValues(t, c, 7)
			for i, w := range want {
				if got[i] != w {
					t.Errorf("out[%d] = %#x, want %#x", i, got[i], w)
				}
			}
		})
	}
	// The format's fixed part bounds what the program may read.
	if fromFormat.Context.Size != 48 || fromStruct.Context.Size != 48 {
		t.Errorf("record sizes %d, %d, want 48", fromFormat.Context.Size, fromStruct.Context.Size)
	}
	if _, err := fromFormat.ContextFromJSON([]byte(`{"filenme": 1}`)); !errors.Is(err, xebpf.ErrContextField) ||
		!strings.Contains(err.Error(), `no field "filenme"; its fields: common_type, common_flags, common_preempt_count, common_pid, __syscall_nr, dfd, filename, flags, mode`) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestTracepointFormatErrors(t *testing.T) {
	tests := []struct{ name, format, want string }{
		{"no fields", "name: x\nID: 1\n", "no field lines"},
		{"bad offset", "field:int a;\toffset:x;\tsize:4;\tsigned:1;\n", `offset "x"`},
		{"past the record", "field:int a;\toffset:2046;\tsize:4;\tsigned:1;\n", "within the 2048 bytes"},
		{"overlap", "field:int a;\toffset:0;\tsize:4;\tsigned:1;\nfield:int b;\toffset:2;\tsize:4;\tsigned:1;\n", "field b overlaps a"},
		{"no name", "field:int;\toffset:0;\tsize:4;\tsigned:1;\n", "has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := xebpf.TracepointKind(strings.NewReader(tt.format))
			if !errors.Is(err, xebpf.ErrTracepointFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTracepointFormatFields(t *testing.T) {
	const format = `name: sys_enter
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:long id;	offset:8;	size:8;	signed:1;
	field:unsigned long args[6];	offset:16;	size:48;	signed:0;
	field:char comm[16];	offset:64;	size:16;	signed:0;
	field:__data_loc char[] name;	offset:80;	size:4;	signed:0;
`
	k, err := xebpf.TracepointKind(strings.NewReader(format))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range k.Format {
		got = append(got, f.Name+"@"+strconv.Itoa(f.Offset)+"+"+strconv.Itoa(f.Size))
	}
	want := "common_type@0+2 id@8+8 args[0]@16+8 args[1]@24+8 args[2]@32+8 args[3]@40+8 args[4]@48+8 args[5]@56+8 comm@64+16 name@80+4"
	if strings.Join(got, " ") != want {
		t.Errorf("fields\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if k.Context.Size != 84 || len(k.Context.Fields) != 1 {
		t.Errorf("context %d bytes, %d fields", k.Context.Size, len(k.Context.Fields))
	}
	b, err := k.ContextFromJSON([]byte(`{"args": [1, 2], "comm": "bash", "id": -1}`))
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(b[16:]) != 1 || binary.LittleEndian.Uint64(b[24:]) != 2 || string(b[64:68]) != "bash" || b[68] != 0 ||
		binary.LittleEndian.Uint64(b[8:]) != ^uint64(0) {
		t.Errorf("record % x", b)
	}
}

// TestRawTracepoint runs a raw tracepoint program on its u64 arguments.
func TestRawTracepoint(t *testing.T) {
	obj := buildTracing(t, "tracepoint")
	c := mustLoad(t, obj)
	p := c.Programs["raw"]
	if p.Kind().Context.Name != "bpf_raw_tracepoint_args" || p.Kind().Context.Size != 96 || p.Engine() != xebpf.EngineFast {
		t.Fatalf("kind %s, context %s of %d bytes, engine %v", p.Kind().Name, p.Kind().Context.Name, p.Kind().Context.Size, p.Engine())
	}
	ctx, err := p.Kind().ContextFromJSON([]byte(`{"args": [7, 8, 9]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(&xebpf.RunOptions{Context: ctx}); err != nil {
		t.Fatal(err)
	}
	if got := outValues(t, c, 3); got[0] != 7 || got[1] != 8 || got[2] != 9 {
		t.Errorf("out = %v", got)
	}
	// A [N]uint64 is a context too, zero-extended to 12 arguments.
	if _, err := p.Run(&xebpf.RunOptions{Context: [2]uint64{5, 6}}); err != nil {
		t.Fatal(err)
	}
	if got := outValues(t, c, 3); got[0] != 5 || got[1] != 6 || got[2] != 0 {
		t.Errorf("out = %v", got)
	}
}

func mustLoad(t *testing.T, obj string) *xebpf.Collection {
	t.Helper()
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPerfEvent runs a perf_event program on struct bpf_perf_event_data:
// the user-visible registers, then sample_period and addr.
func TestPerfEvent(t *testing.T) {
	obj := buildC(t, "perf", `#include "xebpf/bpf.h"
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
struct bpf_perf_event_data {
	struct pt_regs regs;
	__u64 sample_period;
	__u64 addr;
};
SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	return ctx->regs.ip + ctx->sample_period + ctx->addr;
}
`)
	c := mustLoad(t, obj)
	p := c.Programs["sample"]
	if p.Kind().Name != "perf_event" || p.Kind().Context.Size != 184 || p.Engine() != xebpf.EngineFast {
		t.Fatalf("kind %s, context %d bytes, engine %v", p.Kind().Name, p.Kind().Context.Size, p.Engine())
	}
	ctx, err := p.Kind().ContextFromJSON([]byte(`{"ip": 100, "sample_period": 20, "addr": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if ret, err := p.Run(&xebpf.RunOptions{Context: ctx}); err != nil || ret != 123 {
		t.Errorf("ret %d, %v; want 123", ret, err)
	}
	if got := xebpf.KindOf(xebpf.PerfEvent); got.Context.Size != map[xebpf.Arch]int{xebpf.ArchX86_64: 184, xebpf.ArchARM64: 288}[xebpf.HostArch()] {
		t.Errorf("KindOf(PerfEvent) context %d bytes on %v", got.Context.Size, xebpf.HostArch())
	}
}
