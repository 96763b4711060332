package kernel

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// MapsFileError is an error in the JSON text of a maps file, at a 1-based
// line and column (counted in bytes). Its text starts with "LINE:COLUMN: ",
// so that "FILE:" before it gives the editor-friendly FILE:LINE:COLUMN.
type MapsFileError struct {
	Line, Column int
	Msg          string
}

func (e *MapsFileError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

// jsonValue is one JSON value of a maps file with where it starts.
type jsonValue struct {
	off  int64
	kind byte // '{', '[', '"', '0' (number), 'b' (true or false), 'z' (null)
	str  string
	num  json.Number
	// keys and their values for an object (in order), values of an array.
	keys    []string
	keyOffs []int64
	vals    []*jsonValue
}

func (v *jsonValue) what() string {
	switch v.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'b':
		return "true or false"
	}
	return "null"
}

// mapsDecoder turns the text of a maps file into MapStates, saying where
// in the text anything is wrong.
type mapsDecoder struct {
	data []byte
	dec  *json.Decoder
}

func (d *mapsDecoder) errAt(off int64, format string, args ...any) *MapsFileError {
	off = min(max(off, 0), int64(len(d.data)))
	line := 1 + bytes.Count(d.data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(d.data[:off], '\n')
	return &MapsFileError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// start returns the offset of the next token after off: past blanks and
// the separators the decoder consumes with it.
func (d *mapsDecoder) start(off int64) int64 {
	for off < int64(len(d.data)) && strings.IndexByte(" \t\r\n:,", d.data[off]) >= 0 {
		off++
	}
	return off
}

// value reads one JSON value.
func (d *mapsDecoder) value(depth int) (*jsonValue, error) {
	off := d.start(d.dec.InputOffset())
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(off, err)
	}
	v := &jsonValue{off: off}
	switch t := tok.(type) {
	case json.Delim:
		if t != '{' && t != '[' {
			return nil, d.errAt(off, "unexpected %q", rune(t))
		}
		if depth > 64 {
			return nil, d.errAt(off, "nested too deep")
		}
		v.kind = byte(t)
		for d.dec.More() {
			if t == '{' {
				koff := d.start(d.dec.InputOffset())
				k, err := d.dec.Token()
				if err != nil {
					return nil, d.syntax(koff, err)
				}
				key, ok := k.(string)
				if !ok {
					return nil, d.errAt(koff, "want a field name in quotes")
				}
				v.keys, v.keyOffs = append(v.keys, key), append(v.keyOffs, koff)
			}
			e, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
		}
		eoff := d.start(d.dec.InputOffset())
		if _, err := d.dec.Token(); err != nil { // the closing delimiter
			return nil, d.syntax(eoff, err)
		}
	case string:
		v.kind, v.str = '"', t
	case json.Number:
		v.kind, v.num = '0', t
	case bool:
		v.kind = 'b'
	case nil:
		v.kind = 'z'
	}
	return v, nil
}

// syntax turns a decoder error into a MapsFileError, where the decoder
// says (a *json.SyntaxError's offset) or at off.
func (d *mapsDecoder) syntax(off int64, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return d.errAt(se.Offset, "%s", se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return d.errAt(int64(len(d.data)), "unexpected end of the JSON text")
	}
	return d.errAt(off, "%v", err)
}

// UnmarshalMaps decodes the JSON form of a set of map states (see
// MapState). Errors are *MapsFileError: they give the line and column,
// the map and field, and what was wanted; a field the form does not have
// is an error.
func UnmarshalMaps(data []byte) (map[string]MapState, error) {
	d := &mapsDecoder{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	top, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if off := d.start(d.dec.InputOffset()); off < int64(len(data)) {
		return nil, d.errAt(off, "text after the maps object")
	}
	if top.kind == 'z' {
		return map[string]MapState{}, nil
	}
	if top.kind != '{' {
		return nil, d.errAt(top.off, "want an object of maps by name, have %s", top.what())
	}
	out := make(map[string]MapState, len(top.keys))
	for i, name := range top.keys {
		if _, dup := out[name]; dup {
			return nil, d.errAt(top.keyOffs[i], "map %q appears twice", name)
		}
		st, err := d.mapState(name, top.vals[i])
		if err != nil {
			return nil, err
		}
		out[name] = st
	}
	return out, nil
}

var mapStateFields = []string{"type", "key_size", "value_size", "max_entries", "entries", "values_in_pop_order", "records", "error"}

func (d *mapsDecoder) mapState(name string, v *jsonValue) (MapState, error) {
	var st MapState
	if v.kind == 'z' {
		return st, nil // null: every field absent
	}
	if v.kind != '{' {
		return st, d.errAt(v.off, "map %q: want an object, have %s", name, v.what())
	}
	where := fmt.Sprintf("map %q", name)
	for i, key := range v.keys {
		f := v.vals[i]
		if f.kind == 'z' {
			continue // null: absent
		}
		var err error
		switch key {
		case "type":
			st.Type, err = d.str(where, key, f)
		case "error":
			st.Error, err = d.str(where, key, f)
		case "key_size":
			st.KeySize, err = d.u32(where, key, f)
		case "value_size":
			st.ValueSize, err = d.u32(where, key, f)
		case "max_entries":
			st.MaxEntries, err = d.u32(where, key, f)
		case "values_in_pop_order":
			st.ValuesInPopOrder, err = d.hexList(where, key, f)
		case "records":
			st.Records, err = d.hexList(where, key, f)
		case "entries":
			st.Entries, err = d.entries(where, f)
		default:
			err = d.errAt(v.keyOffs[i], "%s: unknown field %q (a map has %s)", where, key, strings.Join(mapStateFields, ", "))
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (d *mapsDecoder) str(where, field string, v *jsonValue) (string, error) {
	if v.kind != '"' {
		return "", d.errAt(v.off, "%s: %s: want a string, have %s", where, field, v.what())
	}
	return v.str, nil
}

func (d *mapsDecoder) u32(where, field string, v *jsonValue) (uint32, error) {
	if v.kind != '0' {
		return 0, d.errAt(v.off, "%s: %s: want a number, have %s", where, field, v.what())
	}
	n, err := v.num.Int64()
	if err != nil || n < 0 || n > math.MaxUint32 {
		return 0, d.errAt(v.off, "%s: %s: want a whole number from 0 to %d, have %s", where, field, uint32(math.MaxUint32), v.num)
	}
	return uint32(n), nil
}

// hexBytes decodes a string of hex digits.
func (d *mapsDecoder) hexBytes(where, field string, v *jsonValue) ([]byte, error) {
	if v.kind != '"' {
		return nil, d.errAt(v.off, "%s: %s: want a string of hex digits, have %s", where, field, v.what())
	}
	b, err := hex.DecodeString(v.str)
	var bad hex.InvalidByteError
	switch {
	case errors.As(err, &bad):
		return nil, d.errAt(v.off, "%s: %s: %q is not hex: %q", where, field, truncate(v.str), rune(bad))
	case err != nil:
		return nil, d.errAt(v.off, "%s: %s: %q has an odd number of hex digits", where, field, truncate(v.str))
	}
	return b, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (d *mapsDecoder) hexList(where, field string, v *jsonValue) ([][]byte, error) {
	if v.kind != '[' {
		return nil, d.errAt(v.off, "%s: %s: want an array of hex strings, have %s", where, field, v.what())
	}
	out := make([][]byte, len(v.vals))
	for i, e := range v.vals {
		b, err := d.hexBytes(where, fmt.Sprintf("%s[%d]", field, i), e)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

var entryFields = []string{"key", "value", "values", "program", "map"}

func (d *mapsDecoder) entries(where string, v *jsonValue) ([]Entry, error) {
	if v.kind != '[' {
		return nil, d.errAt(v.off, "%s: entries: want an array, have %s", where, v.what())
	}
	out := make([]Entry, 0, len(v.vals))
	for i, ev := range v.vals {
		at := fmt.Sprintf("%s: entries[%d]", where, i)
		if ev.kind != '{' {
			return nil, d.errAt(ev.off, "%s: want an object, have %s", at, ev.what())
		}
		e := Entry{Key: []byte{}}
		kinds := []string{}
		hasKey := false
		for j, key := range ev.keys {
			f := ev.vals[j]
			if f.kind == 'z' {
				continue
			}
			var err error
			switch key {
			case "key":
				e.Key, err = d.hexBytes(at, key, f)
				hasKey = true
			case "value":
				e.Value, err = d.hexBytes(at, key, f)
			case "values":
				e.Values, err = d.hexList(at, key, f)
			case "program":
				e.Program, err = d.str(at, key, f)
			case "map":
				e.Map, err = d.str(at, key, f)
			default:
				err = d.errAt(ev.keyOffs[j], "%s: unknown field %q (an entry has %s)", at, key, strings.Join(entryFields, ", "))
			}
			if err != nil {
				return nil, err
			}
			if key != "key" {
				kinds = append(kinds, key)
			}
		}
		if !hasKey {
			return nil, d.errAt(ev.off, "%s: no \"key\"", at)
		}
		if len(kinds) > 1 {
			sort.Strings(kinds)
			return nil, d.errAt(ev.off, "%s: has %s: an entry has one of value, values, program and map", at, strings.Join(kinds, " and "))
		}
		if e.Value == nil && e.Values == nil && e.Program == "" && e.Map == "" && len(kinds) == 1 && kinds[0] == "value" {
			e.Value = []byte{}
		}
		out = append(out, e)
	}
	return out, nil
}
