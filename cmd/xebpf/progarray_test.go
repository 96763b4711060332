package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// TestProgArraySurvivesKill: a pinned program array's slot, filled with
// map update ... value pinned PATH, survives kill -9 of the daemon: after
// the restart the tail call runs the same program (XDP_DROP, counted in a
// pinned map that keeps its counts); a slot emptied by map delete stays
// empty after the next kill. Updates the daemon refuses are refused with
// the reason.
func TestProgArraySurvivesKill(t *testing.T) {
	obj, other := buildServiceObject(t, "xdp_tail"), buildServiceObject(t, "xdp_udp_drop")
	dir := t.TempDir()
	d := startKillableDaemon(t, dir, "--snapshot-every", "0")
	d.cli(t, "prog", "loadall", obj, "/sys/fs/bpf/tail", "pinmaps", "/sys/fs/bpf/tail_maps")
	d.cli(t, "prog", "load", other, "/sys/fs/bpf/other")
	pkt := filepath.Join(t.TempDir(), "pkt")
	if err := os.WriteFile(pkt, make([]byte, 60), 0o644); err != nil {
		t.Fatal(err)
	}
	// run returns the entry program's return value: 1 (XDP_DROP) when
	// the tail call reaches xdp_drop, 2 (XDP_PASS) when the slot is empty.
	run := func(d *killableDaemon) string {
		out := d.cli(t, "prog", "run", "pinned", "/sys/fs/bpf/tail/xdp_entry", "data_in", pkt)
		if i := strings.Index(out, "Return value: "); i >= 0 {
			return strings.SplitN(out[i+len("Return value: "):], ",", 2)[0]
		}
		t.Fatalf("prog run: %s", out)
		return ""
	}
	hits := func(d *killableDaemon) [2]byte {
		m := dumpMap(t, d, "/sys/fs/bpf/tail_maps/hits")
		return [2]byte{m["\x00\x00\x00\x00"][0], m["\x01\x00\x00\x00"][0]}
	}
	if got := run(d); got != "2" {
		t.Fatalf("with the slot empty: return value %s, want 2", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "0", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/other"}, "another collection"},
		{[]string{"pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "0", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/tail/xdp_drop", "exist"}, "takes any only"},
		{[]string{"pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "9", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/tail/xdp_drop"}, "jmp"},
		{[]string{"pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "0", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/none"}, "/sys/fs/bpf/none"},
	} {
		out, errout, code := runCmd(append(append([]string{"map", "update"}, tc.args...), "--socket", d.sock), "")
		if code == 0 || !strings.Contains(errout, tc.want) {
			t.Errorf("map update %s: exit %d, %s%s; want a failure naming %q", strings.Join(tc.args, " "), code, out, errout, tc.want)
		}
	}
	d.cli(t, "map", "update", "pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "0", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/tail/xdp_drop")
	if got := run(d); got != "1" {
		t.Fatalf("with xdp_drop in the slot: return value %s, want 1", got)
	}
	if h := hits(d); h != [2]byte{1, 1} {
		t.Fatalf("hits %v before the kill, want a miss and a drop", h)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if strings.Contains(d.stderr.String(), "daemon: state:") {
		t.Errorf("the restarted daemon complains about its state:\n%s", d.stderr.String())
	}
	if got := run(d); got != "1" {
		t.Errorf("after kill -9 and restart: return value %s, want 1 (the tail call to xdp_drop)", got)
	}
	if h := hits(d); h != [2]byte{1, 2} {
		t.Errorf("hits %v after the restart and a run, want 1 miss and 2 drops", h)
	}
	// By id, too, and emptied by map delete: durable alike.
	c := dialKillable(t, d)
	ps, err := c.Programs(proto.Ref{Pinned: "/sys/fs/bpf/tail/xdp_drop"})
	if err != nil || len(ps) != 1 {
		t.Fatalf("programs %+v, %v", ps, err)
	}
	if err := c.UpdateProg(proto.Ref{Pinned: "/sys/fs/bpf/tail_maps/jmp"}, []byte{1, 0, 0, 0}, proto.Ref{ID: ps[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateProg(proto.Ref{Pinned: "/sys/fs/bpf/tail_maps/hits"}, []byte{1, 0, 0, 0}, proto.Ref{ID: ps[0].ID}); err == nil || !strings.Contains(err.Error(), "only program arrays") {
		t.Errorf("a program as the value of an array map: %v, want refused", err)
	}
	d.cli(t, "map", "delete", "pinned", "/sys/fs/bpf/tail_maps/jmp", "key", "0", "0", "0", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete: return value %s, want 2", got)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete, kill -9 and restart: return value %s, want 2 (the slot stays empty)", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(strings.Fields(string(b)), ""); !strings.Contains(s, `"slots":[{"index":1,"prog":"xdp_drop"}]`) {
		t.Errorf("manifest: want slot 1 only, holding xdp_drop:\n%s", b)
	}
}

// dialKillable returns a client of d, closed when the test ends.
func dialKillable(t *testing.T, d *killableDaemon) *client.Client {
	t.Helper()
	c, err := client.Dial(d.sock)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, d.stderr.String())
	}
	t.Cleanup(func() { c.Close() })
	return c
}
