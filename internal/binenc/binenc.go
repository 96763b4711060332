// Package binenc encodes Go values as the bytes of map keys, map values,
// global variables and contexts, in native byte order, the way
// cilium/ebpf's sysenc does: []byte as is, encoding.BinaryMarshaler and
// BinaryUnmarshaler through their methods, other fixed-size values
// through encoding/binary.
package binenc

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"reflect"
)

// MarshalInto encodes v into buf, which has exactly the size v must have,
// and returns the bytes to use: v itself when it is a []byte of that
// size, else buf. Integers take a fast path without allocation.
func MarshalInto(buf []byte, v any) ([]byte, error) {
	size := len(buf)
	n := 0
	switch x := v.(type) {
	case nil:
		if size == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("nil, want %d bytes", size)
	case []byte:
		if len(x) != size {
			return nil, fmt.Errorf("%d bytes, want %d", len(x), size)
		}
		return x, nil
	case uint8:
		n = 1
		if size == n {
			buf[0] = x
			return buf, nil
		}
	case int8:
		n = 1
		if size == n {
			buf[0] = uint8(x)
			return buf, nil
		}
	case uint16:
		n = 2
		if size == n {
			binary.NativeEndian.PutUint16(buf, x)
			return buf, nil
		}
	case int16:
		n = 2
		if size == n {
			binary.NativeEndian.PutUint16(buf, uint16(x))
			return buf, nil
		}
	case uint32:
		n = 4
		if size == n {
			binary.NativeEndian.PutUint32(buf, x)
			return buf, nil
		}
	case int32:
		n = 4
		if size == n {
			binary.NativeEndian.PutUint32(buf, uint32(x))
			return buf, nil
		}
	case uint64:
		n = 8
		if size == n {
			binary.NativeEndian.PutUint64(buf, x)
			return buf, nil
		}
	case int64:
		n = 8
		if size == n {
			binary.NativeEndian.PutUint64(buf, uint64(x))
			return buf, nil
		}
	case encoding.BinaryMarshaler:
		b, err := x.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("%T: MarshalBinary: %w", v, err)
		}
		if len(b) != size {
			return nil, fmt.Errorf("%T marshals to %d bytes, want %d", v, len(b), size)
		}
		copy(buf, b)
		return buf, nil
	default:
		n = binary.Size(v)
		if n < 0 {
			return nil, fmt.Errorf("%T has no fixed size (use []byte, a fixed-size value, or an encoding.BinaryMarshaler)", v)
		}
		if n == size {
			if _, err := binary.Encode(buf, binary.NativeEndian, v); err != nil {
				return nil, fmt.Errorf("%T: %w", v, err)
			}
			return buf, nil
		}
	}
	return nil, fmt.Errorf("%T is %d bytes, want %d", v, n, size)
}

// Marshal encodes v into a new slice of exactly size bytes.
func Marshal(v any, size int) ([]byte, error) {
	buf := make([]byte, size)
	b, err := MarshalInto(buf, v)
	if err != nil {
		return nil, err
	}
	copy(buf, b) // v was a []byte: do not alias the caller's memory
	return buf, nil
}

// Unmarshal decodes b into out: a []byte of len(b) (copied into), a
// *[]byte (set to a copy), an encoding.BinaryUnmarshaler, or a pointer to
// a fixed-size value of len(b) bytes.
func Unmarshal(out any, b []byte) error {
	switch x := out.(type) {
	case nil:
		return fmt.Errorf("nil output for %d bytes", len(b))
	case []byte:
		if len(x) != len(b) {
			return fmt.Errorf("[]byte of %d bytes, want %d", len(x), len(b))
		}
		copy(x, b)
		return nil
	case *[]byte:
		*x = append([]byte(nil), b...)
		return nil
	case *uint64:
		if len(b) == 8 {
			*x = binary.NativeEndian.Uint64(b)
			return nil
		}
	case *uint32:
		if len(b) == 4 {
			*x = binary.NativeEndian.Uint32(b)
			return nil
		}
	case *uint16:
		if len(b) == 2 {
			*x = binary.NativeEndian.Uint16(b)
			return nil
		}
	case *uint8:
		if len(b) == 1 {
			*x = b[0]
			return nil
		}
	case *int64:
		if len(b) == 8 {
			*x = int64(binary.NativeEndian.Uint64(b))
			return nil
		}
	case *int32:
		if len(b) == 4 {
			*x = int32(binary.NativeEndian.Uint32(b))
			return nil
		}
	case encoding.BinaryUnmarshaler:
		if err := x.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%T: UnmarshalBinary: %w", out, err)
		}
		return nil
	}
	if rv := reflect.ValueOf(out); rv.Kind() != reflect.Pointer || rv.IsNil() {
		if rv.Kind() != reflect.Slice {
			return fmt.Errorf("%T is not a pointer", out)
		}
	}
	if n := binary.Size(out); n != len(b) {
		if n < 0 {
			return fmt.Errorf("%T has no fixed size", out)
		}
		return fmt.Errorf("%T is %d bytes, want %d", out, n, len(b))
	}
	if _, err := binary.Decode(b, binary.NativeEndian, out); err != nil {
		return fmt.Errorf("%T: %w", out, err)
	}
	return nil
}
