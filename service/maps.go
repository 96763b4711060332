package service

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// entry splits a value LookupBytes returned into the proto's shape: one
// value per CPU, each of the value size, for per-CPU maps.
func entry(m *xebpf.Map, key, val []byte) proto.Entry {
	e := proto.Entry{Key: key}
	if !m.Underlying().Type().IsPerCPU() {
		e.Value = val
		return e
	}
	size := int(m.ValueSize())
	stride := (size + 7) &^ 7
	for off := 0; off+size <= len(val); off += stride {
		e.Values = append(e.Values, val[off:off+size])
	}
	return e
}

// checkKey checks a key's length against the map's.
func checkKey(m *mapObj, what string, b []byte) error {
	if want := int(m.m.KeySize()); len(b) != want {
		return proto.Errorf(proto.CodeInvalid, "map %s: %s of %d bytes, the map's keys have %d", m.name, what, len(b), want)
	}
	return nil
}

// mapErr classifies an error of a map operation; xebpf's errors name the
// map and what failed.
func mapErr(err error) error {
	code := proto.CodeInternal
	switch {
	case errors.Is(err, xebpf.ErrKeyNotExist):
		code = proto.CodeNotFound
	case errors.Is(err, xebpf.ErrKeyExist):
		code = proto.CodeExist
	}
	return proto.Errorf(code, "%v", err)
}

func (t *table) mapDump(ref proto.Ref) (*proto.DumpMapResult, error) {
	m, err := t.oneMap(ref)
	if err != nil {
		return nil, err
	}
	defer t.release(m)
	t.mu.Lock()
	res := &proto.DumpMapResult{Info: m.info(), Entries: []proto.Entry{}}
	t.mu.Unlock()
	if m.m.KeySize() == 0 {
		return nil, proto.Errorf(proto.CodeInvalid, "map %s: a %s map has no keys to dump", m.name, res.Info.Type)
	}
	var key any // nil: the first key
	for n := uint32(0); n <= m.m.MaxEntries(); n++ {
		next, err := m.m.NextKeyBytes(key)
		if err != nil {
			return nil, mapErr(err)
		}
		if next == nil {
			t.innerIDs(m, res.Entries)
			return res, nil
		}
		val, err := m.m.LookupBytes(next)
		if err != nil {
			return nil, mapErr(err)
		}
		if val != nil { // deleted meanwhile: skip it
			res.Entries = append(res.Entries, entry(m.m, next, val))
		}
		key = next
	}
	return res, nil
}

func (t *table) mapElem(op string, a *proto.MapElemArgs) (any, error) {
	m, err := t.oneMap(a.Ref)
	if err != nil {
		return nil, err
	}
	defer t.release(m)
	switch op {
	case proto.OpMapLookup:
		if err := checkKey(m, "key", a.Key); err != nil {
			return nil, err
		}
		val, err := m.m.LookupBytes(a.Key)
		if err != nil {
			return nil, mapErr(err)
		}
		res := &proto.LookupResult{Found: val != nil, Entry: entry(m.m, a.Key, val)}
		if res.Found {
			es := []proto.Entry{res.Entry}
			t.innerIDs(m, es)
			res.Entry = es[0]
		}
		return res, nil
	case proto.OpMapPop:
		return t.mapPop(m)
	case proto.OpMapGetNext:
		var key any
		if a.Key != nil {
			if err := checkKey(m, "key", a.Key); err != nil {
				return nil, err
			}
			key = a.Key
		}
		next, err := m.m.NextKeyBytes(key)
		if err != nil {
			return nil, mapErr(err)
		}
		return &proto.NextKeyResult{Found: next != nil, Next: next}, nil
	case proto.OpMapDelete:
		if err := checkKey(m, "key", a.Key); err != nil {
			return nil, err
		}
		if err := t.slotWrite(m, a.Key, "", func() error {
			return t.st.mapWrite(m, jDelete, a.Key, nil, func() error {
				if err := m.m.Delete(a.Key); err != nil {
					return mapErr(err)
				}
				return nil
			})
		}); err != nil {
			return nil, err
		}
		return nil, nil
	case proto.OpMapUpdate:
		switch {
		case a.ValueProg != nil && a.ValueMap != nil:
			return nil, proto.Errorf(proto.CodeInvalid, "map %s: update with both a program and a map as the value", m.name)
		case a.ValueProg != nil:
			return nil, t.progArrayUpdate(m, a)
		case a.ValueMap != nil:
			return nil, t.mapOfMapsUpdate(m, a)
		case isMapOfMaps(m.m):
			return nil, proto.Errorf(proto.CodeInvalid, "map %s: a %s map's value is a map: name it (value_map)", m.name, MapTypeName(m.m.Type()))
		}
		if err := checkKey(m, "key", a.Key); err != nil {
			return nil, err
		}
		want := int(m.m.ValueSize())
		val := a.Value
		if m.m.Underlying().Type().IsPerCPU() {
			// bpftool takes one value for a per-CPU map and stores it
			// for every CPU.
			if len(val) != want {
				return nil, proto.Errorf(proto.CodeInvalid, "map %s: value of %d bytes, the map's values have %d", m.name, len(val), want)
			}
			stride := (want + 7) &^ 7
			n, _ := xebpf.PossibleCPU()
			all := make([]byte, n*stride)
			for i := range n {
				copy(all[i*stride:], val)
			}
			val = all
		} else if len(val) != want {
			return nil, proto.Errorf(proto.CodeInvalid, "map %s: value of %d bytes, the map's values have %d", m.name, len(val), want)
		}
		if a.Flags > proto.UpdateExist {
			return nil, proto.Errorf(proto.CodeInvalid, "map %s: update flags %d: want any (0), noexist (1) or exist (2)", m.name, a.Flags)
		}
		if err := t.slotWrite(m, a.Key, "", func() error {
			return t.st.mapWrite(m, jUpdate, a.Key, val, func() error {
				if err := m.m.Update(a.Key, val, xebpf.MapUpdateFlags(a.Flags)); err != nil {
					return mapErr(err)
				}
				return nil
			})
		}); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, proto.Errorf(proto.CodeInvalid, "unknown operation %q", op)
}

// mapCreate creates a map of its own and pins it (bpftool map create);
// a map of maps takes its inner template from the map a.InnerMap names.
func (t *table) mapCreate(a *proto.MapCreateArgs, hold func(any)) (*proto.MapInfo, error) {
	mt, ok := ParseMapType(a.Type)
	if !ok {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: unknown map type %q", a.Type)
	}
	tmpl, err := t.innerTemplate(a, mt)
	if err != nil {
		return nil, err
	}
	return t.mapCreateWith(a, tmpl, hold)
}

// mapCreateWith is mapCreate with the inner template of a map of maps
// given (nil for other maps): OpenState makes again the maps of maps map
// create made from the template in the manifest.
func (t *table) mapCreateWith(a *proto.MapCreateArgs, tmpl *manTemplate, hold func(any)) (*proto.MapInfo, error) {
	if err := checkPinPath(a.Path); err != nil {
		return nil, err
	}
	mt, ok := ParseMapType(a.Type)
	if !ok {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: unknown map type %q", a.Type)
	}
	if a.Name == "" {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: a map needs a name")
	}
	mo, err := t.newCreated(a, mt, tmpl)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.pin(mo, a.Path); err != nil {
		t.unref(mo)
		return nil, err
	}
	hold(mo)
	info := mo.info()
	return &info, nil
}

// mapMake makes the map a describes, unpinned (a.Path is not used), as
// map create does, with the inner template tmpl of a map of maps:
// OpenState makes again the maps map create made that are in the slots
// of maps of maps only.
func (t *table) mapMake(a *proto.MapCreateArgs, tmpl *manTemplate, hold func(any)) error {
	mt, ok := ParseMapType(a.Type)
	if !ok || a.Name == "" {
		return proto.Errorf(proto.CodeInvalid, "map create: map type %q, name %q", a.Type, a.Name)
	}
	mo, err := t.newCreated(a, mt, tmpl)
	if err != nil {
		return err
	}
	t.mu.Lock()
	hold(mo)
	t.mu.Unlock()
	return nil
}

// newCreated makes the map of a map create, with the inner template
// tmpl when it is a map of maps, and adds it to the table, with one
// reference (the caller's).
func (t *table) newCreated(a *proto.MapCreateArgs, mt xebpf.MapType, tmpl *manTemplate) (*mapObj, error) {
	spec := &xebpf.MapSpec{Name: a.Name, Type: mt, KeySize: a.KeySize, ValueSize: a.ValueSize, MaxEntries: a.MaxEntries, Flags: a.Flags}
	if tmpl != nil {
		in, err := tmpl.spec()
		if err != nil {
			return nil, err
		}
		spec.InnerMap = in
	}
	cs := &xebpf.CollectionSpec{Maps: map[string]*xebpf.MapSpec{a.Name: spec}, MapOrder: []string{a.Name}, Programs: map[string]*xebpf.ProgramSpec{}}
	coll, err := xebpf.NewCollectionWithOptions(cs, xebpf.CollectionOptions{})
	if err != nil {
		return nil, proto.Errorf(proto.CodeInvalid, "map create: %v", err)
	}
	m := coll.DetachMap(a.Name)
	coll.Close()
	if m == nil {
		return nil, fmt.Errorf("map create: the collection has no map %s", a.Name)
	}
	co := &collObj{c: coll, live: 1}
	t.st.noteCreate(co, a, tmpl)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastMap++
	mo := &mapObj{id: t.lastMap, refs: 1, coll: co, m: m, name: a.Name}
	t.maps[mo.id] = mo
	t.colls[co] = struct{}{}
	return mo, nil
}

// errEmpty is a pop from an empty queue or stack: nothing to journal.
var errEmpty = errors.New("empty map")

// mapPop takes the next value out of the queue or stack m (bpftool's map
// pop) and journals the pop when m is durable; Found is false when m is
// empty.
func (t *table) mapPop(m *mapObj) (*proto.LookupResult, error) {
	if !keyless(m.m) {
		return nil, proto.Errorf(proto.CodeInvalid, "map %s: pop from a %s map: only queues and stacks pop", m.name, MapTypeName(m.m.Type()))
	}
	val := make([]byte, m.m.ValueSize())
	err := t.st.mapWrite(m, jPop, nil, nil, func() error {
		err := m.m.LookupAndDelete(nil, val)
		if errors.Is(err, xebpf.ErrKeyNotExist) {
			return errEmpty
		}
		if err != nil {
			return mapErr(err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errEmpty):
		return &proto.LookupResult{Entry: proto.Entry{Key: []byte{}}}, nil
	case err != nil:
		return nil, err
	}
	return &proto.LookupResult{Found: true, Entry: proto.Entry{Key: []byte{}, Value: val}}, nil
}
