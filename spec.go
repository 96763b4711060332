package xebpf

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/xebpf/xebpf/elf"
)

// CollectionSpec is a parsed object file: programs, maps, global
// variables and types, not yet instantiated. Its fields are cilium/ebpf's
// (Maps, Programs, Variables, Types, ByteOrder) and the loader's
// (MapOrder, License, KernelVersion, Warnings).
type CollectionSpec elf.CollectionSpec

// VariableSpec is a global variable of a CollectionSpec, which may be read
// and set (Get, Set) before the collection is created.
type VariableSpec = elf.VariableSpec

// LoadCollectionSpec parses the eBPF ELF object at path.
func LoadCollectionSpec(path string) (*CollectionSpec, error) {
	cs, err := elf.LoadCollectionSpec(path)
	return (*CollectionSpec)(cs), err
}

// LoadCollectionSpecFromReader parses an eBPF ELF object, as bpf2go's
// generated code calls it on the embedded object.
func LoadCollectionSpecFromReader(r io.ReaderAt) (*CollectionSpec, error) {
	cs, err := elf.LoadCollectionSpecFromReader(r)
	return (*CollectionSpec)(cs), err
}

// loader returns cs as the loader's type.
func (cs *CollectionSpec) loader() *elf.CollectionSpec { return (*elf.CollectionSpec)(cs) }

// MapIndex returns the index of the named map in MapOrder, the index an
// lddw of a map by index refers to.
func (cs *CollectionSpec) MapIndex(name string) (int, bool) { return cs.loader().MapIndex(name) }

// Copy returns a copy of cs that shares no programs, maps or variables
// with it, so that changing one does not change the other.
func (cs *CollectionSpec) Copy() *CollectionSpec {
	if cs == nil {
		return nil
	}
	c := *cs
	c.Programs = make(map[string]*ProgramSpec, len(cs.Programs))
	for n, p := range cs.Programs {
		c.Programs[n] = p.Copy()
	}
	c.Maps = make(map[string]*MapSpec, len(cs.Maps))
	for n, m := range cs.Maps {
		c.Maps[n] = m.Copy()
	}
	c.Variables = make(map[string]*VariableSpec, len(cs.Variables))
	for n, v := range cs.Variables {
		c.Variables[n] = v.Copy()
	}
	c.MapOrder = append([]string(nil), cs.MapOrder...)
	c.Warnings = append([]string(nil), cs.Warnings...)
	return &c
}

// RewriteConstants sets global variables of the read-only data sections
// (C's volatile const configuration) by name, before the collection is
// created. Every name must be such a variable, and every value marshal to
// its size; nothing is changed otherwise.
func (cs *CollectionSpec) RewriteConstants(consts map[string]any) error {
	var missing []string
	staged := map[string][]byte{}
	for _, name := range slices.Sorted(maps.Keys(consts)) {
		v := cs.Variables[name]
		if v == nil || !v.Constant() {
			missing = append(missing, name)
			continue
		}
		probe := v.Copy()
		if err := probe.Set(consts[name]); err != nil {
			return fmt.Errorf("rewrite constants: %w", err)
		}
		staged[name] = probe.Value
	}
	if len(missing) > 0 {
		return fmt.Errorf("rewrite constants: no constant %s: %w", strings.Join(missing, ", "), ErrNotFound)
	}
	for name, b := range staged {
		cs.Variables[name].Value = b
	}
	return nil
}

// ErrNotFound is returned for a name a spec, collection or struct tag
// asks for that does not exist.
var ErrNotFound = errors.New("not found")

// Assign sets the fields of the struct to points to (tagged `ebpf:"name"`,
// of type *ProgramSpec, *MapSpec or *VariableSpec) to the spec's objects
// of those names, as cilium/ebpf's CollectionSpec.Assign.
func (cs *CollectionSpec) Assign(to any) error {
	return assignFields(to, func(t reflect.Type, name string) (any, error) {
		switch t {
		case reflect.TypeFor[*ProgramSpec]():
			if p := cs.Programs[name]; p != nil {
				return p, nil
			}
			return nil, fmt.Errorf("program %q: %w", name, ErrNotFound)
		case reflect.TypeFor[*MapSpec]():
			if m := cs.Maps[name]; m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("map %q: %w", name, ErrNotFound)
		case reflect.TypeFor[*VariableSpec]():
			if v := cs.Variables[name]; v != nil {
				return v, nil
			}
			return nil, fmt.Errorf("variable %q: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("field of type %s: want *ProgramSpec, *MapSpec or *VariableSpec", t)
	})
}

// LoadAndAssign creates the collection and sets the fields of the struct
// to points to (tagged `ebpf:"name"`, of type *Program, *Map or
// *Variable) to its objects of those names, as cilium/ebpf's
// LoadAndAssign, which bpf2go's generated loadXxxObjects calls. The
// caller owns the assigned objects and closes them (the generated
// structs' Close does); objects not assigned are closed at once. opts
// may be nil.
//
// Unlike cilium/ebpf, which loads only the requested programs, every
// program of the spec is verified and prepared: a program the verifier
// rejects fails the call even if no field asks for it.
func (cs *CollectionSpec) LoadAndAssign(to any, opts *CollectionOptions) error {
	if opts == nil {
		opts = &CollectionOptions{}
	}
	// Check the struct before creating anything.
	if err := assignFields(to, nil); err != nil {
		return err
	}
	coll, err := NewCollectionWithOptions(cs, *opts)
	if err != nil {
		return err
	}
	defer coll.Close()
	return coll.Assign(to)
}

// Assign sets the fields of the struct to points to (tagged
// `ebpf:"name"`, of type *Program, *Map or *Variable) to the collection's
// objects of those names, and detaches them from the collection: they
// stay open when it is closed, and the caller closes them.
func (c *Collection) Assign(to any) error {
	type key struct {
		t    reflect.Type
		name string
	}
	got := map[key]bool{}
	err := assignFields(to, func(t reflect.Type, name string) (any, error) {
		got[key{t, name}] = true
		switch t {
		case reflect.TypeFor[*Program]():
			if p := c.Programs[name]; p != nil {
				return p, nil
			}
			return nil, fmt.Errorf("program %q: %w", name, ErrNotFound)
		case reflect.TypeFor[*Map]():
			if m := c.Maps[name]; m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("map %q: %w", name, ErrNotFound)
		case reflect.TypeFor[*Variable]():
			if v := c.Variables[name]; v != nil {
				return v, nil
			}
			return nil, fmt.Errorf("variable %q: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("field of type %s: want *Program, *Map or *Variable", t)
	})
	if err != nil {
		return err
	}
	for k := range got {
		switch k.t {
		case reflect.TypeFor[*Program]():
			c.DetachProgram(k.name)
		case reflect.TypeFor[*Map]():
			c.DetachMap(k.name)
		}
	}
	return nil
}

// assignFields walks the struct to points to, embedded structs included,
// and sets each field tagged `ebpf:"name"` to get(field type, name). With
// get nil it only checks the struct's shape. A name assigned twice to
// fields of one type is an error, as in cilium/ebpf.
func assignFields(to any, get func(reflect.Type, string) (any, error)) error {
	v := reflect.ValueOf(to)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("assign: %T is not a pointer to a struct", to)
	}
	type key struct {
		t    reflect.Type
		name string
	}
	seen := map[key]string{}
	var walk func(s reflect.Value, path string) error
	walk = func(s reflect.Value, path string) error {
		st := s.Type()
		for i := range st.NumField() {
			f := st.Field(i)
			fv := s.Field(i)
			name, tagged := f.Tag.Lookup("ebpf")
			switch {
			case tagged:
				if name == "" {
					return fmt.Errorf("assign: field %s%s: empty ebpf tag", path, f.Name)
				}
				if !f.IsExported() {
					return fmt.Errorf("assign: field %s%s is unexported", path, f.Name)
				}
				k := key{f.Type, name}
				if prev, dup := seen[k]; dup {
					return fmt.Errorf("assign: %q is assigned to both %s and %s%s", name, prev, path, f.Name)
				}
				seen[k] = path + f.Name
				if get == nil {
					continue
				}
				obj, err := get(f.Type, name)
				if err != nil {
					return fmt.Errorf("assign field %s%s: %w", path, f.Name, err)
				}
				fv.Set(reflect.ValueOf(obj))
			case f.Anonymous && f.Type.Kind() == reflect.Struct:
				if err := walk(fv, path+f.Name+"."); err != nil {
					return err
				}
			case f.Anonymous && f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
				if fv.IsNil() {
					if get == nil {
						continue
					}
					fv.Set(reflect.New(f.Type.Elem()))
				}
				if err := walk(fv.Elem(), path+f.Name+"."); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v.Elem(), "")
}

// Summary describes the spec's programs, maps and unresolved references,
// as `xebpf inspect` prints them.
func (cs *CollectionSpec) Summary() elf.Summary { return cs.loader().Summary() }
