package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf"
)

// TestSnapshotFormat: a snapshot decodes to what was encoded, and any
// flipped byte or cut is refused as corrupt.
func TestSnapshotFormat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seq     uint64
		entries []snapEntry
	}{
		{"empty", 0, nil},
		{"one", 7, []snapEntry{{key: []byte{1, 0, 0, 0}, val: []byte{9, 8, 7, 6, 5, 4, 3, 2}}}},
		{"several", 1 << 40, []snapEntry{{key: []byte{1}, val: []byte{2}}, {key: []byte{3, 4}, val: nil}, {key: []byte{}, val: []byte{5, 6, 7}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeSnapshot(tc.seq, tc.entries)
			seq, es, err := decodeSnapshot(b)
			if err != nil {
				t.Fatal(err)
			}
			if seq != tc.seq || len(es) != len(tc.entries) {
				t.Fatalf("got seq %d, %d entries; want %d, %d", seq, len(es), tc.seq, len(tc.entries))
			}
			for i, e := range es {
				if !bytes.Equal(e.key, tc.entries[i].key) || !bytes.Equal(e.val, tc.entries[i].val) {
					t.Errorf("entry %d: %x=%x, want %x=%x", i, e.key, e.val, tc.entries[i].key, tc.entries[i].val)
				}
			}
			for i := range b {
				c := bytes.Clone(b)
				c[i] ^= 0x40
				if _, _, err := decodeSnapshot(c); !errors.Is(err, errCorrupt) {
					t.Fatalf("byte %d flipped: err %v, want corrupt", i, err)
				}
			}
			for n := range len(b) {
				if _, _, err := decodeSnapshot(b[:n]); !errors.Is(err, errCorrupt) {
					t.Fatalf("cut at %d: err %v, want corrupt", n, err)
				}
			}
		})
	}
}

// TestJournalTornTail: a journal cut anywhere, or damaged in a record,
// yields the whole records before the damage, and opening it cuts the
// file there so that appends follow the good records.
func TestJournalTornTail(t *testing.T) {
	recs := []jRecord{
		{seq: 1, op: jUpdate, key: []byte{1, 0, 0, 0}, val: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{seq: 2, op: jDelete, key: []byte{2, 0, 0, 0}},
		{seq: 3, op: jUpdate, key: []byte{3, 0, 0, 0}, val: bytes.Repeat([]byte{0xee}, 64)},
	}
	var b []byte
	var ends []int
	for _, r := range recs {
		b = appendRecord(b, r)
		ends = append(ends, len(b))
	}
	whole := func(n int) int { // records wholly within the first n bytes
		k := 0
		for k < len(ends) && ends[k] <= n {
			k++
		}
		return k
	}
	for n := 0; n <= len(b); n++ {
		got, good := decodeJournal(b[:n])
		k := whole(n)
		if len(got) != k || (k > 0 && good != ends[k-1]) || (k == 0 && good != 0) {
			t.Fatalf("cut at %d: %d records to %d, want %d", n, len(got), good, k)
		}
		for i, r := range got {
			if r.seq != recs[i].seq || r.op != recs[i].op || !bytes.Equal(r.key, recs[i].key) || !bytes.Equal(r.val, recs[i].val) {
				t.Fatalf("cut at %d: record %d = %+v, want %+v", n, i, r, recs[i])
			}
		}
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		got, _ := decodeJournal(c)
		k := 0
		for k < len(ends) && ends[k] <= i {
			k++
		}
		if len(got) != k {
			t.Fatalf("byte %d damaged: %d records, want the %d before it", i, len(got), k)
		}
	}

	// openJournal cuts the torn tail and appends after the good records.
	p := filepath.Join(t.TempDir(), "j")
	os.WriteFile(p, b[:ends[1]+5], 0o600)
	j, got, err := openJournal(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("open: %d records, want 2", len(got))
	}
	if err := j.append(recs[2]); err != nil {
		t.Fatal(err)
	}
	j.close()
	after, _ := os.ReadFile(p)
	if !bytes.Equal(after, b) {
		t.Fatalf("after the append the journal is %x, want %x", after, b)
	}
	if got, _ := decodeJournal(after); len(got) != 3 {
		t.Fatalf("%d records after the append, want 3", len(got))
	}
}

// BenchmarkSnapshot measures a pinned map's snapshot by its entries: the
// read of the entries alone (what a map dump costs), the whole snapshot
// of a map that changed (read, encode, write, sync, rename, sync the
// directory) and of one that did not (read, encode, compare).
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{64, 1024, 65536} {
		xm, err := xebpf.NewMap(&xebpf.MapSpec{Name: "h", Type: xebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: uint32(n)})
		if err != nil {
			b.Fatal(err)
		}
		defer xm.Close()
		for i := range n {
			if err := xm.Update(uint32(i), uint64(i), xebpf.UpdateAny); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("entries=%d/read", n), func(b *testing.B) {
			for range b.N {
				if _, err := mapEntries(xm); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, changed := range []bool{true, false} {
			name := "snapshot"
			if !changed {
				name = "unchanged"
			}
			b.Run(fmt.Sprintf("entries=%d/%s", n, name), func(b *testing.B) {
				st := &state{dir: b.TempDir()}
				os.Mkdir(filepath.Join(st.dir, "maps"), 0o700)
				dm := &durMap{key: "k"}
				j, _, err := openJournal(st.mapPath("k", ".journal"))
				if err != nil {
					b.Fatal(err)
				}
				defer j.close()
				dm.j = j
				m := &mapObj{m: xm, name: "h"}
				for i := range b.N {
					if changed { // as a program's run would
						if err := xm.Update(uint32(0), uint64(i), xebpf.UpdateAny); err != nil {
							b.Fatal(err)
						}
					}
					if err := st.snapshot(m, dm); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestContentsKept: the entries of data, device, CPU, queue and stack
// maps are kept, not those of maps whose values name objects of one run,
// nor ring buffers or frozen maps.
func TestContentsKept(t *testing.T) {
	for _, tc := range []struct {
		spec   xebpf.MapSpec
		freeze bool
		want   bool
	}{
		{xebpf.MapSpec{Type: xebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}, true, false},
		{xebpf.MapSpec{Type: xebpf.DevMap, KeySize: 4, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.DevMapHash, KeySize: 4, ValueSize: 4, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.CPUMap, KeySize: 4, ValueSize: 4, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: 4}, false, false},
		{xebpf.MapSpec{Type: xebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4}, false, false},
		{xebpf.MapSpec{Type: xebpf.Queue, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.Stack, ValueSize: 8, MaxEntries: 4}, false, true},
		{xebpf.MapSpec{Type: xebpf.Queue, ValueSize: 8, MaxEntries: 4}, true, false},
		{xebpf.MapSpec{Type: xebpf.RingBuf, MaxEntries: 4096}, false, false},
	} {
		name := fmt.Sprintf("%v/frozen=%v", tc.spec.Type, tc.freeze)
		t.Run(name, func(t *testing.T) {
			tc.spec.Name = "m"
			m, err := xebpf.NewMap(&tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if tc.freeze {
				if err := m.Freeze(); err != nil {
					t.Fatal(err)
				}
			}
			if got := contentsKept(m); got != tc.want {
				t.Fatalf("contentsKept = %v, want %v", got, tc.want)
			}
		})
	}
}
