package xebpf_test

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
)

// TestNewMapOfMaps: NewMap makes a map of maps from a MapSpec with an
// InnerMap template (what the daemon's map create ... inner_map does),
// whose slots take maps like the template; a map of maps without a
// template, a template on another type and a map of maps as the
// template are refused.
func TestNewMapOfMaps(t *testing.T) {
	tmpl := &xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	mom := &xebpf.MapSpec{Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	for _, tc := range []struct {
		name string
		spec *xebpf.MapSpec
		err  bool
	}{
		{"array of maps", &xebpf.MapSpec{Name: "aom", Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: tmpl}, false},
		{"hash of maps", &xebpf.MapSpec{Name: "hom", Type: xebpf.HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: tmpl}, false},
		{"no template", &xebpf.MapSpec{Name: "aom", Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2}, true},
		{"template on an array", &xebpf.MapSpec{Name: "a", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2, InnerMap: tmpl}, true},
		{"map of maps template", &xebpf.MapSpec{Name: "aom", Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: mom}, true},
		{"value size 8", &xebpf.MapSpec{Name: "aom", Type: xebpf.ArrayOfMaps, KeySize: 4, ValueSize: 8, MaxEntries: 2, InnerMap: tmpl}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := xebpf.NewMap(tc.spec)
			if tc.err {
				if err == nil {
					m.Close()
					t.Fatal("NewMap succeeded, want an error")
				}
				if !errors.Is(err, maps.ErrInvalid) {
					t.Fatalf("NewMap = %v, want maps.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in, err := xebpf.NewMap(&xebpf.MapSpec{Name: "in", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			wide, err := xebpf.NewMap(&xebpf.MapSpec{Name: "wide", Type: xebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer wide.Close()
			if err := m.Update(uint32(1), in, xebpf.UpdateAny); err != nil {
				t.Fatalf("Update with a map like the template: %v", err)
			}
			if err := m.Update(uint32(0), wide, xebpf.UpdateAny); !errors.Is(err, maps.ErrInvalid) {
				t.Fatalf("Update with a map unlike the template = %v, want maps.ErrInvalid", err)
			}
			got, err := m.Underlying().(maps.MapOfMaps).GetMap(binaryKey(1))
			if err != nil || got != in.Underlying() {
				t.Fatalf("slot 1: %v, %v; want in", got, err)
			}
		})
	}
}
