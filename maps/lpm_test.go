package maps

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// lpmKey builds an IPv4 LPM key from a prefix like "192.168.0.0/16".
func lpmKey(p string) []byte {
	pf := netip.MustParsePrefix(p)
	a := pf.Addr().As4()
	return append(u32(uint32(pf.Bits())), a[:]...)
}

func TestLPMLongestPrefixMatch(t *testing.T) {
	m := mustNew(t, &Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 8, Flags: FlagNoPrealloc})
	for i, p := range []string{"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "192.168.0.0/16"} {
		if err := m.Update(lpmKey(p), u32(uint32(i)), UpdateNoExist); err != nil {
			t.Fatalf("insert %s: %v", p, err)
		}
	}
	v := make([]byte, 4)
	for _, tc := range []struct {
		addr string
		want uint32
	}{
		{"10.1.2.3/32", 4}, {"10.1.2.4/32", 3}, {"10.1.3.1/32", 2}, {"10.9.9.9/32", 1},
		{"11.0.0.1/32", 0}, {"192.168.255.1/32", 5},
		{"10.1.2.3/16", 2}, // the lookup key's prefix length bounds the match
	} {
		if err := m.Lookup(lpmKey(tc.addr), v); err != nil || binary.NativeEndian.Uint32(v) != tc.want {
			t.Errorf("lookup %s = %d, %v; want %d", tc.addr, binary.NativeEndian.Uint32(v), err, tc.want)
		}
	}
	wantErr(t, "delete of a non-exact prefix", m.Delete(lpmKey("10.1.0.0/15")), ErrKeyNotExist)
	wantErr(t, "delete of an exact prefix", m.Delete(lpmKey("10.1.0.0/16")), nil)
	if err := m.Lookup(lpmKey("10.1.3.1/32"), v); err != nil || binary.NativeEndian.Uint32(v) != 1 {
		t.Errorf("after delete, lookup = %d, %v; want 1 (10.0.0.0/8)", binary.NativeEndian.Uint32(v), err)
	}
	wantErr(t, "prefix longer than the data", m.Update(append(u32(33), 1, 2, 3, 4), v, UpdateAny), ErrInvalid)
	wantErr(t, "BPF_NOEXIST on an existing prefix", m.Update(lpmKey("10.0.0.0/8"), v, UpdateNoExist), ErrKeyExist)
	wantErr(t, "BPF_EXIST on a missing prefix", m.Update(lpmKey("10.0.0.0/9"), v, UpdateExist), ErrKeyNotExist)
	wantErr(t, "trailing bits ignored on replace", m.Update(lpmKey("10.255.0.0/8"), u32(42), UpdateExist), nil)
	if err := m.Lookup(lpmKey("10.9.9.9/32"), v); err != nil || binary.NativeEndian.Uint32(v) != 42 {
		t.Errorf("replaced value = %d, %v", binary.NativeEndian.Uint32(v), err)
	}
	for _, p := range []string{"1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8"} {
		m.Update(lpmKey(p), v, UpdateAny)
	}
	err := m.Update(lpmKey("4.0.0.0/8"), v, UpdateAny)
	wantErr(t, "a full trie", err, ErrMapFull)
	if ErrnoOf(err) != ENOSPC {
		t.Fatalf("full trie errno %d, want ENOSPC like the kernel", ErrnoOf(err))
	}
}

func TestLPMNextKeyPostorder(t *testing.T) {
	m := mustNew(t, &Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 8, Flags: FlagNoPrealloc})
	// The kernel's example (kernel/bpf/lpm_trie.c, trie_get_next_key).
	for _, p := range []string{"192.168.0.0/16", "192.168.128.0/24", "192.168.1.0/24", "192.168.0.0/24"} {
		if err := m.Update(lpmKey(p), u32(1), UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]byte{lpmKey("192.168.0.0/24"), lpmKey("192.168.1.0/24"), lpmKey("192.168.128.0/24"), lpmKey("192.168.0.0/16")}
	got := keysByNextKey(t, m)
	if len(got) != len(want) {
		t.Fatalf("NextKey walk = %x", got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("NextKey walk [%d] = %x, want %x", i, got[i], want[i])
		}
	}
	next := make([]byte, 8)
	if err := m.NextKey(lpmKey("1.2.3.0/24"), next); err != nil || !bytes.Equal(next, want[0]) {
		t.Fatalf("NextKey(absent) = %x, %v; want the first key", next, err)
	}
	var iter [][]byte
	m.Iterate(func(e Entry) bool { iter = append(iter, e.Key); return true })
	if len(iter) != 4 || !bytes.Equal(iter[3], want[3]) {
		t.Fatalf("Iterate = %x", iter)
	}
}

func TestLPMProgramSide(t *testing.T) {
	m := mustNew(t, &Spec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 4, Flags: FlagNoPrealloc})
	s := newScratch(t, 64)
	if got := m.UpdateAddr(s.put(0, lpmKey("10.0.0.0/8")), s.put(16, u64(9)), 0); got != 0 {
		t.Fatalf("UpdateAddr = %d", got)
	}
	k := s.put(0, lpmKey("10.2.3.4/32"))
	a := m.LookupAddr(k)
	if a == 0 || !m.Regions()[0].Contains(a, 8) || binary.NativeEndian.Uint64(bytesAt(a, 8)) != 9 {
		t.Fatalf("LookupAddr = %#x", a)
	}
	checkNoAllocs(t, "LPM program-side lookup", func() { m.LookupAddr(k) })
	if got := m.DeleteAddr(s.put(0, lpmKey("10.0.0.0/8"))); got != 0 {
		t.Fatalf("DeleteAddr = %d", got)
	}
	if m.LookupAddr(k) != 0 {
		t.Fatal("deleted prefix still matches")
	}
}
