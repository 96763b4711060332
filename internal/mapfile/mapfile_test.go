package mapfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
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
	// A key past the one-element .rodata is out of its range.
	outside := map[string]kernel.MapState{".rodata": {Entries: []kernel.Entry{{Key: []byte{1, 0, 0, 0}, Value: limit}}}}
	if _, err := Preload(spec, outside); err == nil || err.Error() != "map .rodata: key 01000000: index 1 out of range [0, 1)" {
		t.Fatalf("Preload of .rodata index 1: %v", err)
	}
}

// mapsOnly instantiates a collection of the given maps and no programs.
func mapsOnly(t *testing.T, ms ...*xebpf.MapSpec) *xebpf.Collection {
	t.Helper()
	spec := &xebpf.CollectionSpec{Maps: map[string]*xebpf.MapSpec{}, Programs: map[string]*xebpf.ProgramSpec{}}
	for _, m := range ms {
		spec.Maps[m.Name] = m
		spec.MapOrder = append(spec.MapOrder, m.Name)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLoadPerCPUValue: one "value" for a per-CPU map goes to every CPU,
// as bpftool map update does; "values" give each CPU its own.
func TestLoadPerCPUValue(t *testing.T) {
	c := mapsOnly(t,
		&xebpf.MapSpec{Name: "pa", Type: elf.MapTypePerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
		&xebpf.MapSpec{Name: "ph", Type: elf.MapTypePerCPUHash, KeySize: 2, ValueSize: 8, MaxEntries: 4})
	err := Load(c, map[string]kernel.MapState{
		"pa": {Entries: []kernel.Entry{{Key: []byte{2, 0, 0, 0}, Value: []byte{7, 0, 0, 0}}, {Key: []byte{3, 0, 0, 0}, Values: [][]byte{{1, 0, 0, 0}}}}},
		"ph": {Entries: []kernel.Entry{{Key: []byte{1, 2}, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Dump(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    string
		key  []byte
		want []byte // every CPU's value; nil: CPU 0 only
		cpu0 []byte
	}{
		{"pa", []byte{2, 0, 0, 0}, []byte{7, 0, 0, 0}, nil},
		{"ph", []byte{1, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil},
		{"pa", []byte{3, 0, 0, 0}, nil, []byte{1, 0, 0, 0}},
	} {
		i := slices.IndexFunc(out[tc.m].Entries, func(e kernel.Entry) bool { return bytes.Equal(e.Key, tc.key) })
		if i < 0 {
			t.Fatalf("%s: no key %x", tc.m, tc.key)
		}
		vs := out[tc.m].Entries[i].Values
		if len(vs) != maps.NumCPU() {
			t.Fatalf("%s key %x: %d values for %d CPUs", tc.m, tc.key, len(vs), maps.NumCPU())
		}
		for cpu, v := range vs {
			want := tc.want
			if want == nil {
				want = make([]byte, len(v))
				if cpu == 0 {
					want = tc.cpu0
				}
			}
			if !bytes.Equal(v, want) {
				t.Errorf("%s key %x CPU %d: %x, want %x", tc.m, tc.key, cpu, v, want)
			}
		}
	}
	// A value of the wrong size is not taken for the concatenation of
	// every CPU's.
	err = Load(c, map[string]kernel.MapState{"pa": {Entries: []kernel.Entry{{Key: []byte{0, 0, 0, 0}, Value: make([]byte, 4*maps.NumCPU()+4)}}}})
	if !errors.Is(err, errValueSize) {
		t.Errorf("long per-CPU value: %v, want errValueSize", err)
	}
}

// TestLoadIndexRange: an array index past max_entries is out of range,
// not "map is full".
func TestLoadIndexRange(t *testing.T) {
	c := mapsOnly(t,
		&xebpf.MapSpec{Name: "a", Type: elf.MapTypeArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
		&xebpf.MapSpec{Name: "h", Type: elf.MapTypeHash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	for _, tc := range []struct {
		m    string
		key  byte
		want string
	}{
		{"a", 7, "map a: key 07000000: index 7 out of range [0, 4)"},
		{"a", 4, "map a: key 04000000: index 4 out of range [0, 4)"},
		{"a", 3, ""},
		{"h", 7, ""}, // a hash key is no index
	} {
		err := Load(c, map[string]kernel.MapState{tc.m: {Entries: []kernel.Entry{{Key: []byte{tc.key, 0, 0, 0}, Value: []byte{1, 0, 0, 0}}}}})
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s[%d]: %v, want %q", tc.m, tc.key, err, tc.want)
		}
	}
}
