package xebpf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// ErrTracepointFormat is a tracepoint format description TracepointKind
// cannot read.
var ErrTracepointFormat = errors.New("bad tracepoint format")

// maxFormatFields bounds the fields of a format description.
const maxFormatFields = 1024

// TracepointKind returns the kind of tracepoint programs attached to the
// tracepoint a format description describes: the text of
// /sys/kernel/tracing/events/CATEGORY/NAME/format, whose lines
//
//	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
//
// give each field of the record (other lines are ignored). The context is
// the record's fixed part, up to the end of its last field, read-only;
// programs may read it anywhere, as Linux lets them, and Format names its
// fields: arrays of numbers as name[0], name[1], ..., char arrays and the
// 32-bit locators of __data_loc fields whole. The variable-length data
// __data_loc fields locate lies past the fixed part, outside the context.
func TracepointKind(format io.Reader) (*ProgramKind, error) {
	var fields []ContextField
	size := 0
	sc := bufio.NewScanner(format)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "field:") {
			continue
		}
		fs, err := parseFormatField(text)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrTracepointFormat, line, err)
		}
		for _, f := range fs {
			if len(fields) >= maxFormatFields {
				return nil, fmt.Errorf("%w: more than %d fields", ErrTracepointFormat, maxFormatFields)
			}
			for _, g := range fields {
				if f.Offset < g.Offset+g.Size && g.Offset < f.Offset+f.Size {
					return nil, fmt.Errorf("%w: line %d: field %s overlaps %s", ErrTracepointFormat, line, f.Name, g.Name)
				}
			}
			fields = append(fields, f)
			size = max(size, f.Offset+f.Size)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tracepoint format: %w", err)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no field lines", ErrTracepointFormat)
	}
	return newTracepointKind(size, fields), nil
}

// newTracepointKind returns a tracepoint kind whose record has size bytes
// and the named fields.
func newTracepointKind(size int, fields []ContextField) *ProgramKind {
	k := *tracepointKind
	k.Context = recordContext("tracepoint", size)
	k.Format = fields
	return &k
}

// parseFormatField parses one "field:DECL; offset:N; size:N; signed:N;"
// line into its fields.
func parseFormatField(line string) ([]ContextField, error) {
	attrs := map[string]string{}
	for _, part := range strings.Split(line, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%q is not key:value", part)
		}
		attrs[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	decl := attrs["field"]
	off, err1 := strconv.Atoi(attrs["offset"])
	size, err2 := strconv.Atoi(attrs["size"])
	if err1 != nil || err2 != nil || off < 0 || size <= 0 || off > maxTraceSize || size > maxTraceSize || off+size > maxTraceSize {
		return nil, fmt.Errorf("field %q: offset %q, size %q (want a field within the %d bytes of a record)", decl, attrs["offset"], attrs["size"], maxTraceSize)
	}
	name, typ, n := declName(decl)
	if name == "" {
		return nil, fmt.Errorf("field declaration %q has no name", decl)
	}
	if n > 0 && size%n == 0 && !isCharType(typ) && !strings.HasPrefix(typ, "__data_loc") {
		if es := size / n; es <= 8 && es&(es-1) == 0 {
			return arrayFields(name, off, n, es), nil
		}
	}
	return []ContextField{{Name: name, Offset: off, Size: size}}, nil
}

// declName splits a C declaration ("unsigned long args[6]", "const char *
// filename", "__data_loc char[] name") into its name, its type, and its
// array length (0 if not an array).
func declName(decl string) (name, typ string, n int) {
	decl = strings.TrimSpace(decl)
	if i := strings.LastIndexByte(decl, '['); i >= 0 && strings.HasSuffix(decl, "]") {
		if v, err := strconv.Atoi(decl[i+1 : len(decl)-1]); err == nil && v > 0 {
			n = v
		}
		decl = strings.TrimSpace(decl[:i])
	}
	i := strings.LastIndexAny(decl, " *")
	if i < 0 {
		return "", "", 0 // a type alone
	}
	name = decl[i+1:]
	typ = strings.TrimSpace(decl[:i+1])
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", "", 0
		}
	}
	return name, typ, n
}

func isCharType(typ string) bool {
	typ = strings.TrimPrefix(strings.TrimPrefix(typ, "const "), "unsigned ")
	return typ == "char" || typ == "signed char" || typ == "u8" || typ == "__u8" || typ == "s8" || typ == "__s8"
}

// TracepointKindFor returns the kind of tracepoint programs whose record
// is laid out as v, a struct (or pointer to one) of fixed-size fields as
// encoding/binary lays them out: one after the other, blank (_) fields
// as padding, the layout in which a value of it is a RunOptions.Context.
// A field's name is its `ctx` tag, else its Go name; nested structs give
// "outer.inner", arrays of numbers name[0], name[1], ..., byte arrays one
// field.
func TracepointKindFor(v any) (*ProgramKind, error) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("tracepoint record: %T is not a struct", v)
	}
	fields, size, err := goFields(t, "", 0, 0)
	if err != nil {
		return nil, fmt.Errorf("tracepoint record %v: %w", t, err)
	}
	if size == 0 || size > maxTraceSize {
		return nil, fmt.Errorf("tracepoint record %v: %d bytes (want 1 to %d)", t, size, maxTraceSize)
	}
	return newTracepointKind(size, fields), nil
}

// goFields flattens the fields of struct type t at offset base into
// context fields, and returns the struct's size in encoding/binary's
// layout.
func goFields(t reflect.Type, prefix string, base, depth int) ([]ContextField, int, error) {
	if depth > 8 {
		return nil, 0, errors.New("structs nested too deeply")
	}
	var out []ContextField
	off := base
	for i := range t.NumField() {
		f := t.Field(i)
		size := binarySize(f.Type)
		if size < 0 {
			return nil, 0, fmt.Errorf("field %s of type %v has no fixed size", f.Name, f.Type)
		}
		name := f.Name
		if tag := f.Tag.Get("ctx"); tag != "" {
			name = tag
		}
		name = prefix + name
		switch {
		case f.Name == "_":
		case f.Type.Kind() == reflect.Struct:
			in, _, err := goFields(f.Type, name+".", off, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, in...)
		case f.Type.Kind() == reflect.Array && f.Type.Len() > 0:
			if es := binarySize(f.Type.Elem()); isNumber(f.Type.Elem().Kind()) && es > 1 {
				out = append(out, arrayFields(name, off, f.Type.Len(), es)...)
			} else {
				out = append(out, ContextField{Name: name, Offset: off, Size: size})
			}
		case size > 0:
			out = append(out, ContextField{Name: name, Offset: off, Size: size})
		}
		off += size
	}
	return out, off - base, nil
}

// binarySize is encoding/binary's size of a value of type t, or -1.
func binarySize(t reflect.Type) int {
	return binary.Size(reflect.Zero(t).Interface())
}

func isNumber(k reflect.Kind) bool {
	switch k {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Bool:
		return true
	}
	return false
}
