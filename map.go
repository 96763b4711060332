package xebpf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/xebpf/xebpf/maps"
)

// Map is a map of a Collection. Keys and values are []byte of the map's
// key and value size, or fixed-size values that encoding/binary can
// marshal in native byte order (uint32, structs of fixed-size fields,
// arrays).
type Map struct {
	name string
	m    maps.Map
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

// Underlying returns the maps.Map behind m, for operations this type does
// not wrap (ring buffer readers, map-in-map slots).
func (m *Map) Underlying() maps.Map { return m.m }

// Lookup copies the value of key into valueOut (a []byte or a pointer to
// a fixed-size value). Per-CPU maps fill one value per CPU.
func (m *Map) Lookup(key, valueOut any) error {
	k, err := marshal(key, m.m.KeySize())
	if err != nil {
		return fmt.Errorf("map %s: key: %w", m.name, err)
	}
	if b, ok := valueOut.([]byte); ok {
		return m.wrap(m.m.Lookup(k, b))
	}
	buf := make([]byte, m.m.UserValueSize())
	if err := m.m.Lookup(k, buf); err != nil {
		return m.wrap(err)
	}
	return unmarshal(buf, valueOut)
}

// Update sets key to value with flags (maps.UpdateAny, UpdateNoExist,
// UpdateExist, UpdateLock).
func (m *Map) Update(key, value any, flags maps.UpdateFlags) error {
	k, err := marshal(key, m.m.KeySize())
	if err != nil {
		return fmt.Errorf("map %s: key: %w", m.name, err)
	}
	v, err := marshal(value, m.m.UserValueSize())
	if err != nil {
		return fmt.Errorf("map %s: value: %w", m.name, err)
	}
	return m.wrap(m.m.Update(k, v, flags))
}

// Delete removes key.
func (m *Map) Delete(key any) error {
	k, err := marshal(key, m.m.KeySize())
	if err != nil {
		return fmt.Errorf("map %s: key: %w", m.name, err)
	}
	return m.wrap(m.m.Delete(k))
}

// Iterate yields every entry's key and value bytes in key order.
func (m *Map) Iterate() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		m.m.Iterate(func(e maps.Entry) bool { return yield(e.Key, e.Value) })
	}
}

func (m *Map) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("map %s: %w", m.name, err)
}

// marshal encodes v as exactly size bytes.
func marshal(v any, size int) ([]byte, error) {
	if v == nil && size == 0 {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		if len(b) != size {
			return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
		}
		return b, nil
	}
	if binary.Size(v) != size {
		return nil, fmt.Errorf("%T is %d bytes, want %d", v, binary.Size(v), size)
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unmarshal(b []byte, out any) error {
	if binary.Size(out) != len(b) {
		return fmt.Errorf("%T is %d bytes, want %d", out, binary.Size(out), len(b))
	}
	return binary.Read(bytes.NewReader(b), binary.NativeEndian, out)
}
