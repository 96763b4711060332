package xebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"sync"

	"github.com/xebpf/xebpf/internal/binenc"
	"github.com/xebpf/xebpf/maps"
)

// Map is a map of a Collection, with cilium/ebpf's methods. Keys and
// values are []byte of the map's key and value size, values implementing
// encoding.BinaryMarshaler and BinaryUnmarshaler, or fixed-size values
// that encoding/binary marshals in native byte order (uint32, structs of
// fixed-size fields, arrays); per-CPU values are slices of one value per
// CPU. Errors name the map and match ErrKeyNotExist, ErrKeyExist and the
// other errors of package maps with errors.Is.
//
// A Map is safe for concurrent use, by Go code and by programs: each
// operation on an element is atomic with respect to the others, as in
// Linux. Close may be called while other goroutines use the map and
// while programs run.
type Map struct {
	name string
	m    maps.Map
	coll *Collection
	// life counts the open handle and the Go-side operations in
	// progress; the map holds a reference on its collection until it is
	// freed, and the collection frees the map's memory. Every operation
	// writes it, so it has a cache line of its own.
	_    [64]byte
	life lifetime
	_    [64]byte
	bufs sync.Pool // of *mapBuf
}

// newMapHandle returns the Map of m, a map of c.
func (c *Collection) newMapHandle(name string, m maps.Map) *Map {
	h := &Map{name: name, m: m, coll: c}
	c.life.acquire() // cannot fail: c is being created
	h.life.init(h.free)
	return h
}

// free drops the map's reference on its collection once it is closed and
// its last Go-side operation has ended.
func (m *Map) free() error { return m.coll.life.release() }

// Close closes the map, like closing a map's file descriptor in
// cilium/ebpf: later Go-side operations on m return ErrClosed. The map's
// memory stays as long as its collection's programs can reach it: the
// collection frees it (Collection.Close). Close may be called more than
// once.
func (m *Map) Close() error {
	_, err := m.life.close()
	return err
}

// enter takes a reference for one Go-side operation; the caller calls
// m.life.release when it ends.
func (m *Map) enter() error {
	if !m.life.acquire() {
		return fmt.Errorf("map %s: %w", m.name, ErrClosed)
	}
	return nil
}

// mapBuf is scratch space for one Go-side operation.
type mapBuf struct{ key, val []byte }

func (m *Map) buf() *mapBuf {
	if b, ok := m.bufs.Get().(*mapBuf); ok {
		return b
	}
	return &mapBuf{key: make([]byte, m.m.KeySize()), val: make([]byte, m.m.UserValueSize())}
}

// Name returns the map's name in the object file.
func (m *Map) Name() string { return m.name }

// Type returns the map's type.
func (m *Map) Type() MapType { return MapType(m.m.Type()) }

// KeySize returns the key size in bytes.
func (m *Map) KeySize() uint32 { return uint32(m.m.KeySize()) }

// ValueSize returns the value size in bytes (for per-CPU maps, of one
// CPU's value).
func (m *Map) ValueSize() uint32 { return uint32(m.m.ValueSize()) }

// MaxEntries returns the map's capacity.
func (m *Map) MaxEntries() uint32 { return uint32(m.m.MaxEntries()) }

// String describes the map as cilium/ebpf's Map.String does.
func (m *Map) String() string {
	return fmt.Sprintf("%s(%s)#%d", m.Type(), m.name, m.m.ID())
}

// Freeze makes the map read-only from Go, like cilium/ebpf's Map.Freeze
// (BPF_MAP_FREEZE): later Update and Delete return an error wrapping
// maps.ErrFrozen (EPERM). The collection freezes the maps the object file
// declares read-only (.rodata, .kconfig) once it has filled them.
func (m *Map) Freeze() error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	return m.wrap(m.m.Freeze())
}

// Frozen reports whether the map is frozen (Freeze). Programs may write a
// frozen map unless its flags include BPF_F_RDONLY_PROG, as in Linux; the
// read-only maps of object files have both.
func (m *Map) Frozen() bool { return m.m.Frozen() }

// Flags returns the map's flags (BPF_F_*, see maps.FlagRdonlyProg).
func (m *Map) Flags() uint32 { return m.m.Spec().Flags }

// Underlying returns the maps.Map behind m, for operations this type does
// not wrap (ring buffer readers, map-in-map slots). Its operations are
// not guarded by Close: they must end before the collection is closed,
// except those of ring buffers (RingBufMap's consumer side is safe
// against its Close).
func (m *Map) Underlying() maps.Map { return m.m }

// Lookup copies the value of key into valueOut: a []byte, an
// encoding.BinaryUnmarshaler or a pointer to a fixed-size value. A
// per-CPU map's value is one value per CPU: valueOut is then a []T of
// NumCPU elements or a *[]T, as in cilium/ebpf (or a []byte of every
// CPU's value, each padded to 8 bytes). Queue and Stack peek (key nil).
func (m *Map) Lookup(key, valueOut any) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	if kb, ok := key.([]byte); ok {
		if out, ok := valueOut.([]byte); ok {
			return m.wrap(m.m.Lookup(kb, out))
		}
	}
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	if err := m.wrap(m.m.Lookup(k, b.val)); err != nil {
		return err
	}
	return m.decodeValue(b.val, valueOut)
}

// LookupBytes returns the value of key as bytes, or nil without an
// error if the key does not exist, as cilium/ebpf's LookupBytes.
func (m *Map) LookupBytes(key any) ([]byte, error) {
	out := make([]byte, m.m.UserValueSize())
	err := m.Lookup(key, out)
	if errors.Is(err, ErrKeyNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LookupWithFlags is Lookup with flags. xebpf does not have LookupLock
// (a copy under the value's bpf_spin_lock) yet: it is refused with
// ErrNotSupported, as are other flags.
func (m *Map) LookupWithFlags(key, valueOut any, flags MapLookupFlags) error {
	if flags != 0 {
		return fmt.Errorf("map %s: lookup flags %#x: %w", m.name, uint64(flags), ErrNotSupported)
	}
	return m.Lookup(key, valueOut)
}

// LookupAndDeleteWithFlags is LookupAndDelete with flags, which it
// refuses as LookupWithFlags does.
func (m *Map) LookupAndDeleteWithFlags(key, valueOut any, flags MapLookupFlags) error {
	if flags != 0 {
		return fmt.Errorf("map %s: lookup flags %#x: %w", m.name, uint64(flags), ErrNotSupported)
	}
	return m.LookupAndDelete(key, valueOut)
}

// NextKeyBytes returns the key after key as bytes, nil at the end.
func (m *Map) NextKeyBytes(key any) ([]byte, error) {
	out := make([]byte, m.m.KeySize())
	err := m.NextKey(key, out)
	if errors.Is(err, ErrKeyNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MapLookupFlags are the flags of LookupWithFlags, as cilium/ebpf's.
type MapLookupFlags uint64

// LookupLock copies the value under its bpf_spin_lock.
const LookupLock MapLookupFlags = 4

// LookupInto copies the value of key into valueOut without marshalling:
// the fastest Go-side lookup (no allocation, no interface conversion).
func (m *Map) LookupInto(key, valueOut []byte) error {
	if err := m.enter(); err != nil {
		return err
	}
	err := m.m.Lookup(key, valueOut)
	m.life.release()
	if err != nil {
		return m.wrap(err)
	}
	return nil
}

// LookupAndDelete copies the value of key into valueOut (as Lookup) and
// deletes the element. Queue and Stack pop (key nil).
func (m *Map) LookupAndDelete(key, valueOut any) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	if err := m.wrap(m.m.LookupAndDelete(k, b.val)); err != nil {
		return err
	}
	return m.decodeValue(b.val, valueOut)
}

// Put sets key to value, creating or replacing it (Update with
// UpdateAny).
func (m *Map) Put(key, value any) error { return m.Update(key, value, UpdateAny) }

// Update sets key to value with flags (UpdateAny, UpdateNoExist,
// UpdateExist, UpdateLock). Keys and values are marshalled as Lookup
// decodes them; a per-CPU map takes a []T of NumCPU values. Queue and
// Stack push (key nil). A program array takes a *Program as its value,
// as cilium/ebpf's does: a program of the same collection and of the
// type of the programs that tail-call through the array. A map of maps
// takes an open *Map, of any collection or made by NewMap, that matches
// its inner template; the slot keeps it (and its memory) while it holds
// it, after the *Map and its collection are closed, as in Linux.
func (m *Map) Update(key, value any, flags MapUpdateFlags) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	if p, ok := value.(*Program); ok {
		return m.setProgram(key, p, flags)
	}
	if inner, ok := value.(*Map); ok {
		return m.setMap(key, inner, flags)
	}
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	v, err := m.encodeValue(b.val, value)
	if err != nil {
		return err
	}
	return m.wrap(m.m.Update(k, v, flags))
}

// Delete removes key.
func (m *Map) Delete(key any) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	return m.wrap(m.m.Delete(k))
}

// NextKey writes the key after key into nextKeyOut, as the kernel's
// BPF_MAP_GET_NEXT_KEY: a nil key, or one not in the map, gives the
// first key; after the last it returns ErrKeyNotExist.
func (m *Map) NextKey(key, nextKeyOut any) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	b := m.buf()
	defer m.bufs.Put(b)
	var k []byte
	if key != nil {
		var err error
		if k, err = m.key(b, key); err != nil {
			return err
		}
	}
	next := make([]byte, m.m.KeySize())
	if err := m.wrap(m.m.NextKey(k, next)); err != nil {
		return err
	}
	if err := binenc.Unmarshal(nextKeyOut, next); err != nil {
		return fmt.Errorf("map %s: next key: %w", m.name, err)
	}
	return nil
}

// All yields every entry's key and value bytes in key order, from a
// consistent walk of the map; it yields nothing once the map is closed.
func (m *Map) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		if m.enter() != nil {
			return
		}
		defer m.life.release()
		m.m.Iterate(func(e maps.Entry) bool { return yield(e.Key, e.Value) })
	}
}

func (m *Map) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("map %s: %w", m.name, err)
}

// key marshals a key into b.key; a nil key stays nil for maps without
// keys (Queue, Stack).
func (m *Map) key(b *mapBuf, key any) ([]byte, error) {
	if key == nil && m.m.KeySize() == 0 {
		return nil, nil
	}
	k, err := binenc.MarshalInto(b.key, key)
	if err != nil {
		return nil, fmt.Errorf("map %s: key: %w", m.name, err)
	}
	return k, nil
}

// perCPU reports whether values are one per CPU.
func (m *Map) perCPU() bool { return m.m.Type().IsPerCPU() }

// encodeValue marshals a value into buf (of the map's user value size).
func (m *Map) encodeValue(buf []byte, value any) ([]byte, error) {
	if _, isBytes := value.([]byte); m.perCPU() && !isBytes {
		return m.encodePerCPU(buf, value)
	}
	v, err := binenc.MarshalInto(buf, value)
	if err != nil {
		return nil, fmt.Errorf("map %s: value: %w", m.name, err)
	}
	return v, nil
}

// decodeValue decodes a value (of the map's user value size) into out.
func (m *Map) decodeValue(val []byte, out any) error {
	if _, isBytes := out.([]byte); m.perCPU() && !isBytes {
		return m.decodePerCPU(val, out)
	}
	if err := binenc.Unmarshal(out, val); err != nil {
		return fmt.Errorf("map %s: value: %w", m.name, err)
	}
	return nil
}

// encodePerCPU marshals a slice of NumCPU values, each into its
// 8-byte-aligned slot of buf.
func (m *Map) encodePerCPU(buf []byte, value any) ([]byte, error) {
	rv := reflect.ValueOf(value)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	n := maps.NumCPU()
	if rv.Kind() != reflect.Slice || rv.Len() != n {
		return nil, fmt.Errorf("map %s: value: per-CPU values need a slice of %d (one per CPU), got %T", m.name, n, value)
	}
	size, stride := m.m.ValueSize(), perCPUStride(m.m.ValueSize())
	clear(buf)
	for i := range n {
		if _, err := binenc.MarshalInto(buf[i*stride:i*stride+size], rv.Index(i).Interface()); err != nil {
			return nil, fmt.Errorf("map %s: value of CPU %d: %w", m.name, i, err)
		}
	}
	return buf, nil
}

// decodePerCPU decodes every CPU's value into out: a []T of NumCPU
// elements, or a *[]T it (re)allocates.
func (m *Map) decodePerCPU(val []byte, out any) error {
	rv := reflect.ValueOf(out)
	n := maps.NumCPU()
	switch {
	case rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Slice:
		if rv.Elem().Len() != n {
			rv.Elem().Set(reflect.MakeSlice(rv.Elem().Type(), n, n))
		}
		rv = rv.Elem()
	case rv.Kind() == reflect.Slice && rv.Len() == n:
	default:
		return fmt.Errorf("map %s: value: per-CPU values need a []T of %d (one per CPU) or a *[]T, got %T", m.name, n, out)
	}
	size, stride := m.m.ValueSize(), perCPUStride(m.m.ValueSize())
	for i := range n {
		if err := binenc.Unmarshal(rv.Index(i).Addr().Interface(), val[i*stride:i*stride+size]); err != nil {
			return fmt.Errorf("map %s: value of CPU %d: %w", m.name, i, err)
		}
	}
	return nil
}

// perCPUStride is the distance between CPUs' values in a per-CPU value
// buffer: the value size rounded up to 8, as in Linux.
func perCPUStride(size int) int { return (size + 7) &^ 7 }

// setProgram puts p into slot key of a program array, as Linux's
// bpf_fd_array_map_update_elem: only with UpdateAny, and only a program
// of the array's type. The program must be of the array's collection:
// tail calls join programs verified and prepared together (a fast
// program must not tail-call one that was only checked).
func (m *Map) setProgram(key any, p *Program, flags MapUpdateFlags) error {
	pa, ok := m.m.(maps.ProgramArrayMap)
	if !ok || m.m.Type() != maps.ProgramArray {
		return fmt.Errorf("map %s: a program as the value of a %s map: %w", m.name, m.Type(), ErrInvalidType)
	}
	if p == nil {
		return fmt.Errorf("map %s: nil program", m.name)
	}
	if p.coll != m.coll {
		return fmt.Errorf("map %s: program %s is of another collection: %w", m.name, p.name, ErrProgIncompatible)
	}
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := m.key(b, key)
	if err != nil {
		return err
	}
	if flags != UpdateAny {
		return fmt.Errorf("map %s: program array update flags %#x: %w", m.name, uint64(flags), maps.ErrInvalid)
	}
	m.coll.arrayMu.Lock()
	err = m.coll.ownArray(m.m, p)
	m.coll.arrayMu.Unlock()
	if err != nil {
		return fmt.Errorf("map %s: %w", m.name, err)
	}
	return m.wrap(pa.SetProgram(binary.NativeEndian.Uint32(k), p.prog))
}
