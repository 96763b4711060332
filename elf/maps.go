package elf

import (
	stdelf "debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Map flags the loader sets on global data maps, as Linux defines them.
const (
	flagRdonlyProg = 0x80 // BPF_F_RDONLY_PROG
)

// mapSymbols returns the map symbols of a maps section sorted by offset.
func (ld *loader) sectionObjects(s *section) []*symbol {
	var out []*symbol
	for i := range ld.syms {
		sym := &ld.syms[i]
		if int(sym.Section) != s.idx || sym.isSection() || sym.Name == "" {
			continue
		}
		t := sym.typ()
		if t != stdelf.STT_OBJECT && t != stdelf.STT_NOTYPE {
			continue
		}
		out = append(out, sym)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

func (ld *loader) addMap(m *MapSpec) error {
	if _, dup := ld.maps[m.Name]; dup {
		return secErr(m.Section, -1, ErrMalformed, "map %q defined twice", m.Name)
	}
	if len(ld.maps) >= maxMaps {
		return secErr(m.Section, -1, ErrMalformed, "more than %d maps", maxMaps)
	}
	ld.maps[m.Name] = m
	return nil
}

// loadLegacyMaps reads "maps" and "maps/*" sections: arrays of struct
// bpf_map_def (samples/bpf, old libbpf: 16 to 28 bytes or more) or of
// iproute2's 36-byte struct bpf_elf_map, one per symbol.
//
//	struct bpf_map_def { u32 type, key_size, value_size, max_entries,
//	                     map_flags, inner_map_idx, numa_node; };
//	struct bpf_elf_map { u32 type, size_key, size_value, max_elem, flags,
//	                     id, pinning, inner_id, inner_idx; };
func (ld *loader) loadLegacyMaps() error {
	var defs []*MapSpec
	for _, s := range ld.secs {
		if s.kind != kindLegacyMaps {
			continue
		}
		d, err := ld.read(s)
		if err != nil {
			return err
		}
		syms := ld.sectionObjects(s)
		if len(syms) == 0 {
			if len(d) == 0 {
				continue
			}
			return secErr(s.name, -1, ErrMalformed, "%d bytes of map definitions without map symbols", len(d))
		}
		// Uniform definition size: from the symbols, else section size
		// divided by their number, as bpf_load.c does.
		defSize := uint64(0)
		for _, sym := range syms {
			if sym.Size != 0 {
				defSize = sym.Size
				break
			}
		}
		if defSize == 0 {
			if uint64(len(d))%uint64(len(syms)) != 0 {
				return secErr(s.name, -1, ErrMalformed, "%d bytes do not divide into %d map definitions", len(d), len(syms))
			}
			defSize = uint64(len(d)) / uint64(len(syms))
		}
		if defSize < 16 || defSize > 1<<12 {
			return secErr(s.name, -1, ErrMalformed, "map definition size %d, want 16 to 4096 bytes", defSize)
		}
		s.mapsByOff = map[uint64]string{}
		for _, sym := range syms {
			size := defSize
			if sym.Size != 0 && sym.Size != defSize {
				return secErr(s.name, int64(sym.Value), ErrMalformed, "map %q is %d bytes, others %d", sym.Name, sym.Size, defSize)
			}
			if sym.Value > uint64(len(d)) || size > uint64(len(d))-sym.Value {
				return secErr(s.name, int64(sym.Value), ErrMalformed, "map %q extends past the section end", sym.Name)
			}
			m := parseLegacyMapDef(d[sym.Value : sym.Value+size])
			m.Name, m.Section = sym.Name, s.name
			if err := ld.addMap(m); err != nil {
				return err
			}
			s.mapsByOff[sym.Value] = m.Name
			defs = append(defs, m)
		}
	}
	// inner_map_idx counts the definitions of all legacy map sections in
	// file order, as the loaders of eBPF for Windows and PREVAIL do (Linux
	// samples keep every map in one "maps" section, where that is the
	// same as counting within the section).
	linkLegacyInnerMaps(defs)
	return nil
}

func parseLegacyMapDef(b []byte) *MapSpec {
	u32 := func(off int) uint32 {
		if off+4 > len(b) {
			return 0
		}
		return binary.LittleEndian.Uint32(b[off:])
	}
	m := &MapSpec{Type: MapType(u32(0)), KeySize: u32(4), ValueSize: u32(8), MaxEntries: u32(12), Flags: u32(16)}
	lf := &LegacyMapFields{DefSize: len(b)}
	known := 20
	if len(b) == 36 {
		lf.Iproute2 = true
		lf.ID, m.Pinning, lf.InnerID, lf.InnerMapIdx = u32(20), u32(24), u32(28), u32(32)
		known = 36
	} else {
		lf.InnerMapIdx, m.NumaNode = u32(20), u32(24)
		known = 28
	}
	if len(b) > known {
		lf.Extra = append([]byte(nil), b[known:]...)
	}
	m.Legacy = lf
	return m
}

func isMapInMap(t MapType) bool { return t == MapTypeArrayOfMaps || t == MapTypeHashOfMaps }

// linkLegacyInnerMaps sets the inner map template of legacy map-in-maps:
// bpf_map_def.inner_map_idx indexes the definitions of the section; for
// iproute2, the outer map's inner_id names the inner map's id, and every
// map with that id is put into the outer map at its inner_idx.
func linkLegacyInnerMaps(defs []*MapSpec) {
	for _, m := range defs {
		if !isMapInMap(m.Type) {
			continue
		}
		lf := m.Legacy
		if !lf.Iproute2 {
			if int(lf.InnerMapIdx) < len(defs) && defs[lf.InnerMapIdx] != m {
				m.InnerMap = defs[lf.InnerMapIdx].copyShallow()
			}
			continue
		}
		if lf.InnerID == 0 {
			continue
		}
		for _, in := range defs {
			if in == m || in.Legacy.ID != lf.InnerID {
				continue
			}
			if m.InnerMap == nil {
				m.InnerMap = in.copyShallow()
			}
			if in.Legacy.InnerMapIdx == ^uint32(0) {
				continue // iproute2's "no slot": the map is only the template
			}
			m.Contents = append(m.Contents, MapKV{Key: le32(in.Legacy.InnerMapIdx), Ref: &Ref{Kind: RefMap, Name: in.Name}})
		}
	}
}

// copyShallow returns a copy of m without its contents, for use as an
// inner map template.
func (m *MapSpec) copyShallow() *MapSpec {
	c := *m
	c.Contents = nil
	return &c
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// loadBTFMaps reads the ".maps" section, whose layout only BTF describes:
// a variable per map, of a struct whose members encode the attributes
// (__uint(name, N) is "int (*name)[N]", __type(name, T) is "T *name",
// __array(values, T) is "T *values[]").
func (ld *loader) loadBTFMaps() error {
	var s *section
	for _, sec := range ld.secs {
		if sec.kind == kindBTFMaps {
			s = sec
		}
	}
	if s == nil || s.size == 0 {
		return nil
	}
	if ld.btfSpec == nil {
		why := "the object has no BTF"
		if len(ld.warnings) > 0 {
			why = ld.warnings[0]
		}
		return secErr(s.name, -1, ErrUnsupported, "BTF-defined maps need BTF: %s", why)
	}
	var ds *btf.Datasec
	if err := ld.btfSpec.TypeByName(".maps", &ds); err != nil {
		return secErr(s.name, -1, ErrMalformed, "no BTF data section .maps: %v", err)
	}
	syms := map[string]*symbol{}
	for _, sym := range ld.sectionObjects(s) {
		syms[sym.Name] = sym
	}
	s.mapsByOff = map[uint64]string{}
	for _, vs := range ds.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok {
			return secErr(s.name, -1, ErrMalformed, "BTF .maps entry %v is not a variable", vs.Type)
		}
		off := uint64(vs.Offset)
		if sym, ok := syms[v.Name]; ok {
			off = sym.Value
		}
		m, err := btfMapSpec(v.Name, v.Type, 0)
		if err != nil {
			return secErr(s.name, int64(off), ErrMalformed, "map %q: %v", v.Name, err)
		}
		m.Section = s.name
		if err := ld.addMap(m); err != nil {
			return err
		}
		s.mapsByOff[off] = m.Name
	}
	return ld.btfMapContents(s)
}

// btfMapSpec decodes the map definition struct typ.
func btfMapSpec(name string, typ btf.Type, depth int) (*MapSpec, error) {
	if depth > 2 {
		return nil, errors.New("map-in-map nested too deep")
	}
	st, ok := btf.UnderlyingType(typ).(*btf.Struct)
	if !ok {
		return nil, fmt.Errorf("definition is %v, not a struct", typ)
	}
	m := &MapSpec{Name: name}
	var keySizeSet, valueSizeSet bool
	for _, mem := range st.Members {
		switch mem.Name {
		case "type", "max_entries", "map_flags", "key_size", "value_size", "pinning", "numa_node", "map_extra":
			n, err := uintMember(mem)
			if err != nil {
				return nil, err
			}
			switch mem.Name {
			case "type":
				m.Type = MapType(n)
			case "max_entries":
				m.MaxEntries = n
			case "map_flags":
				m.Flags = n
			case "key_size":
				if keySizeSet && m.KeySize != n {
					return nil, fmt.Errorf("key_size %d conflicts with key type of size %d", n, m.KeySize)
				}
				m.KeySize, keySizeSet = n, true
			case "value_size":
				if valueSizeSet && m.ValueSize != n {
					return nil, fmt.Errorf("value_size %d conflicts with value type of size %d", n, m.ValueSize)
				}
				m.ValueSize, valueSizeSet = n, true
			case "pinning":
				m.Pinning = n
			case "numa_node":
				m.NumaNode = n
			case "map_extra":
				m.MapExtra = uint64(n)
			}
		case "key", "value":
			ptr, ok := btf.UnderlyingType(mem.Type).(*btf.Pointer)
			if !ok {
				return nil, fmt.Errorf("member %s is %v, not a pointer", mem.Name, mem.Type)
			}
			size, err := btf.Sizeof(ptr.Target)
			if err != nil {
				return nil, fmt.Errorf("member %s: %v", mem.Name, err)
			}
			if mem.Name == "key" {
				if keySizeSet && m.KeySize != uint32(size) {
					return nil, fmt.Errorf("key type of size %d conflicts with key_size %d", size, m.KeySize)
				}
				m.Key, m.KeySize, keySizeSet = ptr.Target, uint32(size), true
			} else {
				if valueSizeSet && m.ValueSize != uint32(size) {
					return nil, fmt.Errorf("value type of size %d conflicts with value_size %d", size, m.ValueSize)
				}
				m.Value, m.ValueSize, valueSizeSet = ptr.Target, uint32(size), true
			}
		case "values":
			arr, ok := btf.UnderlyingType(mem.Type).(*btf.Array)
			if !ok {
				return nil, fmt.Errorf("member values is %v, not an array", mem.Type)
			}
			ptr, ok := btf.UnderlyingType(arr.Type).(*btf.Pointer)
			if !ok {
				return nil, fmt.Errorf("member values holds %v, not pointers", arr.Type)
			}
			if !valueSizeSet {
				m.ValueSize, valueSizeSet = 4, true
			}
			if _, isFunc := btf.UnderlyingType(ptr.Target).(*btf.FuncProto); isFunc {
				continue // program array: values are programs
			}
			inner, err := btfMapSpec(name+".inner", ptr.Target, depth+1)
			if err != nil {
				return nil, fmt.Errorf("inner map: %w", err)
			}
			m.InnerMap = inner
		}
	}
	return m, nil
}

// uintMember decodes __uint(name, N): a pointer to an array of N ints.
func uintMember(mem btf.Member) (uint32, error) {
	ptr, ok := btf.UnderlyingType(mem.Type).(*btf.Pointer)
	if !ok {
		return 0, fmt.Errorf("member %s is %v, not a pointer", mem.Name, mem.Type)
	}
	arr, ok := btf.UnderlyingType(ptr.Target).(*btf.Array)
	if !ok {
		return 0, fmt.Errorf("member %s points to %v, not an array", mem.Name, ptr.Target)
	}
	return arr.Nelems, nil
}

// btfMapContents turns the relocations of .maps into initial slots of
// map-in-maps and program arrays declared with __array(values, ...).
func (ld *loader) btfMapContents(s *section) error {
	if len(s.relocs) == 0 {
		return nil
	}
	type region struct {
		off, size, valuesOff uint64
		m                    *MapSpec
	}
	var ds *btf.Datasec
	_ = ld.btfSpec.TypeByName(".maps", &ds)
	var regions []region
	for off, name := range s.mapsByOff {
		m := ld.maps[name]
		var st *btf.Struct
		for _, vs := range ds.Vars {
			if v, ok := vs.Type.(*btf.Var); ok && v.Name == name {
				st, _ = btf.UnderlyingType(v.Type).(*btf.Struct)
			}
		}
		if st == nil {
			continue
		}
		for _, mem := range st.Members {
			if mem.Name == "values" {
				regions = append(regions, region{off, 0, uint64(mem.Offset.Bytes()), m})
			}
		}
	}
	// The values array is flexible: it extends past the struct size up to
	// the next map.
	sort.Slice(regions, func(i, j int) bool { return regions[i].off < regions[j].off })
	var starts []uint64
	for off := range s.mapsByOff {
		starts = append(starts, off)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for i := range regions {
		regions[i].size = s.size - regions[i].off
		for _, st := range starts {
			if st > regions[i].off {
				regions[i].size = st - regions[i].off
				break
			}
		}
	}
	for _, r := range s.relocs {
		var reg *region
		for i := range regions {
			if r.off >= regions[i].off && r.off < regions[i].off+regions[i].size {
				reg = &regions[i]
			}
		}
		if reg == nil || r.off < reg.off+reg.valuesOff || (r.off-reg.off-reg.valuesOff)%8 != 0 {
			return secErr(s.name, int64(r.off), ErrMalformed, "relocation outside the values of a map-in-map or program array")
		}
		slot := (r.off - reg.off - reg.valuesOff) / 8
		if reg.m.MaxEntries != 0 && slot >= uint64(reg.m.MaxEntries) {
			return secErr(s.name, int64(r.off), ErrMalformed, "map %q: initial value for slot %d of %d", reg.m.Name, slot, reg.m.MaxEntries)
		}
		sym := ld.sym(r.sym)
		target := ld.symSection(sym)
		if target == nil {
			return secErr(s.name, int64(r.off), ErrUnresolved, "map %q: slot %d refers to undefined symbol %q", reg.m.Name, slot, sym.Name)
		}
		ref := &Ref{Name: sym.Name}
		switch target.kind {
		case kindBTFMaps, kindLegacyMaps:
			name, ok := target.mapsByOff[sym.Value]
			if !ok {
				return secErr(s.name, int64(r.off), ErrMalformed, "map %q: slot %d refers to %q, not a map", reg.m.Name, slot, sym.Name)
			}
			ref.Kind, ref.Name = RefMap, name
		case kindCode:
			ref.Kind = RefProgram
		default:
			return secErr(s.name, int64(r.off), ErrMalformed, "map %q: slot %d refers to %q in section %q", reg.m.Name, slot, sym.Name, target.name)
		}
		reg.m.Contents = append(reg.m.Contents, MapKV{Key: le32(uint32(slot)), Ref: ref})
	}
	return nil
}

// loadDataMaps turns each global data section into a single-entry array
// map whose value is the section contents.
func (ld *loader) loadDataMaps() error {
	for _, s := range ld.secs {
		if s.kind != kindData || s.size == 0 {
			continue
		}
		d, err := ld.sectionBytes(s, maxDataMapSize)
		if err != nil {
			return err
		}
		if len(s.relocs) > 0 {
			ld.warnings = append(ld.warnings, fmt.Sprintf("section %q: %d relocations in global data ignored", s.name, len(s.relocs)))
		}
		m := &MapSpec{
			Name: s.name, Section: s.name, Type: MapTypeArray, KeySize: 4,
			ValueSize: uint32(s.size), MaxEntries: 1,
			Contents: []MapKV{{Key: le32(0), Value: d}},
		}
		if strings.HasPrefix(s.name, ".rodata") {
			m.ReadOnly, m.Flags = true, flagRdonlyProg
		}
		var ds *btf.Datasec
		if ld.btfSpec != nil {
			if ld.btfSpec.TypeByName(s.name, &ds) == nil {
				m.Value = ds
			}
		}
		if err := ld.addMap(m); err != nil {
			return err
		}
		if err := ld.loadVariables(s, d, ds); err != nil {
			return err
		}
	}
	return nil
}

// populateProgArrays fills program arrays from iproute2's tail call
// sections: a section named "ID/KEY" holds the program to put at KEY in the
// iproute2 map whose id is ID. The maps are iproute2's 36-byte struct
// bpf_elf_map or its older 28-byte form (type, size_key, size_value,
// max_elem, flags, id, pinning), which Cilium's objects use and which is
// read as a struct bpf_map_def whose inner_map_idx holds the id: a
// program array has no inner map, so a non-zero inner_map_idx on one is
// that id.
func (ld *loader) populateProgArrays(cs *CollectionSpec) error {
	byID := map[uint32]*MapSpec{}
	for _, name := range cs.MapOrder {
		m := cs.Maps[name]
		if m.Legacy != nil && m.Legacy.Iproute2 && m.Legacy.ID != 0 && m.Type == MapTypeProgArray {
			byID[m.Legacy.ID] = m
		}
	}
	for _, name := range cs.MapOrder {
		m := cs.Maps[name]
		if lf := m.Legacy; lf != nil && !lf.Iproute2 && lf.DefSize == 28 && lf.InnerMapIdx != 0 && m.Type == MapTypeProgArray {
			if _, taken := byID[lf.InnerMapIdx]; !taken {
				byID[lf.InnerMapIdx] = m
			}
		}
	}
	if len(byID) == 0 {
		return nil
	}
	names := make([]string, 0, len(cs.Programs))
	for name := range cs.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := cs.Programs[name]
		id, key, ok := tailCallSection(p.SectionName)
		m := byID[id]
		if !ok || m == nil {
			continue
		}
		if key >= m.MaxEntries {
			return secErr(p.SectionName, -1, ErrMalformed, "tail call slot %d of map %q with %d entries", key, m.Name, m.MaxEntries)
		}
		m.Contents = append(m.Contents, MapKV{Key: le32(key), Ref: &Ref{Kind: RefProgram, Name: name}})
	}
	return nil
}

// errNotNumber is a section name part that is not a number.
var errNotNumber = errors.New("not a number")

func parseUint32(s string) (uint32, error) {
	if s == "" || len(s) > 10 {
		return 0, errNotNumber
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, errors.New("out of range")
	}
	return uint32(n), nil
}

// checkRefs checks that every map or program named in initial map contents
// exists.
func checkRefs(cs *CollectionSpec) error {
	for _, name := range cs.MapOrder {
		m := cs.Maps[name]
		for _, kv := range m.Contents {
			if kv.Ref == nil {
				continue
			}
			ok := false
			switch kv.Ref.Kind {
			case RefMap:
				_, ok = cs.Maps[kv.Ref.Name]
			case RefProgram:
				_, ok = cs.Programs[kv.Ref.Name]
			}
			if !ok {
				return secErr(m.Section, -1, ErrUnresolved, "map %q: initial value refers to unknown %v %q", name, kv.Ref.Kind, kv.Ref.Name)
			}
		}
	}
	return nil
}
