package service

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// openQueueDaemon opens a daemon on a copy of dir as a crash leaves it.
func openQueueDaemon(t *testing.T, dir string) *Daemon {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "state")
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	d := New()
	if err := d.OpenState(cp, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// popAll pops every value of the map at ref, in pop order.
func popAll(t *testing.T, d *Daemon, ref proto.Ref) []uint32 {
	t.Helper()
	m, err := d.t.oneMap(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer d.t.release(m)
	out := []uint32{}
	v := make([]byte, 4)
	for range m.m.MaxEntries() + 1 {
		err := m.m.LookupAndDelete(nil, v)
		if errors.Is(err, xebpf.ErrKeyNotExist) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, binary.LittleEndian.Uint32(v))
	}
	t.Fatalf("more values than the map's %d entries: %v", m.m.MaxEntries(), out)
	return nil
}

// TestStateQueueStack: a pinned queue's and a pinned stack's values come
// back in the same pop order after a crash: pushes through the daemon from
// the journal (a push on a full map with BPF_EXIST drops the oldest value
// again), a pop made in place (as a program's at a hook) from the periodic
// snapshot.
func TestStateQueueStack(t *testing.T) {
	for _, tc := range []struct {
		typ          string
		first, after []uint32 // pop order after the journaled pushes, and after the snapshot
	}{
		{"queue", []uint32{2, 3, 4, 5}, []uint32{4, 5, 6, 7}},
		{"stack", []uint32{5, 4, 3, 2}, []uint32{7, 6, 4, 3}},
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
			push := func(v uint32, flags uint64) {
				t.Helper()
				if _, err := d.t.mapElem(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Value: binary.LittleEndian.AppendUint32(nil, v), Flags: flags}); err != nil {
					t.Fatal(err)
				}
			}
			for v := range uint32(4) {
				push(v+1, proto.UpdateAny)
			}
			push(5, proto.UpdateExist) // full: drops 1
			if got := popAll(t, openQueueDaemon(t, dir), ref); !slices.Equal(got, tc.first) {
				t.Fatalf("pop order after a crash: %v, want %v", got, tc.first)
			}

			// A pop in place, unjournaled, as a program's at a hook.
			m, err := d.t.oneMap(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.m.LookupAndDelete(nil, make([]byte, 4)); err != nil {
				t.Fatal(err)
			}
			d.t.release(m)
			push(6, proto.UpdateAny)
			if err := d.t.st.snapshotAll(); err != nil {
				t.Fatal(err)
			}
			push(7, proto.UpdateExist) // journaled after the snapshot; full: drops the oldest
			if got := popAll(t, openQueueDaemon(t, dir), ref); !slices.Equal(got, tc.after) {
				t.Fatalf("pop order after a snapshot and a crash: %v, want %v", got, tc.after)
			}
			// The restarted daemon snapshotted what it restored.
			d2 := openQueueDaemon(t, dir)
			if got := popAll(t, openQueueDaemon(t, d2.t.st.dir), ref); !slices.Equal(got, tc.after) {
				t.Fatalf("pop order after two crashes: %v, want %v", got, tc.after)
			}
		})
	}
}
