package helpers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/maps"
)

// DescriptorSize is the size of the descriptor a map pointer points to.
const DescriptorSize = 64

// MaxTableMaps is the largest capacity of a MapTable.
const MaxTableMaps = 1 << 16

// ErrTableFull is returned by MapTable.Add when every slot is taken.
var ErrTableFull = errors.New("map table is full")

// MapTable gives maps the addresses programs use as map pointers (the
// values lddw src 1 and src 5 load). Each map gets a DescriptorSize-byte
// descriptor in one off-heap block, so a map pointer is a real, unique and
// stable address; helpers turn it back into the map by arithmetic.
//
// A descriptor holds, in native byte order, the map's type, key size,
// value size, max entries, flags and id as 32-bit words (offsets 0 to 20),
// then up to 15 bytes of its name, NUL-terminated, at offset 24.
//
// Add may run concurrently with helpers; Close must not.
type MapTable struct {
	mem       *platform.Memory
	base      uint64
	slots     []maps.Map
	kindSlots []*mapKinds // parallel to slots
	n         atomic.Int64
	mu        sync.Mutex                 // serialises Add
	index     sync.Map                   // maps.Map -> its pointer (uint64); read without mu
	rings     atomic.Pointer[[]ringArea] // copy-on-write, for ringbuf_submit/discard
}

// mapKinds are the kinds of the objects a map gives programs in checked
// mode: its handle (the map pointer), its values and the keys
// bpf_for_each_map_elem passes.
type mapKinds struct {
	handle, value, key, record api.Region
	// readOnly maps (BPF_F_RDONLY_PROG) are not changed by programs,
	// through value pointers or helpers.
	readOnly bool
}

func newMapKinds(m maps.Map) *mapKinds {
	s := m.Spec()
	writable := s.Flags&maps.FlagRdonlyProg == 0
	for _, r := range m.Regions() {
		writable = writable && !r.ReadOnly
	}
	k := &mapKinds{
		readOnly: s.Flags&maps.FlagRdonlyProg != 0,
		handle:   api.Region{Name: fmt.Sprintf("map %q", s.Name), Handle: true, Owner: m},
		value:    api.Region{Name: fmt.Sprintf("map %q value", s.Name), Writable: writable, Owner: m},
		key:      api.Region{Name: fmt.Sprintf("map %q key (a copy)", s.Name), Owner: m},
		record:   api.Region{Name: fmt.Sprintf("ring buffer %q record", s.Name), Writable: true, Owner: m},
	}
	if s.HasSpinLock {
		k.value.Reserved = []api.Span{{Off: uint64(s.SpinLockOffset), Len: 4}}
	}
	return k
}

// ringArea is the data area of a ring buffer in the table.
type ringArea struct {
	rb         *maps.RingBufMap
	addr, size uint64
}

// NewMapTable returns a table for up to capacity maps.
func NewMapTable(capacity int) (*MapTable, error) {
	if capacity <= 0 || capacity > MaxTableMaps {
		return nil, fmt.Errorf("map table capacity %d out of range [1, %d]", capacity, MaxTableMaps)
	}
	mem, err := platform.Alloc(capacity * DescriptorSize)
	if err != nil {
		return nil, fmt.Errorf("map table: %w", err)
	}
	return &MapTable{mem: mem, base: uint64(mem.Addr()), slots: make([]maps.Map, capacity), kindSlots: make([]*mapKinds, capacity)}, nil
}

// Add registers m and returns its map pointer. Adding a map again returns
// the same pointer.
func (t *MapTable) Add(m maps.Map) (uint64, error) {
	if m == nil {
		return 0, fmt.Errorf("add nil map: %w", maps.ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.index.Load(m); ok {
		return a.(uint64), nil
	}
	if t.mem == nil {
		return 0, fmt.Errorf("add map: %w", maps.ErrClosed)
	}
	i := int(t.n.Load())
	reuse := false
	if i == len(t.slots) {
		if i, reuse = t.closedSlot(); !reuse {
			return 0, fmt.Errorf("add map %q: %w", m.Spec().Name, ErrTableFull)
		}
	}
	d := t.mem.Bytes()[i*DescriptorSize : (i+1)*DescriptorSize]
	clear(d) // a reused slot's
	s := m.Spec()
	for j, v := range []uint32{uint32(s.Type), s.KeySize, s.ValueSize, s.MaxEntries, s.Flags, m.ID()} {
		binary.NativeEndian.PutUint32(d[4*j:], v)
	}
	copy(d[24:39], s.Name)
	t.slots[i] = m
	t.kindSlots[i] = newMapKinds(m)
	addr := t.base + uint64(i)*DescriptorSize
	t.index.Store(m, addr)
	if rb, ok := m.(*maps.RingBufMap); ok {
		var rings []ringArea
		if p := t.rings.Load(); p != nil {
			rings = append(rings, *p...)
		}
		for _, r := range rb.Regions() {
			rings = append(rings, ringArea{rb, uint64(r.Addr), uint64(r.Size)})
		}
		t.rings.Store(&rings)
	}
	if reuse {
		return addr, nil // index.Store published slots[i]
	}
	t.n.Store(int64(i + 1)) // publishes slots[i]
	return addr, nil
}

// closedSlot returns a slot of the table, full, whose map is closed, and
// forgets that map: the inner maps programs looked up in maps of maps
// come and go, and a closed one is freed, after every run that could
// hold its pointer has ended (its slots' references are dropped after
// their runs), so its pointer is free for another map. t.mu is held.
func (t *MapTable) closedSlot() (int, bool) {
	for i, m := range t.slots {
		c, ok := m.(interface{ Closed() bool })
		if !ok || !c.Closed() {
			continue
		}
		t.index.Delete(m)
		if _, ok := m.(*maps.RingBufMap); ok {
			var rings []ringArea
			for _, r := range *t.rings.Load() {
				if maps.Map(r.rb) != m {
					rings = append(rings, r)
				}
			}
			t.rings.Store(&rings)
		}
		return i, true
	}
	return 0, false
}

// Map returns the map whose pointer is addr.
func (t *MapTable) Map(addr uint64) (maps.Map, bool) {
	if t == nil || addr < t.base {
		return nil, false
	}
	off := addr - t.base
	i := off / DescriptorSize
	if off%DescriptorSize != 0 || i >= uint64(t.n.Load()) {
		return nil, false
	}
	return t.slots[i], true
}

// Handle returns the map pointer of m and the kind of its handle object,
// if m is in the table.
func (t *MapTable) Handle(m maps.Map) (uint64, *api.Region, bool) {
	a, ok := t.Addr(m)
	if !ok {
		return 0, nil, false
	}
	return a, &t.kindSlots[(a-t.base)/DescriptorSize].handle, true
}

// kindsOf returns the object kinds of the map whose pointer is addr.
func (t *MapTable) kindsOf(addr uint64) *mapKinds {
	return t.kindSlots[(addr-t.base)/DescriptorSize]
}

// ValueKind returns the kind of the value objects of m, which must be in
// the table: its name, whether programs may write values, its reserved
// bpf_spin_lock.
func (t *MapTable) ValueKind(m maps.Map) *api.Region { return &t.kinds(m).value }

// kinds returns the object kinds of m, which must be in the table.
func (t *MapTable) kinds(m maps.Map) *mapKinds {
	a, ok := t.Addr(m)
	if !ok {
		return &mapKinds{}
	}
	return t.kindsOf(a)
}

// Addr returns the map pointer of m, if m is in the table.
func (t *MapTable) Addr(m maps.Map) (uint64, bool) {
	a, ok := t.index.Load(m)
	if !ok {
		return 0, false
	}
	return a.(uint64), true
}

// Len returns the number of maps in the table.
func (t *MapTable) Len() int { return int(t.n.Load()) }

// ringFor returns the ring buffer whose data area holds the sample at
// addr: inside the area, or at its end (an empty sample whose header
// fills the area's last 8 bytes).
func (t *MapTable) ringFor(addr uint64) *maps.RingBufMap {
	p := t.rings.Load()
	if p == nil {
		return nil
	}
	for _, r := range *p {
		if addr >= r.addr && addr-r.addr < r.size {
			return r.rb
		}
	}
	for _, r := range *p {
		if addr == r.addr+r.size {
			return r.rb
		}
	}
	return nil
}

// Close frees the descriptors. Map pointers handed out earlier become
// invalid; the maps themselves are not closed.
func (t *MapTable) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mem == nil {
		return nil
	}
	t.n.Store(0)
	err := t.mem.Free()
	t.mem = nil
	return err
}
