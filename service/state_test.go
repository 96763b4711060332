package service_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// crashCopy copies a daemon's state directory as a crash would leave it:
// the files as they are on disk now, the daemon still running.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "state")
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return out
}

// logLines collects a daemon's log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// withState opens dir as the daemon's state, after registering hooks (if
// any).
func withState(t *testing.T, dir string, hooks *fakeHooks, log *logLines, every time.Duration) func(*service.Daemon) {
	return func(d *service.Daemon) {
		if log != nil {
			d.Logf = func(format string, args ...any) {
				log.mu.Lock()
				defer log.mu.Unlock()
				log.lines = append(log.lines, fmt.Sprintf(format, args...))
			}
		}
		if hooks != nil {
			if err := d.RegisterLinkProvider(hooks); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.OpenState(dir, &service.StateOptions{SnapshotEvery: every}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStateLinks: a pinned link comes back attached to its target through
// the provider registered before OpenState, with its program; what the
// program wrote at the hook is in the pinned maps after a periodic
// snapshot; an unpinned link does not come back; without a provider the
// link is dropped, with a log line, and the program stays.
func TestStateLinks(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	dir := filepath.Join(t.TempDir(), "state")
	hooks := &fakeHooks{attached: map[string]*fakeLink{}}
	_, sock := startDaemon(t, withState(t, dir, hooks, nil, 10*time.Millisecond))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinAllDir: "/sys/fs/bpf/xdp", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	prog := proto.Ref{Pinned: "/sys/fs/bpf/xdp/xdp_count"}
	l, err := c.Attach("xdp", prog, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PinLink(proto.Ref{ID: l.ID}, "/sys/fs/bpf/link"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach("xdp", proto.Ref{Pinned: "/sys/fs/bpf/xdp/xdp_drop"}, "eth1"); err != nil {
		t.Fatal(err)
	}
	hooks.fire(t, "eth0", 7)
	// The periodic snapshot catches what the hook's runs wrote.
	counts := proto.Ref{Pinned: "/sys/fs/bpf/m/counts"}
	var snap string
	for range 200 {
		time.Sleep(10 * time.Millisecond)
		snap = crashCopy(t, dir)
		if b, err := os.ReadFile(filepath.Join(snap, "manifest.json")); err == nil && strings.Contains(string(b), "eth0") && snapshotHas(t, snap, u64(7)) {
			break
		}
	}

	hooks2 := &fakeHooks{attached: map[string]*fakeLink{}}
	_, sock2 := startDaemon(t, withState(t, snap, hooks2, nil, -1))
	c2 := dial(t, sock2)
	hooks2.mu.Lock()
	eth0, eth1 := hooks2.attached["eth0"], hooks2.attached["eth1"]
	hooks2.mu.Unlock()
	if eth0 == nil || eth1 != nil {
		t.Fatalf("after the restart the hooks are %v, want eth0 only", hooks2.attached)
	}
	ls, err := c2.Links(proto.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c2.Programs(prog)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Target != "eth0" || ls[0].ProgID != ps[0].ID || !slices.Equal(ls[0].Pinned, []string{"/sys/fs/bpf/link"}) {
		t.Fatalf("links after the restart: %+v (program %d)", ls, ps[0].ID)
	}
	if v := lookupU64(t, c2, counts, u32(64)); v != 7 {
		t.Fatalf("counts[64] after the restart: %d, want 7", v)
	}
	hooks2.fire(t, "eth0", 3)
	if v := lookupU64(t, c2, counts, u32(64)); v != 10 {
		t.Fatalf("counts[64] after 3 more runs: %d, want 10", v)
	}

	// No provider: the link is dropped, the program stays.
	var log logLines
	_, sock3 := startDaemon(t, withState(t, crashCopy(t, snap), nil, &log, -1))
	c3 := dial(t, sock3)
	if ls, err := c3.Links(proto.Ref{}); err != nil || len(ls) != 0 {
		t.Fatalf("links without a provider: %+v, %v", ls, err)
	}
	if _, err := c3.Programs(prog); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `no "xdp" hooks`) {
		t.Fatalf("no log line on the dropped link:\n%s", log.String())
	}
}

// snapshotHas reports whether one of the map snapshots in a state
// directory holds the bytes.
func snapshotHas(t *testing.T, dir string, b []byte) bool {
	ms, _ := filepath.Glob(filepath.Join(dir, "maps", "*.snap"))
	for _, m := range ms {
		if c, err := os.ReadFile(m); err == nil && strings.Contains(string(c), string(b)) {
			return true
		}
	}
	return false
}

func lookupU64(t *testing.T, c interface {
	Lookup(proto.Ref, []byte) (*proto.LookupResult, error)
}, ref proto.Ref, key []byte) uint64 {
	t.Helper()
	r, err := c.Lookup(ref, key)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Found {
		return 0
	}
	var v uint64
	for i, b := range r.Entry.Value {
		v |= uint64(b) << (8 * i)
	}
	return v
}

// TestStatePins: every pin comes back where it was (programs pinned at
// two paths, a map create map pinned twice, an object's maps) with the
// maps' contents; what was unpinned does not, and its files are removed.
func TestStatePins(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	dir := filepath.Join(t.TempDir(), "state")
	_, sock := startDaemon(t, withState(t, dir, nil, nil, -1))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/p", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return c.PinProgram(proto.Ref{Pinned: "/sys/fs/bpf/p"}, "/sys/fs/bpf/q") },
		func() error {
			_, err := c.CreateMap(&proto.MapCreateArgs{Path: "/sys/fs/bpf/made", Type: "hash", Name: "made", KeySize: 4, ValueSize: 8, MaxEntries: 8})
			return err
		},
		func() error { return c.PinMap(proto.Ref{Pinned: "/sys/fs/bpf/made"}, "/sys/fs/bpf/dir/made2") },
		func() error { return c.Update(proto.Ref{Pinned: "/sys/fs/bpf/made"}, u32(1), u64(11), 0) },
		func() error { return c.Update(proto.Ref{Pinned: "/sys/fs/bpf/made"}, u32(2), u64(22), 0) },
		func() error { return c.Delete(proto.Ref{Pinned: "/sys/fs/bpf/made"}, u32(1)) },
		func() error { return c.Update(proto.Ref{Pinned: "/sys/fs/bpf/m/counts"}, u32(5), u64(55), 0) },
		func() error { return c.Update(proto.Ref{Pinned: "/sys/fs/bpf/m/totals"}, u32(0), u64(9), 0) },
		func() error { return c.Unpin("/sys/fs/bpf/m/totals") },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	pins := func(c interface {
		Programs(proto.Ref) ([]proto.ProgInfo, error)
		Maps(proto.Ref) ([]proto.MapInfo, error)
	}) []string {
		var out []string
		ps, _ := c.Programs(proto.Ref{})
		for _, p := range ps {
			for _, q := range p.Pinned {
				out = append(out, p.Name+" "+q)
			}
		}
		ms, _ := c.Maps(proto.Ref{})
		for _, m := range ms {
			for _, q := range m.Pinned {
				out = append(out, m.Name+" "+q)
			}
		}
		sort.Strings(out)
		return out
	}
	want := []string{"counts /sys/fs/bpf/m/counts", "made /sys/fs/bpf/dir/made2", "made /sys/fs/bpf/made", "xdp_count /sys/fs/bpf/p", "xdp_count /sys/fs/bpf/q"}
	if got := pins(c); !slices.Equal(got, want) {
		t.Fatalf("pins before: %q, want %q", got, want)
	}
	snap := crashCopy(t, dir)
	files, _ := filepath.Glob(filepath.Join(snap, "maps", "*"))
	if len(files) != 4 {
		t.Errorf("maps/ holds %d files, want a snapshot and a journal for each of the 2 pinned maps: %q", len(files), files)
	}

	_, sock2 := startDaemon(t, withState(t, snap, nil, nil, -1))
	c2 := dial(t, sock2)
	if got := pins(c2); !slices.Equal(got, want) {
		t.Fatalf("pins after the restart: %q, want %q", got, want)
	}
	for _, tc := range []struct {
		pin  string
		key  uint32
		want uint64
	}{
		{"/sys/fs/bpf/made", 1, 0},
		{"/sys/fs/bpf/dir/made2", 2, 22},
		{"/sys/fs/bpf/m/counts", 5, 55},
	} {
		if v := lookupU64(t, c2, proto.Ref{Pinned: tc.pin}, u32(tc.key)); v != tc.want {
			t.Errorf("%s[%d] after the restart: %d, want %d", tc.pin, tc.key, v, tc.want)
		}
	}
	// The program uses the unpinned totals again: it came back as the
	// object defines it, empty.
	ms, err := c2.Maps(proto.Ref{Name: "totals"})
	if err != nil || len(ms) != 1 || len(ms[0].Pinned) != 0 {
		t.Fatalf("totals after the restart: %+v, %v", ms, err)
	}
}

// TestStateCloseSnapshots: without periodic snapshots, what programs
// wrote at hooks is kept when the daemon closes (SIGTERM), and Close's
// unpinning is not recorded as unpins.
func TestStateCloseSnapshots(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	dir := filepath.Join(t.TempDir(), "state")
	hooks := &fakeHooks{attached: map[string]*fakeLink{}}
	d, sock := startDaemon(t, withState(t, dir, hooks, nil, -1))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinAllDir: "/sys/fs/bpf/xdp", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	l, err := c.Attach("xdp", proto.Ref{Pinned: "/sys/fs/bpf/xdp/xdp_count"}, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PinLink(proto.Ref{ID: l.ID}, "/sys/fs/bpf/link"); err != nil {
		t.Fatal(err)
	}
	hooks.fire(t, "eth0", 5)
	if snapshotHas(t, dir, u64(5)) {
		t.Fatal("a snapshot was taken before Close: the test tests nothing")
	}
	c.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	hooks2 := &fakeHooks{attached: map[string]*fakeLink{}}
	_, sock2 := startDaemon(t, withState(t, dir, hooks2, nil, -1))
	c2 := dial(t, sock2)
	if v := lookupU64(t, c2, proto.Ref{Pinned: "/sys/fs/bpf/m/counts"}, u32(64)); v != 5 {
		t.Fatalf("counts[64] after Close and a restart: %d, want 5", v)
	}
	if ls, err := c2.Links(proto.Ref{Pinned: "/sys/fs/bpf/link"}); err != nil || len(ls) != 1 || ls[0].Target != "eth0" {
		t.Fatalf("link after Close and a restart: %+v, %v", ls, err)
	}
}
