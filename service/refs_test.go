package service_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// TestReferences: what holds an object — each pin, each session's
// handle, a program using a map — and that it goes with the last.
func TestReferences(t *testing.T) {
	obj := buildObject(t, "sock_len")
	_, sock := startDaemon(t)
	a, b := dial(t, sock), dial(t, sock)
	res, err := a.Load(&proto.LoadArgs{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	prog, m := proto.Ref{ID: res.Programs[0].ID}, proto.Ref{ID: res.Maps[0].ID}
	// Two pins of the program: it lives until both are gone.
	for _, p := range []string{"/sys/fs/bpf/p1", "/sys/fs/bpf/d/p2"} {
		if err := b.PinProgram(prog, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Release("prog", prog.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Release("prog", prog.ID); !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("releasing twice: %v, want not found", err)
	}
	// The session still holds the map; releasing it leaves it to the
	// program.
	if err := a.Release("map", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Maps(m); err != nil {
		t.Errorf("the map the program uses: %v", err)
	}
	if err := b.Unpin("/sys/fs/bpf/p1"); err != nil {
		t.Fatal(err)
	}
	ps, err := b.Programs(prog)
	if err != nil || len(ps) != 1 || strings.Join(ps[0].Pinned, " ") != "/sys/fs/bpf/d/p2" {
		t.Fatalf("after one unpin: %+v %v", ps, err)
	}
	// A map pinned by b lives on when the program goes.
	if err := b.PinMap(m, "/sys/fs/bpf/m"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unpin("/sys/fs/bpf/d/p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Programs(prog); !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("program after its last pin: %v", err)
	}
	if err := b.Update(m, u32(0), u32(9), proto.UpdateAny); err != nil {
		t.Errorf("map after its program went: %v", err)
	}
	if st := status(t, b); st.Programs != 0 || st.Maps != 1 || st.Collections != 1 {
		t.Errorf("status %+v, want the map's collection alone", st)
	}
	if err := b.Unpin("/sys/fs/bpf/m"); err != nil {
		t.Fatal(err)
	}
	if st := status(t, b); st.Maps != 0 || st.Collections != 0 {
		t.Errorf("status %+v, want nothing", st)
	}
}

// TestErrors: what the daemon refuses, and how it says so.
func TestErrors(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	_, sock := startDaemon(t)
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinAllDir: "/sys/fs/bpf/a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(&proto.LoadArgs{Object: obj}); err != nil {
		t.Fatal(err)
	}
	create := func(path, typ string) error {
		_, err := c.CreateMap(&proto.MapCreateArgs{Path: path, Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 4, Name: "m"})
		return err
	}
	tests := []struct {
		name string
		err  error
		is   error
		msg  string
	}{
		{"ambiguous name", c.PinProgram(proto.Ref{Name: "xdp_drop"}, "/sys/fs/bpf/x"), proto.ErrAmbiguous, "program name xdp_drop: 2 programs match; name one by id"},
		{"pin exists", c.PinProgram(proto.Ref{ID: 3}, "/sys/fs/bpf/a/xdp_drop"), proto.ErrExist, "pin /sys/fs/bpf/a/xdp_drop: file exists"},
		{"pin over a directory", c.PinProgram(proto.Ref{ID: 3}, "/sys/fs/bpf/a"), proto.ErrExist, "pin /sys/fs/bpf/a: is a directory holding /sys/fs/bpf/a/xdp_"},
		{"pin under a pin", c.PinProgram(proto.Ref{ID: 3}, "/sys/fs/bpf/a/xdp_drop/x"), proto.ErrInvalid, "pin /sys/fs/bpf/a/xdp_drop/x: /sys/fs/bpf/a/xdp_drop is a pinned object, not a directory"},
		{"pin outside bpffs", c.PinProgram(proto.Ref{ID: 3}, "/tmp/x"), proto.ErrInvalid, `pin path "/tmp/x": must be a clean path under /sys/fs/bpf/`},
		{"unclean pin", c.PinProgram(proto.Ref{ID: 3}, "/sys/fs/bpf/a//x"), proto.ErrInvalid, `pin path "/sys/fs/bpf/a//x": must be a clean path under /sys/fs/bpf/`},
		{"map as program", c.PinProgram(proto.Ref{Pinned: "/sys/fs/bpf/none"}, "/sys/fs/bpf/y"), proto.ErrNotFound, "pinned /sys/fs/bpf/none: no such program"},
		{"two refs", c.PinProgram(proto.Ref{ID: 1, Name: "x"}, "/sys/fs/bpf/y"), proto.ErrInvalid, "name a program by id, pinned path or name"},
		{"unknown map type", create("/sys/fs/bpf/n", "nosuch"), proto.ErrInvalid, `map create: unknown map type "nosuch"`},
		{"map create over a pin", create("/sys/fs/bpf/a/xdp_count", "hash"), proto.ErrExist, "pin /sys/fs/bpf/a/xdp_count: file exists"},
		{"bad object", func() error { _, err := c.Load(&proto.LoadArgs{Object: []byte("not ELF")}); return err }(), proto.ErrInvalid, "load object: "},
		{"bad type", func() error { _, err := c.Load(&proto.LoadArgs{Object: obj, Type: "nosuch"}); return err }(), proto.ErrInvalid, `load object: unknown program type "nosuch"`},
		{"short key", c.Update(proto.Ref{ID: 1}, []byte{1}, make([]byte, 8), 0), proto.ErrInvalid, "map counts: key of 1 bytes, the map's keys have 4"},
		{"short value", c.Update(proto.Ref{ID: 1}, u32(1), []byte{1}, 0), proto.ErrInvalid, "map counts: value of 1 bytes, the map's values have 8"},
		{"bad flags", c.Update(proto.Ref{ID: 1}, u32(1), u64(1), 7), proto.ErrInvalid, "map counts: update flags 7: want any (0), noexist (1) or exist (2)"},
		{"delete missing", c.Delete(proto.Ref{ID: 1}, u32(1)), proto.ErrNotFound, "map counts: key does not exist"},
		{"run without packet room", func() error {
			_, err := c.Run(&proto.RunArgs{Ref: proto.Ref{ID: 1}, Data: make([]byte, 60), DataOutSize: 10})
			return err
		}(), nil, "run program xdp_count: "},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), tt.msg) || (tt.is != nil && !errors.Is(tt.err, tt.is)) {
			t.Errorf("%s: %v, want %q (%v)", tt.name, tt.err, tt.msg, tt.is)
		}
	}
	if st := status(t, c); st.Programs != 4 || st.Pins != 2 {
		t.Errorf("refused requests changed the table: %+v", st)
	}
}

// TestMetrics: the Prometheus text of run counts, map sizes and totals.
func TestMetrics(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	d, sock := startDaemon(t)
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/p"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{60, 61, 60} {
		if _, err := c.Run(&proto.RunArgs{Ref: proto.Ref{Name: "xdp_count"}, Data: make([]byte, n), Repeat: 2}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := d.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(`(run_time_ns_total\{[^}]*\}) [1-9]\d*`).ReplaceAllString(b.String(), "$1 NS")
	got = regexp.MustCompile(`xebpf_memory_bytes [1-9]\d*`).ReplaceAllString(got, "xebpf_memory_bytes BYTES")
	want := `# HELP xebpf_prog_run_cnt_total Runs of the program (bpftool's run_cnt).
# TYPE xebpf_prog_run_cnt_total counter
xebpf_prog_run_cnt_total{id="1",name="xdp_count",type="xdp"} 6
xebpf_prog_run_cnt_total{id="2",name="xdp_drop",type="xdp"} 0
# HELP xebpf_prog_run_time_ns_total Time the program ran, in nanoseconds (bpftool's run_time_ns).
# TYPE xebpf_prog_run_time_ns_total counter
xebpf_prog_run_time_ns_total{id="1",name="xdp_count",type="xdp"} NS
xebpf_prog_run_time_ns_total{id="2",name="xdp_drop",type="xdp"} 0
# HELP xebpf_map_entries Elements in the map.
# TYPE xebpf_map_entries gauge
xebpf_map_entries{id="1",name="counts",type="hash"} 2
xebpf_map_entries{id="2",name="totals",type="percpu_array"} 1
# HELP xebpf_map_max_entries The map's max_entries.
# TYPE xebpf_map_max_entries gauge
xebpf_map_max_entries{id="1",name="counts",type="hash"} 64
xebpf_map_max_entries{id="2",name="totals",type="percpu_array"} 1
# HELP xebpf_programs Programs loaded.
# TYPE xebpf_programs gauge
xebpf_programs 2
# HELP xebpf_maps Maps alive.
# TYPE xebpf_maps gauge
xebpf_maps 2
# HELP xebpf_memory_bytes Memory of the loaded collections, in bytes.
# TYPE xebpf_memory_bytes gauge
xebpf_memory_bytes BYTES
`
	if got != want {
		t.Errorf("metrics:\n%s\nwant\n%s", got, want)
	}
}
