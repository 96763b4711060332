package maps

import (
	"bytes"
	"testing"
	"time"
)

func TestArraySemantics(t *testing.T) {
	m := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	v := make([]byte, 8)
	steps := []struct {
		desc string
		do   func() error
		want error
	}{
		{"Every index exists and starts zeroed.", func() error { return m.Lookup(u32(3), v) }, nil},
		{"An index past the end does not exist.", func() error { return m.Lookup(u32(4), v) }, ErrKeyNotExist},
		{"BPF_ANY overwrites.", func() error { return m.Update(u32(1), u64(11), UpdateAny) }, nil},
		{"BPF_EXIST overwrites.", func() error { return m.Update(u32(2), u64(22), UpdateExist) }, nil},
		{"BPF_NOEXIST fails: every element exists.", func() error { return m.Update(u32(1), u64(1), UpdateNoExist) }, ErrKeyExist},
		{"An update past the end is E2BIG.", func() error { return m.Update(u32(4), u64(1), UpdateAny) }, ErrMapFull},
		{"Unknown flags are EINVAL.", func() error { return m.Update(u32(1), u64(1), 8) }, ErrInvalid},
		{"BPF_F_LOCK without a spin lock is EINVAL.", func() error { return m.Update(u32(1), u64(1), UpdateLock) }, ErrInvalid},
		{"Array elements cannot be deleted.", func() error { return m.Delete(u32(1)) }, ErrInvalid},
		{"A short key is EINVAL.", func() error { return m.Lookup([]byte{1}, v) }, ErrInvalid},
		{"A short value is EINVAL.", func() error { return m.Update(u32(1), []byte{1}, UpdateAny) }, ErrInvalid},
	}
	for _, s := range steps {
		wantErr(t, s.desc, s.do(), s.want)
	}
	if err := m.Lookup(u32(1), v); err != nil || !bytes.Equal(v, u64(11)) {
		t.Fatalf("Lookup(1) = %x, %v; want %x", v, err, u64(11))
	}
}

func TestArrayNextKey(t *testing.T) {
	m := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 3})
	next := make([]byte, 4)
	for _, tc := range []struct {
		key  []byte
		want []byte
		err  error
	}{
		{nil, u32(0), nil}, {u32(0), u32(1), nil}, {u32(1), u32(2), nil},
		{u32(2), nil, ErrKeyNotExist}, {u32(7), u32(0), nil},
	} {
		err := m.NextKey(tc.key, next)
		wantErr(t, "NextKey", err, tc.err)
		if err == nil && !bytes.Equal(next, tc.want) {
			t.Errorf("NextKey(%x) = %x, want %x", tc.key, next, tc.want)
		}
	}
}

func TestArrayProgramSide(t *testing.T) {
	m := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 12, MaxEntries: 8})
	s := newScratch(t, 64)
	k := s.put(0, u32(5))
	a := m.LookupAddr(k)
	r := m.Regions()
	if a == 0 || len(r) != 1 || !r[0].Contains(a, 12) {
		t.Fatalf("LookupAddr = %#x outside regions %+v", a, r)
	}
	if a != r[0].Addr+5*16 {
		t.Fatalf("LookupAddr = %#x, want base + 5*stride %#x", a, r[0].Addr+80)
	}
	copy(bytesAt(a, 12), "hello world!")
	v := make([]byte, 12)
	if err := m.Lookup(u32(5), v); err != nil || string(v) != "hello world!" {
		t.Fatalf("Lookup after program write = %q, %v", v, err)
	}
	if got := m.UpdateAddr(k, s.put(8, []byte("abcdefghijkl")), 0); got != 0 {
		t.Fatalf("UpdateAddr = %d", got)
	}
	if string(bytesAt(a, 12)) != "abcdefghijkl" {
		t.Fatalf("value address not stable across update")
	}
	if got := m.UpdateAddr(s.put(0, u32(8)), s.put(8, make([]byte, 12)), 0); got != -int64(E2BIG) {
		t.Fatalf("UpdateAddr out of range = %d, want -E2BIG", got)
	}
	if m.LookupAddr(s.put(0, u32(8))) != 0 {
		t.Fatal("LookupAddr out of range != 0")
	}
	if got := m.DeleteAddr(k); got != -int64(EINVAL) {
		t.Fatalf("DeleteAddr = %d, want -EINVAL", got)
	}
	bad := s.put(16, u32(99))
	checkNoAllocs(t, "program-side array calls", func() { m.LookupAddr(k); m.UpdateAddr(k, k, 0); m.UpdateAddr(bad, k, 0) })
}

func TestPerCPUArray(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	n := NumCPU()
	if m.UserValueSize() != n*8 {
		t.Fatalf("UserValueSize = %d, want %d", m.UserValueSize(), n*8)
	}
	in := make([]byte, n*8)
	for c := range n {
		copy(in[c*8:], u32(uint32(100+c)))
	}
	if err := m.Update(u32(1), in, UpdateAny); err != nil {
		t.Fatal(err)
	}
	s := newScratch(t, 64)
	k := s.put(0, u32(1))
	for c := range n {
		a := m.LookupAddrCPU(c, k)
		if a == 0 || !bytes.Equal(bytesAt(a, 4), u32(uint32(100+c))) {
			t.Fatalf("cpu %d value at %#x wrong", c, a)
		}
	}
	if m.LookupAddrCPU(n, k) != 0 {
		t.Fatal("LookupAddrCPU past the last CPU != 0")
	}
	if got := m.UpdateAddrCPU(n-1, k, s.put(8, u32(7)), 0); got != 0 {
		t.Fatalf("UpdateAddrCPU = %d", got)
	}
	out := make([]byte, n*8)
	if err := m.Lookup(u32(1), out); err != nil {
		t.Fatal(err)
	}
	for c := range n {
		want := uint32(100 + c)
		if c == n-1 {
			want = 7
		}
		if !bytes.Equal(out[c*8:c*8+4], u32(want)) {
			t.Fatalf("cpu %d = %x, want %d", c, out[c*8:c*8+4], want)
		}
	}
	var es []Entry
	m.Iterate(func(e Entry) bool { es = append(es, e); return true })
	if len(es) != 2 || len(es[1].PerCPU) != n || !bytes.Equal(es[1].PerCPU[0], u32(100)) {
		t.Fatalf("Iterate = %+v", es)
	}
}

func TestSpinLockUpdate(t *testing.T) {
	for _, typ := range []Type{Array, Hash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, KeySize: 4, ValueSize: 16, MaxEntries: 4, SpinLockOffset: 0, HasSpinLock: true})
			if err := m.Update(u32(1), bytes.Repeat([]byte{0xff}, 16), UpdateLock); err != nil {
				t.Fatal(err)
			}
			s := newScratch(t, 16)
			a := m.LookupAddr(s.put(0, u32(1)))
			if !bytes.Equal(bytesAt(a, 4), []byte{0, 0, 0, 0}) {
				t.Fatalf("update overwrote the lock word: %x", bytesAt(a, 4))
			}
			SpinLock(a)
			done := make(chan error)
			go func() { done <- m.Update(u32(1), bytes.Repeat([]byte{0x11}, 16), UpdateLock) }()
			time.Sleep(20 * time.Millisecond)
			select {
			case <-done:
				t.Fatal("BPF_F_LOCK update did not wait for the held lock")
			default:
			}
			SpinUnlock(a)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			v := make([]byte, 16)
			if err := m.Lookup(u32(1), v); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v, append([]byte{0, 0, 0, 0}, bytes.Repeat([]byte{0x11}, 12)...)) {
				t.Fatalf("value = %x", v)
			}
		})
	}
}
