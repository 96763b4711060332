package platform

import (
	"errors"
	"testing"
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
