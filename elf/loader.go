package elf

import (
	stdelf "debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Limits on what an object may declare, checked before allocating.
const (
	maxSections    = 1 << 16
	maxSymbols     = 1 << 20
	maxRelocations = 1 << 22
	maxSectionSize = 1 << 28 // bytes read from one section
	maxMaps        = 1 << 16
	maxDataMapSize = 1 << 28 // size of one global data map value
)

// LoadCollectionSpec reads the eBPF ELF object at path.
func LoadCollectionSpec(path string) (*CollectionSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	spec, err := LoadCollectionSpecFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// LoadCollectionSpecFromReader reads an eBPF ELF object. Errors are *Error
// values wrapping ErrMalformed, ErrUnsupported or ErrUnresolved.
func LoadCollectionSpecFromReader(r io.ReaderAt) (spec *CollectionSpec, err error) {
	ld := &loader{}
	r, err = ld.open(r)
	if err != nil {
		return nil, err
	}
	return ld.load(r)
}

// section is an ELF section with what the loader learned about it.
type section struct {
	idx    int
	name   string
	typ    stdelf.SectionType
	flags  stdelf.SectionFlag
	size   uint64
	data   []byte // nil until read; NOBITS sections stay nil
	relocs []reloc
	kind   sectionKind
	funcs  []*function // sorted by offset, for code sections
	// maps defined in the section, by offset (legacy and BTF maps).
	mapsByOff map[uint64]string
}

type sectionKind uint8

const (
	kindOther sectionKind = iota
	kindCode
	kindLegacyMaps
	kindBTFMaps
	kindData
)

type reloc struct {
	off    uint64
	sym    int // index into loader.syms, -1 for none
	typ    uint32
	addend int64
}

type symbol struct {
	stdelf.Symbol
}

func (s *symbol) typ() stdelf.SymType  { return stdelf.ST_TYPE(s.Info) }
func (s *symbol) bind() stdelf.SymBind { return stdelf.ST_BIND(s.Info) }
func (s *symbol) isSection() bool      { return s.typ() == stdelf.STT_SECTION }
func (s *symbol) undefined() bool      { return s.Section == stdelf.SHN_UNDEF }

type loader struct {
	f        *stdelf.File
	secs     []*section
	syms     []symbol // index i is ELF symbol i+1
	btfSpec  *btf.Spec
	vars     map[string]*VariableSpec // by name
	ext      *extInfo
	strtab   []byte // BTF string table
	warnings []string

	maps    map[string]*MapSpec
	kconfig *kconfigMap

	funcs []*function // every function of every code section
}

// open parses the ELF headers, and returns the reader the rest of the
// object is read through (see unnamedSections). debug/elf has panicked on
// crafted inputs in the past (index out of range on bad section or symbol
// tables); the recover turns any such panic into an error so hostile files
// cannot crash callers.
func (ld *loader) open(r io.ReaderAt) (_ io.ReaderAt, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Offset: -1, Err: fmt.Errorf("elf: %v: %w", p, ErrMalformed)}
		}
	}()
	f, err := stdelf.NewFile(r)
	if err != nil && badSectionName(err) {
		fixed, warnings, uerr := unnamedSections(r)
		if uerr != nil {
			return nil, &Error{Offset: -1, Err: fmt.Errorf("elf: %v: %v: %w", err, uerr, ErrMalformed)}
		}
		r = fixed
		f, err = stdelf.NewFile(r)
		ld.warnings = append(ld.warnings, warnings...)
	}
	if err != nil {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("elf: %v: %w", err, ErrMalformed)}
	}
	if f.Class != stdelf.ELFCLASS64 {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("elf class %v: %w", f.Class, ErrUnsupported)}
	}
	if f.Data != stdelf.ELFDATA2LSB {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("byte order %v: only little-endian objects: %w", f.Data, ErrUnsupported)}
	}
	if f.Machine != stdelf.EM_BPF && f.Machine != stdelf.EM_NONE {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("machine %v is not eBPF: %w", f.Machine, ErrUnsupported)}
	}
	if len(f.Sections) > maxSections {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("%d sections: %w", len(f.Sections), ErrMalformed)}
	}
	ld.f = f
	for i, s := range f.Sections {
		ld.secs = append(ld.secs, &section{idx: i, name: s.Name, typ: s.Type, flags: s.Flags, size: s.Size})
	}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, stdelf.ErrNoSymbols) {
		return nil, &Error{Section: ".symtab", Offset: -1, Err: fmt.Errorf("%v: %w", err, ErrMalformed)}
	}
	if len(syms) > maxSymbols {
		return nil, &Error{Section: ".symtab", Offset: -1, Err: fmt.Errorf("%d symbols: %w", len(syms), ErrMalformed)}
	}
	ld.syms = make([]symbol, len(syms))
	for i, s := range syms {
		ld.syms[i] = symbol{s}
	}
	return r, nil
}

// read returns the contents of a section, reading them once.
func (ld *loader) read(s *section) (data []byte, err error) {
	if s.data != nil || s.typ == stdelf.SHT_NOBITS || s.size == 0 {
		return s.data, nil
	}
	if s.size > maxSectionSize {
		return nil, secErr(s.name, -1, ErrMalformed, "size %d exceeds the limit of %d bytes", s.size, maxSectionSize)
	}
	defer func() {
		if p := recover(); p != nil { // see open
			err = secErr(s.name, -1, ErrMalformed, "read: %v", p)
		}
	}()
	d, err := ld.f.Sections[s.idx].Data()
	if err != nil {
		return nil, secErr(s.name, -1, ErrMalformed, "read: %v", err)
	}
	if uint64(len(d)) != s.size {
		return nil, secErr(s.name, -1, ErrMalformed, "read %d of %d bytes", len(d), s.size)
	}
	s.data = d
	return d, nil
}

// sym returns the symbol a relocation refers to.
func (ld *loader) sym(i int) *symbol {
	if i < 0 || i >= len(ld.syms) {
		return nil
	}
	return &ld.syms[i]
}

// symSection returns the section a defined symbol lives in, or nil.
func (ld *loader) symSection(s *symbol) *section {
	if s.Section == stdelf.SHN_UNDEF || s.Section >= stdelf.SHN_LORESERVE || int(s.Section) >= len(ld.secs) {
		return nil
	}
	return ld.secs[s.Section]
}

func (ld *loader) load(r io.ReaderAt) (*CollectionSpec, error) {
	cs := &CollectionSpec{Programs: map[string]*ProgramSpec{}}
	ld.maps = map[string]*MapSpec{}

	if err := ld.classify(); err != nil {
		return nil, err
	}
	if err := ld.readRelocations(); err != nil {
		return nil, err
	}
	for _, s := range ld.secs {
		switch s.name {
		case "license":
			d, err := ld.read(s)
			if err != nil {
				return nil, err
			}
			cs.License, _, _ = strings.Cut(string(d), "\x00")
		case "version":
			d, err := ld.read(s)
			if err != nil {
				return nil, err
			}
			if len(d) != 4 {
				return nil, secErr(s.name, -1, ErrMalformed, "size %d, want 4", len(d))
			}
			cs.KernelVersion = binary.LittleEndian.Uint32(d)
		}
	}
	ld.loadBTF(r)

	if err := ld.loadLegacyMaps(); err != nil {
		return nil, err
	}
	if err := ld.loadBTFMaps(); err != nil {
		return nil, err
	}
	if err := ld.loadDataMaps(); err != nil {
		return nil, err
	}
	if err := ld.loadFunctions(); err != nil {
		return nil, err
	}
	if err := ld.resolveAll(); err != nil {
		return nil, err
	}
	if ld.kconfig != nil {
		ld.maps[kconfigMapName] = ld.kconfig.spec()
	}
	if len(ld.maps) > maxMaps {
		return nil, &Error{Offset: -1, Err: fmt.Errorf("%d maps: %w", len(ld.maps), ErrMalformed)}
	}
	cs.Maps = ld.maps
	for name := range ld.maps {
		cs.MapOrder = append(cs.MapOrder, name)
	}
	sort.Strings(cs.MapOrder)
	if err := ld.link(cs); err != nil {
		return nil, err
	}
	if err := ld.populateProgArrays(cs); err != nil {
		return nil, err
	}
	refineCiliumXDP(cs)
	InheritTailCallTypes(cs)
	if err := checkRefs(cs); err != nil {
		return nil, err
	}
	cs.Types = ld.btfSpec
	cs.Warnings = ld.warnings
	cs.Variables = ld.vars
	if cs.Variables == nil {
		cs.Variables = map[string]*VariableSpec{}
	}
	cs.ByteOrder = binary.LittleEndian
	return cs, nil
}

// classify decides what each section holds.
func (ld *loader) classify() error {
	for _, s := range ld.secs {
		switch {
		case s.typ == stdelf.SHT_PROGBITS && s.flags&stdelf.SHF_EXECINSTR != 0:
			s.kind = kindCode
		case s.name == "maps" || strings.HasPrefix(s.name, "maps/"):
			s.kind = kindLegacyMaps
		case s.name == ".maps":
			s.kind = kindBTFMaps
		case isDataSection(s.name) && (s.typ == stdelf.SHT_PROGBITS || s.typ == stdelf.SHT_NOBITS):
			s.kind = kindData
		}
	}
	return nil
}

func isDataSection(name string) bool {
	for _, p := range []string{".data", ".rodata", ".bss"} {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// readRelocations parses every SHT_REL and SHT_RELA section and attaches the
// entries to the section they apply to.
func (ld *loader) readRelocations() error {
	total := 0
	for _, s := range ld.secs {
		if s.typ != stdelf.SHT_REL && s.typ != stdelf.SHT_RELA {
			continue
		}
		info := ld.f.Sections[s.idx].Info
		if int(info) >= len(ld.secs) || info == 0 {
			return secErr(s.name, -1, ErrMalformed, "relocations for section index %d, object has %d", info, len(ld.secs))
		}
		target := ld.secs[info]
		if target.kind == kindOther {
			continue // debug info and the like: not needed
		}
		entSize := uint64(16)
		if s.typ == stdelf.SHT_RELA {
			entSize = 24
		}
		if s.size%entSize != 0 {
			return secErr(s.name, -1, ErrMalformed, "size %d is not a multiple of %d", s.size, entSize)
		}
		n := s.size / entSize
		total += int(min(n, maxRelocations+1))
		if total > maxRelocations {
			return secErr(s.name, -1, ErrMalformed, "more than %d relocations", maxRelocations)
		}
		d, err := ld.read(s)
		if err != nil {
			return err
		}
		rels := make([]reloc, 0, n)
		for i := uint64(0); i < n; i++ {
			e := d[i*entSize:]
			r := reloc{off: binary.LittleEndian.Uint64(e), typ: uint32(binary.LittleEndian.Uint64(e[8:]))}
			symIdx := binary.LittleEndian.Uint64(e[8:]) >> 32
			if entSize == 24 {
				r.addend = int64(binary.LittleEndian.Uint64(e[16:]))
			}
			if symIdx == 0 || symIdx > uint64(len(ld.syms)) {
				return secErr(s.name, int64(i*entSize), ErrMalformed, "relocation refers to symbol %d, object has %d", symIdx, len(ld.syms))
			}
			r.sym = int(symIdx - 1)
			if r.off >= target.size {
				return secErr(target.name, int64(r.off), ErrMalformed, "relocation past the end of the section (%d bytes)", target.size)
			}
			rels = append(rels, r)
		}
		target.relocs = append(target.relocs, rels...)
	}
	for _, s := range ld.secs {
		sort.SliceStable(s.relocs, func(i, j int) bool { return s.relocs[i].off < s.relocs[j].off })
	}
	return nil
}

// relocAt returns the relocation of section s at byte offset off.
func (s *section) relocAt(off uint64) (reloc, bool) {
	i := sort.Search(len(s.relocs), func(i int) bool { return s.relocs[i].off >= off })
	if i < len(s.relocs) && s.relocs[i].off == off {
		return s.relocs[i], true
	}
	return reloc{}, false
}

// loadBTF reads the object's BTF with cilium/ebpf's btf package for types,
// and the string table and .BTF.ext itself for line info and CO-RE. Every
// failure here only degrades the spec and is recorded as a warning.
func (ld *loader) loadBTF(r io.ReaderAt) {
	var btfSec, extSec *section
	for _, s := range ld.secs {
		switch s.name {
		case ".BTF":
			btfSec = s
		case ".BTF.ext":
			extSec = s
		}
	}
	if btfSec == nil {
		return
	}
	spec, err := loadTypes(r)
	if err != nil {
		ld.warnings = append(ld.warnings, fmt.Sprintf("BTF types ignored: %v", err))
	} else {
		ld.btfSpec = spec
	}
	d, err := ld.read(btfSec)
	if err != nil {
		ld.warnings = append(ld.warnings, fmt.Sprintf("BTF ignored: %v", err))
		return
	}
	strs, err := btfStrings(d)
	if err != nil {
		ld.warnings = append(ld.warnings, fmt.Sprintf("section .BTF: %v", err))
		return
	}
	ld.strtab = strs
	if extSec == nil {
		return
	}
	ed, err := ld.read(extSec)
	if err != nil {
		ld.warnings = append(ld.warnings, fmt.Sprintf("BTF line info ignored: %v", err))
		return
	}
	ext, err := parseExt(ed, strs)
	if err != nil {
		ld.warnings = append(ld.warnings, fmt.Sprintf("section .BTF.ext: line info ignored: %v", err))
		return
	}
	ld.ext = ext
}

// loadTypes runs cilium's BTF parser, converting a panic into an error: the
// parser is third-party code fed with untrusted bytes.
func loadTypes(r io.ReaderAt) (spec *btf.Spec, err error) {
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("btf parser: %v", p)
		}
	}()
	return btf.LoadSpecFromReader(r)
}

// sectionBytes returns the bytes of a section, nil for NOBITS (whose
// contents are zeros), checking the size against max.
func (ld *loader) sectionBytes(s *section, max uint64) ([]byte, error) {
	if s.size > max {
		return nil, secErr(s.name, -1, ErrUnsupported, "size %d exceeds the limit of %d bytes", s.size, max)
	}
	return ld.read(s)
}
