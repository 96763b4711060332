package perf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xebpf/xebpf/maps"
)

func newPerf(t *testing.T, n uint32) *maps.PerfEventArrayMap {
	t.Helper()
	m, err := maps.New(&maps.Spec{Type: maps.PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.(*maps.PerfEventArrayMap)
}

func TestOutputNeedsAReader(t *testing.T) {
	m := newPerf(t, 2)
	if err := m.Write(0, []byte("x")); maps.ErrnoOf(err) != maps.ENOENT {
		t.Fatalf("Write without a reader: %v, want ENOENT", err)
	}
	if err := m.Write(2, []byte("x")); maps.ErrnoOf(err) != maps.E2BIG {
		t.Fatalf("Write past the last index: %v, want E2BIG", err)
	}
}

func TestReadSamplesAndLost(t *testing.T) {
	m := newPerf(t, 2)
	r, err := NewReader(m, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, s := range []string{"first", "second-sample"} {
		if err := m.Write(1, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// 16 + 24 bytes used of 64: a 30-byte sample (40 with header) is lost.
	if err := m.Write(1, make([]byte, 30)); maps.ErrnoOf(err) != maps.ENOSPC {
		t.Fatalf("Write into a full buffer: %v, want ENOSPC", err)
	}
	var got []Record
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rec, err := r.ReadContext(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if got[0].LostSamples != 1 || got[0].CPU != 1 {
		t.Fatalf("first record %+v, want 1 lost sample on CPU 1", got[0])
	}
	if string(got[1].RawSample) != "first" || string(got[2].RawSample) != "second-sample" || got[2].CPU != 1 {
		t.Fatalf("samples %q %q", got[1].RawSample, got[2].RawSample)
	}
}

func TestWrapAndWakeAndClose(t *testing.T) {
	m := newPerf(t, 1)
	r, _ := NewReader(m, 48)
	done := make(chan string)
	go func() {
		for {
			rec, err := r.Read()
			if err != nil {
				done <- err.Error()
				return
			}
			done <- string(rec.RawSample)
		}
	}()
	for i := range 20 { // wraps the 48-byte buffer many times
		want := string(rune('a'+i%26)) + "-0123456789"
		if err := m.Write(0, []byte(want)); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-done:
			if s != want {
				t.Fatalf("read %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("reader not woken")
		}
	}
	r.Close()
	select {
	case s := <-done:
		if s != ErrClosed.Error() {
			t.Fatalf("after Close: %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	if _, err := r.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
}
