package maps

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf/internal/platform"
)

func mustNew(t testing.TB, s *Spec, opts ...Option) Map {
	t.Helper()
	m, err := New(s, opts...)
	if err != nil {
		t.Fatalf("New(%+v): %v", *s, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// scratch is off-heap memory standing in for a program's stack.
type scratch struct {
	mem *platform.Memory
}

func newScratch(t testing.TB, n int) *scratch {
	t.Helper()
	m, err := platform.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	return &scratch{m}
}

// put copies b at offset off and returns its address.
func (s *scratch) put(off int, b []byte) uintptr {
	copy(s.mem.Bytes()[off:], b)
	return s.mem.Addr() + uintptr(off)
}

func (s *scratch) bytes(off, n int) []byte { return s.mem.Bytes()[off : off+n] }

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

// checkNoAllocs fails if f allocates (skipped under the race detector,
// whose instrumentation allocates).
func checkNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, f); n != 0 {
		t.Fatalf("%s allocates %v times per run", what, n)
	}
}
