package maps

import (
	"fmt"
	"sync"

	"github.com/xebpf/xebpf/internal/platform"
)

// queueMap is Queue (FIFO) and Stack (LIFO). Values are copied in and out,
// so programs never hold pointers into it.
type queueMap struct {
	base
	mem     *platform.Memory
	buf     []byte
	vsize   int
	vstride int
	n       uint32
	stack   bool

	mu    sync.Mutex
	head  uint32 // index of the oldest value
	count uint32
}

func newQueue(s0 Spec, id uint32) (*queueMap, error) {
	m := &queueMap{base: base{spec: s0, id: id}, vsize: int(s0.ValueSize), n: s0.MaxEntries, stack: s0.Type == Stack}
	m.vstride = int(roundup8(uint64(m.vsize)))
	mem, err := platform.Alloc(int(m.n) * m.vstride)
	if err != nil {
		return nil, err
	}
	m.mem, m.buf = mem, mem.Bytes()
	return m, nil
}

func (m *queueMap) at(i uint32) []byte {
	off := int((m.head+i)%m.n) * m.vstride
	return m.buf[off : off+m.vsize]
}

// push appends v; when full, BPF_EXIST drops the oldest value (queue
// front, stack bottom) as the kernel does.
func (m *queueMap) push(v []byte, flags UpdateFlags) error {
	if flags != UpdateAny && flags != UpdateExist {
		return ErrInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.count == m.n {
		if flags != UpdateExist {
			return ErrMapFull
		}
		m.head = (m.head + 1) % m.n
		m.count--
	}
	copy(m.at(m.count), v)
	m.count++
	return nil
}

// take copies the value the next pop returns into out, removing it if pop.
func (m *queueMap) take(out []byte, pop bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.count == 0 {
		return ErrKeyNotExist
	}
	i := uint32(0)
	if m.stack {
		i = m.count - 1
	}
	copy(out, m.at(i))
	if pop {
		if !m.stack {
			m.head = (m.head + 1) % m.n
		}
		m.count--
	}
	return nil
}

func (m *queueMap) checkNoKey(key []byte) error {
	if len(key) != 0 {
		return fmt.Errorf("key of %d bytes for %v: %w", len(key), m.spec.Type, ErrInvalid)
	}
	return nil
}

// Push pushes value (Update with a nil key).
func (m *queueMap) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkNoKey(key); err != nil {
		return err
	}
	if err := m.checkValue(value); err != nil {
		return err
	}
	return m.push(value, flags)
}

// Lookup peeks.
func (m *queueMap) Lookup(key, valueOut []byte) error {
	if err := m.checkNoKey(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	return m.take(valueOut, false)
}

// LookupAndDelete pops.
func (m *queueMap) LookupAndDelete(key, valueOut []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	if err := m.checkNoKey(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	return m.take(valueOut, true)
}

func (m *queueMap) Delete([]byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	return ErrInvalid
}

func (m *queueMap) NextKey(_, _ []byte) error  { return ErrInvalid }
func (m *queueMap) DeleteAddr(uintptr) int64   { return -int64(EINVAL) }
func (m *queueMap) LookupAddr(uintptr) uintptr { return 0 }
func (m *queueMap) UpdateAddr(_, valueAddr uintptr, flags uint64) int64 {
	return m.PushAddr(valueAddr, flags)
}
func (m *queueMap) UpdateAddrCPU(_ int, _, valueAddr uintptr, flags uint64) int64 {
	return m.PushAddr(valueAddr, flags)
}

func (m *queueMap) PushAddr(valueAddr uintptr, flags uint64) int64 {
	if valueAddr == 0 {
		return -int64(EINVAL)
	}
	return ret(m.push(bytesAt(valueAddr, m.vsize), UpdateFlags(flags)))
}

func (m *queueMap) PopAddr(valueAddr uintptr) int64 {
	if valueAddr == 0 {
		return -int64(EINVAL)
	}
	return ret(m.take(bytesAt(valueAddr, m.vsize), true))
}

func (m *queueMap) PeekAddr(valueAddr uintptr) int64 {
	if valueAddr == 0 {
		return -int64(EINVAL)
	}
	return ret(m.take(bytesAt(valueAddr, m.vsize), false))
}

// Iterate reports the values in pop order without removing them.
func (m *queueMap) Iterate(yield func(Entry) bool) error {
	m.mu.Lock()
	if m.closed.Load() {
		m.mu.Unlock()
		return ErrClosed
	}
	vals := make([][]byte, m.count)
	for i := range m.count {
		j := i
		if m.stack {
			j = m.count - 1 - i
		}
		vals[i] = append([]byte(nil), m.at(j)...)
	}
	m.mu.Unlock()
	for _, v := range vals {
		if !yield(Entry{Value: v}) {
			break
		}
	}
	return nil
}

func (m *queueMap) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	return m.mem.Free()
}
