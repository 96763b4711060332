package xebpf

import (
	"errors"
	"fmt"
	"time"

	"github.com/xebpf/xebpf/helpers"

	"github.com/xebpf/xebpf/maps"
)

// foreignInnerMaps is how many inner maps of other collections a
// collection's programs can reach at once, beside its own maps: the spare
// room of its map table.
const foreignInnerMaps = 256

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
	// The programs that look the outer map up reach inner through their
	// collection's map table: register it now, so that a table with no
	// room left is this call's error, not a NULL lookup later.
	for _, c := range []*Collection{m.coll, maker(m.coll, m.m)} {
		if err := register(c, inner.m); err != nil {
			return fmt.Errorf("map %s: inner map %s: the programs of its collection reach %d maps of other collections at most: %w", m.name, inner.name, foreignInnerMaps, err)
		}
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

// register adds inner to c's map table. The entries of inner maps freed
// are reused, and a map dropped from its last slot is freed once the runs
// that may use it have ended: a full table is retried for a while, so
// that maps replaced a moment ago can make room.
func register(c *Collection, inner maps.Map) error {
	if c.table == nil {
		return nil
	}
	deadline := time.Now().Add(registerWait)
	for {
		_, err := c.table.Add(inner)
		if !errors.Is(err, helpers.ErrTableFull) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// registerWait is how long register waits for room in a full map table.
const registerWait = 200 * time.Millisecond

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
