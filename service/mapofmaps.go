package service

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// Maps of maps. The slots of an ArrayOfMaps or a HashOfMaps hold maps:
// the ones its object puts there, and those map update puts there with
// value_map (of its object, of another object, or made by map create),
// less those map delete took out. The manifest keeps the slots of a
// pinned one, written after each change through the daemon (programs
// cannot change them): a map of its own object by name, another by the
// name of its files in the state directory (the maps in the slots are
// kept as pinned maps are, see persist), so OpenState fills them again
// with the maps it loads and creates again, and not as the object
// defines them; the maps in those slots keep their contents as pinned
// maps do.

// manInner is a slot of a map of maps: Map names a map of its object,
// Ref the state files (manObject.Maps[].Key, manCreated.Key) of another.
type manInner struct {
	Key []byte `json:"key"`
	Map string `json:"map,omitempty"`
	Ref string `json:"ref,omitempty"`
}

// isMapOfMaps reports whether m is an ArrayOfMaps or a HashOfMaps.
func isMapOfMaps(m *xebpf.Map) bool {
	return m.Type() == xebpf.ArrayOfMaps || m.Type() == xebpf.HashOfMaps
}

// innerList lists the slots of the map of maps m, in key order, by the
// names of the maps of its object they hold and the state keys (keys,
// by map) of the others; kept is false for other maps. A slot holding a
// map the daemon no longer has (freed: unpinned and released), or one
// with no state files (not made through the daemon), is left out. t.mu
// is held.
func (t *table) innerList(m *mapObj, keys map[*mapObj]string) (slots []manInner, kept bool) {
	if !isMapOfMaps(m.m) {
		return nil, false
	}
	byID := t.mapsByXebpfID()
	slots = []manInner{}
	for k, v := range m.m.All() {
		if len(v) != 4 {
			continue
		}
		in := byID[binary.NativeEndian.Uint32(v)]
		switch {
		case in == nil:
		case in.coll == m.coll:
			slots = append(slots, manInner{Key: append([]byte(nil), k...), Map: in.name})
		case keys[in] != "":
			slots = append(slots, manInner{Key: append([]byte(nil), k...), Ref: keys[in]})
		}
	}
	return slots, true
}

// restoreInner empties the restored map of maps m and fills its slots
// with the maps the manifest names: of its object (ms, by name) or
// others (refs, by state key).
func (st *state) restoreInner(m *mapObj, slots []manInner, ms, refs map[string]*mapObj) {
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
		if s.Ref != "" {
			in = refs[s.Ref]
		}
		if in == nil {
			what := "its object has no map " + s.Map
			if s.Ref != "" {
				what = "the map with state files " + s.Ref + " is lost"
			}
			st.logf("xebpf daemon: state: map %s slot %x: %s", m.name, s.Key, what)
			continue
		}
		if err := m.m.Update(s.Key, in.m, xebpf.UpdateAny); err != nil {
			st.logf("xebpf daemon: state: map %s slot %x: %v", m.name, s.Key, err)
		}
	}
}

// A slot of a map of maps holds its inner map, as in Linux: the daemon
// keeps a reference on each map a slot holds (table.inner), so the map
// keeps its id, and what it holds, while it is in a slot, pinned or not.
// Programs cannot change the slots; the daemon recounts them after each
// change it makes (holdInner).

// holdInner takes a reference on each map of the daemon that a slot of
// the map of maps m holds now and drops those it took on maps no slot
// holds any more. t.mu is held.
func (t *table) holdInner(m *mapObj) {
	if !isMapOfMaps(m.m) {
		return
	}
	byID := t.mapsByXebpfID()
	var now []*mapObj
	seen := map[*mapObj]bool{}
	for _, v := range m.m.All() {
		if len(v) != 4 {
			continue
		}
		if in := byID[binary.NativeEndian.Uint32(v)]; in != nil && in != m && !seen[in] {
			seen[in] = true
			now = append(now, in)
		}
	}
	for _, in := range now {
		in.refs++
	}
	old := t.inner[m]
	if len(now) > 0 {
		if t.inner == nil {
			t.inner = map[*mapObj][]*mapObj{}
		}
		t.inner[m] = now
	} else {
		delete(t.inner, m)
	}
	for _, in := range old {
		t.unrefMap(in)
	}
}

// dropInner drops the references the slots of m held: m is freed. t.mu
// is held.
func (t *table) dropInner(m *mapObj) error {
	old := t.inner[m]
	delete(t.inner, m)
	var err error
	for _, in := range old {
		err = errors.Join(err, t.unrefMap(in))
	}
	return err
}

// mapsByXebpfID returns the maps in the table by the ids slots hold
// (xebpf's map ids, unique in the process, not the daemon's). t.mu is
// held.
func (t *table) mapsByXebpfID() map[uint32]*mapObj {
	byID := make(map[uint32]*mapObj, len(t.maps))
	for _, o := range t.maps {
		byID[o.m.Underlying().ID()] = o
	}
	return byID
}

// innerIDs rewrites the values of entries of the map of maps m, the ids
// xebpf gives its maps, to the daemon's ids of those maps (0 for a map
// the daemon does not have), as Linux reports the inner map's id.
func (t *table) innerIDs(m *mapObj, entries []proto.Entry) {
	if !isMapOfMaps(m.m) {
		return
	}
	t.mu.Lock()
	byID := t.mapsByXebpfID()
	t.mu.Unlock()
	for i, e := range entries {
		if len(e.Value) != 4 {
			continue
		}
		var id uint32
		if in := byID[binary.NativeEndian.Uint32(e.Value)]; in != nil {
			id = in.id
		}
		entries[i].Value = binary.NativeEndian.AppendUint32(nil, id)
	}
}

// mapOfMapsUpdate puts the map a.ValueMap in the slot a.Key of the map
// of maps m, with the checks Linux makes (bpf_map_meta_equal: the inner
// map matches the outer map's template in type, key and value size,
// flags and, unless the template has BPF_F_INNER_MAP, max entries). The
// inner map may be of any object, or made by map create: the slot holds
// a reference on it (holdInner).
func (t *table) mapOfMapsUpdate(m *mapObj, a *proto.MapElemArgs) error {
	if !isMapOfMaps(m.m) {
		return proto.Errorf(proto.CodeInvalid, "map %s: a map as the value of a %s map: only maps of maps (array_of_maps, hash_of_maps) hold maps", m.name, MapTypeName(m.m.Type()))
	}
	if err := checkKey(m, "key", a.Key); err != nil {
		return err
	}
	switch {
	case a.Flags > proto.UpdateExist:
		return proto.Errorf(proto.CodeInvalid, "map %s: update flags %d: want any (0), noexist (1) or exist (2)", m.name, a.Flags)
	case a.Flags != proto.UpdateAny && m.m.Type() == xebpf.ArrayOfMaps:
		return proto.Errorf(proto.CodeInvalid, "map %s: array of maps update flags %d: want any (0)", m.name, a.Flags)
	}
	in, err := t.oneMap(*a.ValueMap)
	if err != nil {
		return err
	}
	defer t.release(in)
	if err := checkInnerMap(m, in); err != nil {
		return err
	}
	return t.slotWrite(m, a.Key, "", func() error {
		if err := m.m.Update(a.Key, in.m, xebpf.MapUpdateFlags(a.Flags)); err != nil {
			return mapErr(fmt.Errorf("%w (inner map %s)", err, in.name))
		}
		return nil
	})
}

// innerFlag is BPF_F_INNER_MAP: inner maps of any max entries.
const innerFlag = 1 << 12

// checkInnerMap checks that in may go in a slot of the map of maps m,
// naming what differs.
func checkInnerMap(m, in *mapObj) error {
	bad := func(format string, args ...any) error {
		return proto.Errorf(proto.CodeInvalid, "map %s: inner map %s (id %d): %s", m.name, in.name, in.id, fmt.Sprintf(format, args...))
	}
	tmpl := m.m.Underlying().Spec().InnerMap
	if tmpl == nil {
		return bad("the map of maps has no inner map template")
	}
	s := in.m.Underlying().Spec()
	switch {
	case in == m || isMapOfMaps(in.m):
		return bad("a map of maps cannot hold a map of maps")
	case s.Type != tmpl.Type:
		return bad("type %s, the map of maps holds %s maps", MapTypeName(in.m.Type()), MapTypeName(xebpf.MapType(tmpl.Type)))
	case s.KeySize != tmpl.KeySize:
		return bad("key size %d, the map of maps' inner maps have %d", s.KeySize, tmpl.KeySize)
	case s.ValueSize != tmpl.ValueSize:
		return bad("value size %d, the map of maps' inner maps have %d", s.ValueSize, tmpl.ValueSize)
	case s.Flags&^innerFlag != tmpl.Flags&^innerFlag:
		return bad("flags %#x, the map of maps' inner maps have %#x", s.Flags&^innerFlag, tmpl.Flags&^innerFlag)
	case tmpl.Flags&innerFlag == 0 && s.MaxEntries != tmpl.MaxEntries:
		return bad("max entries %d, the map of maps' inner maps have %d", s.MaxEntries, tmpl.MaxEntries)
	}
	return nil
}
