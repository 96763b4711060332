package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf/api"
)

// hashMap is Hash, PerCPUHash, LRUHash, LRUCPUHash and HashOfMaps: a
// chained hash table whose elements (key then value, like the kernel's
// htab_elem) live in one off-heap arena. Readers walk the chains without
// locks under the epoch; writers take one of a set of striped locks.
type hashMap struct {
	base
	ar      *arena
	epoch   *Epoch
	ks      int
	kstride int
	vsize   int
	vstride int
	cpus    int
	lockOff int
	seed    uint64
	mask    uint32
	heads   []atomic.Int32 // bucket -> slot+1, 0 if empty
	next    []atomic.Int32 // slot -> next slot+1
	hashes  []atomic.Uint32
	live    []atomic.Bool // slot is linked into a bucket
	locks   []paddedMutex
	lkMask  uint32
	count   atomic.Int64
	max     int64

	lru  bool
	ref  []atomic.Bool // LRU reference bits
	hand atomic.Uint64 // LRU clock hand

	objs []atomic.Pointer[objBox] // HashOfMaps inner maps
	held heldRefs                 // of objs
}

type paddedMutex struct {
	sync.Mutex
	_ [56]byte
}

// objBox is what an element of a map of maps or a program array slot
// holds besides bytes: an inner map or a program.
type objBox struct {
	inner Map
	prog  api.Program
	// release drops the reference the slot holds on inner (SetMapHeld),
	// nil if it holds none.
	release func()
}

func newHash(s0 Spec, id uint32, ep *Epoch) (*hashMap, error) {
	s := &s0
	m := &hashMap{base: base{spec: s0, id: id}, epoch: ep, ks: int(s.KeySize), vsize: int(s.ValueSize), cpus: 1,
		lockOff: s.spinLockOffset(), max: int64(s.MaxEntries)}
	m.kstride = int(roundup8(uint64(m.ks)))
	m.vstride = int(roundup8(uint64(m.vsize)))
	if s.Type.IsPerCPU() {
		m.cpus = numCPU
	}
	m.lru = s.Type == LRUHash || s.Type == LRUCPUHash
	if s.Flags&FlagZeroSeed == 0 {
		m.seed = rand.Uint64()
	}
	nslots := int(uint64(s.MaxEntries) + hashSlack(uint64(s.MaxEntries)))
	ar, err := newArena(nslots, m.kstride+m.cpus*m.vstride, ep)
	if err != nil {
		return nil, err
	}
	m.ar = ar
	nb := 1 << bits.Len32(s.MaxEntries-1) // roundup_pow_of_two
	m.mask = uint32(nb - 1)
	m.heads = make([]atomic.Int32, nb)
	m.next = make([]atomic.Int32, nslots)
	m.hashes = make([]atomic.Uint32, nslots)
	m.live = make([]atomic.Bool, nslots)
	nl := min(nb, 64)
	m.locks = make([]paddedMutex, nl)
	m.lkMask = uint32(nl - 1)
	if m.lru {
		m.ref = make([]atomic.Bool, nslots)
	}
	if s.Type == HashOfMaps {
		m.objs = make([]atomic.Pointer[objBox], nslots)
	}
	return m, nil
}

func (m *hashMap) keyOf(i int32) []byte { return m.ar.slot(i)[:m.ks] }

// valueOf returns CPU cpu's value of slot i.
func (m *hashMap) valueOf(i int32, cpu int) []byte {
	off := m.kstride + cpu*m.vstride
	return m.ar.slot(i)[off : off+m.vsize]
}

func (m *hashMap) valueAddr(i int32, cpu int) uintptr {
	return m.ar.addr(i) + uintptr(m.kstride+cpu*m.vstride)
}

func (m *hashMap) lockFor(h uint32) *paddedMutex { return &m.locks[h&m.mask&m.lkMask] }

// find returns the slot holding key, or -1. Callers are inside the epoch
// or hold the bucket lock.
func (m *hashMap) find(key []byte, h uint32) int32 {
	i := m.heads[h&m.mask].Load() - 1
	for i >= 0 {
		if m.hashes[i].Load() == h && bytes.Equal(m.keyOf(i), key) {
			return i
		}
		i = m.next[i].Load() - 1
	}
	return -1
}

// unlinkLocked removes slot i from bucket b (bucket lock held).
func (m *hashMap) unlinkLocked(b uint32, i int32) {
	nx := m.next[i].Load()
	p := &m.heads[b]
	for {
		j := p.Load() - 1
		if j < 0 {
			return
		}
		if j == i {
			p.Store(nx)
			break
		}
		p = &m.next[j]
	}
	m.live[i].Store(false)
	m.count.Add(-1)
	if m.objs != nil {
		m.held.retire(m.epoch, m.objs[i].Swap(nil))
	}
	m.ar.release(i)
}

func (m *hashMap) touch(i int32) {
	if m.lru && !m.ref[i].Load() {
		m.ref[i].Store(true)
	}
}

// lookup returns the slot of key (a key-sized slice), or -1.
func (m *hashMap) lookup(key []byte) int32 {
	i := m.find(key, hashKey(m.seed, key))
	if i >= 0 {
		m.touch(i)
	}
	return i
}

// update inserts or replaces key. val holds one value (all false: for CPU
// cpu) or NumCPU values at vstride (all true).
func (m *hashMap) update(key, val []byte, flags UpdateFlags, cpu int, all bool, inner Map, release func()) error {
	if err := m.checkFlags(flags); err != nil {
		return err
	}
	h := hashKey(m.seed, key)
	b := h & m.mask
	lk := m.lockFor(h)
	lk.Lock()
	defer lk.Unlock()
	old := m.find(key, h)
	op := flags &^ UpdateLock
	if old >= 0 && op == UpdateNoExist {
		return ErrKeyExist
	}
	if old < 0 && op == UpdateExist {
		return ErrKeyNotExist
	}
	if old >= 0 && (flags&UpdateLock != 0 || m.cpus > 1) {
		m.writeValue(old, val, cpu, all, flags&UpdateLock != 0)
		m.touch(old)
		return nil
	}
	if old < 0 && !m.reserve(lk) {
		return ErrMapFull
	}
	ns := m.ar.alloc()
	if ns < 0 && old >= 0 && !m.ar.strict { // every spare slot still in a grace period
		m.writeValue(old, val, cpu, all, false)
		if m.objs != nil {
			o := &objBox{inner: inner, release: release}
			m.held.hold(o)
			m.held.retire(m.epoch, m.objs[old].Swap(o))
		}
		m.touch(old)
		return nil
	}
	if ns < 0 {
		ns = m.ar.steal()
	}
	if ns < 0 {
		m.count.Add(-1)
		return ErrNoMemory
	}
	slot := m.ar.slot(ns)
	copy(slot, key)
	if !all && m.cpus > 1 {
		clear(slot[m.kstride:])
	}
	if m.lockOff >= 0 {
		clear(slot[m.kstride+m.lockOff : m.kstride+m.lockOff+4])
	}
	m.writeValue(ns, val, cpu, all, false)
	if m.objs != nil {
		o := &objBox{inner: inner, release: release}
		m.objs[ns].Store(o)
		m.held.hold(o)
	}
	m.hashes[ns].Store(h)
	if m.lru {
		m.ref[ns].Store(false)
	}
	m.next[ns].Store(m.heads[b].Load())
	m.live[ns].Store(true)
	m.heads[b].Store(ns + 1)
	if old >= 0 {
		m.count.Add(1) // unlinkLocked discounts the old element
		m.unlinkLocked(b, old)
	}
	return nil
}

func (m *hashMap) writeValue(i int32, val []byte, cpu int, all, lock bool) {
	if !all {
		copyValue(m.valueOf(i, cpu), val, m.lockOff, lock, m.valueAddr(i, cpu)+uintptr(m.lockOff))
		return
	}
	for c := range m.cpus {
		copyValue(m.valueOf(i, c), val[c*m.vstride:c*m.vstride+m.vsize], m.lockOff, lock, m.valueAddr(i, c)+uintptr(m.lockOff))
	}
}

// reserve counts a new element, evicting one first in LRU maps; held is
// the bucket lock the caller holds.
func (m *hashMap) reserve(held *paddedMutex) bool {
	for range 64 {
		c := m.count.Load()
		if c < m.max {
			if m.count.CompareAndSwap(c, c+1) {
				return true
			}
			continue
		}
		if !m.lru || !m.evict(held) {
			return false
		}
	}
	return false
}

// evict removes one element chosen by a CLOCK sweep (second chance for
// recently used elements), an approximation of the kernel's LRU lists.
func (m *hashMap) evict(held *paddedMutex) bool {
	n := uint64(m.ar.n)
	for range 2*n + 1 {
		i := int32(m.hand.Add(1) % n)
		if !m.live[i].Load() {
			continue
		}
		if m.ref[i].Load() {
			m.ref[i].Store(false)
			continue
		}
		h := m.hashes[i].Load()
		lk := m.lockFor(h)
		if lk != held && !lk.TryLock() {
			continue
		}
		ok := m.live[i].Load() && m.hashes[i].Load() == h
		if ok {
			m.unlinkLocked(h&m.mask, i)
		}
		if lk != held {
			lk.Unlock()
		}
		if ok {
			return true
		}
	}
	return false
}

func (m *hashMap) delete(key []byte, out []byte) error {
	h := hashKey(m.seed, key)
	lk := m.lockFor(h)
	lk.Lock()
	defer lk.Unlock()
	i := m.find(key, h)
	if i < 0 {
		return ErrKeyNotExist
	}
	if out != nil {
		m.readUser(i, out)
	}
	m.unlinkLocked(h&m.mask, i)
	return nil
}

// readUser copies slot i's value in the Go-side layout.
func (m *hashMap) readUser(i int32, out []byte) {
	for c := range m.cpus {
		readValue(out[c*m.vstride:c*m.vstride+m.vsize], m.valueOf(i, c), m.lockOff)
	}
}

// Go-side API.

func (m *hashMap) Lookup(key, valueOut []byte) error {
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	t := m.epoch.Enter()
	i := m.lookup(key)
	if i >= 0 {
		m.readUser(i, valueOut)
	}
	m.epoch.Exit(t)
	if i < 0 {
		return ErrKeyNotExist
	}
	return nil
}

func (m *hashMap) LookupAndDelete(key, valueOut []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return m.delete(key, valueOut)
}

func (m *hashMap) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	if m.objs != nil {
		return fmt.Errorf("update of %v with a value: use SetMap: %w", m.spec.Type, ErrNotSupported)
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := m.checkValue(value); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return m.update(key, value, flags, 0, m.cpus > 1, nil, nil)
}

func (m *hashMap) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return m.delete(key, nil)
}

func (m *hashMap) NextKey(key, nextOut []byte) error {
	if key != nil {
		if err := m.checkKey(key); err != nil {
			return err
		}
	}
	if len(nextOut) != m.ks {
		return fmt.Errorf("next key buffer of %d bytes, want %d: %w", len(nextOut), m.ks, ErrInvalid)
	}
	if m.closed.Load() {
		return ErrClosed
	}
	t := m.epoch.Enter()
	defer m.epoch.Exit(t)
	start := uint32(0)
	if key != nil {
		h := hashKey(m.seed, key)
		if i := m.find(key, h); i >= 0 {
			if nx := m.next[i].Load() - 1; nx >= 0 {
				copy(nextOut, m.keyOf(nx))
				return nil
			}
			start = h&m.mask + 1
		}
	}
	for b := uint64(start); b <= uint64(m.mask); b++ {
		if i := m.heads[b].Load() - 1; i >= 0 {
			copy(nextOut, m.keyOf(i))
			return nil
		}
	}
	return ErrKeyNotExist
}

// Iterate reports the entries sorted by key bytes.
func (m *hashMap) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	var es []Entry
	t := m.epoch.Enter()
	for b := range m.heads {
		for i := m.heads[b].Load() - 1; i >= 0; i = m.next[i].Load() - 1 {
			e := Entry{Key: slices.Clone(m.keyOf(i)), Value: make([]byte, m.UserValueSize())}
			m.readUser(i, e.Value)
			if m.cpus > 1 || m.spec.Type.IsPerCPU() {
				for c := range m.cpus {
					e.PerCPU = append(e.PerCPU, e.Value[c*m.vstride:c*m.vstride+m.vsize])
				}
			}
			if m.objs != nil {
				if o := m.objs[i].Load(); o != nil {
					e.Inner = o.inner
				}
			}
			es = append(es, e)
		}
	}
	m.epoch.Exit(t)
	slices.SortFunc(es, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
	for _, e := range es {
		if !yield(e) {
			break
		}
	}
	return nil
}

func (m *hashMap) Regions() []Region { return []Region{m.ar.region()} }

// Program-side API.

func (m *hashMap) LookupAddr(keyAddr uintptr) uintptr { return m.LookupAddrCPU(0, keyAddr) }

func (m *hashMap) LookupAddrCPU(cpu int, keyAddr uintptr) uintptr {
	if keyAddr == 0 {
		return 0
	}
	if m.closed.Load() {
		return 0
	}
	if m.cpus == 1 {
		cpu = 0
	} else if uint(cpu) >= uint(m.cpus) {
		return 0
	}
	i := m.lookup(bytesAt(keyAddr, m.ks))
	if i < 0 {
		return 0
	}
	return m.valueAddr(i, cpu)
}

func (m *hashMap) UpdateAddr(keyAddr, valueAddr uintptr, flags uint64) int64 {
	return m.UpdateAddrCPU(0, keyAddr, valueAddr, flags)
}

func (m *hashMap) UpdateAddrCPU(cpu int, keyAddr, valueAddr uintptr, flags uint64) int64 {
	if keyAddr == 0 || valueAddr == 0 {
		return -int64(EINVAL)
	}
	if m.closed.Load() || m.objs != nil {
		return -int64(EINVAL)
	}
	if m.cpus == 1 {
		cpu = 0
	} else if uint(cpu) >= uint(m.cpus) {
		return -int64(EINVAL)
	}
	return ret(m.update(bytesAt(keyAddr, m.ks), bytesAt(valueAddr, m.vsize), UpdateFlags(flags), cpu, false, nil, nil))
}

func (m *hashMap) DeleteAddr(keyAddr uintptr) int64 {
	if keyAddr == 0 {
		return -int64(EINVAL)
	}
	if m.closed.Load() {
		return -int64(EINVAL)
	}
	return ret(m.delete(bytesAt(keyAddr, m.ks), nil))
}

func (m *hashMap) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	// The slots' references on inner maps; a SetMapHeld racing with
	// Close is the caller's to avoid (no operation may run concurrently
	// with Close).
	for i := 0; i < len(m.objs) && m.held.any(); i++ {
		if m.objs[i].Load() != nil {
			m.held.retire(m.epoch, m.objs[i].Swap(nil))
		}
	}
	return m.ar.close()
}

// Map-in-map support (HashOfMaps).

func (m *hashMap) InnerSpec() Spec { return *cloneSpec(m.spec.InnerMap) }

func (m *hashMap) SetMap(key []byte, inner Map, flags UpdateFlags) error {
	return m.SetMapHeld(key, inner, flags, nil)
}

func (m *hashMap) SetMapHeld(key []byte, inner Map, flags UpdateFlags, release func()) error {
	if err := m.writable(); err != nil {
		return err
	}
	if m.objs == nil {
		return ErrNotSupported
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := checkInner(m.spec.InnerMap, inner); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return m.update(key, binary.NativeEndian.AppendUint32(nil, inner.ID()), flags&^UpdateLock, 0, false, inner, release)
}

func (m *hashMap) GetMap(key []byte) (Map, error) {
	if m.objs == nil {
		return nil, ErrNotSupported
	}
	if err := m.checkKey(key); err != nil {
		return nil, err
	}
	if m.closed.Load() {
		return nil, ErrClosed
	}
	t := m.epoch.Enter()
	defer m.epoch.Exit(t)
	i := m.lookup(key)
	if i < 0 {
		return nil, ErrKeyNotExist
	}
	o := m.objs[i].Load()
	if o == nil { // deleted meanwhile
		return nil, ErrKeyNotExist
	}
	return o.inner, nil
}

func (m *hashMap) LookupInner(keyAddr uintptr) Map {
	if keyAddr == 0 {
		return nil
	}
	if m.objs == nil || m.closed.Load() {
		return nil
	}
	i := m.lookup(bytesAt(keyAddr, m.ks))
	if i < 0 {
		return nil
	}
	if o := m.objs[i].Load(); o != nil { // nil: deleted meanwhile
		return o.inner
	}
	return nil
}
