package service

import (
	"encoding/binary"

	"github.com/xebpf/xebpf"
)

// Maps of maps. The slots of an ArrayOfMaps or a HashOfMaps hold maps of
// its own object (the ones the object puts there, less those map delete
// took out). The manifest keeps the slots of a pinned one by inner map
// name, written after each change through the daemon (programs cannot
// change them), so OpenState fills them again with the maps of the object
// it loads again, and not as the object defines them.

// manInner is a slot of a map of maps.
type manInner struct {
	Key []byte `json:"key"`
	Map string `json:"map"`
}

// isMapOfMaps reports whether m is an ArrayOfMaps or a HashOfMaps.
func isMapOfMaps(m *xebpf.Map) bool {
	return m.Type() == xebpf.ArrayOfMaps || m.Type() == xebpf.HashOfMaps
}

// innerList lists the slots of the map of maps m, in key order, by the
// names of the maps of its object they hold; kept is false for other
// maps. A slot holding a map the daemon no longer has (freed: unpinned
// and released) is left out. t.mu is held.
func (t *table) innerList(m *mapObj) (slots []manInner, kept bool) {
	if !isMapOfMaps(m.m) {
		return nil, false
	}
	names := map[uint32]string{}
	for _, o := range t.maps {
		if o.coll == m.coll {
			names[o.m.Underlying().ID()] = o.name
		}
	}
	slots = []manInner{}
	for k, v := range m.m.All() {
		if len(v) != 4 {
			continue
		}
		if n, ok := names[binary.NativeEndian.Uint32(v)]; ok {
			slots = append(slots, manInner{Key: append([]byte(nil), k...), Map: n})
		}
	}
	return slots, true
}

// restoreInner empties the restored map of maps m and fills its slots
// with the maps of its object (ms, by name) the manifest names.
func (st *state) restoreInner(m *mapObj, slots []manInner, ms map[string]*mapObj) {
	var keys [][]byte
	for k := range m.m.All() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := m.m.Delete(k); err != nil {
			st.logf("xebpf daemon: state: map %s: empty slot %x: %v", m.name, k, err)
		}
	}
	for _, s := range slots {
		in := ms[s.Map]
		if in == nil {
			st.logf("xebpf daemon: state: map %s slot %x: its object has no map %s", m.name, s.Key, s.Map)
			continue
		}
		if err := m.m.Update(s.Key, in.m, xebpf.UpdateAny); err != nil {
			st.logf("xebpf daemon: state: map %s slot %x: %v", m.name, s.Key, err)
		}
	}
}
