// Package perf reads samples that eBPF programs write to a PerfEventArray
// map with bpf_perf_event_output, with the semantics of cilium/ebpf's perf
// package (wake-ups, deadlines, Flush, Pause and Resume) over a maps.Map.
// Package github.com/xebpf/xebpf/perf is the same API over *xebpf.Map.
package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/xebpf/xebpf/maps"
)

var (
	// ErrClosed is returned by reads on a closed Reader.
	ErrClosed = os.ErrClosed
	// ErrFlushed is returned by a read after Flush once the records
	// written before the flush were read.
	ErrFlushed = errors.New("data was flushed")

	errMustBePaused = errors.New("perf ringbuffer: must have been paused before reading overwritable buffer")
)

// Record is a sample or a report of lost samples.
type Record struct {
	// CPU is the index (CPU) of the buffer the record comes from.
	CPU int
	// RawSample is the sample, exactly the bytes that were output (Linux
	// may append up to 7 bytes of padding; xebpf does not); empty when
	// LostSamples is set.
	RawSample []byte
	// LostSamples counts samples dropped on CPU because its buffer was
	// full, since the previous report.
	LostSamples uint64
	// Remaining is the minimum number of bytes left in the CPU's buffer
	// after this record; -1 for overwritable buffers.
	Remaining int
}

// ReaderOptions control when the reader wakes up and whether buffers
// overwrite old records, as cilium/ebpf's perf.ReaderOptions.
type ReaderOptions struct {
	// WakeupEvents is the number of samples one buffer must receive
	// before Read wakes up. It excludes Watermark.
	WakeupEvents int
	// Watermark is the number of bytes written to one buffer that wakes
	// Read; it must be below the buffer size. 0 (with WakeupEvents 0)
	// wakes it at every record.
	Watermark int
	// Overwritable makes full buffers overwrite their oldest records; the
	// reader must then be paused to read, and reads return the records
	// written since the previous wake-up, newest first.
	Overwritable bool
}

// Reader attaches buffers to a PerfEventArray map and reads them.
type Reader struct {
	// mu serialises reads and Close; pauseMu guards paused so that Pause
	// and Resume work while a read waits. mu is taken first.
	mu         sync.Mutex
	bufs       *maps.PerfBuffers
	pending    []*maps.PerfRing // rings loaded at the last wake-up, not yet read out
	deadline   time.Time
	pendingErr error
	closed     chan struct{}
	closeOnce  sync.Once
	isClosed   bool // under mu and pauseMu
	flush      chan struct{}
	pauseMu    sync.Mutex
	paused     bool
}

// NewReader attaches a buffer of perCPUBuffer bytes (rounded up to a
// multiple of 8) to every index of m, which must be a PerfEventArray map.
func NewReader(m maps.Map, perCPUBuffer int) (*Reader, error) {
	return NewReaderWithOptions(m, perCPUBuffer, ReaderOptions{})
}

// NewReaderWithOptions is NewReader with wake-up and overwrite options.
func NewReaderWithOptions(m maps.Map, perCPUBuffer int, opts ReaderOptions) (*Reader, error) {
	if m == nil {
		return nil, fmt.Errorf("nil map: %w", maps.ErrInvalid)
	}
	pm, ok := m.(*maps.PerfEventArrayMap)
	if !ok {
		return nil, fmt.Errorf("map of type %v, want PerfEventArray: %w", m.Type(), maps.ErrInvalid)
	}
	bufs, err := pm.NewBuffers(perCPUBuffer, maps.PerfOptions{
		WakeupEvents: opts.WakeupEvents, Watermark: opts.Watermark, Overwritable: opts.Overwritable,
	})
	if err != nil {
		return nil, err
	}
	return &Reader{
		bufs:    bufs,
		pending: make([]*maps.PerfRing, 0, len(bufs.Rings())),
		closed:  make(chan struct{}),
		flush:   make(chan struct{}, 1),
	}, nil
}

// Read blocks until a buffer wakes the reader, then returns the records
// of every buffer one by one, each buffer up to where it was at the
// wake-up; records of a buffer that did not reach its wake-up threshold
// are returned with the others. A deadline (SetDeadline) or a Flush makes
// Read return the records present, then an error matching
// os.ErrDeadlineExceeded or ErrFlushed. Close interrupts it with an error
// matching ErrClosed.
func (r *Reader) Read() (Record, error) {
	var rec Record
	err := r.ReadContextInto(context.Background(), &rec)
	return rec, err
}

// ReadInto is like Read but reuses rec.RawSample's storage.
func (r *Reader) ReadInto(rec *Record) error { return r.ReadContextInto(context.Background(), rec) }

// ReadContext is like Read but gives up with ctx's error when ctx is done.
func (r *Reader) ReadContext(ctx context.Context) (Record, error) {
	var rec Record
	err := r.ReadContextInto(ctx, &rec)
	return rec, err
}

// ReadContextInto is like ReadInto but gives up with ctx's error when ctx
// is done.
func (r *Reader) ReadContextInto(ctx context.Context, rec *Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	if r.isClosed {
		return fmt.Errorf("perf ringbuffer: %w", ErrClosed)
	}
	overwritable := r.bufs.Options().Overwritable
	if overwritable && !r.paused {
		return errMustBePaused
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if len(r.pending) == 0 {
			if pe := r.pendingErr; pe != nil {
				r.pendingErr = nil
				return pe
			}
			r.pauseMu.Unlock()
			err := r.wait(ctx, &timer)
			r.pauseMu.Lock()
			if err != nil {
				return err
			}
			if overwritable && !r.paused {
				return errMustBePaused
			}
			r.pending = append(r.pending, r.bufs.Rings()...)
			for _, ring := range r.pending {
				ring.Load()
			}
		}
		ring := r.pending[len(r.pending)-1]
		got, ok := ring.Next(rec.RawSample[:0])
		if !ok {
			r.pending = r.pending[:len(r.pending)-1]
			continue
		}
		rec.CPU, rec.RawSample, rec.Remaining = ring.CPU(), got.Sample, got.Remaining
		switch got.Type {
		case maps.PerfRecordSample:
			rec.LostSamples = 0
		case maps.PerfRecordLost:
			rec.LostSamples = got.Lost
		default:
			return &unknownEventError{got.Type}
		}
		return nil
	}
}

// wait blocks until a wake-up, and returns nil then and when the deadline
// passes or a flush comes (noting the error to return once the loaded
// records are read); it returns an error on Close and when ctx is done.
func (r *Reader) wait(ctx context.Context, timer **time.Timer) error {
	var expired <-chan time.Time
	if !r.deadline.IsZero() {
		d := time.Until(r.deadline)
		if d <= 0 {
			select {
			case <-r.closed:
				return fmt.Errorf("perf ringbuffer: %w", ErrClosed)
			default:
			}
			r.pendingErr = fmt.Errorf("perf ringbuffer: %w", os.ErrDeadlineExceeded)
			return nil
		}
		if *timer == nil {
			*timer = time.NewTimer(d)
		} else {
			(*timer).Reset(d)
		}
		expired = (*timer).C
	}
	select {
	case <-r.closed:
		return fmt.Errorf("perf ringbuffer: %w", ErrClosed)
	case <-r.flush:
		r.pendingErr = ErrFlushed
	case <-r.bufs.Notify():
	case <-expired:
		r.pendingErr = fmt.Errorf("perf ringbuffer: %w", os.ErrDeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// SetDeadline sets the time after which a read waiting for records
// returns the records present, then an error matching
// os.ErrDeadlineExceeded. The zero time removes the deadline; a time in
// the past makes reads not block.
func (r *Reader) SetDeadline(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadline = t
}

// Flush makes a waiting (or the next) read return the records present,
// then ErrFlushed.
func (r *Reader) Flush() error {
	select {
	case <-r.closed:
		return fmt.Errorf("perf ringbuffer: %w", ErrClosed)
	default:
	}
	select {
	case r.flush <- struct{}{}:
	default:
	}
	return nil
}

// Pause detaches the buffers from the map: outputs fail with -ENOENT
// until Resume. The records already written stay readable.
func (r *Reader) Pause() error {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	if r.isClosed {
		return ErrClosed
	}
	r.bufs.Detach()
	r.paused = true
	return nil
}

// Resume attaches the buffers to the map again, replacing the buffers of
// any other reader of the map.
func (r *Reader) Resume() error {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	if r.isClosed {
		return ErrClosed
	}
	if err := r.bufs.Attach(); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	r.paused = false
	return nil
}

// BufferSize returns the size in bytes of each per-CPU buffer.
func (r *Reader) BufferSize() int { return r.bufs.Size() }

// Close detaches the buffers and interrupts pending reads, which return
// an error matching ErrClosed, as do later ones. Outputs then fail with
// -ENOENT. Close may be called more than once.
func (r *Reader) Close() error {
	first := false
	r.closeOnce.Do(func() {
		first = true
		close(r.closed)
	})
	if !first {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	r.isClosed = true
	r.bufs.Detach()
	return nil
}

type unknownEventError struct{ eventType uint32 }

func (e *unknownEventError) Error() string {
	return fmt.Sprintf("unknown event type: %d", e.eventType)
}

// IsUnknownEvent reports whether err comes from a record of a type the
// reader does not know.
func IsUnknownEvent(err error) bool {
	var e *unknownEventError
	return errors.As(err, &e)
}
