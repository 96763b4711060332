package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func TestHashSemantics(t *testing.T) {
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	v := make([]byte, 8)
	for _, s := range []struct {
		desc string
		do   func() error
		want error
	}{
		{"A missing key is ENOENT.", func() error { return m.Lookup(u32(1), v) }, ErrKeyNotExist},
		{"BPF_EXIST on a missing key is ENOENT.", func() error { return m.Update(u32(1), u64(1), UpdateExist) }, ErrKeyNotExist},
		{"BPF_NOEXIST creates.", func() error { return m.Update(u32(1), u64(1), UpdateNoExist) }, nil},
		{"BPF_NOEXIST on an existing key is EEXIST.", func() error { return m.Update(u32(1), u64(2), UpdateNoExist) }, ErrKeyExist},
		{"BPF_EXIST replaces.", func() error { return m.Update(u32(1), u64(3), UpdateExist) }, nil},
		{"BPF_ANY creates.", func() error { return m.Update(u32(2), u64(4), UpdateAny) }, nil},
		{"A full map refuses new keys with E2BIG.", func() error { return m.Update(u32(3), u64(5), UpdateAny) }, ErrMapFull},
		{"A full map still replaces.", func() error { return m.Update(u32(2), u64(6), UpdateAny) }, nil},
		{"Unknown flags are EINVAL.", func() error { return m.Update(u32(2), u64(6), 3) }, ErrInvalid},
		{"Delete removes.", func() error { return m.Delete(u32(2)) }, nil},
		{"Deleting a missing key is ENOENT.", func() error { return m.Delete(u32(2)) }, ErrKeyNotExist},
		{"Room again after a delete.", func() error { return m.Update(u32(3), u64(7), UpdateAny) }, nil},
		{"A long key is EINVAL.", func() error { return m.Lookup(u64(1), v) }, ErrInvalid},
		{"A long value is EINVAL.", func() error { return m.Update(u32(1), make([]byte, 9), UpdateAny) }, ErrInvalid},
	} {
		wantErr(t, s.desc, s.do(), s.want)
	}
	for k, want := range map[uint32]uint64{1: 3, 3: 7} {
		if err := m.Lookup(u32(k), v); err != nil || binary.NativeEndian.Uint64(v) != want {
			t.Errorf("Lookup(%d) = %x, %v; want %d", k, v, err, want)
		}
	}
	if err := m.LookupAndDelete(u32(3), v); err != nil || binary.NativeEndian.Uint64(v) != 7 {
		t.Fatalf("LookupAndDelete = %x, %v", v, err)
	}
	wantErr(t, "Lookup after LookupAndDelete", m.Lookup(u32(3), v), ErrKeyNotExist)
}

// keysByNextKey walks the map with NextKey from a nil key.
func keysByNextKey(t *testing.T, m Map) [][]byte {
	t.Helper()
	var keys [][]byte
	var k []byte
	for range m.MaxEntries() + 1 {
		next := make([]byte, m.KeySize())
		err := m.NextKey(k, next)
		if err == ErrKeyNotExist {
			return keys
		}
		if err != nil {
			t.Fatalf("NextKey(%x): %v", k, err)
		}
		keys = append(keys, next)
		k = next
	}
	t.Fatalf("NextKey did not terminate after %d keys", len(keys))
	return nil
}

func TestHashNextKeyVisitsEveryKeyOnce(t *testing.T) {
	m := mustNew(t, &Spec{Type: Hash, KeySize: 16, ValueSize: 4, MaxEntries: 100})
	want := map[string]bool{}
	for i := range 100 {
		k := fmt.Appendf(nil, "key-%012d", i)
		want[string(k)] = true
		if err := m.Update(k, u32(uint32(i)), UpdateNoExist); err != nil {
			t.Fatal(err)
		}
	}
	got := keysByNextKey(t, m)
	if len(got) != 100 {
		t.Fatalf("NextKey walk found %d keys, want 100", len(got))
	}
	for _, k := range got {
		if !want[string(k)] {
			t.Fatalf("NextKey walk repeated or invented key %q", k)
		}
		delete(want, string(k))
	}
	next := make([]byte, 16)
	if err := m.NextKey([]byte("absent-key-00000"), next); err != nil || !bytes.Equal(next, got[0]) {
		t.Fatalf("NextKey(absent) = %q, %v; want the first key %q", next, err, got[0])
	}
	var prev []byte
	n := 0
	m.Iterate(func(e Entry) bool {
		if prev != nil && bytes.Compare(prev, e.Key) >= 0 {
			t.Fatalf("Iterate out of key order: %q then %q", prev, e.Key)
		}
		prev = e.Key
		n++
		return true
	})
	if n != 100 {
		t.Fatalf("Iterate reported %d entries", n)
	}
}

func TestLRUHashEvictsLeastRecentlyUsed(t *testing.T) {
	for _, typ := range []Type{LRUHash, LRUCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 8})
			v := make([]byte, m.UserValueSize())
			for i := range uint32(8) {
				if err := m.Update(u32(i), v, UpdateAny); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Lookup(u32(0), v); err != nil { // 0 is now recently used
				t.Fatal(err)
			}
			for i := uint32(8); i < 12; i++ {
				if err := m.Update(u32(i), v, UpdateAny); err != nil {
					t.Fatalf("update of a full LRU map: %v", err)
				}
			}
			if err := m.Lookup(u32(0), v); err != nil {
				t.Fatalf("recently used key evicted: %v", err)
			}
			if err := m.Lookup(u32(1), v); err != ErrKeyNotExist {
				t.Fatalf("least recently used key 1 survived: %v", err)
			}
			if got := len(keysByNextKey(t, m)); got != 8 {
				t.Fatalf("LRU map holds %d keys, want 8", got)
			}
		})
	}
}

func TestPerCPUHash(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	n := NumCPU()
	s := newScratch(t, 64)
	k := s.put(0, u32(9))
	if got := m.UpdateAddrCPU(n-1, k, s.put(8, u32(42)), 0); got != 0 {
		t.Fatalf("UpdateAddrCPU = %d", got)
	}
	out := make([]byte, n*8)
	if err := m.Lookup(u32(9), out); err != nil {
		t.Fatal(err)
	}
	for c := range n {
		want := uint32(0)
		if c == n-1 {
			want = 42
		}
		if got := binary.NativeEndian.Uint32(out[c*8:]); got != want {
			t.Fatalf("cpu %d = %d, want %d (a program update sets its own CPU only)", c, got, want)
		}
	}
	a := m.LookupAddrCPU(n-1, k)
	if got := m.UpdateAddrCPU(0, k, s.put(8, u32(5)), uint64(UpdateExist)); got != 0 {
		t.Fatal(got)
	}
	if m.LookupAddrCPU(n-1, k) != a || binary.NativeEndian.Uint32(bytesAt(a, 4)) != 42 {
		t.Fatal("per-CPU update moved or clobbered another CPU's value")
	}
	if got := m.UpdateAddrCPU(n, k, k, 0); got != -int64(EINVAL) {
		t.Fatalf("UpdateAddrCPU(bad cpu) = %d", got)
	}
}

func TestHashProgramSideAndEpoch(t *testing.T) {
	ep := new(Epoch)
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64}, WithEpoch(ep))
	h := m.(*hashMap)
	s := newScratch(t, 64)
	k := s.put(0, u32(1))
	if got := m.UpdateAddr(k, s.put(8, u64(77)), 0); got != 0 {
		t.Fatalf("UpdateAddr = %d", got)
	}
	if got := m.UpdateAddr(k, s.put(8, u64(1)), uint64(UpdateNoExist)); got != -int64(EEXIST) {
		t.Fatalf("UpdateAddr NOEXIST = %d, want -EEXIST", got)
	}
	tok := ep.Enter() // a program run holding a value pointer
	a := m.LookupAddr(k)
	if a == 0 || !m.Regions()[0].Contains(a, 8) || binary.NativeEndian.Uint64(bytesAt(a, 8)) != 77 {
		t.Fatalf("LookupAddr = %#x", a)
	}
	slot := int32((a - h.ar.base) / uintptr(h.ar.stride))
	if got := m.DeleteAddr(k); got != 0 {
		t.Fatalf("DeleteAddr = %d", got)
	}
	if m.LookupAddr(k) != 0 {
		t.Fatal("deleted key still found")
	}
	// Churn through the spare slots: none may reuse the slot the run holds.
	for i := range 60 {
		key := u32(uint32(100 + i%4))
		if err := m.Update(key, u64(uint64(i)), UpdateAny); err != nil {
			t.Fatal(err)
		}
		if err := m.Delete(key); err != nil {
			t.Fatal(err)
		}
		if binary.NativeEndian.Uint64(bytesAt(a, 8)) != 77 || !h.ar.inLimbo(slot) {
			t.Fatalf("slot %d reused while a run inside the epoch holds it", slot)
		}
	}
	ep.Exit(tok)
	for i := range 100 {
		if err := m.Update(u32(uint32(200+i%4)), u64(5), UpdateAny); err != nil {
			t.Fatalf("update after the run left the epoch: %v", err)
		}
		m.Delete(u32(uint32(200 + i%4)))
	}
	if h.ar.inLimbo(slot) {
		t.Fatal("slot never reclaimed after the run exited")
	}
	if h.ar.stolen != 0 {
		t.Fatalf("%d slots reused early with spare slots left", h.ar.stolen)
	}
	checkNoAllocs(t, "program-side hash calls", func() {
		m.UpdateAddr(k, s.put(8, u64(1)), 0)
		m.LookupAddr(k)
		m.DeleteAddr(k)
		m.DeleteAddr(k)
	})
}

func TestHashUpdatesSucceedWhenSpareSlotsAreHeld(t *testing.T) {
	ep := new(Epoch)
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, WithEpoch(ep))
	tok := ep.Enter()
	defer ep.Exit(tok)
	for i := range 100 { // far more deletions than spare slots within one run
		if err := m.Update(u32(uint32(i%3)), u64(uint64(i)), UpdateAny); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if err := m.Delete(u32(uint32(i % 3))); err != nil {
			t.Fatal(err)
		}
	}
	if m.(*hashMap).ar.stolen == 0 {
		t.Fatal("expected early reuse once every spare slot was in limbo")
	}
}

// TestEpochNeverReusesHeldSlots has programs on many goroutines read a
// value twice inside one epoch section while writers replace and delete
// the same keys: a slot reused under a reader would change between reads.
func TestEpochNeverReusesHeldSlots(t *testing.T) {
	ep := new(Epoch)
	m := mustNew(t, &Spec{Type: Hash, KeySize: 8, ValueSize: 8, MaxEntries: 8}, WithEpoch(ep))
	m.(*hashMap).ar.strict = true // 16 slots: reclamation runs all the time
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := (i + uint64(w)) % 8
				if i%5 == 4 {
					m.Delete(u64(key))
				} else if err := m.Update(u64(key), u64(key<<32|i&0xffffffff), UpdateAny); err != nil && err != ErrNoMemory {
					t.Error(err)
				}
			}
		}()
	}
	var mu sync.Mutex
	var failures []string
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s := newScratch(t, 8)
			for i := range 3000 {
				key := uint64(r+i) % 8
				ka := s.put(0, u64(key))
				tok := ep.Enter()
				if a := m.LookupAddr(ka); a != 0 {
					v1 := binary.NativeEndian.Uint64(bytesAt(a, 8))
					for j := range 200 {
						if j%20 == 0 {
							runtime.Gosched() // a long run: let the writers churn
						}
						if v2 := binary.NativeEndian.Uint64(bytesAt(a, 8)); v2 != v1 || v1>>32 != key {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("key %d: %#x then %#x", key, v1, v2))
							mu.Unlock()
							break
						}
					}
				}
				ep.Exit(tok)
			}
		}()
	}
	readers.Wait()
	close(stop)
	writers.Wait()
	for _, f := range failures {
		t.Error("value changed under a reader inside the epoch:", f)
	}
}

func TestHashConcurrent(t *testing.T) {
	for _, typ := range []Type{Hash, LRUHash, PerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, KeySize: 8, ValueSize: 8, MaxEntries: 16})
			ep := DefaultEpoch()
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := newScratch(t, 64)
					v := make([]byte, m.UserValueSize())
					for i := range 2000 {
						key := uint64((g + i) % 24)
						kb := u64(key)
						switch i % 4 {
						case 0:
							for c := 0; c < len(v); c += 8 {
								binary.NativeEndian.PutUint64(v[c:], key*1000)
							}
							err := m.Update(kb, v, UpdateAny)
							if typ != LRUHash && err == ErrMapFull || err == ErrNoMemory {
								err = nil // a full non-LRU map; spare slots all held
							}
							if err != nil {
								t.Errorf("%v update: %v", typ, err)
							}
						case 1:
							if err := m.Lookup(kb, v); err == nil && binary.NativeEndian.Uint64(v) != key*1000 {
								t.Errorf("key %d has value %d", key, binary.NativeEndian.Uint64(v))
							}
						case 2:
							m.Delete(kb)
						case 3:
							tok := ep.Enter()
							if a := m.LookupAddr(s.put(0, kb)); a != 0 {
								if got := binary.NativeEndian.Uint64(bytesAt(a, 8)); got != key*1000 {
									t.Errorf("program sees key %d value %d", key, got)
								}
							}
							ep.Exit(tok)
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestProgramSideNullAddresses(t *testing.T) {
	inner := &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	for _, s := range []*Spec{
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc},
		{Type: Queue, ValueSize: 4, MaxEntries: 1},
		{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner},
		{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: RingBuf, MaxEntries: 4096},
		{Type: PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 1},
	} {
		m := mustNew(t, s)
		if m.LookupAddr(0) != 0 || m.LookupAddrCPU(0, 0) != 0 {
			t.Errorf("%v: lookup of a NULL key found something", s.Type)
		}
		for name, r := range map[string]int64{
			"update": m.UpdateAddr(0, 0, 0), "delete": m.DeleteAddr(0),
			"push": m.PushAddr(0, 0), "pop": m.PopAddr(0), "peek": m.PeekAddr(0),
		} {
			if r >= 0 {
				t.Errorf("%v: %s with NULL addresses = %d, want -errno", s.Type, name, r)
			}
		}
		if mm, ok := m.(MapOfMaps); ok && mm.LookupInner(0) != nil {
			t.Errorf("%v: LookupInner(NULL) != nil", s.Type)
		}
		if rb, ok := m.(*RingBufMap); ok && rb.Output(0, 8, 0) != -int64(EINVAL) {
			t.Error("ringbuf Output(NULL) accepted")
		}
		if pe, ok := m.(*PerfEventArrayMap); ok && pe.Output(0, 0, 0, 8) != -int64(EINVAL) {
			t.Error("perf Output(NULL) accepted")
		}
	}
}
