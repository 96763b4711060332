package service_test

import (
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// TestTypeNames: libbpf's names of program and map types, and the
// section-name prefixes prog load's type takes.
func TestTypeNames(t *testing.T) {
	progs := []struct {
		in   string
		want xebpf.ProgramType
		ok   bool
	}{
		{"xdp", xebpf.XDP, true}, {"socket", xebpf.SocketFilter, true}, {"socket_filter", xebpf.SocketFilter, true},
		{"classifier", xebpf.SchedCLS, true}, {"tc", xebpf.SchedCLS, true}, {"kprobe/", xebpf.Kprobe, true},
		{"XDP", xebpf.XDP, true}, {"unspec", 0, false}, {"nosuch", 0, false}, {"", 0, false},
	}
	for _, tt := range progs {
		if got, ok := service.ParseProgType(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("ParseProgType(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for typ, want := range map[xebpf.ProgramType]string{xebpf.XDP: "xdp", xebpf.SocketFilter: "socket_filter", xebpf.SchedCLS: "sched_cls", xebpf.Netfilter: "netfilter", 200: "type ProgramType(200)"} {
		if got := service.ProgTypeName(typ); got != want {
			t.Errorf("ProgTypeName(%d) = %q, want %q", typ, got, want)
		}
	}
	for typ, want := range map[xebpf.MapType]string{xebpf.Hash: "hash", xebpf.PerCPUArray: "percpu_array", xebpf.RingBuf: "ringbuf", xebpf.LPMTrie: "lpm_trie"} {
		if got := service.MapTypeName(typ); got != want {
			t.Errorf("MapTypeName(%d) = %q, want %q", typ, got, want)
		}
		if got, ok := service.ParseMapType(want); got != typ || !ok {
			t.Errorf("ParseMapType(%q) = %v, %v", want, got, ok)
		}
	}
	if _, ok := service.ParseMapType("unspec"); ok {
		t.Error("ParseMapType(unspec) succeeded")
	}
}

// TestProgramStats: the counter hooks record their runs in is the one
// prog show reports.
func TestProgramStats(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	d, sock := startDaemon(t)
	c := dial(t, sock)
	res, err := c.Load(&proto.LoadArgs{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Programs[0].ID
	if d.ProgramStats(999) != nil {
		t.Error("stats of a program that does not exist")
	}
	d.ProgramStats(id).Record(5, 500*time.Nanosecond)
	ps, err := c.Programs(proto.Ref{ID: id})
	if err != nil || ps[0].RunCnt != 5 || ps[0].RunTimeNs != 500 {
		t.Errorf("prog show: %+v %v, want 5 runs in 500ns", ps, err)
	}
}
