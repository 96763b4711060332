package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestCreatedMapOfMapsSurvivesKill: maps of maps made by map create ...
// inner_map MAP survive kill -9 of the daemon with their template (a copy
// of MAP's, kept though MAP is unpinned and gone) and their slots: after
// each restart the slots hold the created inner map again (map lookup's
// inner_map_id), with its contents, and map update still checks the
// template: value size and max entries for the array of maps, and the
// hash of maps' BPF_F_INNER_MAP (any max entries) from its template.
func TestCreatedMapOfMapsSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	show := func(d *killableDaemon, args ...string) mapJSON {
		var m mapJSON
		out := d.cli(t, append(append([]string{"map", "show"}, args...), "-j")...)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("map show %v: %v\n%s", args, err, out)
		}
		return m
	}
	slot := func(d *killableDaemon, outer string, key ...string) uint32 {
		var e entryJSON
		out := d.cli(t, append(append([]string{"map", "lookup", "pinned", outer, "key"}, key...), "-j")...)
		if err := json.Unmarshal([]byte(out), &e); err != nil || e.InnerMapID == nil {
			t.Fatalf("map lookup %s %v: %v\n%s", outer, key, err, out)
		}
		return *e.InnerMapID
	}
	update := func(d *killableDaemon, outer, key, inner string) (string, bool) {
		out, errout, code := runCmd([]string{"map", "update", "pinned", outer, "key", key, "0", "0", "0", "value", "pinned", inner, "--socket", d.sock}, "")
		return out + errout, code == 0
	}
	id := func(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
	create := func(d *killableDaemon, path, typ, key, value, entries string, extra ...string) {
		d.cli(t, append([]string{"map", "create", "/sys/fs/bpf/" + path, "type", typ, "key", key, "value", value, "entries", entries, "name", path}, extra...)...)
	}

	d := startKillableDaemon(t, dir, "--snapshot-every", "0")
	create(d, "tmpl", "array", "4", "8", "2")
	create(d, "small", "array", "4", "8", "1", "flags", "0x1000")
	create(d, "mom", "array_of_maps", "4", "4", "2", "inner_map", "pinned", "/sys/fs/bpf/tmpl")
	create(d, "hmom", "hash_of_maps", "4", "4", "4", "inner_map", "name", "small")
	create(d, "in", "array", "4", "8", "2")
	in := show(d, "pinned", "/sys/fs/bpf/in")
	d.cli(t, "map", "update", "id", id(in.ID), "key", "1", "0", "0", "0", "value", "7", "0", "0", "0", "0", "0", "0", "0")
	for _, u := range [][2]string{{"/sys/fs/bpf/mom", "1"}, {"/sys/fs/bpf/hmom", "3"}} {
		if out, ok := update(d, u[0], u[1], "/sys/fs/bpf/in"); !ok {
			t.Fatalf("put in into %s[%s]: %s", u[0], u[1], out)
		}
	}
	// The templates' maps go; in lives in the slots only.
	for _, p := range []string{"tmpl", "small", "in"} {
		d.cli(t, "unpin", "/sys/fs/bpf/"+p)
	}
	if out, errout, code := runCmd([]string{"map", "show", "name", "tmpl", "--socket", d.sock}, ""); code == 0 {
		t.Fatalf("tmpl, unpinned and in no slot: still there\n%s%s", out, errout)
	}

	for round := range 2 {
		d.kill(t)
		d = startKillableDaemon(t, dir, "--snapshot-every", "0")
		if strings.Contains(d.stderr.String(), "daemon: state:") {
			t.Errorf("restart %d: the daemon complains about its state:\n%s", round+1, d.stderr.String())
		}
		if m := show(d, "pinned", "/sys/fs/bpf/mom"); m.Type != "array_of_maps" || m.BytesValue != 4 || m.MaxEntries != 2 {
			t.Errorf("restart %d: mom is %+v, want an array_of_maps, value 4, 2 entries", round+1, m)
		}
		in = show(d, "name", "in")
		if len(in.Pinned) != 0 {
			t.Errorf("restart %d: in pins %v, want none", round+1, in.Pinned)
		}
		if got := slot(d, "/sys/fs/bpf/mom", "1", "0", "0", "0"); got != in.ID {
			t.Errorf("restart %d: mom[1] holds map id %d, want in's %d", round+1, got, in.ID)
		}
		if got := slot(d, "/sys/fs/bpf/hmom", "3", "0", "0", "0"); got != in.ID {
			t.Errorf("restart %d: hmom[3] holds map id %d, want in's %d", round+1, got, in.ID)
		}
		if out := d.cli(t, "map", "lookup", "id", id(in.ID), "key", "1", "0", "0", "0"); out != "key: 01 00 00 00  value: 07 00 00 00 00 00 00 00\n" {
			t.Errorf("restart %d: in[1] = %q, want 7", round+1, out)
		}
		// The templates came back: what they refuse, and what
		// BPF_F_INNER_MAP lets hmom take.
		p := "/sys/fs/bpf/r" + strconv.Itoa(round)
		d.cli(t, "map", "create", p+"wide", "type", "array", "key", "4", "value", "16", "entries", "2", "name", "wide")
		d.cli(t, "map", "create", p+"one", "type", "array", "key", "4", "value", "8", "entries", "1", "name", "one")
		for _, tc := range []struct {
			outer, inner, want string
			ok                 bool
		}{
			{"/sys/fs/bpf/mom", p + "wide", "value size 16, the map of maps' inner maps have 8", false},
			{"/sys/fs/bpf/mom", p + "one", "max entries 1, the map of maps' inner maps have 2", false},
			{"/sys/fs/bpf/hmom", p + "wide", "value size 16, the map of maps' inner maps have 8", false},
			{"/sys/fs/bpf/hmom", p + "one", "", true},
		} {
			out, ok := update(d, tc.outer, "0", tc.inner)
			if ok != tc.ok || !strings.Contains(out, tc.want) {
				t.Errorf("restart %d: put %s into %s: ok %v, %q; want ok %v, %q", round+1, tc.inner, tc.outer, ok, out, tc.ok, tc.want)
			}
		}
		d.cli(t, "map", "delete", "pinned", "/sys/fs/bpf/hmom", "key", "0", "0", "0", "0")
		d.cli(t, "unpin", p+"wide")
		d.cli(t, "unpin", p+"one")
	}
}
