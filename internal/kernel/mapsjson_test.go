package kernel

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenMaps has one map of each JSON shape.
func goldenMaps() map[string]MapState {
	return map[string]MapState{
		"counts": {Type: "Hash", KeySize: 4, ValueSize: 8, MaxEntries: 64, Entries: []Entry{
			{Key: []byte{6, 0, 0, 0}, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
			{Key: []byte{17, 0, 0, 0}, Value: []byte{2, 0, 0, 0, 0, 0, 0, 0}},
		}},
		"empty": {Type: "LRUHash", KeySize: 4, ValueSize: 4, MaxEntries: 16, Entries: []Entry{}},
		".rodata": {Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1, Entries: []Entry{
			{Key: []byte{0, 0, 0, 0}, Value: []byte{0xe8, 3, 0, 0}},
		}},
		"verdicts": {Type: "PerCPUArray", KeySize: 4, ValueSize: 8, MaxEntries: 1, Entries: []Entry{
			{Key: []byte{0, 0, 0, 0}, Values: [][]byte{{1, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0}}},
		}},
		"jumps": {Type: "ProgramArray", KeySize: 4, ValueSize: 4, MaxEntries: 2, Entries: []Entry{
			{Key: []byte{0, 0, 0, 0}, Program: "zoo_tail"},
		}},
		"outer": {Type: "ArrayOfMaps", KeySize: 4, ValueSize: 4, MaxEntries: 2, Entries: []Entry{
			{Key: []byte{1, 0, 0, 0}, Map: "inner_a"},
		}},
		"fifo":   {Type: "Queue", ValueSize: 4, MaxEntries: 8, ValuesInPopOrder: [][]byte{{1, 0, 0, 0}, {2, 0, 0, 0}}},
		"lifo":   {Type: "Stack", ValueSize: 4, MaxEntries: 8, ValuesInPopOrder: [][]byte{}},
		"events": {Type: "RingBuf", MaxEntries: 4096, Records: [][]byte{{0xab, 0xcd, 1}}},
		"perf":   {Type: "PerfEventArray", KeySize: 4, ValueSize: 4, MaxEntries: 2, Error: "lookup: operation not supported"},
	}
}

func TestMapsJSONGolden(t *testing.T) {
	got, err := MarshalMaps(goldenMaps())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "maps.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("JSON differs from %s (run with -update to rewrite):\n%s", golden, got)
	}
	back, err := UnmarshalMaps(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, goldenMaps()) {
		t.Errorf("round trip changed the maps:\n got %+v\nwant %+v", back, goldenMaps())
	}
}

func TestMapsJSONPreloadLeavesAbsentFieldsNil(t *testing.T) {
	maps, err := UnmarshalMaps([]byte(`{"q": {"type": "Queue"}, "h": {"entries": [{"key": "01", "value": ""}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if q := maps["q"]; q.Entries != nil || q.ValuesInPopOrder != nil || q.Records != nil {
		t.Errorf("absent fields decoded as non-nil: %+v", q)
	}
	h := maps["h"].Entries
	if len(h) != 1 || !bytes.Equal(h[0].Key, []byte{1}) || h[0].Value == nil || len(h[0].Value) != 0 {
		t.Errorf("entries decoded as %+v", h)
	}
}

func TestMapsJSONErrors(t *testing.T) {
	for _, tc := range []struct{ desc, in string }{
		{"A key that is not hex is rejected.", `{"m": {"entries": [{"key": "zz", "value": "00"}]}}`},
		{"An odd-length hex value is rejected.", `{"m": {"entries": [{"key": "00", "value": "0"}]}}`},
		{"An entry with both value and program is rejected.", `{"m": {"entries": [{"key": "00", "value": "00", "program": "p"}]}}`},
		{"A record that is not a string is rejected.", `{"m": {"records": [1]}}`},
		{"A negative size is rejected.", `{"m": {"key_size": -1}}`},
		{"Truncated JSON is rejected.", `{"m": {"entries": [`},
	} {
		if maps, err := UnmarshalMaps([]byte(tc.in)); err == nil {
			t.Errorf("%s decoded as %+v", tc.desc, maps)
		}
	}
}

func TestNormalize(t *testing.T) {
	st := MapState{Type: "Array", Entries: []Entry{
		{Key: []byte{0, 1, 0, 0}}, {Key: []byte{2, 0, 0, 0}}, {Key: []byte{1, 0, 0, 0}},
	}}
	st.Normalize()
	want := [][]byte{{1, 0, 0, 0}, {2, 0, 0, 0}, {0, 1, 0, 0}}
	for i, e := range st.Entries {
		if !bytes.Equal(e.Key, want[i]) {
			t.Fatalf("array order %x", st.Entries)
		}
	}
	st.Type = "Hash"
	st.Normalize()
	want = [][]byte{{0, 1, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}}
	for i, e := range st.Entries {
		if !bytes.Equal(e.Key, want[i]) {
			t.Fatalf("hash order %x", st.Entries)
		}
	}
}

// FuzzUnmarshalMaps checks that decoding never panics and that whatever
// decodes survives an encode/decode round trip unchanged.
func FuzzUnmarshalMaps(f *testing.F) {
	golden, err := MarshalMaps(goldenMaps())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"m": {"entries": [{"key": "00", "values": ["00", "01"]}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		maps, err := UnmarshalMaps(data)
		if err != nil {
			if maps != nil {
				t.Fatal("error with a non-nil result")
			}
			return
		}
		enc, err := MarshalMaps(maps)
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalMaps(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		enc2, err := MarshalMaps(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
	})
}
