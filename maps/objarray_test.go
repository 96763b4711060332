package maps

import (
	"encoding/binary"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// testProgram stands for a compiled program in a ProgramArray slot.
type testProgram struct{ name string }

func (*testProgram) Instructions() []isa.Instruction { return nil }
func (*testProgram) InsnAt(int) isa.Instruction      { return isa.Instruction{} }

func TestProgramArray(t *testing.T) {
	m := mustNew(t, &Spec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	pa := m.(ProgramArrayMap)
	prog := &testProgram{"tail"}
	wantErr(t, "SetProgram", pa.SetProgram(2, prog), nil)
	wantErr(t, "SetProgram past the end", pa.SetProgram(4, prog), ErrMapFull)
	if pa.Program(2) != prog || pa.Program(1) != nil || pa.Program(99) != nil {
		t.Fatal("Program returned the wrong slot")
	}
	wantErr(t, "Update with bytes", m.Update(u32(1), u32(1), UpdateAny), ErrNotSupported)
	var keys []uint32
	m.Iterate(func(e Entry) bool {
		keys = append(keys, binary.NativeEndian.Uint32(e.Key))
		if e.Program != prog || e.Inner != nil {
			t.Errorf("Iterate program %v, inner map %v", e.Program, e.Inner)
		}
		return true
	})
	if len(keys) != 1 || keys[0] != 2 {
		t.Fatalf("Iterate keys %v, want [2]", keys)
	}
	s := newScratch(t, 8)
	if got := m.DeleteAddr(s.put(0, u32(2))); got != 0 {
		t.Fatalf("DeleteAddr = %d", got)
	}
	wantErr(t, "Delete of an empty slot", m.Delete(u32(2)), ErrKeyNotExist)
	if pa.Program(2) != nil {
		t.Fatal("deleted program still there")
	}
	checkNoAllocs(t, "Program", func() { pa.Program(2) })
}

func TestMapOfMaps(t *testing.T) {
	inner := &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	for _, typ := range []Type{ArrayOfMaps, HashOfMaps} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 4, InnerMap: inner})
			mm := m.(MapOfMaps)
			good := mustNew(t, inner)
			bad := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 3})
			wantErr(t, "SetMap with a mismatched inner map", mm.SetMap(u32(1), bad, UpdateAny), ErrInvalid)
			wantErr(t, "SetMap", mm.SetMap(u32(1), good, UpdateAny), nil)
			got, err := mm.GetMap(u32(1))
			if err != nil || got != good {
				t.Fatalf("GetMap = %v, %v", got, err)
			}
			_, err = mm.GetMap(u32(2))
			wantErr(t, "GetMap of an empty key", err, ErrKeyNotExist)
			v := make([]byte, 4)
			if err := m.Lookup(u32(1), v); err != nil || binary.NativeEndian.Uint32(v) != good.ID() {
				t.Fatalf("Lookup = %d, %v; want the inner map ID %d", binary.NativeEndian.Uint32(v), err, good.ID())
			}
			s := newScratch(t, 8)
			k := s.put(0, u32(1))
			if mm.LookupInner(k) != good {
				t.Fatal("LookupInner did not find the inner map")
			}
			checkNoAllocs(t, "LookupInner", func() { mm.LookupInner(k) })
			var n int
			m.Iterate(func(e Entry) bool {
				n++
				if e.Inner != good || e.Program != nil {
					t.Errorf("Iterate inner map %v, program %v", e.Inner, e.Program)
				}
				return true
			})
			if n != 1 {
				t.Fatalf("Iterate saw %d entries", n)
			}
			wantErr(t, "Delete", m.Delete(u32(1)), nil)
			if mm.LookupInner(k) != nil {
				t.Fatal("deleted inner map still found")
			}
			if typ == HashOfMaps && m.Type() != HashOfMaps {
				t.Fatal("type lost")
			}
		})
	}
}
