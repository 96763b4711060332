package xebpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/xebpf/xebpf/internal/binenc"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/maps"
)

// ErrReadOnly is returned for writes to a read-only object: a Variable of
// a read-only section (C's const and volatile const) after the
// collection was created.
var ErrReadOnly = errors.New("read-only")

// Variable is a global variable of a Collection: Get and Set read and
// write the value the programs see, in native byte order, as
// cilium/ebpf's Variable does through the section's memory mapping. A
// Variable stays usable after its collection is closed as long as any
// of the collection's programs or maps is open; once all of them are
// closed, its calls return ErrClosed. It is safe for concurrent use; a
// Set racing with a program writing the same variable leaves either's
// bytes, as in Linux.
type Variable struct {
	name     string
	size     uint32
	t        *btf.Var
	readOnly bool
	coll     *Collection
	addr     uintptr // the value's address in its section's map
}

// Size returns the variable's size in bytes.
func (v *Variable) Size() uint32 { return v.size }

// ReadOnly reports whether the variable is in a read-only section, which
// Set refuses after load.
func (v *Variable) ReadOnly() bool { return v.readOnly }

// Type returns the variable's BTF, nil when the object has none.
func (v *Variable) Type() *btf.Var { return v.t }

// String describes the variable.
func (v *Variable) String() string { return fmt.Sprintf("%s (type=%v)", v.name, v.t) }

// Set writes in (a []byte, an encoding.BinaryMarshaler or a fixed-size
// value encoding/binary marshals) as the variable's value; it must
// marshal to exactly the variable's size.
func (v *Variable) Set(in any) error {
	if v.readOnly {
		return fmt.Errorf("variable %s: %w", v.name, ErrReadOnly)
	}
	b, err := binenc.Marshal(in, int(v.size))
	if err != nil {
		return fmt.Errorf("variable %s: %w", v.name, err)
	}
	if !v.coll.life.acquireLive() {
		return fmt.Errorf("variable %s: %w", v.name, ErrClosed)
	}
	defer v.coll.life.release()
	copy(platform.BytesAt(v.addr, int(v.size)), b)
	return nil
}

// Get reads the variable's value into out: a []byte of its size, an
// encoding.BinaryUnmarshaler, or a pointer to a fixed-size value.
func (v *Variable) Get(out any) error {
	if !v.coll.life.acquireLive() {
		return fmt.Errorf("variable %s: %w", v.name, ErrClosed)
	}
	b := append([]byte(nil), platform.BytesAt(v.addr, int(v.size))...)
	v.coll.life.release()
	if err := binenc.Unmarshal(out, b); err != nil {
		return fmt.Errorf("variable %s: %w", v.name, err)
	}
	return nil
}

// newVariables builds the collection's Variables from the spec's, once
// the data maps are filled.
func (c *Collection) newVariables(spec *CollectionSpec) error {
	c.Variables = make(map[string]*Variable, len(spec.Variables))
	for name, vs := range spec.Variables {
		i, ok := spec.MapIndex(vs.SectionName)
		if !ok {
			return fmt.Errorf("variable %s: no map for section %s", name, vs.SectionName)
		}
		m := c.byIndex[i]
		size := vs.Size()
		if uint64(vs.Offset)+uint64(size) > uint64(m.ValueSize()) {
			return fmt.Errorf("variable %s: %d bytes at %d past section %s's %d", name, size, vs.Offset, vs.SectionName, m.ValueSize())
		}
		base, err := c.valueAddr(m)
		if err != nil {
			return fmt.Errorf("variable %s: %w", name, err)
		}
		c.Variables[name] = &Variable{name: name, size: size, t: vs.Type, readOnly: spec.Maps[vs.SectionName].ReadOnly,
			coll: c, addr: base + uintptr(vs.Offset)}
	}
	return nil
}

// valueAddr returns the address of the value of a global-data map (a
// one-element array).
func (c *Collection) valueAddr(m maps.Map) (uintptr, error) {
	clear(c.scratch.Bytes()[:8]) // key 0
	base := m.LookupAddr(c.scratch.Addr())
	if base == 0 {
		return 0, fmt.Errorf("map %s has no element 0", m.Spec().Name)
	}
	return base, nil
}

// dataWithVariables returns the initial value of a global-data map: the
// section's bytes with the values of its variables written over them.
func dataWithVariables(spec *CollectionSpec, ms *MapSpec, v []byte) []byte {
	copied := false
	for _, vs := range spec.Variables {
		if vs.SectionName != ms.Name || vs.Value == nil {
			continue
		}
		if !copied {
			v, copied = append([]byte(nil), v...), true
		}
		if end := int(vs.Offset) + len(vs.Value); end > len(v) {
			v = append(v, make([]byte, end-len(v))...)
		}
		copy(v[vs.Offset:], vs.Value)
	}
	return v
}
