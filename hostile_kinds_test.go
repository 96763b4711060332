package xebpf_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
)

// bindMD is eBPF for Windows' bind_md_t (include/ebpf_nethooks.h).
const bindMD = `typedef struct _bind_md {
	__u8 *app_id_start;
	__u8 *app_id_end;
	__u64 process_id;
	__u8 socket_address[16];
	__u8 socket_address_length;
	int operation;
	__u8 protocol;
} bind_md_t;
`

// TestHostileContexts feeds the verifier programs that abuse the
// contexts this runtime added for tracing and socket hooks: writes to
// read-only records, reads past the struct, an app id read past its end
// or without a bounds check. Each must be refused; the last case of each
// kind is the well-behaved program, which must load, so that the
// refusals are not the kind refusing everything.
func TestHostileContexts(t *testing.T) {
	winBind := func() *xebpf.ProgramKind { return xebpf.WindowsBindKind() }
	for _, tc := range []struct {
		name string
		kind func() *xebpf.ProgramKind // nil: the section's
		src  string
		want string // "" : accepted
	}{
		{"tracepoint write", nil, `SEC("tracepoint/syscalls/sys_enter_openat") int f(unsigned long long *ctx) { ctx[1] = 5; return 0; }`, "may only read"},
		{"tracepoint past the record", nil, `SEC("tracepoint/syscalls/sys_enter_openat") int f(unsigned char *ctx) { return ctx[2048]; }`, "context"},
		{"tracepoint read", nil, `SEC("tracepoint/syscalls/sys_enter_openat") int f(unsigned long long *ctx) { return ctx[255] != 0; }`, ""},
		{"raw tracepoint write", nil, `SEC("raw_tracepoint/sys_enter") int f(unsigned long long *ctx) { ctx[0] = 1; return 0; }`, "may only read"},
		{"raw tracepoint past the args", nil, `SEC("raw_tracepoint/sys_enter") int f(unsigned long long *ctx) { return ctx[12]; }`, "context"},
		{"raw tracepoint read", nil, `SEC("raw_tracepoint/sys_enter") int f(unsigned long long *ctx) { return ctx[11] != 0; }`, ""},
		{"bind write process_id", winBind, bindMD + `SEC("bind") int f(bind_md_t *ctx) { ctx->process_id = 1; return 0; }`, "may only read"},
		{"bind past the struct", winBind, bindMD + `SEC("bind") int f(bind_md_t *ctx) { return ((unsigned char *)ctx)[56]; }`, "context"},
		{"bind app id unchecked", winBind, bindMD + `SEC("bind") int f(bind_md_t *ctx) { return ctx->app_id_start[0] == 'a'; }`, "packet"},
		{"bind app id past its end", winBind, bindMD + `SEC("bind") int f(bind_md_t *ctx) {
	if (ctx->app_id_start + 2 > ctx->app_id_end)
		return 0;
	return ctx->app_id_start[2] == 'a';
}`, "packet"},
		{"bind app id checked", winBind, bindMD + `SEC("bind") int f(bind_md_t *ctx) {
	if (ctx->app_id_start + 2 > ctx->app_id_end)
		return 0;
	return ctx->app_id_start[1] == 'a';
}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := buildC(t, "hostile", "#include \"xebpf/bpf.h\"\n"+tc.src+"\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n")
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			var opts xebpf.CollectionOptions
			if tc.kind != nil {
				opts.Types = map[string]*xebpf.ProgramKind{"f": tc.kind()}
			}
			c, err := xebpf.NewCollectionWithOptions(spec, opts)
			if err == nil {
				c.Close()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("the well-behaved program is refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("the verifier accepted it")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzContextInputs feeds the parsers of contexts a user hands the CLI
// (--format, --ctx-json) arbitrary text: a tracepoint format and a JSON
// context for it, the built-in kinds' JSON contexts. They must refuse or
// build a context of the kind's size, never crash.
func FuzzContextInputs(f *testing.F) {
	f.Add([]byte("name: x\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int fd;\toffset:8;\tsize:4;\tsigned:1;\n"), []byte(`{"fd": -1}`))
	f.Add([]byte("\tfield:char name[16];\toffset:4;\tsize:16;\tsigned:0;\n"), []byte(`{"name": [1, 2]}`))
	f.Add([]byte("\tfield:u64 a;\toffset:18446744073709551615;\tsize:8;\tsigned:0;\n"), []byte(`{"di": "0x10", "si": 2}`))
	f.Fuzz(func(t *testing.T, format, js []byte) {
		kinds := []*xebpf.ProgramKind{xebpf.KindOf(xebpf.XDP), xebpf.KindOf(xebpf.SchedCLS), xebpf.KprobeKind(xebpf.ArchX86_64),
			xebpf.KprobeKind(xebpf.ArchARM64), xebpf.KindOf(xebpf.RawTracepoint), xebpf.WindowsBindKind()}
		if k, err := xebpf.TracepointKind(bytes.NewReader(format)); err == nil {
			if k.Context == nil || k.Context.Size < 0 || k.Context.Size > 1<<20 {
				t.Fatalf("format %q: context %+v", format, k.Context)
			}
			kinds = append(kinds, k)
		}
		for _, k := range kinds {
			ctx, err := k.ContextFromJSON(js)
			if err == nil && len(ctx) != k.Context.Size {
				t.Fatalf("%s: %q gives %d bytes, the context has %d", k.Name, js, len(ctx), k.Context.Size)
			}
		}
	})
}
