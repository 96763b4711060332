package service

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service/proto"
)

// TestJournalCompaction: a journal past journalLimit is replaced by a
// snapshot, and a restart restores every update.
func TestJournalCompaction(t *testing.T) {
	defer func(n int64) { journalLimit = n }(journalLimit)
	journalLimit = 1 << 10
	dir := filepath.Join(t.TempDir(), "state")
	d := New()
	if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.t.mapCreate(&proto.MapCreateArgs{Path: "/sys/fs/bpf/h", Type: "hash", Name: "h", KeySize: 4, ValueSize: 8, MaxEntries: 256}, func(any) {}); err != nil {
		t.Fatal(err)
	}
	if err := d.t.persist(); err != nil {
		t.Fatal(err)
	}
	ref := proto.Ref{Pinned: "/sys/fs/bpf/h"}
	var maxJournal int64
	for i := range 500 {
		k := binary.LittleEndian.AppendUint32(nil, uint32(i%200))
		v := binary.LittleEndian.AppendUint64(nil, uint64(i))
		if _, err := d.t.mapElem(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Key: k, Value: v}); err != nil {
			t.Fatal(err)
		}
		js, _ := filepath.Glob(filepath.Join(dir, "maps", "*.journal"))
		for _, j := range js {
			if fi, err := os.Stat(j); err == nil {
				maxJournal = max(maxJournal, fi.Size())
			}
		}
	}
	if limit := journalLimit + 64; maxJournal > limit || maxJournal == 0 {
		t.Fatalf("the journal grew to %d bytes, want at most %d", maxJournal, limit)
	}
	// A second daemon on the same files, d left as a kill leaves it.
	d2 := New()
	if err := d2.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	res, err := d2.t.mapDump(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 200 {
		t.Fatalf("%d entries after the restart, want 200", len(res.Entries))
	}
	for _, e := range res.Entries {
		k := uint64(binary.LittleEndian.Uint32(e.Key))
		want := k + 400 // the last of the 500 updates that wrote k
		if k >= 100 {
			want = k + 200
		}
		if v := binary.LittleEndian.Uint64(e.Value); v != want {
			t.Fatalf("key %d = %d after the restart, want %d", k, v, want)
		}
	}
	d2.Close()
}

// TestSnapshotSkipsUnchanged: a snapshot of a map that has not changed
// since the last one writes nothing; a change writes a new file.
func TestSnapshotSkipsUnchanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d := New()
	if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.t.mapCreate(&proto.MapCreateArgs{Path: "/sys/fs/bpf/h", Type: "hash", Name: "h", KeySize: 4, ValueSize: 8, MaxEntries: 16}, func(any) {}); err != nil {
		t.Fatal(err)
	}
	if err := d.t.persist(); err != nil {
		t.Fatal(err)
	}
	snap := func() os.FileInfo {
		t.Helper()
		if err := d.t.st.snapshotAll(); err != nil {
			t.Fatal(err)
		}
		ps, _ := filepath.Glob(filepath.Join(dir, "maps", "*.snap"))
		if len(ps) != 1 {
			t.Fatalf("%d snapshots, want 1", len(ps))
		}
		fi, err := os.Stat(ps[0])
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	a := snap()
	if b := snap(); !os.SameFile(a, b) {
		t.Fatal("an unchanged map was written again")
	}
	m := d.t.pins["/sys/fs/bpf/h"].(*mapObj)
	if err := m.m.Update(uint32(1), uint64(2), 0); err != nil { // as a program would, past the journal
		t.Fatal(err)
	}
	if c := snap(); os.SameFile(a, c) {
		t.Fatal("a changed map was not written")
	}
}

// TestUpdateWaitsForSync: a durable map update is not acknowledged before
// a journal sync that started after its record was written; concurrent
// updates share syncs.
func TestUpdateWaitsForSync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d := New()
	if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.t.mapCreate(&proto.MapCreateArgs{Path: "/sys/fs/bpf/h", Type: "hash", Name: "h", KeySize: 4, ValueSize: 8, MaxEntries: 64}, func(any) {}); err != nil {
		t.Fatal(err)
	}
	if err := d.t.persist(); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 100)
	release := make(chan struct{})
	var syncs atomic.Int32
	testSyncHook = func() {
		syncs.Add(1)
		entered <- struct{}{}
		<-release
	}
	defer func() { testSyncHook = nil }()
	update := func(k uint32) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := d.t.mapElem(proto.OpMapUpdate, &proto.MapElemArgs{Ref: proto.Ref{Pinned: "/sys/fs/bpf/h"},
				Key: binary.LittleEndian.AppendUint32(nil, k), Value: make([]byte, 8)})
			done <- err
		}()
		return done
	}
	first := update(1)
	<-entered // the first update's sync is under way and blocked
	var rest []chan error
	for k := range uint32(8) {
		rest = append(rest, update(10+k))
	}
	time.Sleep(50 * time.Millisecond)
	for i, c := range append([]chan error{first}, rest...) {
		select {
		case err := <-c:
			t.Fatalf("update %d acknowledged before its sync: %v", i, err)
		default:
		}
	}
	close(release)
	for i, c := range append([]chan error{first}, rest...) {
		if err := <-c; err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	// The first sync covered only the first record; one more sync (or a
	// few, as the updates arrived) covered the 8 others.
	if n := syncs.Load(); n < 2 || n > 5 {
		t.Fatalf("%d syncs for 9 updates, want 2 to 5 (one for the first, shared by the rest)", n)
	}
}
