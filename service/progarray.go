package service

import (
	"encoding/binary"
	"sort"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// Program arrays. map update puts a program of the map's object in a
// slot (bpftool's map update MAP key BYTES value PROG); the daemon
// remembers which program each slot holds, by name, and the manifest
// keeps the slots of a pinned program array, so OpenState fills them
// again with the programs of the object it loads again (a program array
// holds only programs of its own object).

// manSlot is a program array's slot.
type manSlot struct {
	Index uint32 `json:"index"`
	Prog  string `json:"prog"`
}

// progArrayUpdate puts the program a.ValueProg in the slot a.Key of the
// program array m and makes it durable.
func (t *table) progArrayUpdate(m *mapObj, a *proto.MapElemArgs) error {
	if m.m.Type() != xebpf.ProgramArray {
		return proto.Errorf(proto.CodeInvalid, "map %s: a program as the value of a %s map: only program arrays hold programs", m.name, m.m.Type())
	}
	if err := checkKey(m, "key", a.Key); err != nil {
		return err
	}
	if a.Flags != proto.UpdateAny {
		return proto.Errorf(proto.CodeInvalid, "map %s: program array update flags %d: want any (0)", m.name, a.Flags)
	}
	p, err := t.oneProg(*a.ValueProg)
	if err != nil {
		return err
	}
	defer t.release(p)
	return t.slotWrite(m, a.Key, p.name, func() error {
		if err := m.m.Update(a.Key, p.p, xebpf.UpdateAny); err != nil {
			return proto.Errorf(proto.CodeInvalid, "map %s: %v", m.name, err)
		}
		return nil
	})
}

// slotWrite performs apply, a change of the slot key of m to the program
// prog ("": none, or contents the daemon cannot name), when m is a
// program array, and records it (a map of maps' slots are recorded as
// they are after apply); the record is durable when slotWrite
// returns nil. The changes of a map's slots are serialized, so the
// record follows the map.
func (t *table) slotWrite(m *mapObj, key []byte, prog string, apply func() error) error {
	st := t.st
	if isMapOfMaps(m.m) {
		// The slots hold references on their maps, and the manifest
		// lists them as they are (mapofmaps.go).
		if err := apply(); err != nil {
			return err
		}
		t.mu.Lock()
		t.holdInner(m)
		t.mu.Unlock()
		return t.persist()
	}
	if st == nil || m.m.Type() != xebpf.ProgramArray || len(key) != 4 {
		return apply()
	}
	dm := st.dmFor(m)
	dm.slotMu.Lock()
	if err := apply(); err != nil {
		dm.slotMu.Unlock()
		return err
	}
	changed := st.noteSlot(m, binary.NativeEndian.Uint32(key), prog)
	dm.slotMu.Unlock()
	if !changed {
		return nil
	}
	return t.persist()
}

// noteSlot records the program (by name; "" for none) in a program
// array's slot and reports whether the record changed.
func (st *state) noteSlot(m *mapObj, idx uint32, prog string) bool {
	if st == nil {
		return false
	}
	dm := st.dmFor(m)
	st.mu.Lock()
	defer st.mu.Unlock()
	if dm.slots[idx] == prog {
		return false
	}
	if prog == "" {
		delete(dm.slots, idx)
		return true
	}
	if dm.slots == nil {
		dm.slots = map[uint32]string{}
	}
	dm.slots[idx] = prog
	return true
}

// slotList lists the slots in index order. st.mu is held.
func (dm *durMap) slotList() []manSlot {
	if len(dm.slots) == 0 {
		return nil
	}
	out := make([]manSlot, 0, len(dm.slots))
	for i, p := range dm.slots {
		out = append(out, manSlot{Index: i, Prog: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// restoreSlots fills the restored program array m with the programs
// (ps, by name) of its object.
func (st *state) restoreSlots(m *mapObj, slots []manSlot, ps map[string]*progObj) {
	for _, s := range slots {
		p := ps[s.Prog]
		if p == nil {
			st.logf("xebpf daemon: state: map %s slot %d: its object has no program %s", m.name, s.Index, s.Prog)
			continue
		}
		if err := m.m.Update(binary.NativeEndian.AppendUint32(nil, s.Index), p.p, xebpf.UpdateAny); err != nil {
			st.logf("xebpf daemon: state: map %s slot %d: %v", m.name, s.Index, err)
			continue
		}
		st.noteSlot(m, s.Index, s.Prog)
	}
}
