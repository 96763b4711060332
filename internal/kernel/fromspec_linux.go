//go:build linux

package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"

	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/isa"
)

// errMapNotCreated marks a program that refers to a map the kernel refused.
var errMapNotCreated = errors.New("map not created")

// LoadSpec loads an object that xebpf's ELF loader parsed into the kernel:
// the same maps and programs as Load, built from spec instead of read by
// cilium/ebpf, so objects that cilium/ebpf cannot parse (legacy map
// sections without BTF, iproute2 objects) load too.
//
// Maps are created from their elf.MapSpec: Linux type, sizes, flags, inner
// map and initial contents, global data as single-entry arrays (.rodata and
// .kconfig frozen after their contents are written), libbpf's sizes for
// ring buffers, perf event arrays and maps of maps, BTF key and value types
// when spec has them. A map the kernel refuses does not fail the load: the
// programs that refer to it fail instead, with an error wrapping its
// reason. Each program's instructions get their map references (lddw with
// src isa.PseudoMapIndex or isa.PseudoMapIndexValue) turned into map file
// descriptors; its type is opts.Types[name] when set, the spec's type
// otherwise. Programs load one by one, program arrays are then filled from
// their initial slots with the programs that loaded, and opts.Maps is
// written last (frozen maps before they are frozen).
//
// LoadSpec fails only if a selected program does not exist or a preload
// cannot be applied.
func LoadSpec(spec *elf.CollectionSpec, opts LoadOptions) (*Collection, error) {
	if spec == nil {
		return nil, errors.New("load spec: nil spec")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("%w: remove memlock limit: %v", ErrUnavailable, err)
	}
	cspec, err := ciliumSpec(spec, opts.Types)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	names, err := selectPrograms(cspec, opts.Programs)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	late := map[string]MapState{}
	for name, st := range opts.Maps {
		ms, ok := cspec.Maps[name]
		if !ok {
			return nil, fmt.Errorf("load spec: preload map %q: %w", name, ErrUnknownMap)
		}
		if !frozenAtLoad(name) {
			late[name] = st
			continue
		}
		if err := preloadSpec(ms, st); err != nil {
			return nil, fmt.Errorf("load spec: preload map %q: %w", name, err)
		}
	}

	c := &Collection{
		spec:     cspec,
		maps:     map[string]*ebpf.Map{},
		progs:    map[string]*ebpf.Program{},
		progErrs: map[string]error{},
		progByID: map[ebpf.ProgramID]string{},
		mapByID:  map[ebpf.MapID]string{},
	}
	mapErrs := map[string]error{}
	for _, name := range spec.MapOrder {
		m, err := newKernelMap(cspec.Maps[name])
		if err != nil {
			mapErrs[name] = err
			continue
		}
		c.maps[name] = m
	}
	// Maps of maps take their inner maps once all maps exist.
	for _, name := range spec.MapOrder {
		outer := c.maps[name]
		if outer == nil {
			continue
		}
		for _, kv := range spec.Maps[name].Contents {
			if kv.Ref == nil || kv.Ref.Kind != elf.RefMap {
				continue
			}
			inner := c.maps[kv.Ref.Name]
			if inner == nil {
				continue // refused: the slot stays empty, as for libbpf's failed loads
			}
			if err := outer.Put(kv.Key, inner); err != nil {
				c.Close()
				return nil, fmt.Errorf("load spec: map %q: slot %x: map %q: %w", name, kv.Key, kv.Ref.Name, err)
			}
		}
	}

	byIndex := make([]*ebpf.Map, len(spec.MapOrder))
	for i, name := range spec.MapOrder {
		byIndex[i] = c.maps[name]
	}
	for _, name := range names {
		ps := cspec.Programs[name]
		insns, err := programInstructions(spec.Programs[name], spec.MapOrder, byIndex, mapErrs)
		if err != nil {
			c.progErrs[name] = err
			continue
		}
		if ps.Type == ebpf.UnspecifiedProgram {
			c.progErrs[name] = fmt.Errorf("section %q: program type is unspecified", ps.SectionName)
			continue
		}
		one := ps.Copy()
		one.Instructions = insns
		one.Name = objName(name)
		prog, err := ebpf.NewProgram(one)
		if err != nil {
			c.progErrs[name] = err
			continue
		}
		c.progs[name] = prog
	}
	c.indexIDs()

	for _, name := range spec.MapOrder {
		m := c.maps[name]
		if m == nil {
			continue
		}
		for _, kv := range spec.Maps[name].Contents {
			if kv.Ref == nil || kv.Ref.Kind != elf.RefProgram {
				continue
			}
			prog := c.progs[kv.Ref.Name]
			if prog == nil {
				continue // not selected or not loaded: its slot stays empty
			}
			if err := m.Put(kv.Key, prog); err != nil {
				c.Close()
				return nil, fmt.Errorf("load spec: map %q: slot %x: program %q: %w", name, kv.Key, kv.Ref.Name, err)
			}
		}
	}
	if err := c.LoadMaps(late); err != nil {
		c.Close()
		return nil, fmt.Errorf("load spec: %w", err)
	}
	return c, nil
}

// indexIDs records the kernel ids of the collection's maps and programs, by
// which DumpMaps names the contents of program arrays and maps of maps.
func (c *Collection) indexIDs() {
	for name, m := range c.maps {
		if info, err := m.Info(); err == nil {
			if id, ok := info.ID(); ok {
				c.mapByID[id] = name
			}
		}
	}
	for name, p := range c.progs {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				c.progByID[id] = name
			}
		}
	}
}

// ciliumSpec converts xebpf's spec to cilium/ebpf's: map specs with their
// plain initial contents (slots naming maps or programs are left to
// LoadSpec), and program specs without instructions, typed by types or by
// the section.
func ciliumSpec(spec *elf.CollectionSpec, types map[string]elf.ProgramType) (*ebpf.CollectionSpec, error) {
	cs := &ebpf.CollectionSpec{
		Maps:      make(map[string]*ebpf.MapSpec, len(spec.Maps)),
		Programs:  make(map[string]*ebpf.ProgramSpec, len(spec.Programs)),
		Types:     spec.Types,
		ByteOrder: binary.LittleEndian,
	}
	for _, name := range spec.MapOrder {
		ms := spec.Maps[name]
		if ms == nil {
			return nil, fmt.Errorf("map %q: listed in MapOrder, missing from Maps", name)
		}
		cs.Maps[name] = ciliumMapSpec(name, ms, 0)
	}
	for name, ps := range spec.Programs {
		typ := ps.Type
		if t, ok := types[name]; ok {
			typ = t
		}
		p := &ebpf.ProgramSpec{
			Name:          name,
			Type:          ebpf.ProgramType(typ),
			SectionName:   ps.SectionName,
			License:       ps.License,
			KernelVersion: ps.KernelVersion,
		}
		if ps.AttachType != elf.AttachNone && typ == ps.Type {
			p.AttachType = ebpf.AttachType(ps.AttachType)
		}
		if p.License == "" {
			p.License = spec.License
		}
		cs.Programs[name] = p
	}
	return cs, nil
}

// Flags of BPF_MAP_CREATE.
const (
	flagRdonlyProg = 1 << 7 // BPF_F_RDONLY_PROG
)

// ciliumMapSpec converts one map spec, following libbpf's conventions for
// the sizes a definition may leave out.
func ciliumMapSpec(name string, ms *elf.MapSpec, depth int) *ebpf.MapSpec {
	out := &ebpf.MapSpec{
		Name:       objName(name),
		Type:       ebpf.MapType(ms.Type),
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		NumaNode:   ms.NumaNode,
		MapExtra:   ms.MapExtra,
		Key:        ms.Key,
		Value:      ms.Value,
	}
	switch ms.Type {
	case elf.MapTypeRingBuf, elf.MapTypeUserRingBuf:
		// libbpf ignores the key and value types a BTF definition gives a
		// ring buffer: they only document the record type.
		out.KeySize, out.ValueSize = 0, 0
		out.Key, out.Value = nil, nil
	case elf.MapTypePerfEventArray:
		// Values are 4-byte event fds; max_entries 0 means one per
		// possible CPU (cilium/ebpf fills it in), other sizes stay.
		out.KeySize, out.ValueSize = 4, 4
		out.Key, out.Value = nil, nil
	case elf.MapTypeArrayOfMaps, elf.MapTypeHashOfMaps:
		// Values are 4-byte map fds: BTF definitions (__array(values,
		// ...)) give no size.
		out.ValueSize = 4
		out.Value = nil
	}
	if ms.ReadOnly || frozenAtLoad(name) {
		// cilium/ebpf freezes .rodata* and .kconfig by name once their
		// contents are written.
		out.Flags |= flagRdonlyProg
	}
	for _, kv := range ms.Contents {
		if kv.Ref != nil {
			continue
		}
		v := kv.Value
		if n := int(out.ValueSize); len(v) < n {
			v = append(slices.Clone(v), make([]byte, n-len(v))...)
		}
		out.Contents = append(out.Contents, ebpf.MapKV{Key: slices.Clone(kv.Key), Value: v})
	}
	if ms.InnerMap != nil && depth < 4 {
		out.InnerMap = ciliumMapSpec(name+".inner", ms.InnerMap, depth+1)
	}
	return out
}

// newKernelMap creates one map and writes its plain initial contents,
// retrying without BTF key and value types when the kernel refuses them.
func newKernelMap(ms *ebpf.MapSpec) (*ebpf.Map, error) {
	if ms.Type == ebpf.CPUMap || (ms.Type == ebpf.PerfEventArray && ms.MaxEntries != 0) {
		return newDeclaredMap(ms)
	}
	m, err := ebpf.NewMap(ms)
	if err == nil || (ms.Key == nil && ms.Value == nil) {
		return m, err
	}
	plain := ms.Copy()
	plain.Key, plain.Value = nil, nil
	if m, err2 := ebpf.NewMap(plain); err2 == nil {
		return m, nil
	}
	return nil, err
}

// objName makes a kernel object name of at most 15 characters from
// letters, digits, '_' and '.', which is all BPF_OBJ_NAME_LEN allows.
func objName(name string) string {
	b := []byte(name)
	for i, ch := range b {
		ok := ch == '_' || ch == '.' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 15 {
		b = b[:15]
	}
	return string(b)
}

// programInstructions converts a program's instructions to cilium/ebpf's,
// with map references by index turned into references to the created maps.
func programInstructions(ps *elf.ProgramSpec, order []string, byIndex []*ebpf.Map, mapErrs map[string]error) (asm.Instructions, error) {
	r := bytes.NewReader(isa.Encode(nil, ps.Instructions))
	insns := make(asm.Instructions, 0, len(ps.Instructions))
	for r.Len() > 0 {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return nil, fmt.Errorf("instruction %d: decode: %w", len(insns), err)
		}
		insns = append(insns, ins)
	}
	for i := range insns {
		ins := &insns[i]
		if !ins.OpCode.IsDWordLoad() {
			continue
		}
		src := isa.Register(ins.Src)
		if src != isa.PseudoMapIndex && src != isa.PseudoMapIndexValue {
			continue
		}
		idx := uint32(ins.Constant)
		if uint64(idx) >= uint64(len(byIndex)) {
			return nil, fmt.Errorf("instruction %d: reference to map %d of %d", i, idx, len(byIndex))
		}
		m := byIndex[idx]
		if m == nil {
			name := order[idx]
			return nil, fmt.Errorf("map %q: %w: %w", name, errMapNotCreated, mapErrs[name])
		}
		if src == isa.PseudoMapIndex {
			ins.Src, ins.Constant = asm.PseudoMapFD, 0
		} else {
			off := uint64(ins.Constant) >> 32
			ins.Src, ins.Constant = asm.PseudoMapValue, int64(off<<32)
		}
		if err := ins.AssociateMap(m); err != nil {
			return nil, fmt.Errorf("instruction %d: %w", i, err)
		}
	}
	return insns, nil
}
