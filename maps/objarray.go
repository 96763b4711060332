package maps

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/xebpf/xebpf/api"
)

// MapOfMaps is implemented by ArrayOfMaps and HashOfMaps maps. Their
// elements are inner maps matching the InnerMap template; the Go-side
// Lookup reports an inner map's ID like the kernel does.
type MapOfMaps interface {
	Map
	// InnerSpec returns the template inner maps must match.
	InnerSpec() Spec
	// SetMap stores inner at key; inner must match the template (type,
	// key size, value size, flags, max entries), as the kernel requires.
	SetMap(key []byte, inner Map, flags UpdateFlags) error
	// SetMapHeld is SetMap for a slot that holds a reference on inner:
	// on success the map owns release, which it calls (through the
	// epoch's Defer, after every run that may have looked inner up in
	// the slot) once the slot no longer holds inner: replaced, deleted,
	// or the map closed. On error the caller keeps release. A nil
	// release is SetMap.
	SetMapHeld(key []byte, inner Map, flags UpdateFlags, release func()) error
	// GetMap returns the inner map at key.
	GetMap(key []byte) (Map, error)
	// LookupInner is the program-side lookup: the inner map at the key
	// stored at keyAddr, nil if absent. It does not allocate.
	LookupInner(keyAddr uintptr) Map
}

// ProgramArrayMap is implemented by ProgramArray maps, whose slots hold
// compiled programs set from Go and read by the tail-call helper.
type ProgramArrayMap interface {
	Map
	// SetProgram stores p at index idx (nil clears the slot).
	SetProgram(idx uint32, p api.Program) error
	// Program returns the program at idx, nil if the slot is empty or
	// out of range. It does not allocate.
	Program(idx uint32) api.Program
}

// checkInner checks that inner matches the template like the kernel's
// bpf_map_meta_equal.
func checkInner(tmpl *Spec, inner Map) error {
	if inner == nil {
		return fmt.Errorf("nil inner map: %w", ErrInvalid)
	}
	s := inner.Spec()
	if s.Type != tmpl.Type || s.KeySize != tmpl.KeySize || s.ValueSize != tmpl.ValueSize ||
		(s.Flags&^FlagInnerMap) != (tmpl.Flags&^FlagInnerMap) ||
		(tmpl.Flags&FlagInnerMap == 0 && s.MaxEntries != tmpl.MaxEntries) {
		return fmt.Errorf("inner map %v key %d value %d max %d flags %#x does not match template %v key %d value %d max %d flags %#x: %w",
			s.Type, s.KeySize, s.ValueSize, s.MaxEntries, s.Flags,
			tmpl.Type, tmpl.KeySize, tmpl.ValueSize, tmpl.MaxEntries, tmpl.Flags, ErrInvalid)
	}
	return nil
}

// objArray is ProgramArray and ArrayOfMaps: an array of object references.
type objArray struct {
	base
	epoch *Epoch
	held  heldRefs
	slots []atomic.Pointer[objBox]
}

func newObjArray(s0 Spec, id uint32, ep *Epoch) (*objArray, error) {
	return &objArray{base: base{spec: s0, id: id}, epoch: ep, slots: make([]atomic.Pointer[objBox], s0.MaxEntries)}, nil
}

// heldRefs counts the slots of a map of maps that hold a reference on
// their inner map (SetMapHeld), so that Close of a large map whose slots
// hold none need not look at each.
type heldRefs struct{ n atomic.Int64 }

// hold counts box o, just stored in a slot, if it holds a reference.
func (h *heldRefs) hold(o *objBox) {
	if o != nil && o.release != nil {
		h.n.Add(1)
	}
}

// retire drops the reference box o held (an inner map's, SetMapHeld),
// just taken out of its slot, once the runs in flight that may have read
// it have ended.
func (h *heldRefs) retire(ep *Epoch, o *objBox) {
	if o != nil && o.release != nil {
		h.n.Add(-1)
		ep.Defer(o.release)
	}
}

// any reports whether a slot may hold a reference.
func (h *heldRefs) any() bool { return h.n.Load() != 0 }

// Close empties the slots, dropping the references they held.
func (m *objArray) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	if !m.held.any() {
		return nil // slots without references (programs, maps of m's collection)
	}
	for i := range m.slots {
		if m.slots[i].Load() != nil { // a Swap of every slot of a large array costs
			m.held.retire(m.epoch, m.slots[i].Swap(nil))
		}
	}
	return nil
}

// get returns slot i, nil if it is empty or out of range.
func (m *objArray) get(i uint32) *objBox {
	if i >= uint32(len(m.slots)) {
		return nil
	}
	return m.slots[i].Load()
}

// set stores v (nil: clears) in slot i.
func (m *objArray) set(i uint32, v *objBox, flags UpdateFlags) error {
	if flags != UpdateAny { // like the kernel's bpf_fd_array_map_update_elem
		return ErrInvalid
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if i >= uint32(len(m.slots)) {
		return ErrMapFull
	}
	old := m.slots[i].Swap(v)
	m.held.hold(v)
	m.held.retire(m.epoch, old)
	if m.closed.Load() {
		// Close raced with the store and may have missed it.
		m.held.retire(m.epoch, m.slots[i].Swap(nil))
	}
	return nil
}

func (m *objArray) SetProgram(idx uint32, p api.Program) error {
	if err := m.writable(); err != nil {
		return err
	}
	if m.spec.Type != ProgramArray {
		return ErrNotSupported
	}
	var v *objBox
	if p != nil {
		v = &objBox{prog: p}
	}
	return m.set(idx, v, UpdateAny)
}

func (m *objArray) Program(idx uint32) api.Program {
	if m.spec.Type != ProgramArray {
		return nil
	}
	if o := m.get(idx); o != nil {
		return o.prog
	}
	return nil
}

func (m *objArray) InnerSpec() Spec { return *cloneSpec(m.spec.InnerMap) }

func (m *objArray) SetMap(key []byte, inner Map, flags UpdateFlags) error {
	return m.SetMapHeld(key, inner, flags, nil)
}

func (m *objArray) SetMapHeld(key []byte, inner Map, flags UpdateFlags, release func()) error {
	if err := m.writable(); err != nil {
		return err
	}
	if m.spec.Type != ArrayOfMaps {
		return ErrNotSupported
	}
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := checkInner(m.spec.InnerMap, inner); err != nil {
		return err
	}
	return m.set(i, &objBox{inner: inner, release: release}, flags)
}

func (m *objArray) GetMap(key []byte) (Map, error) {
	i, err := m.u32Key(key)
	if err != nil {
		return nil, err
	}
	if o := m.get(i); o != nil && m.spec.Type == ArrayOfMaps {
		return o.inner, nil
	}
	return nil, ErrKeyNotExist
}

func (m *objArray) LookupInner(keyAddr uintptr) Map {
	if keyAddr == 0 {
		return nil
	}
	if m.spec.Type != ArrayOfMaps {
		return nil
	}
	if o := m.get(binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))); o != nil {
		return o.inner
	}
	return nil
}

// Lookup reports the inner map's ID for ArrayOfMaps; program references
// of a ProgramArray cannot be read back as bytes.
func (m *objArray) Lookup(key, valueOut []byte) error {
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.spec.Type == ProgramArray {
		return fmt.Errorf("lookup in %v: %w", m.spec.Type, ErrNotSupported)
	}
	o := m.get(i)
	if o == nil {
		return ErrKeyNotExist
	}
	binary.NativeEndian.PutUint32(valueOut, o.inner.ID())
	return nil
}

func (m *objArray) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	return fmt.Errorf("update of %v with a value: use SetProgram or SetMap: %w", m.spec.Type, ErrNotSupported)
}

func (m *objArray) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if i >= uint32(len(m.slots)) {
		return ErrKeyNotExist
	}
	o := m.slots[i].Swap(nil)
	if o == nil {
		return ErrKeyNotExist
	}
	m.held.retire(m.epoch, o)
	return nil
}

func (m *objArray) DeleteAddr(keyAddr uintptr) int64 {
	if keyAddr == 0 {
		return -int64(EINVAL)
	}
	i := binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))
	if m.closed.Load() {
		return -int64(EINVAL)
	}
	if i >= uint32(len(m.slots)) {
		return -int64(ENOENT)
	}
	o := m.slots[i].Swap(nil)
	if o == nil {
		return -int64(ENOENT)
	}
	m.held.retire(m.epoch, o)
	return 0
}

func (m *objArray) NextKey(key, nextOut []byte) error { return arrayNextKey(&m.base, key, nextOut) }

// Iterate reports the occupied slots in index order; Value is the inner
// map ID for ArrayOfMaps and nil for ProgramArray.
func (m *objArray) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	for i := range m.slots {
		o := m.get(uint32(i))
		if o == nil {
			continue
		}
		e := Entry{Key: binary.NativeEndian.AppendUint32(nil, uint32(i)), Program: o.prog, Inner: o.inner}
		if o.inner != nil {
			e.Value = binary.NativeEndian.AppendUint32(nil, o.inner.ID())
		}
		if !yield(e) {
			break
		}
	}
	return nil
}
