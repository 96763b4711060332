package binenc

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

type pair struct {
	A uint32
	B uint16
	C [2]uint8
}

// addr4 is the wrapper cilium/ebpf documents for netip.Addr keys: a
// 4-byte IPv4 address as a BinaryMarshaler.
type addr4 struct{ netip.Addr }

func (a addr4) MarshalBinary() ([]byte, error) { b := a.As4(); return b[:], nil }
func (a *addr4) UnmarshalBinary(b []byte) error {
	if len(b) != 4 {
		return errors.New("not 4 bytes")
	}
	a.Addr = netip.AddrFrom4([4]byte(b))
	return nil
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		out  func() any
		size int
	}{
		{"uint8", uint8(7), func() any { return new(uint8) }, 1},
		{"uint16", uint16(0x1234), func() any { return new(uint16) }, 2},
		{"uint32", uint32(0xdeadbeef), func() any { return new(uint32) }, 4},
		{"int32", int32(-5), func() any { return new(int32) }, 4},
		{"uint64", uint64(1 << 40), func() any { return new(uint64) }, 8},
		{"int64", int64(-1 << 40), func() any { return new(int64) }, 8},
		{"struct", pair{1, 2, [2]uint8{3, 4}}, func() any { return new(pair) }, 8},
		{"pointer", &pair{5, 6, [2]uint8{7, 8}}, func() any { return new(pair) }, 8},
		{"marshaler", addr4{netip.MustParseAddr("10.1.2.3")}, func() any { return new(addr4) }, 4},
		{"array", [3]uint16{1, 2, 3}, func() any { return new([3]uint16) }, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.in, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			out := tc.out()
			if err := Unmarshal(out, b); err != nil {
				t.Fatal(err)
			}
			b2, err := Marshal(out, tc.size)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("round trip: %x, then %x, %v", b, b2, err)
			}
		})
	}
}

func TestMarshalAddr(t *testing.T) {
	b, err := Marshal(addr4{netip.MustParseAddr("10.1.2.3")}, 4)
	if err != nil || !bytes.Equal(b, []byte{10, 1, 2, 3}) {
		t.Fatalf("%x, %v", b, err)
	}
}

func TestMarshalBytesNotAliased(t *testing.T) {
	in := []byte{1, 2}
	b, err := Marshal(in, 2)
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 9
	if in[0] != 1 {
		t.Fatal("Marshal returned the caller's slice")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"short bytes", func() error { _, err := Marshal([]byte{1}, 4); return err }(), "1 bytes, want 4"},
		{"wrong size", func() error { _, err := Marshal(uint16(1), 4); return err }(), "uint16 is 2 bytes, want 4"},
		{"no fixed size", func() error { _, err := Marshal("x", 4); return err }(), "string has no fixed size"},
		{"nil", func() error { _, err := Marshal(nil, 4); return err }(), "nil, want 4 bytes"},
		{"out not pointer", Unmarshal(pair{}, make([]byte, 8)), "not a pointer"},
		{"out wrong size", Unmarshal(new(uint16), make([]byte, 4)), "*uint16 is 2 bytes, want 4"},
		{"out bytes size", Unmarshal(make([]byte, 3), make([]byte, 4)), "[]byte of 3 bytes, want 4"},
		{"out nil", Unmarshal(nil, make([]byte, 4)), "nil output"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestUnmarshalSliceOfValues(t *testing.T) {
	out := make([]uint32, 2)
	if err := Unmarshal(out, []byte{1, 0, 0, 0, 2, 0, 0, 0}); err != nil || out[0] != 1 || out[1] != 2 {
		t.Fatalf("%v, %v", out, err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, out := range []any{new(pair), new(uint32), new(addr4), new([]byte), make([]uint16, 4)} {
			_ = Unmarshal(out, b) // must not panic
		}
	})
}
