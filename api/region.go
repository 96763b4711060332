package api

import "fmt"

// StackSize is the size of one call frame's stack in bytes, as in Linux.
const StackSize = 512

// MaxCallDepth is the number of nested call frames a run may use, equal to
// Linux's MAX_CALL_FRAMES.
const MaxCallDepth = 8

// Tag is the provenance of a value in a checked run: the object of the run
// the value points into, or NoTag for a scalar. Tags are only meaningful
// within the run that made them.
type Tag uint32

// NoTag is the tag of a scalar: no memory may be reached through it.
const NoTag Tag = 0

// Span is a byte range of an object: Len bytes from Off.
type Span struct {
	Off, Len uint64
}

// Field is one field of a context struct that a program may access.
type Field struct {
	Name   string
	Offset int
	Size   int
	// Writable fields may be stored to.
	Writable bool
	// Points, if not negative, makes the field a 64-bit pointer into
	// Env.Regions[Points]: loading it (8 bytes at Offset) gives a value
	// tagged with that region. Pointer fields are never writable.
	Points int
}

// Fields is the access policy of a context: which bytes may be read and
// written, at which widths, and which words hold pointers. Build it once
// per context type with NewFields.
type Fields struct {
	fields []Field
	byByte []int16 // field index of each byte, -1 for none
}

// NewFields returns the policy of a context of size bytes with fields.
func NewFields(size int, fields []Field) (*Fields, error) {
	if size < 0 || size > 1<<16 {
		return nil, fmt.Errorf("context size %d out of range", size)
	}
	fs := &Fields{fields: append([]Field(nil), fields...), byByte: make([]int16, size)}
	for i := range fs.byByte {
		fs.byByte[i] = -1
	}
	for i, f := range fields {
		if f.Offset < 0 || f.Size <= 0 || f.Offset+f.Size > size {
			return nil, fmt.Errorf("context field %s [%d,+%d) outside the %d-byte context", f.Name, f.Offset, f.Size, size)
		}
		if f.Points >= 0 && (f.Size != 8 || f.Writable) {
			return nil, fmt.Errorf("context field %s: pointer fields are 8 bytes and read-only", f.Name)
		}
		for b := f.Offset; b < f.Offset+f.Size; b++ {
			if fs.byByte[b] >= 0 {
				return nil, fmt.Errorf("context fields %s and %s overlap", fields[fs.byByte[b]].Name, f.Name)
			}
			fs.byByte[b] = int16(i)
		}
	}
	return fs, nil
}

// Access returns the field an access of n bytes at offset off may use:
// inside one field, naturally aligned within it, at most the field's
// width, and to a writable field for a store. A pointer field is read
// only whole. It reports false for any other access.
func (fs *Fields) Access(off, n uint64, write bool) (*Field, bool) {
	if off >= uint64(len(fs.byByte)) {
		return nil, false
	}
	i := fs.byByte[off]
	if i < 0 {
		return nil, false
	}
	f := &fs.fields[i]
	rel := off - uint64(f.Offset)
	switch {
	case n > uint64(f.Size) || rel+n > uint64(f.Size) || rel%n != 0:
		return nil, false
	case write && !f.Writable:
		return nil, false
	case f.Points >= 0 && (rel != 0 || n != 8):
		return nil, false
	}
	return f, true
}

// Region is memory a program may access: Size bytes from Addr. It also
// serves as the kind of the objects helpers register (HelperCall.Object),
// whose place is their own.
type Region struct {
	Addr     uint64
	Size     uint64
	Writable bool
	Name     string // for error messages: "packet", "ctx", "map foo"
	// Handle marks an identity rather than memory: a map pointer, which
	// helpers accept and no load or store may use.
	Handle bool
	// Fields, if not nil, restricts accesses to the fields of a context.
	Fields *Fields
	// Reserved are spans no load or store may touch (a map value's
	// bpf_spin_lock); only helpers reach them.
	Reserved []Span
	// Owner is what the region belongs to (a map), for helpers.
	Owner any
}

// String returns the region as name[addr,end) and ro or rw.
func (r Region) String() string {
	rw := "ro"
	if r.Writable {
		rw = "rw"
	}
	return fmt.Sprintf("%s[%#x,%#x) %s", r.Name, r.Addr, r.Addr+r.Size, rw)
}

// TouchesReserved reports whether n bytes at offset off of an object of
// kind r overlap one of its reserved spans.
func (r *Region) TouchesReserved(off, n uint64) bool {
	for _, s := range r.Reserved {
		if off < s.Off+s.Len && s.Off < off+n {
			return true
		}
	}
	return false
}

// Env is the input of one run. It may be reused across runs but not shared
// by concurrent runs.
type Env struct {
	// Args are the initial values of r1-r5.
	Args [5]uint64
	// Regions lists the memory besides the stack that the program may
	// access in checked mode. During a run, helpers move a region only
	// with HelperCall.MoveRegion.
	Regions []Region
	// Packet is the data that the legacy LD_ABS/LD_IND instructions read.
	Packet Region
	// LinkHeader and NetHeader are the addresses of the packet's
	// link-layer and network headers, which LD_ABS/LD_IND reach at the
	// negative offsets SKF_LL_OFF and SKF_NET_OFF (0: none); such reads
	// must not start before PacketHead, the start of the packet's buffer.
	LinkHeader, NetHeader, PacketHead uint64
	// Context is handed to helpers unchanged.
	Context any
	// Executed, after a checked run, is the number of instructions the run
	// executed (including the one that faulted). Fast runs leave it alone.
	Executed uint64
}
