package kernel

import (
	"errors"
	"strings"
	"testing"
)

// TestMapsFileErrorPositions checks that every error of UnmarshalMaps
// says where (line:column), which map and field, and what was wanted, in
// words rather than Go type names.
func TestMapsFileErrorPositions(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"m\": {\"key_size\": \"4\"}\n}", `2:21: map "m": key_size: want a number, have a string`},
		{`{"m": {"key_size": -1}}`, `1:20: map "m": key_size: want a whole number from 0 to 4294967295, have -1`},
		{`{"m": {"max_entries": 1.5}}`, `1:23: map "m": max_entries: want a whole number from 0 to 4294967295, have 1.5`},
		{`{"m": {"type": 7}}`, `1:16: map "m": type: want a string, have a number`},
		{"{\"m\": {\n\t\"entries\": [{\"key\": \"zz\", \"value\": \"00\"}]}}", `2:22: map "m": entries[0]: key: "zz" is not hex: 'z'`},
		{`{"m": {"entries": [{"key": "00", "value": "0"}]}}`, `1:43: map "m": entries[0]: value: "0" has an odd number of hex digits`},
		{`{"m": {"entries": [{"key": "00", "value": "00", "program": "p"}]}}`, `1:20: map "m": entries[0]: has program and value: an entry has one of value, values, program and map`},
		{`{"m": {"entries": [{"value": "00"}]}}`, `1:20: map "m": entries[0]: no "key"`},
		{`{"m": {"entries": {}}}`, `1:19: map "m": entries: want an array, have an object`},
		{`{"m": {"entries": [7]}}`, `1:20: map "m": entries[0]: want an object, have a number`},
		{`{"m": {"entries": [{"key": "00", "valeu": "00"}]}}`, `1:34: map "m": entries[0]: unknown field "valeu" (an entry has key, value, values, program, map)`},
		{`{"m": {"entires": []}}`, `1:8: map "m": unknown field "entires" (a map has type, key_size, value_size, max_entries, entries, values_in_pop_order, records, error)`},
		{`{"m": {"records": [1]}}`, `1:20: map "m": records[0]: want a string of hex digits, have a number`},
		{`{"m": {"entries": [{"key": "00", "values": ["00", true]}]}}`, `1:51: map "m": entries[0]: values[1]: want a string of hex digits, have true or false`},
		{`{"m": []}`, `1:7: map "m": want an object, have an array`},
		{`[]`, `1:1: want an object of maps by name, have an array`},
		{`{"m": {}, "m": {}}`, `1:11: map "m" appears twice`},
		{"{\"m\": {\"entries\": [", `1:20: unexpected end of the JSON text`},
		{"{\n \"m\": {\"type\" \"Hash\"}}", `2:15: invalid character '"' after object key`},
		{`{} {}`, `1:4: text after the maps object`},
	} {
		_, err := UnmarshalMaps([]byte(tc.in))
		var fe *MapsFileError
		if !errors.As(err, &fe) || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "jsonMapState") {
			t.Errorf("%s: %v names Go types", tc.in, err)
		}
	}
}

// TestMapsFileAccepts checks the forms UnmarshalMaps takes: null as
// absent, empty lists kept empty, an empty value kept as a value.
func TestMapsFileAccepts(t *testing.T) {
	maps, err := UnmarshalMaps([]byte(`{"a": {"type": "Array", "entries": null, "records": []},
		"h": {"entries": [{"key": "", "value": ""}, {"key": "01", "values": []}]}, "n": null}`))
	if err != nil {
		t.Fatal(err)
	}
	a, h := maps["a"], maps["h"]
	if a.Type != "Array" || a.Entries != nil || a.Records == nil || len(a.Records) != 0 {
		t.Errorf("a: %+v", a)
	}
	if len(h.Entries) != 2 || h.Entries[0].Value == nil || h.Entries[0].Key == nil || h.Entries[1].Values == nil {
		t.Errorf("h: %+v", h.Entries)
	}
	if n, ok := maps["n"]; !ok || n.Type != "" || n.Entries != nil {
		t.Errorf("n: %+v, %v", n, ok)
	}
	if m, err := UnmarshalMaps([]byte(" null ")); err != nil || len(m) != 0 || m == nil {
		t.Errorf("null: %v, %v", m, err)
	}
}
