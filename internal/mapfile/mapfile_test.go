package mapfile

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/maps"
)

func TestDumpLoadRoundTrip(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec("../../examples/xdpfilter/xdpfilter.o")
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := map[string]kernel.MapState{
		"blocklist": {Type: "Hash", KeySize: 4, ValueSize: 8, MaxEntries: 1024, Entries: []kernel.Entry{
			{Key: []byte{10, 0, 0, 2}, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
			{Key: []byte{10, 0, 0, 1}, Value: []byte{2, 0, 0, 0, 0, 0, 0, 0}},
		}},
	}
	if err := Load(c, in); err != nil {
		t.Fatal(err)
	}
	out, err := Dump(c)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kernel.MarshalMaps(map[string]kernel.MapState{"blocklist": out["blocklist"]})
	want := `{"blocklist":{"type":"Hash","key_size":4,"value_size":8,"max_entries":1024,"entries":[{"key":"0a000001","value":"0200000000000000"},{"key":"0a000002","value":"0100000000000000"}]}}`
	if compact(got) != want {
		t.Fatalf("dump:\n got %s\nwant %s", compact(got), want)
	}
	if st := out["stats"]; len(st.Entries) != 3 || st.Type != "Array" {
		t.Fatalf("stats dump: %+v (array maps list every index)", st)
	}
	bad := map[string]kernel.MapState{"nosuch": {}}
	if err := Load(c, bad); err == nil {
		t.Fatal("loading an unknown map: no error")
	}
	wrongType := map[string]kernel.MapState{"stats": {Type: "Hash"}}
	if err := Load(c, wrongType); err == nil {
		t.Fatal("loading with the wrong type: no error")
	}
}

func compact(b []byte) string {
	out := make([]byte, 0, len(b))
	inString := false
	for _, c := range b {
		if c == '"' {
			inString = !inString
		}
		if !inString && (c == ' ' || c == '\n' || c == '\t') {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// TestPreloadReadOnly: read-only maps are frozen once the collection
// exists, so their states go into the spec; the others stay for Load.
func TestPreloadReadOnly(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec("../../elf/testdata/xdp_global.o")
	if err != nil {
		t.Fatal(err)
	}
	limit := []byte{7, 0, 0, 0}
	states := map[string]kernel.MapState{
		".rodata": {Entries: []kernel.Entry{{Key: []byte{0, 0, 0, 0}, Value: limit}}},
		".bss":    {Entries: []kernel.Entry{{Key: []byte{0, 0, 0, 0}, Value: []byte{5, 0, 0, 0}}}},
	}
	late, err := Preload(spec, states)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := late[".rodata"]; ok || len(late) != 1 {
		t.Fatalf("states left for Load: %v, want .bss only", late)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Load(c, states); !errors.Is(err, maps.ErrFrozen) {
		t.Fatalf("Load into .rodata after instantiation: %v, want ErrFrozen", err)
	}
	if err := Load(c, late); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if err := c.Maps[".rodata"].Lookup(uint32(0), got); err != nil || !bytes.Equal(got, limit) {
		t.Fatalf(".rodata = %x, %v; want the preloaded %x", got, err, limit)
	}
	bad := map[string]kernel.MapState{".rodata": {Entries: []kernel.Entry{{Key: []byte{0, 0, 0, 0}, Value: []byte{1}}}}}
	if _, err := Preload(spec, bad); err == nil {
		t.Fatal("Preload of a 1-byte value into a 4-byte .rodata: no error")
	}
	// A key past the one-element .rodata loads into the spec, and the
	// collection then refuses it with an error, not a crash.
	spec, err = xebpf.LoadCollectionSpec("../../elf/testdata/xdp_global.o")
	if err != nil {
		t.Fatal(err)
	}
	outside := map[string]kernel.MapState{".rodata": {Entries: []kernel.Entry{{Key: []byte{1, 0, 0, 0}, Value: limit}}}}
	if _, err := Preload(spec, outside); err != nil {
		t.Fatal(err)
	}
	if c, err := xebpf.NewCollection(spec); err == nil {
		c.Close()
		t.Fatal("a .rodata element past max_entries: NewCollection succeeded")
	}
}
