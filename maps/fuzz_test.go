package maps

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzHashModel runs random operations on Hash and LRU-free maps and
// checks each result against a Go map.
func FuzzHashModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 1, 3, 1, 1, 2, 2, 2, 1, 3, 0})
	f.Add(bytes.Repeat([]byte{0, 5, 7}, 40))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const max = 8
		m, err := New(&Spec{Type: Hash, KeySize: 2, ValueSize: 4, MaxEntries: max})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		model := map[uint16]uint32{}
		v := make([]byte, 4)
		for len(ops) >= 3 {
			op, kb, val := ops[0]%5, uint16(ops[1]%16), uint32(ops[2])
			ops = ops[3:]
			key := binary.NativeEndian.AppendUint16(nil, kb)
			old, exists := model[kb]
			switch op {
			case 0, 1, 2: // update with BPF_ANY, BPF_NOEXIST, BPF_EXIST
				err := m.Update(key, u32(val), UpdateFlags(op))
				var want error
				switch {
				case op == 1 && exists:
					want = ErrKeyExist
				case op == 2 && !exists:
					want = ErrKeyNotExist
				case !exists && len(model) >= max:
					want = ErrMapFull
				}
				if err != want {
					t.Fatalf("update %d flags %d: %v, want %v", kb, op, err, want)
				}
				if err == nil {
					model[kb] = val
				}
			case 3:
				err := m.Delete(key)
				if (err == nil) != exists {
					t.Fatalf("delete %d: %v, exists %v", kb, err, exists)
				}
				delete(model, kb)
			case 4:
				err := m.Lookup(key, v)
				if (err == nil) != exists || exists && binary.NativeEndian.Uint32(v) != old {
					t.Fatalf("lookup %d: %x %v, model %d %v", kb, v, err, old, exists)
				}
			}
		}
		n := 0
		if err := m.Iterate(func(e Entry) bool {
			k := binary.NativeEndian.Uint16(e.Key)
			if want, ok := model[k]; !ok || binary.NativeEndian.Uint32(e.Value) != want {
				t.Fatalf("iterate: %d=%x not in model", k, e.Value)
			}
			n++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if n != len(model) {
			t.Fatalf("iterate: %d entries, model %d", n, len(model))
		}
	})
}
