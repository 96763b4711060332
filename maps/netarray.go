package maps

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf/internal/platform"
)

// Limits of the redirect and object-reference maps, from the kernel.
const (
	// CPUMapMaxEntries is NR_CPUS, the largest CPUMap Linux creates. It is
	// a kernel build option; 8192 is the value of common x86-64
	// distribution kernels (CONFIG_MAXSMP).
	CPUMapMaxEntries = 8192
	// CPUMapMaxQueueSize is the largest queue size of a CPUMap entry.
	CPUMapMaxQueueSize = 16384
	// PerfEventMaxStack is the default of sysctl
	// kernel.perf_event_max_stack, the deepest StackTrace value.
	PerfEventMaxStack = 127
	// stackBuildIDSize is sizeof(struct bpf_stack_build_id).
	stackBuildIDSize = 32
)

// accessFlags are the map flags BPF_F_NUMA_NODE, BPF_F_RDONLY and
// BPF_F_WRONLY that the kernel allows on every map type.
const accessFlags = FlagNUMANode | FlagRdonly | FlagWronly

// slotArray is DevMap, CPUMap, XSKMap and CgroupArray: an array of
// optional elements, each a value of ValueSize bytes that programs may
// only read. Go-side updates are serialized; program lookups are
// lock-free.
//
//   - DevMap values are struct bpf_devmap_val {ifindex, prog id}: an
//     ifindex of 0 empties the slot, any other ifindex is stored (xebpf
//     has no network devices to check it against).
//   - CPUMap values are struct bpf_cpumap_val {qsize, prog id}: a queue
//     size of 0 empties the slot; the key must be a CPU below NumCPU.
//   - XSKMap and CgroupArray values are opaque 32-bit handles standing
//     for an AF_XDP socket or a cgroup (xebpf has no file descriptors).
//     Programs see an XSKMap handle as struct bpf_xdp_sock.queue_id.
type slotArray struct {
	base
	mu      sync.Mutex
	mem     *platform.Memory
	buf     []byte
	addr    uintptr
	stride  int
	present []atomic.Bool
}

func newSlotArray(s Spec, id uint32) (*slotArray, error) {
	m := &slotArray{base: base{spec: s, id: id}, stride: int(roundup8(uint64(s.ValueSize)))}
	mem, err := platform.Alloc(int(s.MaxEntries) * m.stride)
	if err != nil {
		return nil, err
	}
	m.mem, m.buf, m.addr = mem, mem.Bytes(), mem.Addr()
	m.present = make([]atomic.Bool, s.MaxEntries)
	return m, nil
}

func (m *slotArray) value(i uint32) []byte {
	off := int(i) * m.stride
	return m.buf[off : off+int(m.spec.ValueSize) : off+int(m.spec.ValueSize)]
}

// Lookup copies the element's value. XSKMap and CgroupArray elements
// cannot be read from user space in Linux (ErrNotSupported).
func (m *slotArray) Lookup(key, valueOut []byte) error {
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	if m.spec.Type == XSKMap || m.spec.Type == CgroupArray {
		return fmt.Errorf("lookup in %v: %w", m.spec.Type, ErrNotSupported)
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if i >= m.spec.MaxEntries || !m.present[i].Load() {
		return ErrKeyNotExist
	}
	copy(valueOut, m.value(i))
	return nil
}

func (m *slotArray) Update(key, value []byte, flags UpdateFlags) error {
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.spec.Type == CgroupArray {
		// bpf_fd_array_map_update_elem
		if flags != UpdateAny {
			return fmt.Errorf("update flags %#x: %w", flags, ErrInvalid)
		}
		if i >= m.spec.MaxEntries {
			return ErrMapFull
		}
		m.set(i, value)
		return nil
	}
	if flags > UpdateExist {
		return fmt.Errorf("update flags %#x: %w", flags, ErrInvalid)
	}
	if i >= m.spec.MaxEntries {
		return ErrMapFull
	}
	switch m.spec.Type {
	case DevMap:
		if flags == UpdateNoExist {
			return ErrKeyExist
		}
		return m.updateProgValue(i, value, "ifindex")
	case CPUMap:
		if flags == UpdateNoExist {
			return ErrKeyExist
		}
		q := binary.NativeEndian.Uint32(value)
		if q > CPUMapMaxQueueSize {
			return fmt.Errorf("queue size %d above %d: %w", q, CPUMapMaxQueueSize, ErrOverflow)
		}
		if i >= uint32(numCPU) {
			return fmt.Errorf("CPU %d of %d: %w", i, numCPU, ErrNoDevice)
		}
		return m.updateProgValue(i, value, "qsize")
	default: // XSKMap: xsk_map_update_elem
		old := m.present[i].Load()
		switch {
		case old && string(m.value(i)) == string(value):
			return nil
		case old && flags == UpdateNoExist:
			return ErrKeyExist
		case !old && flags == UpdateExist:
			return ErrKeyNotExist
		}
		m.set(i, value)
		return nil
	}
}

// updateProgValue stores a DevMap or CPUMap value whose first word (the
// ifindex or queue size) empties the slot when 0 and whose optional second
// word is a program fd. xebpf cannot attach programs to entries: a
// positive fd is ErrNotSupported (with a zero first word Linux refuses it
// with EINVAL), and the stored program id is 0 as in Linux without one.
func (m *slotArray) updateProgValue(i uint32, value []byte, what string) error {
	fd := int32(0)
	if len(value) == 8 {
		fd = int32(binary.NativeEndian.Uint32(value[4:]))
	}
	if binary.NativeEndian.Uint32(value) == 0 {
		if fd > 0 && m.spec.Type == DevMap {
			return fmt.Errorf("program fd %d with %s 0: %w", fd, what, ErrInvalid)
		}
		m.present[i].Store(false)
		return nil
	}
	if fd > 0 {
		return fmt.Errorf("program fd %d in a %v entry: %w", fd, m.spec.Type, ErrNotSupported)
	}
	var v [8]byte
	copy(v[:4], value)
	m.set(i, v[:len(value)])
	return nil
}

// set stores value in slot i and marks it present (m.mu held).
func (m *slotArray) set(i uint32, value []byte) {
	copy(m.value(i), value)
	m.present[i].Store(true)
}

func (m *slotArray) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	i, err := m.u32Key(key)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if i >= m.spec.MaxEntries {
		if m.spec.Type == CgroupArray {
			return ErrMapFull // fd_array_map_delete_elem: E2BIG
		}
		return fmt.Errorf("delete index %d of %d: %w", i, m.spec.MaxEntries, ErrInvalid)
	}
	if !m.present[i].Swap(false) && m.spec.Type == CgroupArray {
		return ErrKeyNotExist // the others delete empty slots silently
	}
	return nil
}

func (m *slotArray) NextKey(key, nextOut []byte) error { return arrayNextKey(&m.base, key, nextOut) }

// Iterate reports the occupied slots in index order.
func (m *slotArray) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	for i := range m.spec.MaxEntries {
		if !m.present[i].Load() {
			continue
		}
		e := Entry{Key: binary.NativeEndian.AppendUint32(nil, i), Value: append([]byte(nil), m.value(i)...)}
		if !yield(e) {
			break
		}
	}
	return nil
}

func (m *slotArray) Regions() []Region {
	return []Region{{Addr: m.addr, Size: int(m.spec.MaxEntries) * m.stride, ReadOnly: true}}
}

// LookupAddr returns the read-only value of the element at key, 0 if the
// slot is empty.
func (m *slotArray) LookupAddr(keyAddr uintptr) uintptr {
	if keyAddr == 0 || m.closed.Load() {
		return 0
	}
	i := binary.NativeEndian.Uint32(bytesAt(keyAddr, 4))
	if i >= m.spec.MaxEntries || !m.present[i].Load() {
		return 0
	}
	return m.addr + uintptr(i)*uintptr(m.stride)
}

func (m *slotArray) LookupAddrCPU(_ int, keyAddr uintptr) uintptr { return m.LookupAddr(keyAddr) }

func (m *slotArray) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	return m.mem.Free()
}
