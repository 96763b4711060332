package service_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// TestInnerMapReferences: without a state directory too, a slot of a map
// of maps holds a reference on its inner map, as in Linux: a map put in a
// slot through the daemon outlives its pin and the loader's session, the
// lookup of the slot reports the daemon's id of the map, and the map goes
// when the last slot holding it is emptied or replaced; the maps the
// object's own slot holds stay until the map of maps goes.
func TestInnerMapReferences(t *testing.T) {
	obj := buildObject(t, "xdp_mim_slots")
	// Maps of this process outside the daemon: xebpf's map ids are not
	// the daemon's, which the slots' lookups must report.
	for range 3 {
		m, err := xebpf.NewMap(&xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
	}
	_, sock := startDaemon(t)
	loader := dial(t, sock)
	if _, err := loader.Load(&proto.LoadArgs{Object: obj, PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, sock)
	outer, houter := proto.Ref{Pinned: "/sys/fs/bpf/m/outer"}, proto.Ref{Pinned: "/sys/fs/bpf/m/houter"}
	if err := c.UpdateMap(outer, u32(1), proto.Ref{Name: "inner3"}, proto.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateMap(houter, u32(5), proto.Ref{Name: "inner3"}, proto.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	ms, err := c.Maps(proto.Ref{Name: "inner3"})
	if err != nil || len(ms) != 1 {
		t.Fatalf("inner3: %v %v", ms, err)
	}
	id3 := ms[0].ID
	r, err := c.Lookup(houter, u32(5))
	if err != nil || !r.Found || binary.NativeEndian.Uint32(r.Entry.Value) != id3 {
		t.Fatalf("houter[5]: %+v %v, want inner3's id %d", r, err, id3)
	}
	// Unpinned, the loader gone: the slots hold inner3 (and the object's
	// slot outer[0] holds inner1).
	for _, n := range []string{"inner1", "inner3"} {
		if err := c.Unpin("/sys/fs/bpf/m/" + n); err != nil {
			t.Fatal(err)
		}
	}
	loader.Close()
	exists := func(name string) bool {
		t.Helper()
		_, err := c.Maps(proto.Ref{Name: name})
		if err != nil && !errors.Is(err, proto.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	// The daemon frees the loader's objects when it sees its
	// connection close: wait for its program, which nothing else holds,
	// to go.
	waitFor(t, func() bool {
		_, err := c.Programs(proto.Ref{Name: "xdp_mim_slots"})
		return errors.Is(err, proto.ErrNotFound)
	})
	if !exists("inner3") || !exists("inner1") {
		t.Fatalf("inner3 %v, inner1 %v: want both held by their slots", exists("inner3"), exists("inner1"))
	}
	if err := c.Delete(outer, u32(1)); err != nil {
		t.Fatal(err)
	}
	if !exists("inner3") {
		t.Fatal("inner3 gone while houter[5] holds it")
	}
	// Replaced by inner2: inner3 is in no slot any more.
	if err := c.UpdateMap(houter, u32(5), proto.Ref{Name: "inner2"}, proto.UpdateExist); err != nil {
		t.Fatal(err)
	}
	if exists("inner3") {
		t.Fatal("inner3 still there, in no slot and unpinned")
	}
	// The map of maps goes: so do the maps only its slots held.
	if err := c.Unpin("/sys/fs/bpf/m/outer"); err != nil {
		t.Fatal(err)
	}
	if exists("inner1") {
		t.Fatal("inner1 still there after outer, whose slot held it, went")
	}
	if !exists("inner2") {
		t.Fatal("inner2, pinned, gone")
	}
	// Refusals name what differs.
	for _, tc := range []struct {
		ref   proto.Ref
		inner string
		flags uint64
		want  string
	}{
		{houter, "bad_value", proto.UpdateAny, "value size 4, the map of maps' inner maps have 8"},
		{houter, "bad_entries", proto.UpdateAny, "max entries 2, the map of maps' inner maps have 1"},
		{houter, "bad_type", proto.UpdateAny, "type hash, the map of maps holds array maps"},
		{proto.Ref{Pinned: "/sys/fs/bpf/m/inner2"}, "bad_value", proto.UpdateAny, "only maps of maps"},
	} {
		err := c.UpdateMap(tc.ref, u32(6), proto.Ref{Name: tc.inner}, tc.flags)
		if err == nil || !errors.Is(err, proto.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s in %s: %v, want an invalid-argument error with %q", tc.inner, tc.ref, err, tc.want)
		}
	}
	if err := c.Update(houter, u32(6), u32(1), proto.UpdateAny); err == nil || !strings.Contains(err.Error(), "value is a map") {
		t.Errorf("bytes as a hash of maps' value: %v, want refused", err)
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5s")
}
