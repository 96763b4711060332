package service

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// TestStatePopJournaled: map.pop through the daemon takes a queue's
// oldest value and a stack's newest, says when the map is empty, refuses
// other maps, and is journaled: after a crash the values come back
// without the popped ones (a pop of an empty map journals nothing).
func TestStatePopJournaled(t *testing.T) {
	for _, tc := range []struct {
		typ          string
		popped, left []uint32
	}{
		{"queue", []uint32{1, 2}, []uint32{3}},
		{"stack", []uint32{3, 2}, []uint32{1}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			d := New()
			if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ref := proto.Ref{Pinned: "/sys/fs/bpf/q"}
			if _, err := d.t.mapCreate(&proto.MapCreateArgs{Path: ref.Pinned, Type: tc.typ, Name: "q", ValueSize: 4, MaxEntries: 4}, func(any) {}); err != nil {
				t.Fatal(err)
			}
			if err := d.t.persist(); err != nil {
				t.Fatal(err)
			}
			pop := func() (uint32, bool) {
				t.Helper()
				res, err := d.t.mapElem(proto.OpMapPop, &proto.MapElemArgs{Ref: ref})
				if err != nil {
					t.Fatal(err)
				}
				r := res.(*proto.LookupResult)
				if !r.Found {
					return 0, false
				}
				return binary.LittleEndian.Uint32(r.Entry.Value), true
			}
			if v, ok := pop(); ok {
				t.Fatalf("pop of the empty %s: %d, want none", tc.typ, v)
			}
			for v := range uint32(3) {
				if _, err := d.t.mapElem(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Value: binary.LittleEndian.AppendUint32(nil, v+1)}); err != nil {
					t.Fatal(err)
				}
			}
			var popped []uint32
			for range tc.popped {
				v, ok := pop()
				if !ok {
					t.Fatal("pop: empty")
				}
				popped = append(popped, v)
			}
			if !slices.Equal(popped, tc.popped) {
				t.Fatalf("popped %v, want %v", popped, tc.popped)
			}
			if got := popAll(t, openQueueDaemon(t, dir), ref); !slices.Equal(got, tc.left) {
				t.Fatalf("after a crash: %v, want %v (the pops journaled)", got, tc.left)
			}
		})
	}
	d := New()
	defer d.Close()
	if _, err := d.t.mapCreate(&proto.MapCreateArgs{Path: "/sys/fs/bpf/h", Type: "hash", Name: "h", KeySize: 4, ValueSize: 4, MaxEntries: 4}, func(any) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.t.mapElem(proto.OpMapPop, &proto.MapElemArgs{Ref: proto.Ref{Name: "h"}}); err == nil {
		t.Errorf("pop of a hash map: no error")
	}
}
