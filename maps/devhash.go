package maps

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/xebpf/xebpf/internal/platform"
)

// devMapHash is DevMapHash: up to MaxEntries struct bpf_devmap_val values
// keyed by any 32-bit key. Like Linux it keeps roundup_pow_of_two(MaxEntries)
// buckets, a key's bucket being key & (buckets-1), each listing its keys
// newest first; NextKey walks buckets in order, so dumps come out in the
// kernel's order.
//
// A deleted element's slot may be reused at once: a program that looked
// the element up earlier in the same run may then read the new element's
// value (Linux frees it after an RCU grace period).
type devMapHash struct {
	base
	mu      sync.RWMutex // Go-side updates write, program lookups read
	mem     *platform.Memory
	buf     []byte
	addr    uintptr
	stride  int
	slot    map[uint32]uint32   // key → slot
	buckets map[uint32][]uint32 // bucket → keys, newest first
	mask    uint32              // buckets - 1
	free    []uint32
}

func newDevMapHash(s Spec, id uint32) (*devMapHash, error) {
	m := &devMapHash{base: base{spec: s, id: id}, stride: int(roundup8(uint64(s.ValueSize))),
		slot: make(map[uint32]uint32)}
	mem, err := platform.Alloc(int(s.MaxEntries) * m.stride)
	if err != nil {
		return nil, err
	}
	m.mem, m.buf, m.addr = mem, mem.Bytes(), mem.Addr()
	m.buckets = make(map[uint32][]uint32)
	m.mask = uint32(uint64(1)<<bits.Len32(s.MaxEntries-1) - 1) // roundup_pow_of_two - 1
	m.free = make([]uint32, s.MaxEntries)
	for i := range m.free {
		m.free[i] = s.MaxEntries - 1 - uint32(i)
	}
	return m, nil
}

func (m *devMapHash) bucket(k uint32) uint32 { return k & m.mask }

// sortedBuckets returns the indices of the non-empty buckets in order.
func (m *devMapHash) sortedBuckets() []uint32 {
	bs := make([]uint32, 0, len(m.buckets))
	for b := range m.buckets {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	return bs
}

func (m *devMapHash) value(s uint32) []byte {
	off := int(s) * m.stride
	return m.buf[off : off+int(m.spec.ValueSize) : off+int(m.spec.ValueSize)]
}

func (m *devMapHash) Lookup(key, valueOut []byte) error {
	k, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed.Load() {
		return ErrClosed
	}
	s, ok := m.slot[k]
	if !ok {
		return ErrKeyNotExist
	}
	copy(valueOut, m.value(s))
	return nil
}

// Update is __dev_map_hash_update_elem: BPF_EXIST does not require the
// key to exist (as in Linux), an ifindex of 0 is EINVAL (no such device),
// any other ifindex is stored.
func (m *devMapHash) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	k, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(value); err != nil {
		return err
	}
	if flags > UpdateExist {
		return fmt.Errorf("update flags %#x: %w", flags, ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	old, exists := m.slot[k]
	if exists && flags == UpdateNoExist {
		return ErrKeyExist
	}
	ifindex := binary.NativeEndian.Uint32(value)
	if ifindex == 0 {
		return fmt.Errorf("ifindex 0: %w", ErrInvalid)
	}
	if len(value) == 8 && int32(binary.NativeEndian.Uint32(value[4:])) > 0 {
		return fmt.Errorf("program fd in a %v entry: %w", m.spec.Type, ErrNotSupported)
	}
	if !exists && len(m.free) == 0 {
		return ErrMapFull
	}
	s := old
	if exists {
		m.unlink(k)
	} else {
		s = m.free[len(m.free)-1]
		m.free = m.free[:len(m.free)-1]
	}
	v := m.value(s)
	clear(v)
	binary.NativeEndian.PutUint32(v, ifindex)
	m.slot[k] = s
	b := m.bucket(k)
	m.buckets[b] = append([]uint32{k}, m.buckets[b]...)
	return nil
}

// unlink removes k from its bucket list (m.mu held).
func (m *devMapHash) unlink(k uint32) {
	b := m.bucket(k)
	l := slices.DeleteFunc(m.buckets[b], func(x uint32) bool { return x == k })
	if len(l) == 0 {
		delete(m.buckets, b)
	} else {
		m.buckets[b] = l
	}
}

func (m *devMapHash) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	k, err := m.u32Key(key)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	s, ok := m.slot[k]
	if !ok {
		return ErrKeyNotExist
	}
	delete(m.slot, k)
	m.unlink(k)
	m.free = append(m.free, s)
	return nil
}

// NextKey is dev_map_hash_get_next_key: the key after key in its bucket,
// else the first key of the next non-empty bucket; an absent key yields
// the first key.
func (m *devMapHash) NextKey(key, nextOut []byte) error {
	if key != nil {
		if err := m.checkKey(key); err != nil {
			return err
		}
	}
	if len(nextOut) != 4 {
		return fmt.Errorf("next key buffer of %d bytes, want 4: %w", len(nextOut), ErrInvalid)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed.Load() {
		return ErrClosed
	}
	var after uint64 // the first bucket to look at
	if key != nil {
		k := binary.NativeEndian.Uint32(key)
		if _, ok := m.slot[k]; ok {
			b := m.bucket(k)
			l := m.buckets[b]
			if j := slices.Index(l, k); j+1 < len(l) {
				binary.NativeEndian.PutUint32(nextOut, l[j+1])
				return nil
			}
			after = uint64(b) + 1
		}
	}
	found, best := false, uint32(0)
	for b := range m.buckets {
		if uint64(b) >= after && (!found || b < best) {
			found, best = true, b
		}
	}
	if !found {
		return ErrKeyNotExist
	}
	binary.NativeEndian.PutUint32(nextOut, m.buckets[best][0])
	return nil
}

// Iterate reports the elements in NextKey order.
func (m *devMapHash) Iterate(yield func(Entry) bool) error {
	m.mu.RLock()
	if m.closed.Load() {
		m.mu.RUnlock()
		return ErrClosed
	}
	var es []Entry
	for _, b := range m.sortedBuckets() {
		for _, k := range m.buckets[b] {
			es = append(es, Entry{Key: binary.NativeEndian.AppendUint32(nil, k), Value: append([]byte(nil), m.value(m.slot[k])...)})
		}
	}
	m.mu.RUnlock()
	for _, e := range es {
		if !yield(e) {
			break
		}
	}
	return nil
}

func (m *devMapHash) Regions() []Region {
	return []Region{{Addr: m.addr, Size: int(m.spec.MaxEntries) * m.stride, ReadOnly: true}}
}

// LookupAddr returns the read-only value of key, 0 if absent. It takes a
// read lock and does not allocate.
func (m *devMapHash) LookupAddr(keyAddr uintptr) uintptr {
	if keyAddr == 0 {
		return 0
	}
	k := binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed.Load() {
		return 0
	}
	s, ok := m.slot[k]
	if !ok {
		return 0
	}
	return m.addr + uintptr(s)*uintptr(m.stride)
}

func (m *devMapHash) LookupAddrCPU(_ int, keyAddr uintptr) uintptr { return m.LookupAddr(keyAddr) }

func (m *devMapHash) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	return m.mem.Free()
}
