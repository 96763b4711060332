package maps

import (
	"encoding/binary"
	"testing"
)

func TestQueueStackOrder(t *testing.T) {
	for _, tc := range []struct {
		typ  Type
		pops []uint32 // after pushing 1, 2, 3 into a 3-slot map, then 4 with BPF_EXIST
	}{
		{Queue, []uint32{2, 3, 4}},
		{Stack, []uint32{4, 3, 2}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: tc.typ, ValueSize: 4, MaxEntries: 3})
			v := make([]byte, 4)
			wantErr(t, "pop from empty", m.LookupAndDelete(nil, v), ErrKeyNotExist)
			wantErr(t, "peek at empty", m.Lookup(nil, v), ErrKeyNotExist)
			for i := uint32(1); i <= 3; i++ {
				wantErr(t, "push", m.Update(nil, u32(i), UpdateAny), nil)
			}
			wantErr(t, "push into full", m.Update(nil, u32(9), UpdateAny), ErrMapFull)
			wantErr(t, "push with BPF_NOEXIST", m.Update(nil, u32(9), UpdateNoExist), ErrInvalid)
			wantErr(t, "push with a key", m.Update(u32(1), u32(9), UpdateAny), ErrInvalid)
			wantErr(t, "push overwriting the oldest", m.Update(nil, u32(4), UpdateExist), nil)
			wantErr(t, "delete", m.Delete(nil), ErrInvalid)
			var iter []uint32
			m.Iterate(func(e Entry) bool { iter = append(iter, binary.NativeEndian.Uint32(e.Value)); return true })
			if len(iter) != 3 || iter[0] != tc.pops[0] || iter[2] != tc.pops[2] {
				t.Fatalf("Iterate = %v, want %v", iter, tc.pops)
			}
			wantErr(t, "peek", m.Lookup(nil, v), nil)
			if got := binary.NativeEndian.Uint32(v); got != tc.pops[0] {
				t.Fatalf("peek = %d, want %d", got, tc.pops[0])
			}
			for _, want := range tc.pops {
				wantErr(t, "pop", m.LookupAndDelete(nil, v), nil)
				if got := binary.NativeEndian.Uint32(v); got != want {
					t.Fatalf("pop = %d, want %d", got, want)
				}
			}
			wantErr(t, "pop after draining", m.LookupAndDelete(nil, v), ErrKeyNotExist)
		})
	}
}

func TestQueueProgramSide(t *testing.T) {
	m := mustNew(t, &Spec{Type: Queue, ValueSize: 8, MaxEntries: 2})
	s := newScratch(t, 64)
	in, out := s.put(0, u64(7)), s.put(8, u64(0))
	if got := m.PopAddr(out); got != -int64(ENOENT) {
		t.Fatalf("PopAddr(empty) = %d, want -ENOENT", got)
	}
	for range 2 {
		if m.PushAddr(in, 0) != 0 {
			t.Fatal("PushAddr failed")
		}
	}
	if got := m.PushAddr(in, 0); got != -int64(E2BIG) {
		t.Fatalf("PushAddr(full) = %d, want -E2BIG", got)
	}
	if got := m.PushAddr(in, 1); got != -int64(EINVAL) {
		t.Fatalf("PushAddr(BPF_NOEXIST) = %d, want -EINVAL", got)
	}
	if m.PeekAddr(out) != 0 || binary.NativeEndian.Uint64(s.bytes(8, 8)) != 7 {
		t.Fatal("PeekAddr did not copy the value")
	}
	checkNoAllocs(t, "queue program-side calls", func() {
		m.PopAddr(out)
		m.PushAddr(in, 2)
		m.PeekAddr(out)
		m.PushAddr(in, 0)
	})
}
