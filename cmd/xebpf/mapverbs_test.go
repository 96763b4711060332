package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// TestDaemonCLIMapVerbs drives bpftool's verbs of maps of maps and of
// queues and stacks through a real daemon; the transcript is a golden
// file. Maps of maps: map update MAP key BYTES value MAP puts an inner
// map of the object in a slot (a program run sees it), map lookup and
// dump show the inner map's id as bpftool does (inner_map_id), inner
// maps that do not match the template are refused with what differs,
// and a slot holds its map: unpinned, it lives while a slot holds it.
// Queues and stacks: push, enqueue, peek, pop and dequeue, in text and
// JSON, with an empty map, a full one and the wrong kind of map. Maps of
// maps made by map create ... inner_map MAP: the template is a copy of
// MAP's (checked at map update, BPF_F_INNER_MAP included, and kept when
// MAP goes); inner_map is required for maps of maps and refused for
// other types and when MAP is a map of maps.
func TestDaemonCLIMapVerbs(t *testing.T) {
	obj := buildServiceObject(t, "xdp_mim_slots")
	pkt := filepath.Join(t.TempDir(), "pkt")
	if err := os.WriteFile(pkt, make([]byte, 60), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, sock: startDaemonProcess(t, "")}
	subst := map[string]string{"OBJ": obj, "PKT": pkt}
	for _, line := range []string{
		"prog load OBJ /sys/fs/bpf/mim pinmaps /sys/fs/bpf/mm",
		"map show name outer",
		"map dump name outer",
		"map dump name outer -j",
		"map lookup name outer key 0 0 0 0",
		"map lookup name outer key 0 0 0 0 -j",
		"map lookup name outer key 1 0 0 0",
		"map update name inner2 key 0 0 0 0 value 1 0 0 0 0 0 0 0",
		"prog run pinned /sys/fs/bpf/mim data_in PKT",
		"map update name outer key 0 0 0 0 value name inner2",
		"prog run pinned /sys/fs/bpf/mim data_in PKT",
		"map update pinned /sys/fs/bpf/mm/outer key 1 0 0 0 value pinned /sys/fs/bpf/mm/inner1",
		"map dump pinned /sys/fs/bpf/mm/outer",
		// Refused: what differs from the template, named.
		"map update name outer key 1 0 0 0 value name bad_type",
		"map update name outer key 1 0 0 0 value name bad_value",
		"map update name outer key 1 0 0 0 value name bad_entries",
		"map update name outer key 1 0 0 0 value name houter",
		"map update name outer key 1 0 0 0 value name inner3 exist",
		"map update name outer key 2 0 0 0 value name inner3",
		"map update name outer key 1 0 0 0 value 1 0 0 0",
		"map update name outer key 1 0 0 0 value name nothing",
		"map create /sys/fs/bpf/made type array key 4 value 8 entries 1 name made",
		"map update name outer key 1 0 0 0 value pinned /sys/fs/bpf/made",
		"map update name inner1 key 0 0 0 0 value name inner2",
		// A hash of maps takes the flags.
		"map update name houter key 7 0 0 0 value name inner3 noexist",
		"map update name houter key 7 0 0 0 value name inner2 noexist",
		"map update name houter key 8 0 0 0 value name inner3 exist",
		"map update name houter key 8 0 0 0 value id 2",
		"map dump name houter -j",
		// A slot holds its map: unpinned, inner3 lives while houter
		// holds it, and goes with the last slot that held it.
		"unpin /sys/fs/bpf/mm/inner3",
		"map show name inner3",
		"map delete name houter key 7 0 0 0",
		"map show name inner3",
		"map update name houter key 8 0 0 0 value name inner1",
		"map dump name houter",
		// A map of another object (map create's) in a slot: unpinned,
		// it lives while the slot holds it.
		"unpin /sys/fs/bpf/made",
		"map show name made",
		"map lookup name outer key 1 0 0 0",
		"map delete name outer key 1 0 0 0",
		"map show name made",

		// Queues and stacks.
		"map create /sys/fs/bpf/q type queue key 0 value 4 entries 2 name q",
		"map create /sys/fs/bpf/s type stack key 0 value 4 entries 2 name s",
		"map peek pinned /sys/fs/bpf/q",
		"map peek pinned /sys/fs/bpf/q -j",
		"map pop pinned /sys/fs/bpf/q",
		"map pop pinned /sys/fs/bpf/q -j",
		"map push pinned /sys/fs/bpf/q value 1 0 0 0",
		"map enqueue pinned /sys/fs/bpf/q value hex 02 00 00 00 -j",
		"map push pinned /sys/fs/bpf/q value 3 0 0 0",
		"map peek pinned /sys/fs/bpf/q",
		"map push pinned /sys/fs/bpf/q value 3 0 0 0 exist",
		"map peek pinned /sys/fs/bpf/q -j",
		"map pop pinned /sys/fs/bpf/q",
		"map dequeue pinned /sys/fs/bpf/q -j",
		"map pop pinned /sys/fs/bpf/q",
		"map push pinned /sys/fs/bpf/s value 1 0 0 0",
		"map push pinned /sys/fs/bpf/s value 2 0 0 0",
		"map peek pinned /sys/fs/bpf/s",
		"map pop pinned /sys/fs/bpf/s",
		"map dequeue pinned /sys/fs/bpf/s",
		"map pop pinned /sys/fs/bpf/s",
		"map push pinned /sys/fs/bpf/q key 0 value 1 0 0 0",
		"map push pinned /sys/fs/bpf/q value 1 0",
		"map push pinned /sys/fs/bpf/q value 1 0 0 0 noexist",
		"map pop pinned /sys/fs/bpf/q key",
		"map pop name outer",
		"map push name inner1 value 1 0 0 0",
		"map peek name inner1 key 0 0 0 0",
		"map update pinned /sys/fs/bpf/q value 5 0 0 0",
		"map lookup pinned /sys/fs/bpf/q",
		"map show pinned /sys/fs/bpf/q",
		// Unpinned, everything goes: the slots' references with their
		// maps of maps.
		"unpin /sys/fs/bpf/q",
		"unpin /sys/fs/bpf/s",
		"unpin /sys/fs/bpf/mim",
		"unpin /sys/fs/bpf/mm/inner1",
		"unpin /sys/fs/bpf/mm/inner2",
		"unpin /sys/fs/bpf/mm/bad_type",
		"unpin /sys/fs/bpf/mm/bad_value",
		"unpin /sys/fs/bpf/mm/bad_entries",
		"map show name inner1",
		"unpin /sys/fs/bpf/mm/outer",
		"unpin /sys/fs/bpf/mm/houter",
		"map show",

		// map create of maps of maps: inner_map MAP gives the template,
		// a copy of MAP's type, sizes, max entries and flags.
		"map create /sys/fs/bpf/tmpl type array key 4 value 8 entries 2 name tmpl",
		"map create /sys/fs/bpf/small type array key 4 value 8 entries 1 name small flags 0x1000",
		"map create /sys/fs/bpf/mom type array_of_maps key 4 value 4 entries 2 name mom inner_map pinned /sys/fs/bpf/tmpl",
		"map create /sys/fs/bpf/hmom type hash_of_maps key 4 value 4 entries 4 name hmom inner_map name small",
		"map show pinned /sys/fs/bpf/mom",
		"map show pinned /sys/fs/bpf/hmom -j",
		"map create /sys/fs/bpf/in2 type array key 4 value 8 entries 2 name in2",
		"map create /sys/fs/bpf/wide type array key 4 value 16 entries 2 name wide",
		"map update pinned /sys/fs/bpf/mom key 1 0 0 0 value pinned /sys/fs/bpf/in2",
		"map update pinned /sys/fs/bpf/mom key 0 0 0 0 value name tmpl",
		"map update pinned /sys/fs/bpf/mom key 0 0 0 0 value name small",
		"map update pinned /sys/fs/bpf/mom key 0 0 0 0 value name wide",
		"map dump pinned /sys/fs/bpf/mom",
		"map dump pinned /sys/fs/bpf/mom -j",
		// BPF_F_INNER_MAP in the template: inner maps of any max entries.
		"map update pinned /sys/fs/bpf/hmom key 5 0 0 0 value name in2 noexist",
		"map update pinned /sys/fs/bpf/hmom key 6 0 0 0 value name small",
		"map update pinned /sys/fs/bpf/hmom key 7 0 0 0 value name wide",
		"map lookup pinned /sys/fs/bpf/hmom key 5 0 0 0",
		// Refused.
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 name x",
		"map create /sys/fs/bpf/x type hash_of_maps key 4 value 4 entries 2 name x",
		"map create /sys/fs/bpf/x type array key 4 value 8 entries 2 name x inner_map name tmpl",
		"map create /sys/fs/bpf/x type hash_of_maps key 4 value 4 entries 2 name x inner_map pinned /sys/fs/bpf/mom",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 name x inner_map id 1000",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 8 entries 2 name x inner_map name tmpl",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 name x inner_map",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 name x inner_map ref 3",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 name x inner_map name tmpl inner_map name tmpl",
		"map create /sys/fs/bpf/x type array_of_maps key 4 value 4 entries 2 inner_map name tmpl name x flags",
		"map show pinned /sys/fs/bpf/x",
		// The template is a copy: with tmpl unpinned and out of the
		// slots, mom still takes maps like it.
		"map delete pinned /sys/fs/bpf/mom key 0 0 0 0",
		"unpin /sys/fs/bpf/tmpl",
		"map show name tmpl",
		"map update pinned /sys/fs/bpf/mom key 0 0 0 0 value name in2",
		"map dump pinned /sys/fs/bpf/mom",
		"unpin /sys/fs/bpf/mom",
		"unpin /sys/fs/bpf/hmom",
		"unpin /sys/fs/bpf/small",
		"unpin /sys/fs/bpf/in2",
		"unpin /sys/fs/bpf/wide",
		"map show",
	} {
		s.run(line, subst)
	}
	golden(t, "daemon_mapverbs.txt", s.script.String())
	waitEmpty(t, s.sock)
}

// waitEmpty waits until the daemon at sock holds nothing and has
// returned all memory, and fails the test if it does not.
func waitEmpty(t *testing.T, sock string) {
	t.Helper()
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st *proto.StatusResult
	for range 500 {
		if st, err = c.Status(); err != nil {
			t.Fatal(err)
		}
		if *st == (proto.StatusResult{}) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("after unpinning everything: %+v, want nothing left", *st)
}
