package elf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

const btfMagic = 0xeb9f

// btfStrings returns the string table of a raw .BTF section.
//
//	struct btf_header { u16 magic; u8 version, flags; u32 hdr_len;
//	                    u32 type_off, type_len, str_off, str_len; };
func btfStrings(d []byte) ([]byte, error) {
	if len(d) < 24 {
		return nil, fmt.Errorf("header truncated (%d bytes)", len(d))
	}
	if m := binary.LittleEndian.Uint16(d); m != btfMagic {
		return nil, fmt.Errorf("bad magic %#x", m)
	}
	hdrLen := uint64(binary.LittleEndian.Uint32(d[4:]))
	strOff := uint64(binary.LittleEndian.Uint32(d[16:]))
	strLen := uint64(binary.LittleEndian.Uint32(d[20:]))
	if hdrLen < 24 || hdrLen+strOff+strLen > uint64(len(d)) {
		return nil, fmt.Errorf("string table (%d bytes at %d) outside the %d-byte section", strLen, hdrLen+strOff, len(d))
	}
	return d[hdrLen+strOff : hdrLen+strOff+strLen], nil
}

// btfString returns the NUL-terminated string at off in a BTF string table.
func btfString(strs []byte, off uint32) (string, bool) {
	if uint64(off) >= uint64(len(strs)) {
		return "", false
	}
	s := strs[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s), true
}

// extInfo is the content of .BTF.ext, by code section name.
type extInfo struct {
	funcs map[string][]extFunc
	lines map[string][]extLine
	core  map[string][]extCORE
}

type extFunc struct {
	off    uint32 // byte offset in the section
	typeID uint32
}

type extLine struct {
	off  uint32 // byte offset in the section
	line SourceLine
}

type extCORE struct {
	off    uint32 // byte offset in the section
	typeID uint32
	access string
	kind   uint32
}

// parseExt parses .BTF.ext:
//
//	struct btf_ext_header { u16 magic; u8 version, flags; u32 hdr_len;
//	    u32 func_info_off, func_info_len, line_info_off, line_info_len;
//	    u32 core_relo_off, core_relo_len; /* if hdr_len >= 32 */ };
//
// Each info block is a u32 record size followed by, per section,
// { u32 sec_name_off; u32 num_info; record[num_info] }.
func parseExt(d, strs []byte) (*extInfo, error) {
	if len(d) < 24 {
		return nil, fmt.Errorf("header truncated (%d bytes)", len(d))
	}
	if m := binary.LittleEndian.Uint16(d); m != btfMagic {
		return nil, fmt.Errorf("bad magic %#x", m)
	}
	hdrLen := uint64(binary.LittleEndian.Uint32(d[4:]))
	if hdrLen < 24 || hdrLen > uint64(len(d)) {
		return nil, fmt.Errorf("header length %d outside the %d-byte section", hdrLen, len(d))
	}
	ext := &extInfo{funcs: map[string][]extFunc{}, lines: map[string][]extLine{}, core: map[string][]extCORE{}}
	block := func(offField, lenField int) ([]byte, error) {
		off := uint64(binary.LittleEndian.Uint32(d[offField:]))
		n := uint64(binary.LittleEndian.Uint32(d[lenField:]))
		if hdrLen+off+n > uint64(len(d)) {
			return nil, fmt.Errorf("block of %d bytes at %d outside the %d-byte section", n, hdrLen+off, len(d))
		}
		return d[hdrLen+off : hdrLen+off+n], nil
	}
	fb, err := block(8, 12)
	if err != nil {
		return nil, fmt.Errorf("func info: %w", err)
	}
	err = eachRecord(fb, 8, strs, func(sec string, r []byte) error {
		ext.funcs[sec] = append(ext.funcs[sec], extFunc{binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:])})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("func info: %w", err)
	}
	lb, err := block(16, 20)
	if err != nil {
		return nil, fmt.Errorf("line info: %w", err)
	}
	err = eachRecord(lb, 16, strs, func(sec string, r []byte) error {
		file, ok1 := btfString(strs, binary.LittleEndian.Uint32(r[4:]))
		text, ok2 := btfString(strs, binary.LittleEndian.Uint32(r[8:]))
		if !ok1 || !ok2 {
			return errors.New("string offset outside the string table")
		}
		lc := binary.LittleEndian.Uint32(r[12:])
		ext.lines[sec] = append(ext.lines[sec], extLine{binary.LittleEndian.Uint32(r), SourceLine{
			File: file, Line: int(lc >> 10), Column: int(lc & 0x3ff), Text: text}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("line info: %w", err)
	}
	if hdrLen >= 32 {
		cb, err := block(24, 28)
		if err != nil {
			return nil, fmt.Errorf("CO-RE relocations: %w", err)
		}
		err = eachRecord(cb, 16, strs, func(sec string, r []byte) error {
			access, ok := btfString(strs, binary.LittleEndian.Uint32(r[8:]))
			if !ok {
				return errors.New("access string outside the string table")
			}
			ext.core[sec] = append(ext.core[sec], extCORE{
				off: binary.LittleEndian.Uint32(r), typeID: binary.LittleEndian.Uint32(r[4:]),
				access: access, kind: binary.LittleEndian.Uint32(r[12:])})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("CO-RE relocations: %w", err)
		}
	}
	return ext, nil
}

// eachRecord walks one .BTF.ext info block whose records are at least
// minSize bytes, calling fn with the section name and each record.
func eachRecord(b []byte, minSize uint32, strs []byte, fn func(sec string, rec []byte) error) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) < 4 {
		return errors.New("truncated record size")
	}
	size := binary.LittleEndian.Uint32(b)
	if size < minSize || size > 1<<10 {
		return fmt.Errorf("record size %d, want at least %d", size, minSize)
	}
	b = b[4:]
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("truncated section header")
		}
		sec, ok := btfString(strs, binary.LittleEndian.Uint32(b))
		if !ok {
			return errors.New("section name outside the string table")
		}
		n := uint64(binary.LittleEndian.Uint32(b[4:]))
		b = b[8:]
		if n*uint64(size) > uint64(len(b)) {
			return fmt.Errorf("section %q: %d records of %d bytes exceed the block", sec, n, size)
		}
		for i := uint64(0); i < n; i++ {
			if err := fn(sec, b[i*uint64(size):(i+1)*uint64(size)]); err != nil {
				return fmt.Errorf("section %q: %w", sec, err)
			}
		}
		b = b[n*uint64(size):]
	}
	return nil
}
