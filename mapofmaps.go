package xebpf

import (
	"fmt"

	"github.com/xebpf/xebpf/maps"
)

// setMap puts inner into slot key of a map of maps (ArrayOfMaps,
// HashOfMaps), as Linux's map update with an inner map's fd: inner must
// be open and match the outer map's inner template (bpf_map_meta_equal).
// The slot holds a reference on inner's memory, as Linux's slot holds
// one on the inner map: an inner map of the outer map's own collection
// lives as long as the collection does; one of another collection (a
// NewMap, another object's) keeps that collection's memory (keep) until
// the slot no longer holds it (replaced, deleted, the outer map freed)
// and every run that may have looked it up in the slot has ended (the
// maps package defers the release through the runs' epoch, as Linux
// defers the free through RCU).
func (m *Map) setMap(key any, inner *Map, flags MapUpdateFlags) error {
	mm, ok := m.m.(maps.MapOfMaps)
	if !ok || (m.m.Type() != maps.ArrayOfMaps && m.m.Type() != maps.HashOfMaps) {
		return fmt.Errorf("map %s: a map as the value of a %s map: %w", m.name, m.Type(), ErrInvalidType)
	}
	if inner == nil {
		return fmt.Errorf("map %s: nil inner map: %w", m.name, maps.ErrInvalid)
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
	// The slot holds the memory of the collection that made the inner
	// map, unless that one made the outer map too (its maps of maps are
	// emptied before its maps are freed). inner is open, so its
	// collection's life, and keep, are not freed, nor are those of the
	// collections it borrowed maps from: the reference cannot fail.
	owner := maker(inner.coll, inner.m)
	if owner == maker(m.coll, m.m) {
		return m.wrap(mm.SetMap(k, inner.m, flags))
	}
	if !owner.keep.acquire() {
		return fmt.Errorf("map %s: inner map %s: %w", m.name, inner.name, ErrClosed)
	}
	release := func() { owner.keep.release() }
	if err := mm.SetMapHeld(k, inner.m, flags, release); err != nil {
		release()
		return m.wrap(err)
	}
	return nil
}

// maker returns the collection that made map mm of collection c: c, or
// the one c borrowed it from (CollectionOptions.MapReplacements), which
// frees its memory.
func maker(c *Collection, mm maps.Map) *Collection {
	for c.borrowed[mm] != nil {
		c = c.borrowed[mm]
	}
	return c
}

// setMaps is BatchUpdate of a map of maps with inner maps as values: it
// puts each in its slot as Update does and stops at the first error.
func (m *Map) setMaps(keys any, inner []*Map, flags MapUpdateFlags) (int, error) {
	ks := m.m.KeySize()
	kb, n, err := encodeBatch(keys, ks)
	if err != nil {
		return 0, fmt.Errorf("map %s: batch keys: %w", m.name, err)
	}
	if len(inner) != n {
		return 0, fmt.Errorf("map %s: batch update: %d values for %d keys", m.name, len(inner), n)
	}
	for i := range n {
		if err := m.setMap(kb[i*ks:(i+1)*ks], inner[i], flags); err != nil {
			return i, err
		}
	}
	return n, nil
}
