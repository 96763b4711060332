// Package ctxaccess describes context layouts and rewrites a program's
// loads and stores through its context pointer for xebpf's in-memory
// layout, as the Linux kernel's convert_ctx_accesses does after
// verification.
//
// A context type is described by the C struct that programs are compiled
// against (xdp_md, __sk_buff, or a host-defined struct). xebpf lays the
// context out in memory as that struct, followed by one 64-bit word per
// pointer field: a program reads xdp_md.data as a u32, but the packet
// address needs 64 bits. Loads of pointer fields are rewritten to 64-bit
// loads of their word; every other access keeps its offset and is checked
// against the field list (in bounds, inside one field, writable for
// stores).
//
// Which accesses go through the context, and at which offset of it their
// base points, is the verifier's finding: Verify's for verified programs,
// its permissive analysis' (verifier.Analyze) for the others.
package ctxaccess

import (
	"fmt"

	"github.com/xebpf/xebpf/isa"
)

// Kind is the kind of a context field.
type Kind uint8

// Field kinds.
const (
	Scalar      Kind = iota // plain data
	PacketStart             // pointer to the first packet byte (data)
	PacketEnd               // pointer one past the last packet byte (data_end)
	PacketMeta              // pointer to the metadata before the packet (data_meta)
	Pointer                 // another 64-bit pointer the host provides
)

// IsPointer reports whether fields of kind k hold a 64-bit address.
func (k Kind) IsPointer() bool { return k != Scalar }

// Field is one field of the C context struct.
type Field struct {
	Name     string
	Offset   int // in the C struct
	Size     int // in the C struct: 4 for xdp_md.data
	Kind     Kind
	Writable bool
}

// Layout is a context type: the C struct's size and fields. A layout with
// no fields is raw memory: accesses are neither checked nor rewritten.
type Layout struct {
	Name   string
	Size   int
	Fields []Field
}

// MemorySize is the size of the context in memory: the struct, rounded up
// to 8 bytes, then one 64-bit word per pointer field.
func (l *Layout) MemorySize() int {
	n := (l.Size + 7) &^ 7
	for _, f := range l.Fields {
		if f.Kind.IsPointer() {
			n += 8
		}
	}
	return n
}

// PointerOffset returns the offset in context memory of the 64-bit word of
// the first pointer field of kind k.
func (l *Layout) PointerOffset(k Kind) (int, bool) {
	n := (l.Size + 7) &^ 7
	for _, f := range l.Fields {
		if !f.Kind.IsPointer() {
			continue
		}
		if f.Kind == k {
			return n, true
		}
		n += 8
	}
	return 0, false
}

func (l *Layout) wordOffset(field int) int {
	n := (l.Size + 7) &^ 7
	for i, f := range l.Fields {
		if i == field {
			return n
		}
		if f.Kind.IsPointer() {
			n += 8
		}
	}
	return n
}

// RewriteAccess checks one access through a base pointing k bytes into
// the context, as found by a verifier, and rewrites it for the context's
// in-memory layout.
func (l *Layout) RewriteAccess(ins isa.Instruction, k int) (isa.Instruction, error) {
	if len(l.Fields) == 0 {
		return ins, nil
	}
	return l.access(ins, k)
}

// access checks one access at context offset k+ins.Offset and rewrites it.
func (l *Layout) access(ins isa.Instruction, k int) (isa.Instruction, error) {
	off := k + int(ins.Offset)
	size := ins.OpCode.Size().Bytes()
	write := ins.OpCode.Class() != isa.ClassLDX
	if ins.OpCode.Mode() == isa.ModeAtomic {
		return ins, fmt.Errorf("atomic operation on the %s context", l.Name)
	}
	if off < 0 || off+size > l.Size {
		return ins, fmt.Errorf("%s context access out of bounds: offset %d, size %d, struct size %d", l.Name, off, size, l.Size)
	}
	for i, f := range l.Fields {
		if off < f.Offset || off >= f.Offset+f.Size {
			continue
		}
		if off+size > f.Offset+f.Size {
			return ins, fmt.Errorf("%s context access at offset %d, size %d crosses field %s", l.Name, off, size, f.Name)
		}
		if f.Kind.IsPointer() {
			if write {
				return ins, fmt.Errorf("write to %s pointer field %s", l.Name, f.Name)
			}
			if off != f.Offset || (size != 4 && size != 8) || ins.OpCode.Mode() == isa.ModeMemSX {
				return ins, fmt.Errorf("narrow or offset read of %s pointer field %s", l.Name, f.Name)
			}
			nw := l.wordOffset(i) - k
			if nw != int(int16(nw)) {
				return ins, fmt.Errorf("context offset %d does not fit an instruction", nw)
			}
			ins.OpCode = isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeDW)
			ins.Offset = int16(nw)
			return ins, nil
		}
		if write && !f.Writable {
			return ins, fmt.Errorf("write to read-only %s field %s", l.Name, f.Name)
		}
		return ins, nil
	}
	return ins, fmt.Errorf("%s context access at offset %d, size %d is not a field", l.Name, off, size)
}
