package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// lpmMap is LPMTrie: longest-prefix-match lookups over keys made of a
// 32-bit prefix length and up to 256 bytes of data. Elements (key then
// value) live in an arena; an index by masked prefix and the list of
// prefix lengths in use make a lookup one probe per distinct length.
type lpmMap struct {
	base
	ar      *arena
	ks      int
	dsize   int
	kstride int
	vsize   int
	maxLen  uint32

	mu     sync.RWMutex
	index  map[string]int32 // canonical key -> slot
	lens   []uint32         // distinct prefix lengths in use, longest first
	lenCnt map[uint32]int
	order  []int32 // slots in the kernel's get_next_key (postorder) order
}

func newLPM(s0 Spec, id uint32, ep *Epoch) (*lpmMap, error) {
	m := &lpmMap{base: base{spec: s0, id: id}, ks: int(s0.KeySize), vsize: int(s0.ValueSize),
		index: map[string]int32{}, lenCnt: map[uint32]int{}}
	m.dsize = m.ks - 4
	m.maxLen = uint32(m.dsize * 8)
	m.kstride = int(roundup8(uint64(m.ks)))
	n := uint64(s0.MaxEntries)
	ar, err := newArena(int(n+hashSlack(n)), m.kstride+int(roundup8(uint64(m.vsize))), ep)
	if err != nil {
		return nil, err
	}
	m.ar = ar
	return m, nil
}

// canon writes the key with prefix length plen and data masked to plen
// bits into buf and returns it.
func (m *lpmMap) canon(buf []byte, plen uint32, data []byte) []byte {
	buf = buf[:m.ks]
	binary.NativeEndian.PutUint32(buf, plen)
	full := int(plen / 8)
	copy(buf[4:], data[:full])
	rest := buf[4+full:]
	clear(rest)
	if r := plen % 8; r != 0 {
		rest[0] = data[full] & byte(0xff<<(8-r))
	}
	return buf
}

// lookup returns the slot of the longest prefix matching key, or -1.
func (m *lpmMap) lookup(key []byte) int32 {
	plen := binary.NativeEndian.Uint32(key)
	var buf [4 + lpmDataSizeMax]byte
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, l := range m.lens {
		if l > plen {
			continue
		}
		if i, ok := m.index[string(m.canon(buf[:], l, key[4:]))]; ok {
			return i
		}
	}
	return -1
}

// postorder compares two keys in the kernel trie's get_next_key order:
// at the first differing bit 0 comes before 1, and a prefix comes after
// the longer prefixes it contains.
func postorder(a, b []byte) int {
	la, lb := binary.NativeEndian.Uint32(a), binary.NativeEndian.Uint32(b)
	n := min(la, lb)
	for i := uint32(0); i < n; i++ {
		ba := a[4+i/8] >> (7 - i%8) & 1
		bb := b[4+i/8] >> (7 - i%8) & 1
		if ba != bb {
			return int(ba) - int(bb)
		}
	}
	switch {
	case la > lb:
		return -1
	case la < lb:
		return 1
	}
	return 0
}

func (m *lpmMap) keyOf(i int32) []byte { return m.ar.slot(i)[:m.ks] }

func (m *lpmMap) valueOf(i int32) []byte {
	return m.ar.slot(i)[m.kstride : m.kstride+m.vsize]
}

func (m *lpmMap) pos(i int32) int {
	p, _ := slices.BinarySearchFunc(m.order, m.keyOf(i), func(s int32, k []byte) int {
		return postorder(m.keyOf(s), k)
	})
	return p
}

func (m *lpmMap) update(key, val []byte, flags UpdateFlags) error {
	if flags > UpdateExist {
		return ErrInvalid
	}
	plen := binary.NativeEndian.Uint32(key)
	if plen > m.maxLen {
		return ErrInvalid
	}
	var buf [4 + lpmDataSizeMax]byte
	ck := m.canon(buf[:], plen, key[4:])
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	old, exists := m.index[string(ck)]
	if exists && flags == UpdateNoExist {
		return ErrKeyExist
	}
	if !exists && flags == UpdateExist {
		return ErrKeyNotExist
	}
	if !exists && len(m.index) >= int(m.spec.MaxEntries) {
		return ErrLPMFull
	}
	ns := m.ar.alloc()
	if ns < 0 {
		ns = m.ar.steal()
	}
	if ns < 0 {
		return ErrNoMemory
	}
	copy(m.ar.slot(ns), key)
	copy(m.valueOf(ns), val)
	if exists {
		m.order[m.pos(old)] = ns
		m.ar.release(old)
	} else {
		p := m.pos(ns)
		m.order = slices.Insert(m.order, p, ns)
		if m.lenCnt[plen]++; m.lenCnt[plen] == 1 {
			p, _ := slices.BinarySearchFunc(m.lens, plen, func(a, b uint32) int { return int(b) - int(a) })
			m.lens = slices.Insert(m.lens, p, plen)
		}
	}
	m.index[string(ck)] = ns
	return nil
}

func (m *lpmMap) delete(key []byte) error {
	plen := binary.NativeEndian.Uint32(key)
	if plen > m.maxLen {
		return ErrInvalid
	}
	var buf [4 + lpmDataSizeMax]byte
	ck := m.canon(buf[:], plen, key[4:])
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	i, ok := m.index[string(ck)]
	if !ok {
		return ErrKeyNotExist
	}
	delete(m.index, string(ck))
	m.order = slices.Delete(m.order, m.pos(i), m.pos(i)+1)
	if m.lenCnt[plen]--; m.lenCnt[plen] == 0 {
		delete(m.lenCnt, plen)
		m.lens = slices.DeleteFunc(m.lens, func(l uint32) bool { return l == plen })
	}
	m.ar.release(i)
	return nil
}

func (m *lpmMap) Lookup(key, valueOut []byte) error {
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	t := m.ar.epoch.Enter()
	defer m.ar.epoch.Exit(t)
	i := m.lookup(key)
	if i < 0 {
		return ErrKeyNotExist
	}
	copy(valueOut, m.valueOf(i))
	return nil
}

func (m *lpmMap) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if err := m.checkValue(value); err != nil {
		return err
	}
	if err := m.update(key, value, flags); err != nil {
		return fmt.Errorf("prefix length %d: %w", binary.NativeEndian.Uint32(key), err)
	}
	return nil
}

func (m *lpmMap) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	return m.delete(key)
}

func (m *lpmMap) NextKey(key, nextOut []byte) error {
	if key != nil {
		if err := m.checkKey(key); err != nil {
			return err
		}
	}
	if len(nextOut) != m.ks {
		return fmt.Errorf("next key buffer of %d bytes, want %d: %w", len(nextOut), m.ks, ErrInvalid)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed.Load() {
		return ErrClosed
	}
	p := 0
	if key != nil && binary.NativeEndian.Uint32(key) <= m.maxLen {
		var buf [4 + lpmDataSizeMax]byte
		if i, ok := m.index[string(m.canon(buf[:], binary.NativeEndian.Uint32(key), key[4:]))]; ok {
			p = m.pos(i) + 1
		}
	}
	if p >= len(m.order) {
		return ErrKeyNotExist
	}
	copy(nextOut, m.keyOf(m.order[p]))
	return nil
}

// Iterate reports the entries in get_next_key (postorder) order.
func (m *lpmMap) Iterate(yield func(Entry) bool) error {
	m.mu.RLock()
	if m.closed.Load() {
		m.mu.RUnlock()
		return ErrClosed
	}
	es := make([]Entry, len(m.order))
	for j, i := range m.order {
		es[j] = Entry{Key: bytes.Clone(m.keyOf(i)), Value: bytes.Clone(m.valueOf(i))}
	}
	m.mu.RUnlock()
	for _, e := range es {
		if !yield(e) {
			break
		}
	}
	return nil
}

func (m *lpmMap) Regions() []Region { return []Region{m.ar.region()} }

func (m *lpmMap) LookupAddr(keyAddr uintptr) uintptr { return m.LookupAddrCPU(0, keyAddr) }

func (m *lpmMap) LookupAddrCPU(_ int, keyAddr uintptr) uintptr {
	if keyAddr == 0 {
		return 0
	}
	if m.closed.Load() {
		return 0
	}
	i := m.lookup(bytesAt(keyAddr, m.ks))
	if i < 0 {
		return 0
	}
	return m.ar.addr(i) + uintptr(m.kstride)
}

func (m *lpmMap) UpdateAddr(keyAddr, valueAddr uintptr, flags uint64) int64 {
	if keyAddr == 0 || valueAddr == 0 {
		return -int64(EINVAL)
	}
	return ret(m.update(bytesAt(keyAddr, m.ks), bytesAt(valueAddr, m.vsize), UpdateFlags(flags)))
}

func (m *lpmMap) UpdateAddrCPU(_ int, keyAddr, valueAddr uintptr, flags uint64) int64 {
	return m.UpdateAddr(keyAddr, valueAddr, flags)
}

func (m *lpmMap) DeleteAddr(keyAddr uintptr) int64 {
	if keyAddr == 0 {
		return -int64(EINVAL)
	}
	return ret(m.delete(bytesAt(keyAddr, m.ks)))
}

func (m *lpmMap) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	return m.ar.close()
}
