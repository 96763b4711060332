package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// MapState is the contents of one map, as dumped after a run or given to
// preload before one. Its JSON form is
//
//	{"type": "Hash", "key_size": 4, "value_size": 8, "max_entries": 16,
//	 "entries": [{"key": "06000000", "value": "0100000000000000"}]}
//
// with keys and values as lowercase hex strings. Per-CPU entries carry
// "values" (one hex string per possible CPU), program-array slots "program"
// (a program name) and map-in-map slots "map" (a map name). Queues and stacks
// carry "values_in_pop_order" instead of "entries", ring buffers "records".
//
// When preloading, a nil field means "leave as loaded".
type MapState struct {
	// Type is cilium/ebpf's MapType.String(): "Hash", "Array", "PerCPUArray",
	// "LRUHash", "LPMTrie", "Queue", "Stack", "RingBuf", "ProgramArray",
	// "ArrayOfMaps", "HashOfMaps", ...
	Type       string
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// Entries holds key/value pairs: sorted by key bytes for hash-like maps,
	// in index order for array-like maps (see Normalize).
	Entries []Entry
	// ValuesInPopOrder holds a queue's or stack's values, the next one to pop
	// first.
	ValuesInPopOrder [][]byte
	// Records holds a ring buffer's committed records in order.
	Records [][]byte
	// Error says why the map's contents could not be read; it is empty when
	// they could.
	Error string
}

// Entry is one key of a map with its value. Exactly one of Value, Values,
// Program and Map is meaningful: Values for per-CPU maps, Program for
// program arrays, Map for maps of maps, Value otherwise.
type Entry struct {
	Key     []byte
	Value   []byte
	Values  [][]byte
	Program string
	Map     string
}

// Map types whose JSON form differs from plain key/value entries, by their
// cilium/ebpf names.
const (
	typeQueue       = "Queue"
	typeStack       = "Stack"
	typeRingBuf     = "RingBuf"
	typeUserRingbuf = "UserRingbuf"
)

// IsArrayLike reports whether maps of the named type are indexed by a
// little-endian uint32 from 0 to max_entries-1.
func IsArrayLike(mapType string) bool {
	switch mapType {
	case "Array", "PerCPUArray", "ProgramArray", "ArrayOfMaps", "PerfEventArray",
		"CGroupArray", "DevMap", "CPUMap", "XSKMap", "SockMap", "ReusePortSockArray":
		return true
	}
	return false
}

// IsPerCPU reports whether maps of the named type hold one value per CPU.
func IsPerCPU(mapType string) bool {
	switch mapType {
	case "PerCPUHash", "PerCPUArray", "LRUCPUHash", "PerCPUCGroupStorage":
		return true
	}
	return false
}

// Normalize puts s.Entries in the canonical order: array-like maps by their
// little-endian uint32 index, all others by key bytes.
func (s *MapState) Normalize() {
	if IsArrayLike(s.Type) {
		slices.SortStableFunc(s.Entries, func(a, b Entry) int {
			return compareIndex(a.Key, b.Key)
		})
		return
	}
	slices.SortStableFunc(s.Entries, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
}

// compareIndex orders array keys by their little-endian value; keys that are
// not 4 bytes long fall back to byte order after all well-formed ones.
func compareIndex(a, b []byte) int {
	if len(a) == 4 && len(b) == 4 {
		x, y := binary.LittleEndian.Uint32(a), binary.LittleEndian.Uint32(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	if len(a) == 4 {
		return -1
	}
	if len(b) == 4 {
		return 1
	}
	return bytes.Compare(a, b)
}

// hexBytes is a byte string whose JSON form is a lowercase hex string.
type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2*len(h)+2)
	out = append(out, '"')
	out = hex.AppendEncode(out, h)
	return append(out, '"'), nil
}

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hex string: %w", err)
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hex string %.40q: %w", s, err)
	}
	*h = d
	return nil
}

type jsonEntry struct {
	Key     hexBytes    `json:"key"`
	Value   *hexBytes   `json:"value,omitempty"`
	Values  *[]hexBytes `json:"values,omitempty"`
	Program *string     `json:"program,omitempty"`
	Map     *string     `json:"map,omitempty"`
}

type jsonMapState struct {
	Type             string      `json:"type"`
	KeySize          uint32      `json:"key_size"`
	ValueSize        uint32      `json:"value_size"`
	MaxEntries       uint32      `json:"max_entries"`
	Entries          *[]Entry    `json:"entries,omitempty"`
	ValuesInPopOrder *[]hexBytes `json:"values_in_pop_order,omitempty"`
	Records          *[]hexBytes `json:"records,omitempty"`
	Error            string      `json:"error,omitempty"`
}

// errEntryKind reports an entry whose JSON form names more than one kind of
// value.
var errEntryKind = errors.New(`entry has more than one of "value", "values", "program", "map"`)

func toHexList(in [][]byte) *[]hexBytes {
	if in == nil {
		return nil
	}
	out := make([]hexBytes, len(in))
	for i, b := range in {
		out[i] = b
	}
	return &out
}

func fromHexList(in *[]hexBytes) [][]byte {
	if in == nil {
		return nil
	}
	out := make([][]byte, len(*in))
	for i, b := range *in {
		out[i] = b
	}
	return out
}

// MarshalJSON encodes e in the form described at MapState.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := jsonEntry{Key: e.Key}
	switch {
	case e.Program != "":
		j.Program = &e.Program
	case e.Map != "":
		j.Map = &e.Map
	case e.Values != nil:
		j.Values = toHexList(e.Values)
	default:
		v := hexBytes(e.Value)
		if v == nil {
			v = hexBytes{}
		}
		j.Value = &v
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form described at MapState.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j jsonEntry
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kinds := 0
	for _, set := range []bool{j.Value != nil, j.Values != nil, j.Program != nil, j.Map != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return errEntryKind
	}
	*e = Entry{Key: j.Key}
	if e.Key == nil {
		e.Key = []byte{}
	}
	switch {
	case j.Value != nil:
		e.Value = *j.Value
	case j.Values != nil:
		e.Values = fromHexList(j.Values)
	case j.Program != nil:
		e.Program = *j.Program
	case j.Map != nil:
		e.Map = *j.Map
	}
	return nil
}

// MarshalJSON encodes s in the form described at MapState. Queues and stacks
// always carry "values_in_pop_order", ring buffers "records", other maps
// "entries", even when empty (unless Error says why they could not be read).
func (s MapState) MarshalJSON() ([]byte, error) {
	j := jsonMapState{
		Type:             s.Type,
		KeySize:          s.KeySize,
		ValueSize:        s.ValueSize,
		MaxEntries:       s.MaxEntries,
		ValuesInPopOrder: toHexList(s.ValuesInPopOrder),
		Records:          toHexList(s.Records),
		Error:            s.Error,
	}
	if s.Entries != nil {
		j.Entries = &s.Entries
	}
	if s.Error == "" {
		switch s.Type {
		case typeQueue, typeStack:
			if j.ValuesInPopOrder == nil {
				j.ValuesInPopOrder = &[]hexBytes{}
			}
		case typeRingBuf, typeUserRingbuf:
			if j.Records == nil {
				j.Records = &[]hexBytes{}
			}
		default:
			if j.Entries == nil {
				j.Entries = &[]Entry{}
			}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form described at MapState. Absent fields stay
// nil, so that a preload leaves them as loaded.
func (s *MapState) UnmarshalJSON(b []byte) error {
	var j jsonMapState
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = MapState{
		Type:             j.Type,
		KeySize:          j.KeySize,
		ValueSize:        j.ValueSize,
		MaxEntries:       j.MaxEntries,
		ValuesInPopOrder: fromHexList(j.ValuesInPopOrder),
		Records:          fromHexList(j.Records),
		Error:            j.Error,
	}
	if j.Entries != nil {
		s.Entries = *j.Entries
		if s.Entries == nil {
			s.Entries = []Entry{}
		}
	}
	return nil
}

// MarshalMaps encodes a set of map states as indented JSON, maps in name
// order, ending in a newline.
func MarshalMaps(maps map[string]MapState) ([]byte, error) {
	if maps == nil {
		maps = map[string]MapState{}
	}
	out, err := json.MarshalIndent(maps, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode maps: %w", err)
	}
	return append(out, '\n'), nil
}
