package maps

import (
	"errors"
	"testing"
)

// TestFreeze: a frozen map refuses every Go-side write with EPERM, as
// Linux's BPF_MAP_FREEZE makes the syscall side read-only, and still
// answers lookups.
func TestFreeze(t *testing.T) {
	inner := &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}
	tests := []struct {
		spec   Spec
		writes map[string]func(m Map) error
	}{
		{Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(u32(0), u64(1), UpdateAny) },
			"Delete": func(m Map) error { return m.Delete(u32(0)) },
		}},
		{Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2}, map[string]func(Map) error{
			"Update":          func(m Map) error { return m.Update(u32(0), u64(1), UpdateAny) },
			"Delete":          func(m Map) error { return m.Delete(u32(0)) },
			"LookupAndDelete": func(m Map) error { return m.LookupAndDelete(u32(0), make([]byte, 8)) },
		}},
		{Spec{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 2}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(u32(0), make([]byte, m.UserValueSize()), UpdateAny) },
		}},
		{Spec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 2, Flags: FlagNoPrealloc}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(u64(32), u64(1), UpdateAny) },
			"Delete": func(m Map) error { return m.Delete(u64(32)) },
		}},
		{Spec{Type: Queue, ValueSize: 8, MaxEntries: 2}, map[string]func(Map) error{
			"Update (push)":         func(m Map) error { return m.Update(nil, u64(1), UpdateAny) },
			"LookupAndDelete (pop)": func(m Map) error { return m.LookupAndDelete(nil, make([]byte, 8)) },
		}},
		{Spec{Type: DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 2}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(u32(0), u32(1), UpdateAny) },
			"Delete": func(m Map) error { return m.Delete(u32(0)) },
		}},
		{Spec{Type: DevMapHash, KeySize: 4, ValueSize: 4, MaxEntries: 2}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(u32(0), u32(1), UpdateAny) },
		}},
		{Spec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2}, map[string]func(Map) error{
			"SetProgram": func(m Map) error { return m.(ProgramArrayMap).SetProgram(0, &testProgram{"prog"}) },
			"Delete":     func(m Map) error { return m.Delete(u32(0)) },
		}},
		{Spec{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner}, map[string]func(Map) error{
			"SetMap": func(m Map) error { return m.(MapOfMaps).SetMap(u32(0), mustNew(t, inner), UpdateAny) },
		}},
		{Spec{Type: StackTrace, KeySize: 4, ValueSize: 8, MaxEntries: 2}, map[string]func(Map) error{
			"Delete": func(m Map) error { return m.Delete(u32(0)) },
		}},
		{Spec{Type: RingBuf, MaxEntries: 4096}, map[string]func(Map) error{
			"Update": func(m Map) error { return m.Update(nil, nil, UpdateAny) },
		}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Type.String(), func(t *testing.T) {
			m := mustNew(t, &tt.spec)
			if m.Frozen() {
				t.Fatal("a new map is frozen")
			}
			if err := m.Freeze(); err != nil {
				t.Fatalf("Freeze: %v", err)
			}
			if !m.Frozen() {
				t.Fatal("Frozen() = false after Freeze")
			}
			wantErr(t, "second Freeze", m.Freeze(), ErrBusy)
			for name, write := range tt.writes {
				err := write(m)
				if !errors.Is(err, ErrFrozen) || ErrnoOf(err) != EPERM {
					t.Errorf("%s of a frozen map: %v (errno %d), want ErrFrozen (EPERM)", name, err, ErrnoOf(err))
				}
			}
		})
	}
}

// TestFreezeKeepsContentsAndProgramWrites: freezing keeps what the map
// holds and, as in Linux, leaves program-side writes alone.
func TestFreezeKeepsContentsAndProgramWrites(t *testing.T) {
	for _, typ := range []Type{Array, Hash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 2})
			wantErr(t, "Update", m.Update(u32(1), u64(7), UpdateAny), nil)
			wantErr(t, "Freeze", m.Freeze(), nil)
			v := make([]byte, 8)
			wantErr(t, "Lookup of a frozen map", m.Lookup(u32(1), v), nil)
			if string(v) != string(u64(7)) {
				t.Fatalf("value %x after Freeze, want 7", v)
			}
			s := newScratch(t, 16)
			if r := m.UpdateAddr(s.put(0, u32(1)), s.put(8, u64(9)), 0); r != 0 {
				t.Fatalf("program-side update of a frozen map: %d", r)
			}
			wantErr(t, "Lookup", m.Lookup(u32(1), v), nil)
			if string(v) != string(u64(9)) {
				t.Fatalf("value %x after a program-side update, want 9", v)
			}
		})
	}
}

func TestFreezeRefusesSpinLock(t *testing.T) {
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2, SpinLockOffset: 0, HasSpinLock: true})
	wantErr(t, "Freeze of a map with a spin lock", m.Freeze(), ErrNotSupported)
	if m.Frozen() {
		t.Fatal("frozen after a refused Freeze")
	}
}
