package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

func newReader(t *testing.T, m maps.Map, size int, opts ReaderOptions) *Reader {
	t.Helper()
	r, err := NewReaderWithOptions(m, size, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readN reads n records, failing the test after 5 s.
func readN(t *testing.T, r *Reader, n int) []Record {
	t.Helper()
	var got []Record
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rec, err := r.ReadContext(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		got = append(got, rec)
	}
	return got
}

func write(t *testing.T, m *maps.PerfEventArrayMap, idx uint32, samples ...string) {
	t.Helper()
	for _, s := range samples {
		if err := m.Write(idx, []byte(s)); err != nil {
			t.Fatalf("Write(%d, %q): %v", idx, s, err)
		}
	}
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

func TestNewReaderRefuses(t *testing.T) {
	arr, err := maps.New(&maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	m := newPerf(t, 2)
	for _, tc := range []struct {
		name string
		m    maps.Map
		size int
		opts ReaderOptions
	}{
		{"nil map", nil, 64, ReaderOptions{}},
		{"array", arr, 64, ReaderOptions{}},
		{"tiny buffer", m, 8, ReaderOptions{}},
		{"both wake-up settings", m, 64, ReaderOptions{WakeupEvents: 1, Watermark: 1}},
		{"watermark not below the size", m, 64, ReaderOptions{Watermark: 64}},
		{"negative wakeup events", m, 64, ReaderOptions{WakeupEvents: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewReaderWithOptions(tc.m, tc.size, tc.opts); !errors.Is(err, maps.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestReadSamplesAndLost checks Linux's accounting: a sample of n bytes
// takes 8 + roundup(n+4, 8) bytes, a lost-samples report 24, and the
// report comes before the next sample that fits.
func TestReadSamplesAndLost(t *testing.T) {
	m := newPerf(t, 2)
	r := newReader(t, m, 64, ReaderOptions{})
	write(t, m, 1, "first", "second-sample") // 24 + 32 bytes
	for _, n := range []int{30, 1} {         // 48 and 16 bytes: neither fits
		if err := m.Write(1, make([]byte, n)); maps.ErrnoOf(err) != maps.ENOSPC {
			t.Fatalf("Write of %d bytes into a full buffer: %v, want ENOSPC", n, err)
		}
	}
	got := readN(t, r, 2)
	want := []Record{{CPU: 1, RawSample: []byte("first"), Remaining: 32}, {CPU: 1, RawSample: []byte("second-sample")}}
	if !equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	write(t, m, 1, "x") // 24 + 16 bytes with the report
	got = readN(t, r, 2)
	want = []Record{{CPU: 1, LostSamples: 2, RawSample: []byte{}, Remaining: 16}, {CPU: 1, RawSample: []byte("x")}}
	if !equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func equal(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool {
		return x.CPU == y.CPU && string(x.RawSample) == string(y.RawSample) &&
			x.LostSamples == y.LostSamples && x.Remaining == y.Remaining
	})
}

// TestReadOrder checks that a wake-up reads every buffer up to where it
// was then, the highest index first, as cilium/ebpf's reader does.
func TestReadOrder(t *testing.T) {
	m := newPerf(t, 3)
	r := newReader(t, m, 256, ReaderOptions{})
	write(t, m, 0, "a0", "a1")
	write(t, m, 2, "c0")
	write(t, m, 1, "b0")
	var got []string
	for _, rec := range readN(t, r, 4) {
		got = append(got, fmt.Sprintf("%d:%s", rec.CPU, rec.RawSample))
	}
	if want := []string{"2:c0", "1:b0", "0:a0", "0:a1"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestWrapAndWakeAndClose(t *testing.T) {
	m := newPerf(t, 1)
	r := newReader(t, m, 48, ReaderOptions{})
	done := make(chan error)
	samples := make(chan string)
	go func() {
		for {
			rec, err := r.Read()
			if err != nil {
				done <- err
				return
			}
			samples <- string(rec.RawSample)
		}
	}()
	for i := range 20 { // wraps the 48-byte buffer many times
		want := string(rune('a'+i%26)) + "-0123456789"
		write(t, m, 0, want)
		select {
		case s := <-samples:
			if s != want {
				t.Fatalf("read %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("reader not woken")
		}
	}
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	if _, err := r.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	if err := m.Write(0, []byte("x")); maps.ErrnoOf(err) != maps.ENOENT {
		t.Fatalf("Write after the reader's Close: %v, want ENOENT", err)
	}
	for name, f := range map[string]func() error{"Pause": r.Pause, "Resume": r.Resume, "Flush": r.Flush} {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestWakeupThresholds checks that records below the wake-up threshold
// leave Read waiting and the record that reaches it wakes it.
func TestWakeupThresholds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  ReaderOptions
		quiet int // samples of 8 bytes (24 in the buffer) that do not wake
	}{
		{"every record", ReaderOptions{}, 0},
		{"watermark of 40 bytes", ReaderOptions{Watermark: 40}, 1},
		{"watermark of 100 bytes", ReaderOptions{Watermark: 100}, 4},
		{"three events", ReaderOptions{WakeupEvents: 3}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newPerf(t, 1)
			r := newReader(t, m, 1024, tc.opts)
			for i := range tc.quiet {
				write(t, m, 0, fmt.Sprintf("sample%02d", i))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := r.ReadContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("read below the threshold: %v, want to wait", err)
			}
			write(t, m, 0, fmt.Sprintf("sample%02d", tc.quiet))
			for i, rec := range readN(t, r, tc.quiet+1) {
				if want := fmt.Sprintf("sample%02d", i); string(rec.RawSample) != want {
					t.Fatalf("record %d: %q, want %q", i, rec.RawSample, want)
				}
			}
		})
	}
}

// TestDeadlineAndFlush checks that a deadline or a flush returns the
// records present although no wake-up came, then its error.
func TestDeadlineAndFlush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stop   func(r *Reader)
		wantIs error
	}{
		{"deadline in the past", func(r *Reader) { r.SetDeadline(time.Now().Add(-time.Second)) }, os.ErrDeadlineExceeded},
		{"deadline ahead", func(r *Reader) { r.SetDeadline(time.Now().Add(30 * time.Millisecond)) }, os.ErrDeadlineExceeded},
		{"flush", func(r *Reader) { r.Flush() }, ErrFlushed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newPerf(t, 2)
			r := newReader(t, m, 1024, ReaderOptions{Watermark: 1000})
			write(t, m, 1, "one", "two")
			write(t, m, 0, "three")
			tc.stop(r)
			var got []string
			for range 3 {
				rec, err := r.Read()
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, string(rec.RawSample))
			}
			if want := []string{"one", "two", "three"}; !slices.Equal(got, want) {
				t.Fatalf("read %v, want %v", got, want)
			}
			if _, err := r.Read(); !errors.Is(err, tc.wantIs) {
				t.Fatalf("read after the records: %v, want %v", err, tc.wantIs)
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	m := newPerf(t, 1)
	r := newReader(t, m, 256, ReaderOptions{})
	write(t, m, 0, "before")
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(0, []byte("paused")); maps.ErrnoOf(err) != maps.ENOENT {
		t.Fatalf("Write while paused: %v, want ENOENT", err)
	}
	if got := readN(t, r, 1); string(got[0].RawSample) != "before" {
		t.Fatalf("read %q while paused, want the record written before", got[0].RawSample)
	}
	if err := r.Resume(); err != nil {
		t.Fatal(err)
	}
	write(t, m, 0, "after")
	if got := readN(t, r, 1); string(got[0].RawSample) != "after" {
		t.Fatalf("read %q after Resume", got[0].RawSample)
	}
}

// TestOverwritable checks that a full overwritable buffer keeps the
// newest records and that a paused reader returns them newest first.
func TestOverwritable(t *testing.T) {
	m := newPerf(t, 1)
	r := newReader(t, m, 64, ReaderOptions{Overwritable: true})
	if _, err := r.Read(); err == nil || !errors.Is(err, errMustBePaused) {
		t.Fatalf("Read of an overwritable reader not paused: %v", err)
	}
	for i := range 6 { // 24 bytes each: the last two fit
		write(t, m, 0, fmt.Sprintf("record-%d", i))
	}
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	r.SetDeadline(time.Now())
	var got []string
	for {
		rec, err := r.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Remaining != -1 {
			t.Fatalf("Remaining %d, want -1", rec.Remaining)
		}
		got = append(got, string(rec.RawSample))
	}
	if want := []string{"record-5", "record-4"}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	// Records already read are not read again.
	if rec, err := r.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second pass: %q, %v; want nothing", rec.RawSample, err)
	}
	if err := r.Resume(); err != nil {
		t.Fatal(err)
	}
	write(t, m, 0, "record-6")
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Read(); err != nil || string(rec.RawSample) != "record-6" {
		t.Fatalf("after Resume: %q, %v; want record-6", rec.RawSample, err)
	}
}

func TestBufferSizeAndUnknownEvent(t *testing.T) {
	m := newPerf(t, 1)
	r := newReader(t, m, 100, ReaderOptions{})
	if got := r.BufferSize(); got != 104 {
		t.Fatalf("BufferSize = %d, want 104", got)
	}
	err := fmt.Errorf("read: %w", &unknownEventError{eventType: 3})
	if !IsUnknownEvent(err) || IsUnknownEvent(ErrClosed) {
		t.Fatal("IsUnknownEvent does not tell unknown-event errors")
	}
	if err.Error() != "read: unknown event type: 3" {
		t.Fatalf("message %q", err)
	}
}

// TestFullBuffer checks Linux's space rule: a record must leave a byte of
// the buffer free, so one as large as the buffer is lost.
func TestFullBuffer(t *testing.T) {
	for _, tc := range []struct {
		sample int
		fits   bool
	}{{44, true}, {45, false}, {60, false}} { // records of 56, 64 and 72 bytes
		t.Run(fmt.Sprint(tc.sample), func(t *testing.T) {
			m := newPerf(t, 1)
			newReader(t, m, 64, ReaderOptions{})
			err := m.Write(0, make([]byte, tc.sample))
			if tc.fits != (err == nil) {
				t.Fatalf("Write of %d bytes into 64: %v, want fits=%v", tc.sample, err, tc.fits)
			}
		})
	}
}
