package maps

import (
	"fmt"
	"testing"
)

func BenchmarkHashLookup(b *testing.B) {
	for _, ks := range []int{4, 16} {
		b.Run(fmt.Sprintf("key%d", ks), func(b *testing.B) {
			m := mustNew(b, &Spec{Type: Hash, KeySize: uint32(ks), ValueSize: 8, MaxEntries: 1024})
			keys := make([][]byte, 1024)
			for i := range keys {
				keys[i] = make([]byte, ks)
				copy(keys[i], u32(uint32(i*7919)))
				if err := m.Update(keys[i], u64(uint64(i)), UpdateAny); err != nil {
					b.Fatal(err)
				}
			}
			v := make([]byte, 8)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := m.Lookup(keys[i&1023], v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkHashLookupAddr(b *testing.B) {
	for _, ks := range []int{4, 16} {
		b.Run(fmt.Sprintf("key%d", ks), func(b *testing.B) {
			m := mustNew(b, &Spec{Type: Hash, KeySize: uint32(ks), ValueSize: 8, MaxEntries: 1024})
			s := newScratch(b, 1024*ks)
			addrs := make([]uintptr, 1024)
			for i := range addrs {
				k := make([]byte, ks)
				copy(k, u32(uint32(i*7919)))
				addrs[i] = s.put(i*ks, k)
				if err := m.Update(k, u64(uint64(i)), UpdateAny); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if m.LookupAddr(addrs[i&1023]) == 0 {
					b.Fatal("missing")
				}
				i++
			}
		})
	}
}

func BenchmarkArrayLookup(b *testing.B) {
	m := mustNew(b, &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	v := make([]byte, 8)
	k := u32(17)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Lookup(k, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArrayLookupAddr(b *testing.B) {
	m := mustNew(b, &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	s := newScratch(b, 8)
	k := s.put(0, u32(17))
	b.ReportAllocs()
	for b.Loop() {
		if m.LookupAddr(k) == 0 {
			b.Fatal("missing")
		}
	}
}

func BenchmarkHashUpdate(b *testing.B) {
	m := mustNew(b, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	v := u64(1)
	keys := make([][]byte, 512)
	for i := range keys {
		keys[i] = u32(uint32(i))
	}
	b.ReportAllocs()
	i := uint32(0)
	for b.Loop() {
		if err := m.Update(keys[i&511], v, UpdateAny); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkEpochEnterExit(b *testing.B) {
	ep := new(Epoch)
	b.ReportAllocs()
	for b.Loop() {
		ep.Exit(ep.Enter())
	}
}
