package maps

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/xebpf/xebpf/api"
)

// Map is an eBPF map. The Go-side methods take byte slices of the exact
// key and value sizes; the *Addr methods are the program-side operations
// the helpers call with raw addresses of program memory. Program-side
// methods never allocate and report errors as 0 or -errno; a 0 key or
// value address is -EINVAL (or a 0 result), other addresses must point to
// readable memory of the key or value size.
//
// This is an interface for decoupling, not for implementation outside
// this package.
type Map interface {
	// Spec returns a copy of the spec the map was created from.
	Spec() Spec
	// Type returns the map type.
	Type() Type
	// ID returns the map's process-unique id (never 0).
	ID() uint32
	// KeySize returns the key size in bytes.
	KeySize() int
	// ValueSize returns the value size of one element in bytes.
	ValueSize() int
	// UserValueSize returns the size of the value buffers of the Go-side
	// API: ValueSize, or NumCPU × roundup(ValueSize, 8) for per-CPU maps.
	UserValueSize() int
	// MaxEntries returns the capacity.
	MaxEntries() int

	// Lookup copies the value of key into valueOut. For Queue and Stack it
	// peeks (key must be nil).
	Lookup(key, valueOut []byte) error
	// LookupAndDelete copies the value of key into valueOut and deletes
	// it. For Queue and Stack it pops.
	LookupAndDelete(key, valueOut []byte) error
	// Update sets the value of key. For Queue and Stack it pushes.
	Update(key, value []byte, flags UpdateFlags) error
	// Delete removes key.
	Delete(key []byte) error
	// NextKey writes the key following key into nextOut, with the
	// kernel's get_next_key semantics: a nil or absent key yields the
	// first key, ErrKeyNotExist follows the last.
	NextKey(key, nextOut []byte) error
	// Iterate calls yield for each entry in key order (see Entry) until
	// yield returns false. Entries share no memory with the map.
	Iterate(yield func(Entry) bool) error

	// Regions returns the memory blocks holding values that programs may
	// read and write through pointers the map hands out. They stay the
	// same for the map's life, so callers may cache them.
	Regions() []Region
	// LookupAddr returns the address of key's value, 0 if absent. For
	// per-CPU maps it is the value of CPU 0; use LookupAddrCPU.
	LookupAddr(keyAddr uintptr) uintptr
	// LookupAddrCPU returns the address of key's value for cpu, 0 if
	// absent or cpu is out of range.
	LookupAddrCPU(cpu int, keyAddr uintptr) uintptr
	// UpdateAddr is bpf_map_update_elem; it returns 0 or -errno. For
	// per-CPU maps it updates CPU 0; use UpdateAddrCPU.
	UpdateAddr(keyAddr, valueAddr uintptr, flags uint64) int64
	// UpdateAddrCPU is bpf_map_update_elem run on cpu: per-CPU maps set
	// that CPU's value only (a new element's other CPUs are zeroed).
	UpdateAddrCPU(cpu int, keyAddr, valueAddr uintptr, flags uint64) int64
	// DeleteAddr is bpf_map_delete_elem.
	DeleteAddr(keyAddr uintptr) int64
	// PushAddr is bpf_map_push_elem (Queue and Stack).
	PushAddr(valueAddr uintptr, flags uint64) int64
	// PopAddr is bpf_map_pop_elem: it copies the value to valueAddr.
	PopAddr(valueAddr uintptr) int64
	// PeekAddr is bpf_map_peek_elem.
	PeekAddr(valueAddr uintptr) int64

	// Freeze makes the map read-only for Go-side callers, like Linux's
	// BPF_MAP_FREEZE: later Update, Delete, LookupAndDelete, SetProgram
	// and SetMap return ErrFrozen (EPERM). Program-side operations are not
	// affected: whether programs may write a map is its BPF_F_RDONLY_PROG
	// flag. Freezing a frozen map returns ErrBusy, and maps with a
	// bpf_spin_lock cannot be frozen (ErrNotSupported), as in Linux.
	Freeze() error
	// Frozen reports whether the map is frozen.
	Frozen() bool

	// Close releases the map's memory. No operation may run concurrently
	// with or after Close; later calls return ErrClosed or -EINVAL.
	Close() error

	sealed()
}

// Entry is one element reported by Iterate.
type Entry struct {
	// Key is the key (nil for Queue, Stack, RingBuf and PerfEventArray).
	Key []byte
	// Value is the value in the Go-side API layout (per-CPU maps:
	// NumCPU × roundup(ValueSize, 8) bytes). For RingBuf it is one
	// committed record, for PerfEventArray one pending sample.
	Value []byte
	// PerCPU holds each CPU's value of a per-CPU map (ValueSize bytes each).
	PerCPU [][]byte
	// CPU is the CPU of a PerfEventArray sample.
	CPU int
	// Program is the program of a ProgramArray slot.
	Program api.Program
	// Inner is the inner map of a map-in-map element.
	Inner Map
}

// base holds what all maps share and the default (unsupported) operations.
type base struct {
	spec   Spec
	id     uint32
	closed atomic.Bool
	frozen atomic.Bool
}

func (b *base) sealed()           {}
func (b *base) Spec() Spec        { s := b.spec; s.InnerMap = cloneSpec(s.InnerMap); return s }
func (b *base) Type() Type        { return b.spec.Type }
func (b *base) ID() uint32        { return b.id }
func (b *base) KeySize() int      { return int(b.spec.KeySize) }
func (b *base) ValueSize() int    { return int(b.spec.ValueSize) }
func (b *base) MaxEntries() int   { return int(b.spec.MaxEntries) }
func (b *base) Regions() []Region { return nil }

// Closed reports whether the map was closed (its memory freed).
func (b *base) Closed() bool       { return b.closed.Load() }
func (b *base) UserValueSize() int { return userValueSize(&b.spec) }

func userValueSize(s *Spec) int {
	if s.Type.IsPerCPU() {
		return numCPU * int(roundup8(uint64(s.ValueSize)))
	}
	return int(s.ValueSize)
}

func cloneSpec(s *Spec) *Spec {
	if s == nil {
		return nil
	}
	c := *s
	c.InnerMap = cloneSpec(s.InnerMap)
	return &c
}

func (b *base) Lookup(key, valueOut []byte) error { return ErrNotSupported }
func (b *base) LookupAndDelete(key, valueOut []byte) error {
	if err := b.writable(); err != nil {
		return err
	}
	return ErrNotSupported
}
func (b *base) Update(key, value []byte, flags UpdateFlags) error {
	if err := b.writable(); err != nil {
		return err
	}
	return ErrNotSupported
}
func (b *base) Delete(key []byte) error {
	if err := b.writable(); err != nil {
		return err
	}
	return ErrNotSupported
}
func (b *base) NextKey(key, nextOut []byte) error       { return ErrNotSupported }
func (b *base) Iterate(yield func(Entry) bool) error    { return ErrNotSupported }
func (b *base) LookupAddr(keyAddr uintptr) uintptr      { return 0 }
func (b *base) LookupAddrCPU(int, uintptr) uintptr      { return 0 }
func (b *base) UpdateAddr(_, _ uintptr, _ uint64) int64 { return -int64(EOPNOTSUPP) }
func (b *base) UpdateAddrCPU(int, uintptr, uintptr, uint64) int64 {
	return -int64(EOPNOTSUPP)
}
func (b *base) DeleteAddr(uintptr) int64       { return -int64(EOPNOTSUPP) }
func (b *base) PushAddr(uintptr, uint64) int64 { return -int64(EOPNOTSUPP) }
func (b *base) PopAddr(uintptr) int64          { return -int64(EOPNOTSUPP) }
func (b *base) PeekAddr(uintptr) int64         { return -int64(EOPNOTSUPP) }
func (b *base) Close() error                   { b.closed.Store(true); return nil }

func (b *base) Freeze() error {
	if b.spec.spinLockOffset() >= 0 {
		return fmt.Errorf("freeze of a map with a bpf_spin_lock: %w", ErrNotSupported)
	}
	if b.frozen.Swap(true) {
		return fmt.Errorf("freeze of a frozen map: %w", ErrBusy)
	}
	return nil
}

func (b *base) Frozen() bool { return b.frozen.Load() }

// writable fails Go-side writes of a frozen map, first of all their
// checks as in Linux.
func (b *base) writable() error {
	if b.frozen.Load() {
		return ErrFrozen
	}
	return nil
}

// checkKey validates a Go-side key.
func (b *base) checkKey(key []byte) error {
	if len(key) != int(b.spec.KeySize) {
		return fmt.Errorf("key of %d bytes, want %d: %w", len(key), b.spec.KeySize, ErrInvalid)
	}
	return nil
}

// u32Key validates a Go-side key of the maps indexed by a 32-bit key
// (arrays and device maps) and returns it.
func (b *base) u32Key(key []byte) (uint32, error) {
	if err := b.checkKey(key); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint32(key), nil
}

// checkValue validates a Go-side value buffer.
func (b *base) checkValue(v []byte) error {
	if n := userValueSize(&b.spec); len(v) != n {
		return fmt.Errorf("value of %d bytes, want %d: %w", len(v), n, ErrInvalid)
	}
	return nil
}

// checkFlags validates update flags like the kernel's map_update_elem
// (allocation-free: program-side paths use it).
func (b *base) checkFlags(flags UpdateFlags) error {
	if flags&^UpdateLock > UpdateExist {
		return ErrInvalid
	}
	if flags&UpdateLock != 0 && b.spec.spinLockOffset() < 0 {
		return ErrInvalid // BPF_F_LOCK on a value without spin lock
	}
	return nil
}

// copyValue copies a value, leaving the spin lock word of dst untouched
// (the kernel's copy_map_value); with lock set it holds dst's lock.
func copyValue(dst, src []byte, lockOff int, lock bool, lockAddr uintptr) {
	if lockOff < 0 {
		copy(dst, src)
		return
	}
	if lock {
		SpinLock(lockAddr)
	}
	copy(dst[:lockOff], src[:lockOff])
	copy(dst[lockOff+4:], src[lockOff+4:])
	if lock {
		SpinUnlock(lockAddr)
	}
}

// readValue copies a value out, zeroing the spin lock word like the
// kernel's check_and_init_map_value.
func readValue(dst, src []byte, lockOff int) {
	copy(dst, src)
	if lockOff >= 0 {
		clear(dst[lockOff : lockOff+4])
	}
}
