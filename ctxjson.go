package xebpf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// ErrContextField is returned (wrapped) by ContextFromJSON for a field the
// context does not have, or a value that does not fit its field.
var ErrContextField = errors.New("bad context field")

// ContextFromJSON builds a context for programs of kind k from a JSON
// object naming fields of the context (Format's names if set, else
// Context.Fields'):
//
//	{"di": 1, "si": "0xffff0000"}       struct pt_regs (x86-64)
//	{"regs": [1, 2], "pc": 4096}       struct pt_regs (arm64)
//	{"args": [1, 2, 3]}                raw tracepoint arguments
//	{"common_pid": 42, "comm": "bash"} a tracepoint record
//	{"ingress_ifindex": 3}             struct xdp_md
//
// A number is a JSON integer or a string in Go's integer syntax ("0x10",
// "-1"); negative numbers are stored in two's complement and every number
// must fit its field. The fields name[0], name[1], ... of an array take a
// JSON array under "name", from its first element on. A field wider than 8
// bytes (a char array, an IPv6 address) takes a string, whose bytes it
// holds zero-padded, or an array of byte values. Bytes no field names are
// zero; pointer fields (xdp_md's data) are the run's to set. The result
// has the context's size, in the host's byte order, and is a
// RunOptions.Context. An unknown name fails with an error naming it and
// listing the valid ones.
func (k *ProgramKind) ContextFromJSON(data []byte) ([]byte, error) {
	if k == nil || k.Context == nil || k.Context.Size == 0 {
		name := "raw"
		if k != nil {
			name = k.Name
		}
		return nil, fmt.Errorf("%s programs take raw memory, which has no named fields: give the context as bytes", name)
	}
	fields := k.Format
	if fields == nil {
		fields = k.Context.Fields
	}
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("context JSON: %w", err)
	}
	if obj == nil {
		return nil, errors.New("context JSON: want an object of field names and values")
	}
	byName := map[string]ContextField{}
	arrays := map[string]int{} // name -> number of elements
	for _, f := range fields {
		byName[f.Name] = f
		if base, i, ok := arrayElement(f.Name); ok {
			arrays[base] = max(arrays[base], i+1)
		}
	}
	out := make([]byte, k.Context.Size)
	keys := make([]string, 0, len(obj))
	for key := range obj {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		raw := obj[key]
		if n, isArray := arrays[key]; isArray {
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, fmt.Errorf("%w: %s of %s is an array of %d: want a JSON array", ErrContextField, key, k.Context.Name, n)
			}
			if len(elems) > n {
				return nil, fmt.Errorf("%w: %s of %s has %d elements, the JSON array %d", ErrContextField, key, k.Context.Name, n, len(elems))
			}
			for i, e := range elems {
				name := fmt.Sprintf("%s[%d]", key, i)
				if err := setField(out, byName[name], e, k.Context.Name); err != nil {
					return nil, err
				}
			}
			continue
		}
		f, ok := byName[key]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no field %q; its fields: %s", ErrContextField, k.Context.Name, key, fieldList(fields))
		}
		if err := setField(out, f, raw, k.Context.Name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// arrayElement splits "name[i]" into name and i.
func arrayElement(s string) (string, int, bool) {
	open := strings.LastIndexByte(s, '[')
	if open <= 0 || !strings.HasSuffix(s, "]") {
		return "", 0, false
	}
	i, err := strconv.Atoi(s[open+1 : len(s)-1])
	if err != nil || i < 0 {
		return "", 0, false
	}
	return s[:open], i, true
}

// fieldList names fields in order, arrays as name[n].
func fieldList(fields []ContextField) string {
	var names []string
	counts := map[string]int{}
	for _, f := range fields {
		if base, _, ok := arrayElement(f.Name); ok {
			if counts[base] == 0 {
				names = append(names, base)
			}
			counts[base]++
			continue
		}
		if f.Kind == Scalar {
			names = append(names, f.Name)
		}
	}
	for i, n := range names {
		if c := counts[n]; c > 0 {
			names[i] = fmt.Sprintf("%s[%d]", n, c)
		}
	}
	return strings.Join(names, ", ")
}

// setField stores one JSON value in field f of out.
func setField(out []byte, f ContextField, raw json.RawMessage, ctxName string) error {
	if f.Kind != Scalar {
		return fmt.Errorf("%w: %s of %s is a pointer the run sets", ErrContextField, f.Name, ctxName)
	}
	if f.Offset < 0 || f.Offset+f.Size > len(out) {
		return fmt.Errorf("%w: %s of %s lies outside its %d bytes", ErrContextField, f.Name, ctxName, len(out))
	}
	dst := out[f.Offset : f.Offset+f.Size]
	if f.Size > 8 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if len(s) > f.Size {
				return fmt.Errorf("%w: %s of %s holds %d bytes, the string has %d", ErrContextField, f.Name, ctxName, f.Size, len(s))
			}
			copy(dst, s)
			return nil
		}
		var bs []json.Number
		if err := json.Unmarshal(raw, &bs); err != nil {
			return fmt.Errorf("%w: %s of %s (%d bytes): want a string or an array of byte values", ErrContextField, f.Name, ctxName, f.Size)
		}
		if len(bs) > f.Size {
			return fmt.Errorf("%w: %s of %s holds %d bytes, not %d", ErrContextField, f.Name, ctxName, f.Size, len(bs))
		}
		for i, b := range bs {
			v, err := strconv.ParseUint(string(b), 0, 8)
			if err != nil {
				return fmt.Errorf("%w: %s[%d] of %s: %q is not a byte value", ErrContextField, f.Name, i, ctxName, b)
			}
			dst[i] = byte(v)
		}
		return nil
	}
	var text string
	var num json.Number
	if json.Unmarshal(raw, &num) == nil {
		text = string(num)
	} else if json.Unmarshal(raw, &text) != nil {
		return fmt.Errorf("%w: %s of %s: %s is not an integer", ErrContextField, f.Name, ctxName, raw)
	}
	v, ok := new(big.Int).SetString(strings.TrimSpace(text), 0)
	if !ok {
		return fmt.Errorf("%w: %s of %s: %q is not an integer", ErrContextField, f.Name, ctxName, text)
	}
	bits := uint(8 * f.Size)
	lo := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), bits-1))
	hi := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits), big.NewInt(1))
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		return fmt.Errorf("%w: %s of %s: %s does not fit %d bytes", ErrContextField, f.Name, ctxName, text, f.Size)
	}
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), bits))
	}
	u := v.Uint64()
	switch f.Size {
	case 1:
		dst[0] = byte(u)
	case 2:
		binary.NativeEndian.PutUint16(dst, uint16(u))
	case 4:
		binary.NativeEndian.PutUint32(dst, uint32(u))
	case 8:
		binary.NativeEndian.PutUint64(dst, u)
	default: // an odd-sized field: its low bytes first on little-endian hosts
		var b [8]byte
		binary.NativeEndian.PutUint64(b[:], u)
		if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
			copy(dst, b[:f.Size])
		} else {
			copy(dst, b[8-f.Size:])
		}
	}
	return nil
}
