package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzStateFiles feeds the state directory's decoders what a disk, a
// crash or another user could leave there: snapshots and journals must
// be refused or read, never crash, and what they read must encode back
// to the same bytes.
func FuzzStateFiles(f *testing.F) {
	f.Add(encodeSnapshot(3, []snapEntry{{key: []byte{1, 0, 0, 0}, val: []byte{9}}}))
	f.Add(appendRecord(appendRecord(nil, jRecord{seq: 1, op: 'u', key: []byte{1}, val: []byte{2}}), jRecord{seq: 2, op: 'd', key: []byte{1}}))
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		if seq, entries, err := decodeSnapshot(b); err == nil {
			if again := encodeSnapshot(seq, entries); !bytes.Equal(again, b) {
				t.Fatalf("snapshot %x decodes, and encodes back to %x", b, again)
			}
		}
		recs, good := decodeJournal(b)
		if good < 0 || good > len(b) {
			t.Fatalf("journal: %d good bytes of %d", good, len(b))
		}
		var again []byte
		for _, r := range recs {
			again = appendRecord(again, r)
		}
		if !bytes.Equal(again, b[:good]) {
			t.Fatalf("journal %x: the %d good bytes encode back to %x", b[:good], good, again)
		}
	})
}

// FuzzManifest starts a daemon on a state directory whose manifest is
// arbitrary bytes: OpenState must refuse it or restore what it can,
// without a crash.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"objects":[{"hash":"00","programs":[{"name":"x","pin":"/sys/fs/bpf/x"}]}]}`))
	f.Add([]byte(`{"maps":[{"key":"../../etc","pin":"/sys/fs/bpf/m"}],"ports":[{"dev":"lo"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, manifestName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		d := New()
		d.Logf = func(string, ...any) {}
		if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err == nil {
			if err := d.Close(); err != nil {
				t.Logf("close: %v", err)
			}
		}
	})
}

// TestManifestNamesStayInside gives the daemon a manifest whose map file
// name and object name climb out of the state directory: it must neither
// read nor write outside it.
func TestManifestNamesStayInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	man := `{"version":1,
	 "objects":[{"hash":"../../outside","progs":[],"maps":[]}],
	 "created":[{"args":{"type":"hash","key_size":4,"value_size":4,"max_entries":4,"name":"m"},"pins":["/sys/fs/bpf/m"],"key":"../../outside"}]}`
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(man), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := New()
	d.Logf = func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }
	if err := d.OpenState(dir, &StateOptions{SnapshotEvery: -1}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"outside", "outside.snap", "outside.journal"} {
		if _, err := os.Stat(filepath.Join(root, name)); err == nil {
			t.Errorf("the daemon wrote %s, outside its state directory", name)
		}
	}
	if !strings.Contains(logs.String(), "not a SHA-256 name") || !strings.Contains(logs.String(), "is not one of the daemon's") {
		t.Errorf("no word of the bad names in the log:\n%s", logs.String())
	}
}
