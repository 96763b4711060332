package xebpf

import (
	"fmt"

	"github.com/xebpf/xebpf/maps"
)

// setMap puts inner into slot key of a map of maps (ArrayOfMaps,
// HashOfMaps), as Linux's map update with an inner map's fd: inner must
// match the outer map's inner template (bpf_map_meta_equal) and be of the
// outer map's collection, whose lifetime keeps it (programs reach it
// without a reference of their own).
func (m *Map) setMap(key any, inner *Map, flags MapUpdateFlags) error {
	mm, ok := m.m.(maps.MapOfMaps)
	if !ok || (m.m.Type() != maps.ArrayOfMaps && m.m.Type() != maps.HashOfMaps) {
		return fmt.Errorf("map %s: a map as the value of a %s map: %w", m.name, m.Type(), ErrInvalidType)
	}
	if inner == nil {
		return fmt.Errorf("map %s: nil inner map: %w", m.name, maps.ErrInvalid)
	}
	if inner.coll != m.coll {
		return fmt.Errorf("map %s: inner map %s is of another collection: %w", m.name, inner.name, ErrMapIncompatible)
	}
	if err := inner.enter(); err != nil {
		return fmt.Errorf("map %s: inner map: %w", m.name, err)
	}
	defer inner.life.release()
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	return m.wrap(mm.SetMap(k, inner.m, flags))
}
