package elf

import (
	"bytes"
	stdelf "debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corruptSectionName returns loop_cb.o with the name index of the section
// called name pointed past the section name table.
func corruptSectionName(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "loop_cb.o"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := stdelf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(data[offShoff:])
	for i, s := range f.Sections {
		if s.Name == name {
			binary.LittleEndian.PutUint32(data[shoff+uint64(i)*elf64SectionHdrSize:], 0x80001)
			return data
		}
	}
	t.Fatalf("loop_cb.o has no section %q", name)
	return nil
}

// TestUnnamedSections: an object with a section whose name index lies
// past the section name table loads, as readelf and PREVAIL's ELFIO read
// it, if that section holds no code; the section is unnamed and a warning
// says so. If it holds code, the object is refused: the name is the
// program's type.
func TestUnnamedSections(t *testing.T) {
	spec, err := LoadCollectionSpecFromReader(bytes.NewReader(corruptSectionName(t, ".debug_abbrev")))
	if err != nil {
		t.Fatalf("a debug section with a corrupt name: %v", err)
	}
	if p := program(t, spec, "sum_loop"); len(p.Instructions) == 0 {
		t.Error("sum_loop has no instructions")
	}
	if len(spec.Warnings) != 1 || !strings.Contains(spec.Warnings[0], "name index 0x80001 is past the section name table") {
		t.Errorf("warnings %q", spec.Warnings)
	}

	_, err = LoadCollectionSpecFromReader(bytes.NewReader(corruptSectionName(t, "tc")))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "code section 3") {
		t.Errorf("a code section with a corrupt name: %v, want ErrMalformed naming code section 3", err)
	}
}

// TestOverlay: reads that straddle, cover or miss the replaced range.
func TestOverlay(t *testing.T) {
	base := []byte("0123456789")
	o := &overlay{ReaderAt: bytes.NewReader(base), off: 4, data: []byte("abc")}
	for _, tt := range []struct {
		off  int64
		n    int
		want string
	}{
		{0, 10, "0123abc789"},
		{5, 3, "bc7"},
		{0, 4, "0123"},
		{7, 3, "789"},
		{3, 2, "3a"},
	} {
		p := make([]byte, tt.n)
		n, _ := o.ReadAt(p, tt.off)
		if got := string(p[:n]); got != tt.want {
			t.Errorf("ReadAt(%d, %d) = %q, want %q", tt.off, tt.n, got, tt.want)
		}
	}
}
