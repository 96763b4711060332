package service

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// Maps of maps made by map create (bpftool's map create ... inner_map
// MAP). As in Linux (bpf_map_meta_alloc), the inner map only lends its
// type, key and value sizes, max entries and flags to the new map of
// maps' template: the template is a copy, so the manifest keeps it
// (manCreated.Template) and not a reference to the inner map, which may
// be gone by the next start. The slots of a pinned one are kept as those
// of an object's maps of maps are (mapofmaps.go).

// manTemplate is the inner template of a map of maps map create made.
type manTemplate struct {
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	Flags      uint32 `json:"flags,omitempty"`
}

// spec returns the template as the InnerMap of a MapSpec.
func (m *manTemplate) spec() (*xebpf.MapSpec, error) {
	mt, ok := ParseMapType(m.Type)
	if !ok {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: inner map template of unknown type %q", m.Type)
	}
	return &xebpf.MapSpec{Type: mt, KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, Flags: m.Flags}, nil
}

// innerTemplate returns the inner template of the map of maps a
// creates, copied from the map a.InnerMap names, and nil for another
// type. A map of maps needs an inner map, other types take none, and
// the inner map cannot be a map of maps itself.
func (t *table) innerTemplate(a *proto.MapCreateArgs, mt xebpf.MapType) (*manTemplate, error) {
	mom := mt == xebpf.ArrayOfMaps || mt == xebpf.HashOfMaps
	switch {
	case !mom && a.InnerMap != nil:
		return nil, proto.Errorf(proto.CodeInvalid, "map create: inner_map given for type %s: only maps of maps (array_of_maps, hash_of_maps) take one", MapTypeName(mt))
	case !mom:
		return nil, nil
	case a.InnerMap == nil:
		return nil, proto.Errorf(proto.CodeInvalid, "map create: type %s needs inner_map, the map its inner maps are like", MapTypeName(mt))
	}
	in, err := t.oneMap(*a.InnerMap)
	if err != nil {
		var pe *proto.Error
		if errors.As(err, &pe) {
			return nil, proto.Errorf(pe.Code, "map create: inner_map: %s", pe.Message)
		}
		return nil, fmt.Errorf("map create: inner_map: %w", err)
	}
	defer t.release(in)
	if isMapOfMaps(in.m) {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: inner_map %s (id %d) is of type %s: a map of maps cannot hold maps of maps", in.name, in.id, MapTypeName(in.m.Type()))
	}
	s := in.m.Underlying().Spec()
	return &manTemplate{Type: MapTypeName(xebpf.MapType(s.Type)), KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries, Flags: s.Flags}, nil
}
