package maps

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Spec describes a map to create, like the attributes of BPF_MAP_CREATE.
type Spec struct {
	Name       string
	Type       Type
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// InnerMap is the template every inner map of an ArrayOfMaps or
	// HashOfMaps must match (type, key and value size, max entries).
	InnerMap *Spec
	// SpinLockOffset is the offset of a struct bpf_spin_lock inside the
	// value (Hash and Array only), or NoSpinLock (-1). The zero value means
	// no lock too, unless HasSpinLock is set: a lock at offset 0 needs
	// HasSpinLock.
	SpinLockOffset int
	// HasSpinLock marks the value as holding a bpf_spin_lock at
	// SpinLockOffset.
	HasSpinLock bool
}

// NoSpinLock is the SpinLockOffset of values without a spin lock.
const NoSpinLock = -1

// spinLockOffset returns the lock offset, or -1.
func (s *Spec) spinLockOffset() int {
	if s.HasSpinLock || s.SpinLockOffset > 0 {
		return s.SpinLockOffset
	}
	return -1
}

// DefaultMaxMemory is the memory limit of a single map (1 GiB) when New is
// given no WithMaxMemory option.
const DefaultMaxMemory = 1 << 30

// Limits from the kernel.
const (
	maxKeySize      = 512       // MAX_BPF_STACK, the hash key limit
	maxPerCPUValue  = 32 << 10  // PCPU_MIN_UNIT_SIZE
	maxValueSize    = 1<<31 - 1 // KMALLOC_MAX_SIZE is smaller; memory limit applies
	lpmDataSizeMax  = 256       // LPM_DATA_SIZE_MAX
	lpmValueSizeMax = 1<<16 - 1 // roughly KMALLOC_MAX_SIZE - sizeof(node)
	pageSize        = 4096
)

var numCPU = runtime.NumCPU()

// NumCPU returns the number of per-CPU value slots of per-CPU maps.
func NumCPU() int { return numCPU }

// Option configures New.
type Option func(*options)

type options struct {
	maxMemory int64
	epoch     *Epoch
}

// WithMaxMemory sets the largest amount of memory a map may take; specs
// needing more are refused with ErrTooBig before anything is allocated.
func WithMaxMemory(n int64) Option { return func(o *options) { o.maxMemory = n } }

// WithEpoch makes the map reclaim released slots through ep instead of
// DefaultEpoch (mostly useful for tests).
func WithEpoch(ep *Epoch) Option { return func(o *options) { o.epoch = ep } }

var nextID atomic.Uint32

// New creates a map from spec, validating it like the kernel's
// BPF_MAP_CREATE. Errors wrap ErrInvalid (bad attributes), ErrTooBig
// (sizes above the limits) or ErrNotSupported (map type).
func New(spec *Spec, opts ...Option) (Map, error) {
	o := options{maxMemory: DefaultMaxMemory, epoch: defaultEpoch}
	for _, f := range opts {
		f(&o)
	}
	s, err := checked(spec)
	if err != nil {
		return nil, err
	}
	mem := memoryNeeded(&s)
	if mem > uint64(o.maxMemory) {
		return nil, fmt.Errorf("map %q (%v): needs %d bytes, limit %d: %w", s.Name, s.Type, mem, o.maxMemory, ErrTooBig)
	}
	id := nextID.Add(1)
	var m Map
	switch s.Type {
	case Array, PerCPUArray:
		m, err = newArray(s, id)
	case ProgramArray, ArrayOfMaps:
		m, err = newObjArray(s, id, o.epoch)
	case Hash, PerCPUHash, LRUHash, LRUCPUHash, HashOfMaps:
		m, err = newHash(s, id, o.epoch)
	case RingBuf:
		m, err = newRingBuf(s, id)
	case Queue, Stack:
		m, err = newQueue(s, id)
	case PerfEventArray:
		m, err = newPerf(s, id)
	case LPMTrie:
		m, err = newLPM(s, id, o.epoch)
	case DevMap, CPUMap, XSKMap, CgroupArray:
		m, err = newSlotArray(s, id)
	case DevMapHash:
		m, err = newDevMapHash(s, id)
	case StackTrace:
		m = newStackTrace(s, id)
	default:
		err = ErrNotSupported
	}
	if err != nil {
		return nil, fmt.Errorf("map %q (%v): %w", s.Name, s.Type, err)
	}
	return m, nil
}

// checked returns a copy of spec with defaults applied, validated.
func checked(spec *Spec) (Spec, error) {
	if spec == nil {
		return Spec{}, fmt.Errorf("nil spec: %w", ErrInvalid)
	}
	s := *spec
	if s.InnerMap != nil {
		in := *s.InnerMap
		s.InnerMap = &in
	}
	if s.Type == PerfEventArray && s.MaxEntries == 0 {
		s.MaxEntries = uint32(numCPU)
	}
	if err := validate(&s); err != nil {
		return Spec{}, fmt.Errorf("map %q (%v): %w", s.Name, s.Type, err)
	}
	return s, nil
}

// MemoryNeeded returns an estimate of the memory New allocates for spec,
// in and outside the Go heap, rounded up to whole pages. It validates spec
// as New does.
func MemoryNeeded(spec *Spec) (uint64, error) {
	s, err := checked(spec)
	if err != nil {
		return 0, err
	}
	return (memoryNeeded(&s) + pageSize - 1) &^ (pageSize - 1), nil
}

func roundup8(n uint64) uint64 { return (n + 7) &^ 7 }

// hashSlack is the number of spare hash slots beyond MaxEntries: slots
// released during a run stay unusable until the run ends.
func hashSlack(n uint64) uint64 { return min(max(n, 8), 4096) }

// memoryNeeded estimates the bytes New allocates for s (s is valid): the
// off-heap elements and the Go-heap bookkeeping that grows with them
// (hash buckets and chains: the 24 bytes per slot).
func memoryNeeded(s *Spec) uint64 {
	k, v, n := uint64(s.KeySize), uint64(s.ValueSize), uint64(s.MaxEntries)
	cpus := uint64(numCPU)
	switch s.Type {
	case Array:
		return n * roundup8(v)
	case PerCPUArray:
		return n * cpus * roundup8(v)
	case ProgramArray, ArrayOfMaps:
		return n * 16
	case Hash, LRUHash, HashOfMaps:
		return (n + hashSlack(n)) * (roundup8(k) + roundup8(v) + 24)
	case PerCPUHash, LRUCPUHash:
		return (n + hashSlack(n)) * (roundup8(k) + cpus*roundup8(v) + 24)
	case Queue, Stack:
		return (n + 1) * roundup8(v)
	case LPMTrie:
		return (n + hashSlack(n)) * (roundup8(k) + roundup8(v) + 64)
	case RingBuf:
		return n + pageSize
	case PerfEventArray:
		return n * 64 // buffers come with the reader (Attach)
	case DevMap, CPUMap, XSKMap, CgroupArray:
		return n * (roundup8(v) + 1)
	case DevMapHash:
		return n * (roundup8(v) + 48)
	}
	return 0
}

func validate(s *Spec) error {
	k, v, n := s.KeySize, s.ValueSize, s.MaxEntries
	const knownFlags = 1<<13 - 1
	if s.Flags&^knownFlags != 0 {
		return fmt.Errorf("unknown flags %#x: %w", s.Flags&^knownFlags, ErrInvalid)
	}
	if lo := s.spinLockOffset(); lo >= 0 {
		if s.Type != Hash && s.Type != Array {
			return fmt.Errorf("spin lock in %v values: %w", s.Type, ErrNotSupported)
		}
		if lo%4 != 0 || uint64(lo)+4 > uint64(v) {
			return fmt.Errorf("spin lock offset %d in %d-byte value: %w", lo, v, ErrInvalid)
		}
	}
	if s.Flags&FlagRdonly != 0 && s.Flags&FlagWronly != 0 {
		return fmt.Errorf("flags BPF_F_RDONLY and BPF_F_WRONLY together: %w", ErrInvalid)
	}
	if s.InnerMap != nil && s.Type != ArrayOfMaps && s.Type != HashOfMaps {
		return fmt.Errorf("inner map on %v: %w", s.Type, ErrInvalid)
	}
	switch s.Type {
	case Array, PerCPUArray:
		if n == 0 || k != 4 || v == 0 {
			return fmt.Errorf("key size %d (want 4), value size %d, max entries %d: %w", k, v, n, ErrInvalid)
		}
		if s.Type == PerCPUArray && v > maxPerCPUValue {
			return fmt.Errorf("per-CPU value size %d: %w", v, ErrTooBig)
		}
	case ProgramArray, PerfEventArray, ArrayOfMaps:
		if n == 0 || k != 4 || v != 4 {
			return fmt.Errorf("key size %d, value size %d (want 4 and 4), max entries %d: %w", k, v, n, ErrInvalid)
		}
	case Hash, PerCPUHash, LRUHash, LRUCPUHash, HashOfMaps:
		if n == 0 || k == 0 || v == 0 {
			return fmt.Errorf("key size %d, value size %d, max entries %d: %w", k, v, n, ErrInvalid)
		}
		if k > maxKeySize {
			return fmt.Errorf("key size %d above %d: %w", k, maxKeySize, ErrTooBig)
		}
		if (s.Type == PerCPUHash || s.Type == LRUCPUHash) && v > maxPerCPUValue {
			return fmt.Errorf("per-CPU value size %d: %w", v, ErrTooBig)
		}
		if (s.Type == LRUHash || s.Type == LRUCPUHash) && s.Flags&FlagNoPrealloc != 0 {
			return fmt.Errorf("LRU map without preallocation: %w", ErrNotSupported)
		}
		if s.Type == HashOfMaps && v != 4 {
			return fmt.Errorf("value size %d (want 4): %w", v, ErrInvalid)
		}
	case Queue, Stack:
		if n == 0 || k != 0 || v == 0 {
			return fmt.Errorf("key size %d (want 0), value size %d, max entries %d: %w", k, v, n, ErrInvalid)
		}
	case LPMTrie:
		if n == 0 || s.Flags&FlagNoPrealloc == 0 || k < 5 || k > 4+lpmDataSizeMax || v == 0 || v > lpmValueSizeMax {
			return fmt.Errorf("key size %d (want 5..260), value size %d, max entries %d, flags %#x (need BPF_F_NO_PREALLOC): %w", k, v, n, s.Flags, ErrInvalid)
		}
	case RingBuf:
		if k != 0 || v != 0 || n < pageSize || n&(n-1) != 0 {
			return fmt.Errorf("key size %d, value size %d (want 0 and 0), size %d (want a power of 2 multiple of %d): %w", k, v, n, pageSize, ErrInvalid)
		}
	case DevMap, DevMapHash, CPUMap, XSKMap, StackTrace, CgroupArray:
		if err := validateNetMap(s); err != nil {
			return err
		}
	default:
		return ErrNotSupported
	}
	if s.Type == ArrayOfMaps || s.Type == HashOfMaps {
		in := s.InnerMap
		if in == nil {
			return fmt.Errorf("no inner map template: %w", ErrInvalid)
		}
		switch in.Type {
		case ArrayOfMaps, HashOfMaps, ProgramArray:
			return fmt.Errorf("inner map of type %v: %w", in.Type, ErrInvalid)
		}
		if in.InnerMap != nil {
			return fmt.Errorf("nested inner map: %w", ErrInvalid)
		}
		if err := validate(in); err != nil {
			return fmt.Errorf("inner map: %w", err)
		}
	}
	return nil
}

// validateNetMap checks the redirect maps, StackTrace and CgroupArray like
// their kernel alloc_check functions (devmap.c, cpumap.c, xskmap.c,
// stackmap.c, arraymap.c's fd_array_map_alloc_check).
func validateNetMap(s *Spec) error {
	k, v, n, f := s.KeySize, s.ValueSize, s.MaxEntries, s.Flags
	if n == 0 || k != 4 {
		return fmt.Errorf("key size %d (want 4), max entries %d: %w", k, n, ErrInvalid)
	}
	allowed := accessFlags
	switch s.Type {
	case CPUMap:
		allowed = FlagNUMANode
	case StackTrace:
		allowed |= FlagStackBuildID
	}
	if f&^allowed != 0 {
		return fmt.Errorf("flags %#x not allowed on %v: %w", f&^allowed, s.Type, ErrInvalid)
	}
	switch s.Type {
	case DevMap, DevMapHash, CPUMap:
		if v != 4 && v != 8 {
			return fmt.Errorf("value size %d (want 4 or 8): %w", v, ErrInvalid)
		}
		if s.Type == DevMapHash && n > 1<<31 {
			return fmt.Errorf("max entries %d: %w", n, ErrInvalid) // roundup_pow_of_two overflows
		}
		if s.Type == CPUMap && n > CPUMapMaxEntries {
			return fmt.Errorf("max entries %d above NR_CPUS %d: %w", n, CPUMapMaxEntries, ErrTooBig)
		}
	case XSKMap, CgroupArray:
		if v != 4 {
			return fmt.Errorf("value size %d (want 4): %w", v, ErrInvalid)
		}
	case StackTrace:
		if v < 8 || v%8 != 0 {
			return fmt.Errorf("value size %d (want a multiple of 8): %w", v, ErrInvalid)
		}
		depth, unit := v/8, "8-byte ips"
		if f&FlagStackBuildID != 0 {
			if v%stackBuildIDSize != 0 {
				return fmt.Errorf("value size %d (want a multiple of %d with BPF_F_STACK_BUILD_ID): %w", v, stackBuildIDSize, ErrInvalid)
			}
			depth, unit = v/stackBuildIDSize, "build ids"
		}
		if depth > PerfEventMaxStack {
			return fmt.Errorf("%d %s above perf_event_max_stack %d: %w", depth, unit, PerfEventMaxStack, ErrInvalid)
		}
		if n > 1<<31 {
			return fmt.Errorf("max entries %d: %w", n, ErrTooBig)
		}
	}
	return nil
}
