package platform

import (
	"errors"
	"runtime"
	"testing"
	"weak"
)

func TestAllocIsZeroedStableAndFreeable(t *testing.T) {
	m, err := Alloc(10000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 10000 {
		t.Fatalf("Len = %d, want 10000", m.Len())
	}
	if m.Addr()%PageSize != 0 {
		t.Fatalf("address %#x not page aligned", m.Addr())
	}
	for i, c := range m.Bytes() {
		if c != 0 {
			t.Fatalf("byte %d = %d, want 0", i, c)
		}
	}
	m.Bytes()[9999] = 7
	if err := m.Free(); err != nil {
		t.Fatal(err)
	}
	if err := m.Free(); err != nil {
		t.Fatalf("second Free: %v", err)
	}
}

func TestAllocRejectsHostileSizes(t *testing.T) {
	for _, n := range []int{-1, MaxAlloc + 1} {
		if _, err := Alloc(n); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Alloc(%d) error = %v, want ErrTooLarge", n, err)
		}
	}
}

func TestAppendWeakDropsFreedValues(t *testing.T) {
	var list []weak.Pointer[int]
	kept := new(int)
	list = AppendWeak(list, kept)
	for range 100 {
		list = AppendWeak(list, new(int))
		runtime.GC()
	}
	if len(list) > 40 {
		t.Fatalf("%d weak pointers kept, the freed ones are not dropped", len(list))
	}
	if list[0].Value() != kept {
		t.Fatal("a live value was dropped")
	}
	runtime.KeepAlive(kept)
}
