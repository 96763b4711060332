package maps

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/internal/platform"
)

// arrayMap is Array and PerCPUArray: a flat block of MaxEntries elements,
// element i at base + i*stride. Lookups are lock-free.
type arrayMap struct {
	base
	mem     *platform.Memory
	buf     []byte
	addr    uintptr
	stride  int // bytes per element (all CPUs)
	vstride int // bytes per CPU value: roundup(ValueSize, 8)
	vsize   int
	n       uint32
	cpus    int // 1 or NumCPU
	lockOff int
}

func newArray(s0 Spec, id uint32) (*arrayMap, error) {
	m := &arrayMap{base: base{spec: s0, id: id}, vsize: int(s0.ValueSize), n: s0.MaxEntries, cpus: 1, lockOff: s0.spinLockOffset()}
	m.vstride = int(roundup8(uint64(m.vsize)))
	if s0.Type == PerCPUArray {
		m.cpus = numCPU
	}
	m.stride = m.vstride * m.cpus
	mem, err := platform.Alloc(int(m.n) * m.stride)
	if err != nil {
		return nil, err
	}
	m.mem, m.buf, m.addr = mem, mem.Bytes(), mem.Addr()
	return m, nil
}

// elem returns CPU cpu's value of element i.
func (m *arrayMap) elem(i uint32, cpu int) []byte {
	off := int(i)*m.stride + cpu*m.vstride
	return m.buf[off : off+m.vsize : off+m.vsize]
}

func (m *arrayMap) Lookup(key, valueOut []byte) error {
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if i >= m.n {
		return ErrKeyNotExist
	}
	for c := range m.cpus {
		readValue(valueOut[c*m.vstride:c*m.vstride+m.vsize], m.elem(i, c), m.lockOff)
	}
	return nil
}

func (m *arrayMap) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(value); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if err := m.checkUpdate(i, flags); err != nil {
		return err
	}
	for c := range m.cpus {
		m.store(i, c, value[c*m.vstride:c*m.vstride+m.vsize], flags)
	}
	return nil
}

func (m *arrayMap) checkUpdate(i uint32, flags UpdateFlags) error {
	if err := m.checkFlags(flags); err != nil {
		return err
	}
	if i >= m.n {
		return ErrMapFull // the kernel's array update answers E2BIG
	}
	if flags&^UpdateLock == UpdateNoExist {
		return ErrKeyExist
	}
	return nil
}

func (m *arrayMap) store(i uint32, cpu int, v []byte, flags UpdateFlags) {
	dst := m.elem(i, cpu)
	lockAddr := uintptr(0)
	if m.lockOff >= 0 {
		lockAddr = m.addr + uintptr(int(i)*m.stride+cpu*m.vstride+m.lockOff)
	}
	copyValue(dst, v, m.lockOff, flags&UpdateLock != 0, lockAddr)
}

func (m *arrayMap) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	if _, err := m.u32Key(key); err != nil {
		return err
	}
	return fmt.Errorf("delete from %v: %w", m.spec.Type, ErrInvalid)
}

func (m *arrayMap) NextKey(key, nextOut []byte) error {
	return arrayNextKey(&m.base, key, nextOut)
}

func arrayNextKey(b *base, key, nextOut []byte) error {
	if key != nil {
		if err := b.checkKey(key); err != nil {
			return err
		}
	}
	if len(nextOut) != 4 {
		return fmt.Errorf("next key buffer of %d bytes, want 4: %w", len(nextOut), ErrInvalid)
	}
	n := b.spec.MaxEntries
	i := uint32(1<<32 - 1)
	if key != nil {
		i = binary.NativeEndian.Uint32(key)
	}
	switch {
	case i >= n:
		i = 0
	case i == n-1:
		return ErrKeyNotExist
	default:
		i++
	}
	binary.NativeEndian.PutUint32(nextOut, i)
	return nil
}

func (m *arrayMap) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	for i := range m.n {
		e := Entry{Key: binary.NativeEndian.AppendUint32(nil, i), Value: make([]byte, m.UserValueSize())}
		for c := range m.cpus {
			v := e.Value[c*m.vstride : c*m.vstride+m.vsize]
			readValue(v, m.elem(i, c), m.lockOff)
			if m.cpus > 1 || m.spec.Type == PerCPUArray {
				e.PerCPU = append(e.PerCPU, v)
			}
		}
		if !yield(e) {
			return nil
		}
	}
	return nil
}

func (m *arrayMap) Regions() []Region { return []Region{{Addr: m.addr, Size: int(m.n) * m.stride}} }

func (m *arrayMap) LookupAddr(keyAddr uintptr) uintptr { return m.LookupAddrCPU(0, keyAddr) }

func (m *arrayMap) LookupAddrCPU(cpu int, keyAddr uintptr) uintptr {
	if keyAddr == 0 {
		return 0
	}
	i := binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))
	if i >= m.n || m.closed.Load() {
		return 0
	}
	a := m.addr + uintptr(i)*uintptr(m.stride)
	if m.cpus > 1 {
		if uint(cpu) >= uint(m.cpus) {
			return 0
		}
		a += uintptr(cpu * m.vstride)
	}
	return a
}

func (m *arrayMap) UpdateAddr(keyAddr, valueAddr uintptr, flags uint64) int64 {
	return m.UpdateAddrCPU(0, keyAddr, valueAddr, flags)
}

func (m *arrayMap) UpdateAddrCPU(cpu int, keyAddr, valueAddr uintptr, flags uint64) int64 {
	if keyAddr == 0 || valueAddr == 0 {
		return -int64(EINVAL)
	}
	if m.closed.Load() {
		return -int64(EINVAL)
	}
	if m.cpus == 1 {
		cpu = 0
	} else if uint(cpu) >= uint(m.cpus) {
		return -int64(EINVAL)
	}
	i := binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))
	if err := m.checkUpdate(i, UpdateFlags(flags)); err != nil {
		return ret(err)
	}
	m.store(i, cpu, bytesAt(valueAddr, m.vsize), UpdateFlags(flags))
	return 0
}

func (m *arrayMap) DeleteAddr(uintptr) int64 { return -int64(EINVAL) }

func (m *arrayMap) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	return m.mem.Free()
}
