package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMapOfMapsSlotSurvivesKill: the slots of pinned maps of maps filled
// with map update MAP key BYTES value MAP survive kill -9 of the daemon,
// and so do the maps in them, unpinned, with their contents (the last
// update journaled): after the restart the program reaches the same
// inner map through the slot (XDP_DROP), lookup shows that map's id, and
// the hash of maps' slot holds its map too. A slot emptied by map delete
// stays empty after the next kill, and the map only it held is gone.
func TestMapOfMapsSlotSurvivesKill(t *testing.T) {
	obj := buildServiceObject(t, "xdp_mim_slots")
	dir := t.TempDir()
	pkt := filepath.Join(t.TempDir(), "pkt")
	if err := os.WriteFile(pkt, make([]byte, 60), 0o644); err != nil {
		t.Fatal(err)
	}
	// run returns the program's return value: 1 (XDP_DROP) when outer[0]
	// holds a map whose entry 0 is not zero, 2 (XDP_PASS) otherwise.
	run := func(d *killableDaemon) string {
		out := d.cli(t, "prog", "run", "pinned", "/sys/fs/bpf/mim", "data_in", pkt)
		if i := strings.Index(out, "Return value: "); i >= 0 {
			return strings.SplitN(out[i+len("Return value: "):], ",", 2)[0]
		}
		t.Fatalf("prog run: %s", out)
		return ""
	}
	// mapJSON returns what map show -j says of a map.
	show := func(d *killableDaemon, args ...string) mapJSON {
		var m mapJSON
		out := d.cli(t, append(append([]string{"map", "show"}, args...), "-j")...)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("map show %v: %v\n%s", args, err, out)
		}
		return m
	}
	// slot returns the inner map id map lookup -j shows for a slot.
	slot := func(d *killableDaemon, outer string, key ...string) uint32 {
		var e entryJSON
		out := d.cli(t, append(append([]string{"map", "lookup", "pinned", outer, "key"}, key...), "-j")...)
		if err := json.Unmarshal([]byte(out), &e); err != nil || e.InnerMapID == nil {
			t.Fatalf("map lookup %s %v: %v\n%s", outer, key, err, out)
		}
		return *e.InnerMapID
	}

	d := startKillableDaemon(t, dir, "--snapshot-every", "0")
	d.cli(t, "prog", "load", obj, "/sys/fs/bpf/mim", "pinmaps", "/sys/fs/bpf/mm")
	d.cli(t, "map", "update", "pinned", "/sys/fs/bpf/mm/outer", "key", "0", "0", "0", "0", "value", "name", "inner2")
	d.cli(t, "map", "update", "pinned", "/sys/fs/bpf/mm/houter", "key", "9", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/mm/inner3")
	d.cli(t, "unpin", "/sys/fs/bpf/mm/inner2")
	d.cli(t, "unpin", "/sys/fs/bpf/mm/inner3")
	// Unpinned, in a slot: its updates are durable as a pinned map's.
	d.cli(t, "map", "update", "name", "inner2", "key", "0", "0", "0", "0", "value", "7", "0", "0", "0", "0", "0", "0", "0")
	d.cli(t, "map", "update", "name", "inner3", "key", "0", "0", "0", "0", "value", "9", "0", "0", "0", "0", "0", "0", "0")
	if got := run(d); got != "1" {
		t.Fatalf("with inner2 (7) in outer[0]: return value %s, want 1", got)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if strings.Contains(d.stderr.String(), "daemon: state:") {
		t.Errorf("the restarted daemon complains about its state:\n%s", d.stderr.String())
	}
	if got := run(d); got != "1" {
		t.Errorf("after kill -9 and restart: return value %s, want 1 (outer[0] holds inner2, 7)", got)
	}
	in2, in3 := show(d, "name", "inner2"), show(d, "name", "inner3")
	if len(in2.Pinned) != 0 || len(in3.Pinned) != 0 {
		t.Errorf("inner2 pins %v, inner3 pins %v: want none", in2.Pinned, in3.Pinned)
	}
	if got := slot(d, "/sys/fs/bpf/mm/outer", "0", "0", "0", "0"); got != in2.ID {
		t.Errorf("outer[0] holds map id %d, want inner2's %d", got, in2.ID)
	}
	if got := slot(d, "/sys/fs/bpf/mm/houter", "9", "0", "0", "0"); got != in3.ID {
		t.Errorf("houter[9] holds map id %d, want inner3's %d", got, in3.ID)
	}
	if out := d.cli(t, "map", "lookup", "name", "inner3", "key", "0", "0", "0", "0"); out != "key: 00 00 00 00  value: 09 00 00 00 00 00 00 00\n" {
		t.Errorf("inner3 after the restart: %q, want its value 9", out)
	}
	if out := d.cli(t, "map", "dump", "pinned", "/sys/fs/bpf/mm/outer"); !strings.Contains(out, "Found 1 element") {
		t.Errorf("outer after the restart:\n%s\nwant slot 0 only (the object's inner1 in slot 0 was replaced)", out)
	}

	d.cli(t, "map", "delete", "pinned", "/sys/fs/bpf/mm/outer", "key", "0", "0", "0", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete: return value %s, want 2", got)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete, kill -9 and restart: return value %s, want 2 (the slot stays empty)", got)
	}
	if out, errout, code := runCmd([]string{"map", "show", "name", "inner2", "--socket", d.sock}, ""); code == 0 || !strings.Contains(errout, "no such map") {
		t.Errorf("inner2, in no slot and unpinned, after the restart: exit %d\n%s%s\nwant it gone", code, out, errout)
	}
	if got := slot(d, "/sys/fs/bpf/mm/houter", "9", "0", "0", "0"); got != show(d, "name", "inner3").ID {
		t.Errorf("houter[9] after the second restart holds map id %d, want inner3's", got)
	}
}

// TestMapOfMapsForeignSlotSurvivesKill: the slots of pinned maps of maps
// may hold maps of another object and maps map create made. Unpinned (and
// the other object's program unpinned too), they live while the slots
// hold them, their updates are kept, and after kill -9 and a restart the
// slots hold them again with their contents: the program reaches the
// created map through outer[0] (XDP_DROP), and houter[9] holds the other
// object's inner3 with its value. A slot emptied by map delete stays
// empty after the next kill, and the map only it held is gone.
func TestMapOfMapsForeignSlotSurvivesKill(t *testing.T) {
	obj := buildServiceObject(t, "xdp_mim_slots")
	dir := t.TempDir()
	pkt := filepath.Join(t.TempDir(), "pkt")
	if err := os.WriteFile(pkt, make([]byte, 60), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(d *killableDaemon) string {
		out := d.cli(t, "prog", "run", "pinned", "/sys/fs/bpf/mim", "data_in", pkt)
		if i := strings.Index(out, "Return value: "); i >= 0 {
			return strings.SplitN(out[i+len("Return value: "):], ",", 2)[0]
		}
		t.Fatalf("prog run: %s", out)
		return ""
	}
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
	id := func(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

	d := startKillableDaemon(t, dir, "--snapshot-every", "0")
	d.cli(t, "prog", "load", obj, "/sys/fs/bpf/mim", "pinmaps", "/sys/fs/bpf/mm")
	d.cli(t, "prog", "load", obj, "/sys/fs/bpf/mim2", "pinmaps", "/sys/fs/bpf/mm2")
	d.cli(t, "map", "create", "/sys/fs/bpf/made", "type", "array", "key", "4", "value", "8", "entries", "1", "name", "made")
	made, other := show(d, "pinned", "/sys/fs/bpf/made"), show(d, "pinned", "/sys/fs/bpf/mm2/inner3")
	d.cli(t, "map", "update", "pinned", "/sys/fs/bpf/mm/outer", "key", "0", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/made")
	d.cli(t, "map", "update", "pinned", "/sys/fs/bpf/mm/houter", "key", "9", "0", "0", "0", "value", "pinned", "/sys/fs/bpf/mm2/inner3")
	// Only the slots hold them now: the other object is unpinned whole.
	d.cli(t, "unpin", "/sys/fs/bpf/made")
	for _, p := range []string{"mim2", "mm2/inner1", "mm2/inner2", "mm2/inner3", "mm2/bad_type", "mm2/bad_value", "mm2/bad_entries", "mm2/outer", "mm2/houter"} {
		d.cli(t, "unpin", "/sys/fs/bpf/"+p)
	}
	d.cli(t, "map", "update", "id", id(made.ID), "key", "0", "0", "0", "0", "value", "7", "0", "0", "0", "0", "0", "0", "0")
	d.cli(t, "map", "update", "id", id(other.ID), "key", "0", "0", "0", "0", "value", "9", "0", "0", "0", "0", "0", "0", "0")
	if got := run(d); got != "1" {
		t.Fatalf("with made (7) in outer[0]: return value %s, want 1", got)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if strings.Contains(d.stderr.String(), "daemon: state:") {
		t.Errorf("the restarted daemon complains about its state:\n%s", d.stderr.String())
	}
	if got := run(d); got != "1" {
		t.Errorf("after kill -9 and restart: return value %s, want 1 (outer[0] holds made, 7)", got)
	}
	made = show(d, "name", "made")
	if len(made.Pinned) != 0 {
		t.Errorf("made pins %v: want none", made.Pinned)
	}
	if got := slot(d, "/sys/fs/bpf/mm/outer", "0", "0", "0", "0"); got != made.ID {
		t.Errorf("outer[0] holds map id %d, want made's %d", got, made.ID)
	}
	in3 := slot(d, "/sys/fs/bpf/mm/houter", "9", "0", "0", "0")
	if in3 == show(d, "pinned", "/sys/fs/bpf/mm/inner3").ID {
		t.Errorf("houter[9] holds the pinned object's inner3 (id %d), want the other object's", in3)
	}
	if out := d.cli(t, "map", "lookup", "id", id(in3), "key", "0", "0", "0", "0"); out != "key: 00 00 00 00  value: 09 00 00 00 00 00 00 00\n" {
		t.Errorf("the other object's inner3 after the restart: %q, want its value 9", out)
	}
	if out := d.cli(t, "map", "lookup", "id", id(made.ID), "key", "0", "0", "0", "0"); out != "key: 00 00 00 00  value: 07 00 00 00 00 00 00 00\n" {
		t.Errorf("made after the restart: %q, want its value 7", out)
	}

	d.cli(t, "map", "delete", "pinned", "/sys/fs/bpf/mm/outer", "key", "0", "0", "0", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete: return value %s, want 2", got)
	}
	d.kill(t)

	d = startKillableDaemon(t, dir, "--snapshot-every", "0")
	if got := run(d); got != "2" {
		t.Errorf("after map delete, kill -9 and restart: return value %s, want 2 (the slot stays empty)", got)
	}
	if out, errout, code := runCmd([]string{"map", "show", "name", "made", "--socket", d.sock}, ""); code == 0 || !strings.Contains(errout, "no such map") {
		t.Errorf("made, in no slot and unpinned, after the restart: exit %d\n%s%s\nwant it gone", code, out, errout)
	}
	if in3 := slot(d, "/sys/fs/bpf/mm/houter", "9", "0", "0", "0"); in3 == show(d, "pinned", "/sys/fs/bpf/mm/inner3").ID {
		t.Errorf("houter[9] after the second restart holds the pinned object's inner3, want the other object's")
	} else if out := d.cli(t, "map", "lookup", "id", id(in3), "key", "0", "0", "0", "0"); !strings.Contains(out, "value: 09 ") {
		t.Errorf("the other object's inner3 after the second restart: %q, want its value 9", out)
	}
}
