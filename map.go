package xebpf

import (
	"encoding/binary"
	"fmt"
	"iter"
	"sync"

	"github.com/xebpf/xebpf/maps"
)

// Map is a map of a Collection. Keys and values are []byte of the map's
// key and value size, or fixed-size values that encoding/binary can
// marshal in native byte order (uint32, structs of fixed-size fields,
// arrays).
//
// A Map is safe for concurrent use. Close may be called while other
// goroutines use the map and while programs run.
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
func (m *Map) Type() maps.Type { return m.m.Type() }

// KeySize returns the key size in bytes.
func (m *Map) KeySize() int { return m.m.KeySize() }

// ValueSize returns the value size in bytes (for per-CPU maps, of one
// CPU's value).
func (m *Map) ValueSize() int { return m.m.ValueSize() }

// MaxEntries returns the map's capacity.
func (m *Map) MaxEntries() int { return m.m.MaxEntries() }

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

// Lookup copies the value of key into valueOut (a []byte or a pointer to
// a fixed-size value). Per-CPU maps fill one value per CPU.
func (m *Map) Lookup(key, valueOut any) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	if kb, ok := key.([]byte); ok {
		if out, ok := valueOut.([]byte); ok {
			return m.lookupBytes(kb, out)
		}
	}
	b := m.buf()
	k, err := marshalInto(b.key, key)
	switch out, isBytes := valueOut.([]byte); {
	case err != nil:
		err = fmt.Errorf("map %s: key: %w", m.name, err)
	case isBytes:
		err = m.wrap(m.m.Lookup(k, out))
	default:
		if err = m.wrap(m.m.Lookup(k, b.val)); err == nil {
			err = unmarshal(b.val, valueOut)
		}
	}
	m.bufs.Put(b)
	return err
}

// LookupBytes copies the value of key into valueOut without marshalling:
// the fastest Go-side lookup (no allocation, no interface conversion).
func (m *Map) LookupBytes(key, valueOut []byte) error {
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

// lookupBytes is LookupBytes for a caller holding a reference.
func (m *Map) lookupBytes(key, valueOut []byte) error {
	if err := m.m.Lookup(key, valueOut); err != nil {
		return m.wrap(err)
	}
	return nil
}

// Update sets key to value with flags (maps.UpdateAny, UpdateNoExist,
// UpdateExist, UpdateLock).
func (m *Map) Update(key, value any, flags maps.UpdateFlags) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.life.release()
	b := m.buf()
	defer m.bufs.Put(b)
	k, err := marshalInto(b.key, key)
	if err != nil {
		return fmt.Errorf("map %s: key: %w", m.name, err)
	}
	v, err := marshalInto(b.val, value)
	if err != nil {
		return fmt.Errorf("map %s: value: %w", m.name, err)
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
	k, err := marshalInto(b.key, key)
	if err != nil {
		return fmt.Errorf("map %s: key: %w", m.name, err)
	}
	return m.wrap(m.m.Delete(k))
}

// Iterate yields every entry's key and value bytes in key order; it
// yields nothing once the map is closed.
func (m *Map) Iterate() iter.Seq2[[]byte, []byte] {
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

// marshalInto encodes v into buf, which has exactly the size v must have,
// and returns the bytes to use (v itself when it is a []byte). Integer
// types take a fast path; other fixed-size types go through
// encoding/binary.
func marshalInto(buf []byte, v any) ([]byte, error) {
	size := len(buf)
	n := 0
	switch x := v.(type) {
	case nil:
		if size == 0 {
			return nil, nil
		}
	case []byte:
		if len(x) != size {
			return nil, fmt.Errorf("%d bytes, want %d", len(x), size)
		}
		return x, nil
	case uint8:
		n = 1
		if size == n {
			buf[0] = x
			return buf, nil
		}
	case uint16:
		n = 2
		if size == n {
			binary.NativeEndian.PutUint16(buf, x)
			return buf, nil
		}
	case uint32:
		n = 4
		if size == n {
			binary.NativeEndian.PutUint32(buf, x)
			return buf, nil
		}
	case int32:
		n = 4
		if size == n {
			binary.NativeEndian.PutUint32(buf, uint32(x))
			return buf, nil
		}
	case uint64:
		n = 8
		if size == n {
			binary.NativeEndian.PutUint64(buf, x)
			return buf, nil
		}
	case int64:
		n = 8
		if size == n {
			binary.NativeEndian.PutUint64(buf, uint64(x))
			return buf, nil
		}
	default:
		n = binary.Size(v)
		if n == size {
			if _, err := binary.Encode(buf, binary.NativeEndian, v); err != nil {
				return nil, err
			}
			return buf, nil
		}
	}
	return nil, fmt.Errorf("%T is %d bytes, want %d", v, n, size)
}

// unmarshal decodes b into out, a pointer to a fixed-size value.
func unmarshal(b []byte, out any) error {
	switch x := out.(type) {
	case *uint64:
		if len(b) == 8 {
			*x = binary.NativeEndian.Uint64(b)
			return nil
		}
	case *uint32:
		if len(b) == 4 {
			*x = binary.NativeEndian.Uint32(b)
			return nil
		}
	case *int64:
		if len(b) == 8 {
			*x = int64(binary.NativeEndian.Uint64(b))
			return nil
		}
	case *int32:
		if len(b) == 4 {
			*x = int32(binary.NativeEndian.Uint32(b))
			return nil
		}
	}
	if binary.Size(out) != len(b) {
		return fmt.Errorf("%T is %d bytes, want %d", out, binary.Size(out), len(b))
	}
	_, err := binary.Decode(b, binary.NativeEndian, out)
	return err
}
