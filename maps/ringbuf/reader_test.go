package ringbuf

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf/maps"
)

func newRing(t *testing.T, size uint32) *maps.RingBufMap {
	t.Helper()
	m, err := maps.New(&maps.Spec{Type: maps.RingBuf, MaxEntries: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.(*maps.RingBufMap)
}

func TestNewReaderNeedsRingBuf(t *testing.T) {
	m, err := maps.New(&maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := NewReader(m); !errors.Is(err, maps.ErrInvalid) {
		t.Fatalf("NewReader(Array) = %v, want ErrInvalid", err)
	}
}

func TestReadWakesOnSubmit(t *testing.T) {
	rb := newRing(t, 4096)
	r, _ := NewReader(rb)
	defer r.Close()
	got := make(chan Record)
	go func() {
		rec, err := r.Read()
		if err != nil {
			t.Error(err)
		}
		got <- rec
	}()
	time.Sleep(20 * time.Millisecond)
	if err := rb.Write([]byte("ping"), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-got:
		if string(rec.RawSample) != "ping" || rec.Remaining != 0 {
			t.Fatalf("record %q remaining %d", rec.RawSample, rec.Remaining)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader not woken by submit")
	}
}

func TestNoWakeupAndForceWakeup(t *testing.T) {
	rb := newRing(t, 4096)
	r, _ := NewReader(rb)
	defer r.Close()
	got := make(chan string, 2)
	go func() {
		for range 2 {
			rec, err := r.Read()
			if err != nil {
				return
			}
			got <- string(rec.RawSample)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	rb.Write([]byte("quiet"), maps.RBNoWakeup)
	select {
	case s := <-got:
		t.Fatalf("BPF_RB_NO_WAKEUP woke the reader (%q)", s)
	case <-time.After(100 * time.Millisecond):
	}
	rb.Write([]byte("loud"), maps.RBForceWakeup)
	for _, want := range []string{"quiet", "loud"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("read %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("BPF_RB_FORCE_WAKEUP did not wake the reader")
		}
	}
}

func TestReadContextCancelAndClose(t *testing.T) {
	rb := newRing(t, 4096)
	r, _ := NewReader(rb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := r.ReadContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadContext = %v, want DeadlineExceeded", err)
	}
	done := make(chan error)
	go func() { _, err := r.Read(); done <- err }()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	if _, err := r.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read on closed reader = %v", err)
	}
}

func TestManyProducersLoseNothing(t *testing.T) {
	rb := newRing(t, 1<<16)
	r, _ := NewReader(rb)
	defer r.Close()
	const producers, each = 4, 2000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; i < each; {
				binary.NativeEndian.PutUint32(buf, uint32(p))
				binary.NativeEndian.PutUint32(buf[4:], uint32(i))
				if err := rb.Write(buf[:4+i%5], 0); err == nil {
					i++
				} else if !errors.Is(err, maps.ErrNoSpace) {
					t.Error(err)
					return
				}
			}
		}()
	}
	var rec Record
	seen := [producers]int{}
	for n := 0; n < producers*each; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.ReadContextInto(ctx, &rec)
		cancel()
		if err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		p := binary.NativeEndian.Uint32(rec.RawSample)
		if p >= producers || len(rec.RawSample) < 4 {
			t.Fatalf("bad record %x", rec.RawSample)
		}
		seen[p]++
	}
	wg.Wait()
	for p, n := range seen {
		if n != each {
			t.Errorf("producer %d: %d records, want %d", p, n, each)
		}
	}
}

func BenchmarkWriteRead(b *testing.B) {
	m, _ := maps.New(&maps.Spec{Type: maps.RingBuf, MaxEntries: 1 << 16})
	defer m.Close()
	rb := m.(*maps.RingBufMap)
	r, _ := NewReader(rb)
	var rec Record
	data := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		rb.Write(data, 0)
		r.ReadInto(&rec)
	}
}

// TestDeadlineAndFlush checks that a deadline or a flush returns the
// records present, even those submitted without a wake-up, then its
// error.
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
			rb := newRing(t, 4096)
			r, err := NewReader(rb)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// Drain the wake-up token so that only the stop can end a wait.
			if err := rb.Write([]byte("woken"), 0); err != nil {
				t.Fatal(err)
			}
			if rec, err := r.Read(); err != nil || string(rec.RawSample) != "woken" {
				t.Fatalf("first read: %q, %v", rec.RawSample, err)
			}
			tc.stop(r) // a wait starts after the stop (SetDeadline waits for reads, as cilium/ebpf's)
			if _, err := r.Read(); !errors.Is(err, tc.wantIs) {
				t.Fatalf("read of an empty ring: %v, want %v", err, tc.wantIs)
			}
			for _, s := range []string{"one", "two"} {
				if err := rb.Write([]byte(s), maps.RBNoWakeup); err != nil {
					t.Fatal(err)
				}
			}
			tc.stop(r)
			for _, want := range []string{"one", "two"} {
				rec, err := r.Read()
				if err != nil || string(rec.RawSample) != want {
					t.Fatalf("read %q, %v; want %q", rec.RawSample, err, want)
				}
			}
			if _, err := r.Read(); !errors.Is(err, tc.wantIs) {
				t.Fatalf("read after the records: %v, want %v", err, tc.wantIs)
			}
		})
	}
}

// TestSizes checks that samples keep their exact size while the ring
// counts them padded, with their header.
func TestSizes(t *testing.T) {
	rb := newRing(t, 4096)
	r, err := NewReader(rb)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.BufferSize() != 4096 {
		t.Fatalf("BufferSize = %d", r.BufferSize())
	}
	sizes := []int{0, 1, 5, 8, 13}
	total := 0
	for _, n := range sizes {
		if err := rb.Write(make([]byte, n), 0); err != nil {
			t.Fatal(err)
		}
		total += 8 + (n+7)&^7
	}
	if got := r.AvailableBytes(); got != total {
		t.Fatalf("AvailableBytes = %d, want %d", got, total)
	}
	for _, n := range sizes {
		rec, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		total -= 8 + (n+7)&^7
		if len(rec.RawSample) != n || rec.Remaining != total {
			t.Fatalf("record of %d bytes, remaining %d; want %d, %d", len(rec.RawSample), rec.Remaining, n, total)
		}
	}
}

func TestRefusals(t *testing.T) {
	if _, err := NewReader(nil); !errors.Is(err, maps.ErrInvalid) {
		t.Fatalf("NewReader(nil) = %v", err)
	}
	m, err := maps.New(&maps.Spec{Type: maps.RingBuf, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := r.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read of a closed map = %v, want ErrClosed", err)
	}
	if _, err := NewReader(m); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewReader of a closed map = %v, want ErrClosed", err)
	}
	r.Close()
	if err := r.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}
