package service_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// kindStep is a map update (val non-nil) or delete through the daemon.
type kindStep struct{ key, val []byte }

// dumpString is a map's entries as map dump reports them.
func dumpString(t *testing.T, c interface {
	DumpMap(proto.Ref) (*proto.DumpMapResult, error)
}, ref proto.Ref) string {
	t.Helper()
	r, err := c.DumpMap(ref)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", r.Entries)
}

// TestStateNetMaps: the entries of pinned device and CPU maps (DevMap,
// with 4- and 8-byte values, DevMapHash, CPUMap) survive a crash of the
// daemon (from the journal) and a second one (from the restarted
// daemon's snapshot), so an XDP redirect through them still finds its
// target.
func TestStateNetMaps(t *testing.T) {
	for _, tc := range []struct {
		typ       string
		valueSize uint32
		steps     []kindStep
		want      string // the dump after the steps
	}{
		{"devmap", 4, []kindStep{{u32(0), u32(3)}, {u32(2), u32(7)}, {u32(3), u32(9)}, {u32(0), nil}, {u32(3), u32(0)}},
			fmt.Sprintf("%x", []proto.Entry{{Key: u32(2), Value: u32(7)}})},
		{"devmap", 8, []kindStep{{u32(1), append(u32(4), u32(0)...)}, {u32(3), append(u32(5), u32(0)...)}},
			fmt.Sprintf("%x", []proto.Entry{{Key: u32(1), Value: append(u32(4), u32(0)...)}, {Key: u32(3), Value: append(u32(5), u32(0)...)}})},
		{"devmap_hash", 4, []kindStep{{u32(100), u32(3)}, {u32(7), u32(8)}, {u32(100), nil}, {u32(42), u32(2)}},
			""},
		{"cpumap", 4, []kindStep{{u32(0), u32(192)}},
			fmt.Sprintf("%x", []proto.Entry{{Key: u32(0), Value: u32(192)}})},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.typ, tc.valueSize), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			_, sock := startDaemon(t, withState(t, dir, nil, nil, -1))
			c := dial(t, sock)
			ref := proto.Ref{Pinned: "/sys/fs/bpf/net"}
			if _, err := c.CreateMap(&proto.MapCreateArgs{Path: ref.Pinned, Type: tc.typ, Name: "net", KeySize: 4, ValueSize: tc.valueSize, MaxEntries: 4}); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				var err error
				if s.val == nil {
					err = c.Delete(ref, s.key)
				} else {
					err = c.Update(ref, s.key, s.val, 0)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			want := dumpString(t, c, ref)
			if tc.want != "" && want != tc.want {
				t.Fatalf("dump before the crash: %s, want %s", want, tc.want)
			}
			if want == "[]" {
				t.Fatal("the map is empty: the test tests nothing")
			}
			snap := crashCopy(t, dir)
			_, sock2 := startDaemon(t, withState(t, snap, nil, nil, -1))
			c2 := dial(t, sock2)
			if got := dumpString(t, c2, ref); got != want {
				t.Fatalf("dump after a crash: %s, want %s", got, want)
			}
			// The restarted daemon snapshotted what it restored: a
			// second crash restores from the snapshot.
			_, sock3 := startDaemon(t, withState(t, crashCopy(t, snap), nil, nil, -1))
			if got := dumpString(t, dial(t, sock3), ref); got != want {
				t.Fatalf("dump after a second crash: %s, want %s", got, want)
			}
		})
	}
}

// innerSlots reports what each slot of the pinned outer holds: "-"
// when empty; for slot 0, "inner1" when xdp_mim drops (the map in it has
// inner1's non-zero entry), "map" otherwise; for slot 1, "map".
func innerSlots(t *testing.T, c interface {
	Lookup(proto.Ref, []byte) (*proto.LookupResult, error)
	Run(*proto.RunArgs) (*proto.RunResult, error)
}) []string {
	t.Helper()
	var out []string
	for k := range uint32(2) {
		r, err := c.Lookup(proto.Ref{Pinned: "/sys/fs/bpf/m/outer"}, u32(k))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Found {
			out = append(out, "-")
			continue
		}
		what := "map"
		if k == 0 {
			res, err := c.Run(&proto.RunArgs{Ref: proto.Ref{Pinned: "/sys/fs/bpf/mim"}, Data: make([]byte, 60)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Retval == 1 { // XDP_DROP
				what = "inner1"
			}
		}
		out = append(out, what)
	}
	return out
}

// TestStateMapOfMaps: the slots of a pinned map of maps come back as the
// daemon left them, by inner map name (maps of the same object), after a
// crash: a slot the object fills but map delete emptied stays empty, and
// the other holds the restarted object's map of that name.
func TestStateMapOfMaps(t *testing.T) {
	obj := buildObject(t, "xdp_mim")
	dir := filepath.Join(t.TempDir(), "state")
	_, sock := startDaemon(t, withState(t, dir, nil, nil, -1))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/mim", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(proto.Ref{Pinned: "/sys/fs/bpf/m/inner1"}, u32(0), u64(5), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := innerSlots(t, c), []string{"inner1", "map"}; !slices.Equal(got, want) {
		t.Fatalf("slots as loaded: %q, want %q", got, want)
	}
	if err := c.Delete(proto.Ref{Pinned: "/sys/fs/bpf/m/outer"}, u32(1)); err != nil {
		t.Fatal(err)
	}
	want := []string{"inner1", "-"}
	if got := innerSlots(t, c); !slices.Equal(got, want) {
		t.Fatalf("slots after map delete: %q, want %q", got, want)
	}
	snap := crashCopy(t, dir)
	_, sock2 := startDaemon(t, withState(t, snap, nil, nil, -1))
	if got := innerSlots(t, dial(t, sock2)); !slices.Equal(got, want) {
		t.Fatalf("slots after a crash: %q, want %q", got, want)
	}
	// A second crash, from the restarted daemon's manifest.
	_, sock3 := startDaemon(t, withState(t, crashCopy(t, snap), nil, nil, -1))
	if got := innerSlots(t, dial(t, sock3)); !slices.Equal(got, want) {
		t.Fatalf("slots after a second crash: %q, want %q", got, want)
	}
}
