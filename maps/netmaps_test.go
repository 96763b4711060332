package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// The expectations below were measured on Linux 6.18 (x86-64) with
// BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM and friends.

func TestNetMapCreate(t *testing.T) {
	for _, tc := range []struct {
		typ           Type
		k, v, n, flag uint32
		want          error
	}{
		{DevMap, 4, 4, 4, 0, nil},
		{DevMap, 4, 8, 4, 0, nil},
		{DevMap, 4, 12, 4, 0, ErrInvalid},
		{DevMap, 4, 4, 0, 0, ErrInvalid},
		{DevMap, 8, 4, 4, 0, ErrInvalid},
		{DevMap, 4, 4, 4, FlagNoPrealloc, ErrInvalid},
		{DevMap, 4, 4, 4, FlagRdonlyProg, ErrInvalid},
		{DevMap, 4, 4, 4, FlagRdonly | FlagWronly, ErrInvalid},
		{DevMapHash, 4, 4, 3, 0, nil},
		{DevMapHash, 4, 4, 1<<31 + 1, 0, ErrInvalid},
		{CPUMap, 4, 4, 4, 0, nil},
		{CPUMap, 4, 8, 4, 0, nil},
		{CPUMap, 4, 12, 4, 0, ErrInvalid},
		{CPUMap, 4, 4, 4, FlagRdonly, ErrInvalid},
		{CPUMap, 4, 4, CPUMapMaxEntries + 1, 0, ErrTooBig},
		{XSKMap, 4, 4, 4, 0, nil},
		{XSKMap, 4, 8, 4, 0, ErrInvalid},
		{XSKMap, 4, 4, 4, FlagRdonlyProg, ErrInvalid},
		{StackTrace, 4, 8, 4, 0, nil},
		{StackTrace, 4, 12, 4, 0, ErrInvalid},
		{StackTrace, 4, 127 * 8, 4, 0, nil},
		{StackTrace, 4, 128 * 8, 4, 0, ErrInvalid},
		{StackTrace, 4, 32, 4, FlagStackBuildID, nil},
		{StackTrace, 4, 40, 4, FlagStackBuildID, ErrInvalid},
		{StackTrace, 4, 8, 4, FlagNoPrealloc, ErrInvalid},
		{CgroupArray, 4, 4, 4, 0, nil},
		{CgroupArray, 4, 8, 4, 0, ErrInvalid},
		{CgroupArray, 4, 4, 4, FlagRdonlyProg, ErrInvalid},
		{CgroupArray, 4, 4, 4, FlagMmapable, ErrInvalid},
		{CgroupArray, 4, 4, 4, FlagPreserveElem, ErrInvalid},
		{CgroupArray, 4, 4, 4, FlagInnerMap, ErrInvalid},
		{CgroupArray, 4, 4, 4, FlagRdonly, nil},
	} {
		t.Run(fmt.Sprintf("%v k%d v%d n%d f%#x", tc.typ, tc.k, tc.v, tc.n, tc.flag), func(t *testing.T) {
			m, err := New(&Spec{Type: tc.typ, KeySize: tc.k, ValueSize: tc.v, MaxEntries: tc.n, Flags: tc.flag})
			if m != nil {
				defer m.Close()
			}
			if (err == nil) != (tc.want == nil) || (err != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNetMapTypeNames(t *testing.T) {
	for typ, want := range map[Type]string{DevMap: "DevMap", DevMapHash: "DevMapHash", CPUMap: "CPUMap",
		XSKMap: "XSKMap", StackTrace: "StackTrace", CgroupArray: "CGroupArray"} {
		if typ.String() != want || !typ.Supported() {
			t.Errorf("%d: String %q (want %q), Supported %v", uint32(typ), typ.String(), want, typ.Supported())
		}
	}
}

// op is one Go-side operation and the error Linux answers.
type op struct {
	do   string // "put", "get", "del", "next"
	key  uint32
	val  []byte
	flag UpdateFlags
	want error
	out  []byte // expected value or next key
}

func runOps(t *testing.T, m Map, ops []op) {
	t.Helper()
	for _, o := range ops {
		var err error
		var out []byte
		switch o.do {
		case "put":
			err = m.Update(u32(o.key), o.val, o.flag)
		case "get":
			out = make([]byte, m.ValueSize())
			err = m.Lookup(u32(o.key), out)
		case "del":
			err = m.Delete(u32(o.key))
		case "next":
			out = make([]byte, 4)
			err = m.NextKey(u32(o.key), out)
		case "first":
			out = make([]byte, 4)
			err = m.NextKey(nil, out)
		}
		what := fmt.Sprintf("%s %d %x flags %d", o.do, o.key, o.val, o.flag)
		if (err == nil) != (o.want == nil) || (err != nil && !errors.Is(err, o.want)) {
			t.Fatalf("%s: %v, want %v", what, err, o.want)
		}
		if err == nil && o.out != nil && string(out) != string(o.out) {
			t.Fatalf("%s: %x, want %x", what, out, o.out)
		}
	}
}

func pair(a, b uint32) []byte { return append(u32(a), u32(b)...) }

func TestDevMapOps(t *testing.T) {
	m := mustNew(t, &Spec{Type: DevMap, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	runOps(t, m, []op{
		{do: "put", key: 0, val: pair(1, 0)},
		{do: "put", key: 1, val: pair(1, 0xffffffff)},
		{do: "put", key: 2, val: pair(0, 0)},
		{do: "put", key: 2, val: pair(0, 5), want: ErrInvalid},
		{do: "put", key: 2, val: pair(7, 5), want: ErrNotSupported},
		{do: "put", key: 4, val: pair(1, 0), want: ErrMapFull},
		{do: "put", key: 0, val: pair(1, 0), flag: UpdateNoExist, want: ErrKeyExist},
		{do: "put", key: 3, val: pair(1, 0), flag: UpdateNoExist, want: ErrKeyExist},
		{do: "put", key: 3, val: pair(9, 0), flag: UpdateExist},
		{do: "put", key: 3, val: pair(1, 0), flag: UpdateLock, want: ErrInvalid},
		{do: "get", key: 0, out: pair(1, 0)},
		{do: "get", key: 1, out: pair(1, 0)},
		{do: "get", key: 3, out: pair(9, 0)},
		{do: "get", key: 2, want: ErrKeyNotExist},
		{do: "get", key: 9, want: ErrKeyNotExist},
		{do: "del", key: 2},
		{do: "del", key: 9, want: ErrInvalid},
		{do: "put", key: 0, val: pair(0, 0)},
		{do: "get", key: 0, want: ErrKeyNotExist},
		{do: "first", out: u32(0)},
		{do: "next", key: 1, out: u32(2)},
		{do: "next", key: 3, want: ErrKeyNotExist},
	})
	var keys []uint32
	m.Iterate(func(e Entry) bool { keys = append(keys, binary.NativeEndian.Uint32(e.Key)); return true })
	if fmt.Sprint(keys) != "[1 3]" {
		t.Fatalf("Iterate keys %v, want [1 3]", keys)
	}
	s := newScratch(t, 8)
	a := m.LookupAddr(s.put(0, u32(3)))
	if a == 0 || binary.NativeEndian.Uint32(bytesAt(a, 4)) != 9 {
		t.Fatalf("LookupAddr(3) = %#x", a)
	}
	if r := m.Regions(); len(r) != 1 || !r[0].ReadOnly || !r[0].Contains(a, 8) {
		t.Fatalf("Regions %+v do not hold %#x read-only", r, a)
	}
	if m.LookupAddr(s.put(0, u32(2))) != 0 || m.LookupAddr(s.put(0, u32(99))) != 0 {
		t.Fatal("LookupAddr of an empty or out-of-range slot is not 0")
	}
	checkNoAllocs(t, "LookupAddr", func() { m.LookupAddr(s.put(0, u32(3))) })
}

func TestDevMapHashOps(t *testing.T) {
	m := mustNew(t, &Spec{Type: DevMapHash, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	runOps(t, m, []op{
		{do: "put", key: 5, val: u32(1), flag: UpdateExist}, // BPF_EXIST inserts, as in Linux
		{do: "put", key: 7, val: u32(1)},
		{do: "put", key: 9, val: u32(1), want: ErrMapFull},
		{do: "put", key: 9, val: u32(1), flag: UpdateNoExist, want: ErrMapFull},
		{do: "put", key: 7, val: u32(1), flag: UpdateNoExist, want: ErrKeyExist},
		{do: "put", key: 0, val: u32(0), want: ErrInvalid},
		{do: "put", key: 0, val: u32(1), flag: 3, want: ErrInvalid},
		{do: "del", key: 3, want: ErrKeyNotExist},
		// Both keys sit in bucket 1, the newest first.
		{do: "first", out: u32(7)},
		{do: "next", key: 7, out: u32(5)},
		{do: "next", key: 5, want: ErrKeyNotExist},
		{do: "next", key: 9, out: u32(7)},
		{do: "get", key: 5, out: u32(1)},
		{do: "put", key: 5, val: u32(4)}, // a replacement moves to the head
		{do: "first", out: u32(5)},
		{do: "get", key: 5, out: u32(4)},
		{do: "del", key: 7},
		{do: "put", key: 8, val: u32(3)}, // bucket 0
		{do: "first", out: u32(8)},
		{do: "next", key: 8, out: u32(5)},
	})
	s := newScratch(t, 8)
	if a := m.LookupAddr(s.put(0, u32(8))); a == 0 || binary.NativeEndian.Uint32(bytesAt(a, 4)) != 3 {
		t.Fatalf("LookupAddr(8) = %#x", a)
	}
	if m.LookupAddr(s.put(0, u32(7))) != 0 {
		t.Fatal("LookupAddr of a deleted key is not 0")
	}
	checkNoAllocs(t, "LookupAddr", func() { m.LookupAddr(s.put(0, u32(8))) })
	n := 0
	m.Iterate(func(Entry) bool { n++; return true })
	if n != 2 {
		t.Fatalf("Iterate saw %d entries, want 2", n)
	}
}

func TestCPUMapOps(t *testing.T) {
	if NumCPU() > 63 {
		t.Skip("needs fewer than 64 CPUs")
	}
	m := mustNew(t, &Spec{Type: CPUMap, KeySize: 4, ValueSize: 4, MaxEntries: 64})
	runOps(t, m, []op{
		{do: "put", key: 0, val: u32(0)},
		{do: "get", key: 0, want: ErrKeyNotExist},
		{do: "put", key: 0, val: u32(CPUMapMaxQueueSize + 1), want: ErrOverflow},
		{do: "put", key: 0, val: u32(CPUMapMaxQueueSize)},
		{do: "put", key: 63, val: u32(1), want: ErrNoDevice},
		{do: "put", key: 64, val: u32(1), want: ErrMapFull},
		{do: "put", key: 0, val: u32(1), flag: UpdateNoExist, want: ErrKeyExist},
		{do: "put", key: 0, val: u32(5), flag: UpdateExist},
		{do: "get", key: 0, out: u32(5)},
		{do: "del", key: 0},
		{do: "del", key: 64, want: ErrInvalid},
		{do: "next", key: 0, out: u32(1)},
	})
	m8 := mustNew(t, &Spec{Type: CPUMap, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	runOps(t, m8, []op{
		{do: "put", key: 0, val: pair(8, 3), want: ErrNotSupported},
		{do: "put", key: 0, val: pair(8, 0xffffffff)},
		{do: "get", key: 0, out: pair(8, 0)},
	})
}

func TestXSKMapOps(t *testing.T) {
	m := mustNew(t, &Spec{Type: XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	runOps(t, m, []op{
		{do: "get", key: 0, want: ErrNotSupported},
		{do: "put", key: 0, val: u32(3), flag: UpdateExist, want: ErrKeyNotExist},
		{do: "put", key: 0, val: u32(3), flag: UpdateNoExist},
		{do: "put", key: 0, val: u32(3), flag: UpdateNoExist}, // the same socket again
		{do: "put", key: 0, val: u32(4), flag: UpdateNoExist, want: ErrKeyExist},
		{do: "put", key: 4, val: u32(4), want: ErrMapFull},
		{do: "del", key: 1},
		{do: "del", key: 9, want: ErrInvalid},
		{do: "next", key: 0, out: u32(1)},
	})
	s := newScratch(t, 8)
	if a := m.LookupAddr(s.put(0, u32(0))); a == 0 || binary.NativeEndian.Uint32(bytesAt(a, 4)) != 3 {
		t.Fatalf("LookupAddr(0) = %#x", a)
	}
}

func TestStackTraceOps(t *testing.T) {
	m := mustNew(t, &Spec{Type: StackTrace, KeySize: 4, ValueSize: 16, MaxEntries: 4})
	runOps(t, m, []op{
		{do: "get", key: 0, want: ErrKeyNotExist},
		{do: "get", key: 9, want: ErrKeyNotExist},
		{do: "put", key: 0, val: make([]byte, 16), want: ErrInvalid},
		{do: "del", key: 0, want: ErrKeyNotExist},
		{do: "del", key: 9, want: ErrMapFull},
		{do: "first", want: ErrKeyNotExist},
	})
	n := 0
	m.Iterate(func(Entry) bool { n++; return true })
	if n != 0 {
		t.Fatalf("Iterate saw %d entries", n)
	}
}

func TestCgroupArrayOps(t *testing.T) {
	m := mustNew(t, &Spec{Type: CgroupArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	runOps(t, m, []op{
		{do: "get", key: 0, want: ErrNotSupported},
		{do: "put", key: 0, val: u32(7), flag: UpdateNoExist, want: ErrInvalid},
		{do: "put", key: 0, val: u32(7)},
		{do: "put", key: 4, val: u32(7), want: ErrMapFull},
		{do: "del", key: 1, want: ErrKeyNotExist},
		{do: "del", key: 9, want: ErrMapFull},
		{do: "next", key: 0, out: u32(1)},
	})
	s := newScratch(t, 8)
	if a := m.LookupAddr(s.put(0, u32(0))); a == 0 || binary.NativeEndian.Uint32(bytesAt(a, 4)) != 7 {
		t.Fatalf("LookupAddr(0) = %#x", a)
	}
	runOps(t, m, []op{{do: "del", key: 0}, {do: "del", key: 0, want: ErrKeyNotExist}})
	if m.LookupAddr(s.put(0, u32(0))) != 0 {
		t.Fatal("deleted slot still found")
	}
}

func TestNetMapsClosed(t *testing.T) {
	for _, typ := range []Type{DevMap, DevMapHash, CPUMap, XSKMap, StackTrace, CgroupArray} {
		v := uint32(4)
		if typ == StackTrace {
			v = 8
		}
		m, err := New(&Spec{Type: typ, KeySize: 4, ValueSize: v, MaxEntries: 2})
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		if err := m.Update(u32(0), make([]byte, v), UpdateAny); err == nil {
			t.Errorf("%v: Update after Close succeeded", typ)
		}
		if err := m.Iterate(func(Entry) bool { return true }); !errors.Is(err, ErrClosed) {
			t.Errorf("%v: Iterate after Close: %v", typ, err)
		}
		s := newScratch(t, 8)
		if m.LookupAddr(s.put(0, u32(0))) != 0 {
			t.Errorf("%v: LookupAddr after Close", typ)
		}
	}
}

func BenchmarkNetMapLookupAddr(b *testing.B) {
	for _, typ := range []Type{DevMap, DevMapHash} {
		b.Run(typ.String(), func(b *testing.B) {
			m := mustNew(b, &Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 64})
			for i := uint32(0); i < 64; i++ {
				if err := m.Update(u32(i), u32(i+1), UpdateAny); err != nil {
					b.Fatal(err)
				}
			}
			s := newScratch(b, 8)
			k := s.put(0, u32(17))
			for b.Loop() {
				if m.LookupAddr(k) == 0 {
					b.Fatal("absent")
				}
			}
		})
	}
}
