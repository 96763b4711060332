package maps

import (
	"encoding/binary"
	"testing"
)

// FuzzLPMModel checks LPM lookups against a linear scan for the longest
// matching prefix over random inserts and deletes of 2-byte prefixes.
func FuzzLPMModel(f *testing.F) {
	f.Add([]byte{0, 8, 10, 0, 0, 16, 10, 1, 2, 32, 10, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		m, err := New(&Spec{Type: LPMTrie, KeySize: 6, ValueSize: 4, MaxEntries: 16, Flags: FlagNoPrealloc})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		type pfx struct {
			plen uint32
			data uint16
		}
		model := map[pfx]uint32{}
		mask := func(d uint16, l uint32) uint16 { return d & ^uint16(0xffff>>l) }
		key := func(l uint32, d uint16) []byte {
			return binary.BigEndian.AppendUint16(u32(l), d)
		}
		v := make([]byte, 4)
		for n := 0; len(ops) >= 4; n++ {
			op, l, d := ops[0]%3, uint32(ops[1]%17), binary.BigEndian.Uint16(ops[2:])
			ops = ops[4:]
			p := pfx{l, mask(d, l)}
			switch op {
			case 0:
				err := m.Update(key(l, d), u32(uint32(n)), UpdateAny)
				if _, ok := model[p]; !ok && len(model) >= 16 {
					if err == nil {
						t.Fatal("insert into a full trie succeeded")
					}
					continue
				}
				if err != nil {
					t.Fatalf("insert /%d: %v", l, err)
				}
				model[p] = uint32(n)
			case 1:
				_, ok := model[p]
				if err := m.Delete(key(l, d)); (err == nil) != ok {
					t.Fatalf("delete %x/%d: %v, in model %v", d, l, err, ok)
				}
				delete(model, p)
			case 2:
				best, found := pfx{}, false
				for q := range model {
					if q.plen <= l && mask(d, q.plen) == q.data && (!found || q.plen > best.plen) {
						best, found = q, true
					}
				}
				err := m.Lookup(key(l, d), v)
				if found != (err == nil) || found && binary.NativeEndian.Uint32(v) != model[best] {
					t.Fatalf("lookup %x/%d = %x %v, model %+v %v", d, l, v, err, best, found)
				}
			}
		}
		if got := len(keysByNextKey(t, m)); got != len(model) {
			t.Fatalf("NextKey walk found %d keys, model has %d", got, len(model))
		}
	})
}
