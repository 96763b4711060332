package elf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	stdelf "debug/elf"
)

// ELF64 header and section header layout (System V gABI), little-endian.
const (
	elf64HeaderSize     = 64
	elf64SectionHdrSize = 64
	offShoff            = 0x28 // e_shoff
	offShentsize        = 0x3a // e_shentsize
	offShnum            = 0x3c // e_shnum
	offShstrndx         = 0x3e // e_shstrndx
	offShSize           = 0x20 // sh_size within a section header
	offShFlags          = 0x08 // sh_flags within a section header
)

// unnamedSections handles objects that debug/elf refuses because a
// section's name index points past the section name table. readelf shows
// such a section as "<corrupt>" and ELFIO (PREVAIL's loader) reads the
// object; so does xebpf, if no such section holds code: it returns a
// reader whose copy of the section header table names those sections ""
// (offset 0), and one warning per section. A code section whose name
// cannot be read stays an error: its name is its program type.
func unnamedSections(r io.ReaderAt) (io.ReaderAt, []string, error) {
	var hdr [elf64HeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, nil, err
	}
	if hdr[stdelf.EI_CLASS] != byte(stdelf.ELFCLASS64) || hdr[stdelf.EI_DATA] != byte(stdelf.ELFDATA2LSB) {
		return nil, nil, fmt.Errorf("not a little-endian 64-bit object")
	}
	le := binary.LittleEndian
	shoff := le.Uint64(hdr[offShoff:])
	shentsize := int(le.Uint16(hdr[offShentsize:]))
	shnum := int(le.Uint16(hdr[offShnum:]))
	shstrndx := int(le.Uint16(hdr[offShstrndx:]))
	if shentsize != elf64SectionHdrSize || shnum == 0 || shnum > maxSections || shstrndx >= shnum || shoff > 1<<40 {
		return nil, nil, fmt.Errorf("section header table: %d entries of %d bytes", shnum, shentsize)
	}
	table := make([]byte, shnum*shentsize)
	if _, err := r.ReadAt(table, int64(shoff)); err != nil {
		return nil, nil, fmt.Errorf("section header table: %w", err)
	}
	strs := table[shstrndx*shentsize:]
	strSize := le.Uint64(strs[offShSize:])
	var warnings []string
	for i := 0; i < shnum; i++ {
		sh := table[i*shentsize : (i+1)*shentsize]
		name := uint64(le.Uint32(sh))
		if name < strSize {
			continue
		}
		if le.Uint64(sh[offShFlags:])&uint64(stdelf.SHF_EXECINSTR) != 0 {
			return nil, nil, fmt.Errorf("code section %d: name index %#x is past the section name table (%d bytes)", i, name, strSize)
		}
		le.PutUint32(sh, 0)
		warnings = append(warnings, fmt.Sprintf("section %d: name index %#x is past the section name table (%d bytes): the section is unnamed", i, name, strSize))
	}
	if len(warnings) == 0 {
		return nil, nil, fmt.Errorf("no section name index is out of range")
	}
	return &overlay{ReaderAt: r, off: int64(shoff), data: table}, warnings, nil
}

// badSectionName reports whether err is debug/elf's refusal of a section
// name index past the section name table.
func badSectionName(err error) bool {
	var fe *stdelf.FormatError
	return errors.As(err, &fe) && strings.Contains(fe.Error(), "bad section name index")
}

// overlay reads r with data in place of r's bytes at [off, off+len(data)).
type overlay struct {
	io.ReaderAt
	off  int64
	data []byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.ReaderAt.ReadAt(p, off)
	// Copy the overlaid bytes that fall inside what was read.
	lo, hi := max(off, o.off), min(off+int64(n), o.off+int64(len(o.data)))
	if lo < hi {
		copy(p[lo-off:hi-off], o.data[lo-o.off:hi-o.off])
	}
	return n, err
}
