package xebpf_test

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
)

// TestMapUpdateInnerMap: Map.Update with a *Map value puts a map that
// matches the inner template, of the same collection or another (NewMap),
// into a map of maps, with the flags' semantics of each type; other maps,
// closed maps and maps that are not maps of maps are refused.
func TestMapUpdateInnerMap(t *testing.T) {
	inner := &xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	spec := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{}, Maps: map[string]*xebpf.MapSpec{
		"aom":    {Name: "aom", Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner},
		"hom":    {Name: "hom", Type: xebpf.HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner},
		"in1":    {Name: "in1", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2},
		"in2":    {Name: "in2", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2},
		"closed": {Name: "closed", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2},
		"wide":   {Name: "wide", Type: xebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 2},
	}, MapOrder: []string{"aom", "hom", "in1", "in2", "closed", "wide"}}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := xebpf.NewMap(&xebpf.MapSpec{Name: "other", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := c.Maps["closed"].Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		outer, inner *xebpf.Map
		key          uint32
		flags        xebpf.MapUpdateFlags
		err          error // nil: the slot then holds inner
	}{
		{"array", c.Maps["aom"], c.Maps["in1"], 1, xebpf.UpdateAny, nil},
		{"array replace", c.Maps["aom"], c.Maps["in2"], 1, xebpf.UpdateAny, nil},
		{"array noexist", c.Maps["aom"], c.Maps["in1"], 0, xebpf.UpdateNoExist, maps.ErrInvalid},
		{"array out of range", c.Maps["aom"], c.Maps["in1"], 2, xebpf.UpdateAny, maps.ErrMapFull},
		{"hash", c.Maps["hom"], c.Maps["in1"], 7, xebpf.UpdateNoExist, nil},
		{"hash exists", c.Maps["hom"], c.Maps["in2"], 7, xebpf.UpdateNoExist, xebpf.ErrKeyExist},
		{"hash exist", c.Maps["hom"], c.Maps["in2"], 7, xebpf.UpdateExist, nil},
		{"template mismatch", c.Maps["aom"], c.Maps["wide"], 0, xebpf.UpdateAny, maps.ErrInvalid},
		{"other collection", c.Maps["aom"], other, 0, xebpf.UpdateAny, nil},
		{"other collection in a hash", c.Maps["hom"], other, 8, xebpf.UpdateAny, nil},
		{"closed inner", c.Maps["aom"], c.Maps["closed"], 0, xebpf.UpdateAny, xebpf.ErrClosed},
		{"nil inner", c.Maps["aom"], nil, 0, xebpf.UpdateAny, maps.ErrInvalid},
		{"not a map of maps", c.Maps["in1"], c.Maps["in2"], 0, xebpf.UpdateAny, xebpf.ErrInvalidType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inner any = tc.inner
			if tc.inner == nil {
				inner = (*xebpf.Map)(nil)
			}
			err := tc.outer.Update(tc.key, inner, tc.flags)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Update = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mm := tc.outer.Underlying().(maps.MapOfMaps)
			got, err := mm.GetMap(binaryKey(tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.inner.Underlying() {
				t.Fatalf("slot %d holds map %d, want %s's (%d)", tc.key, got.ID(), tc.inner.Name(), tc.inner.Underlying().ID())
			}
		})
	}
}

// binaryKey is a 4-byte key in native byte order.
func binaryKey(k uint32) []byte {
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(k), byte(k>>8), byte(k>>16), byte(k>>24)
	return b[:]
}
