package elf

import (
	stdelf "debug/elf"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/xebpf/xebpf/internal/binenc"
)

// VariableSpec is a global variable of a data section (.data, .rodata,
// .bss and their named variants), as cilium/ebpf's VariableSpec: its
// value may be read and changed before the collection is created, which
// then writes it into the section's map. Values are in native byte order.
type VariableSpec struct {
	Name string
	// SectionName is the data section the variable lives in, which is
	// also the name of that section's map.
	SectionName string
	// Offset is the variable's offset in the section.
	Offset uint32
	// Value is the variable's bytes: its initial value, or what Set
	// wrote.
	Value []byte
	// Type is the variable's BTF, nil when the object has none.
	Type *btf.Var
}

// ErrVariableUninitialized is returned by VariableSpec.Get for a variable
// without a value.
var ErrVariableUninitialized = errors.New("variable has no value")

// Set sets the variable's value to in: a []byte, an
// encoding.BinaryMarshaler, or a fixed-size value encoding/binary
// marshals, of exactly the variable's size.
func (s *VariableSpec) Set(in any) error {
	b, err := binenc.Marshal(in, int(s.Size()))
	if err != nil {
		return fmt.Errorf("variable %s: %w", s.Name, err)
	}
	s.Value = b
	return nil
}

// Get decodes the variable's value into out: a []byte of its size, an
// encoding.BinaryUnmarshaler, or a pointer to a fixed-size value.
func (s *VariableSpec) Get(out any) error {
	if s.Value == nil {
		return fmt.Errorf("variable %s: %w", s.Name, ErrVariableUninitialized)
	}
	if err := binenc.Unmarshal(out, s.Value); err != nil {
		return fmt.Errorf("variable %s: %w", s.Name, err)
	}
	return nil
}

// Size returns the variable's size in bytes.
func (s *VariableSpec) Size() uint32 {
	if s.Value != nil {
		return uint32(len(s.Value))
	}
	if s.Type != nil {
		if n, err := btf.Sizeof(s.Type.Type); err == nil {
			return uint32(n)
		}
	}
	return 0
}

// Constant reports whether the variable is in a read-only section
// (.rodata: C's const and volatile const), whose values programs and, once
// the collection is created, Go code cannot change.
func (s *VariableSpec) Constant() bool { return isConstantSection(s.SectionName) }

// String describes the variable.
func (s *VariableSpec) String() string {
	return fmt.Sprintf("%s (type=%v, section=%s, offset=%d, size=%d)", s.Name, s.Type, s.SectionName, s.Offset, s.Size())
}

// Copy returns a copy of the variable that shares nothing with it.
func (s *VariableSpec) Copy() *VariableSpec {
	c := *s
	c.Value = slices.Clone(s.Value)
	if s.Type != nil {
		c.Type = btf.Copy(s.Type).(*btf.Var)
	}
	return &c
}

func isConstantSection(name string) bool {
	return name == ".rodata" || strings.HasPrefix(name, ".rodata.")
}

// loadVariables records the global variables of data section s (whose
// contents are data), as cilium/ebpf does: symbols of global or weak
// binding that are not hidden and whose names do not start with a dot.
func (ld *loader) loadVariables(s *section, data []byte, ds *btf.Datasec) error {
	for i := range ld.syms {
		sym := &ld.syms[i]
		if ld.symSection(sym) != s || sym.isSection() {
			continue
		}
		if v := stdelf.ST_VISIBILITY(sym.Other); v == stdelf.STV_HIDDEN || v == stdelf.STV_INTERNAL {
			continue
		}
		if b := sym.bind(); b != stdelf.STB_GLOBAL && b != stdelf.STB_WEAK {
			continue
		}
		if sym.Name == "" || strings.HasPrefix(sym.Name, ".") {
			continue
		}
		if sym.Value > s.size || sym.Size > s.size-sym.Value {
			return secErr(s.name, int64(sym.Value), ErrMalformed, "variable %q of %d bytes past the section's %d", sym.Name, sym.Size, s.size)
		}
		if _, dup := ld.vars[sym.Name]; dup {
			return secErr(s.name, int64(sym.Value), ErrMalformed, "duplicate variable %q", sym.Name)
		}
		v := &VariableSpec{Name: sym.Name, SectionName: s.name, Offset: uint32(sym.Value), Value: make([]byte, sym.Size)}
		if uint64(len(data)) >= sym.Value+sym.Size {
			copy(v.Value, data[sym.Value:sym.Value+sym.Size])
		}
		if ds != nil {
			for _, vs := range ds.Vars {
				if bv, ok := vs.Type.(*btf.Var); ok && bv.Name == sym.Name {
					v.Type = bv
				}
			}
		}
		if ld.vars == nil {
			ld.vars = map[string]*VariableSpec{}
		}
		ld.vars[sym.Name] = v
	}
	return nil
}
