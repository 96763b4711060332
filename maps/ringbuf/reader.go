// Package ringbuf reads records that eBPF programs submit to a RingBuf map,
// with the semantics of cilium/ebpf's ringbuf package (wake-ups,
// deadlines, Flush) over a maps.Map. Package github.com/xebpf/xebpf/ringbuf
// is the same API over *xebpf.Map.
package ringbuf

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
	// ErrClosed is returned by reads on a closed Reader (or a closed map).
	ErrClosed = os.ErrClosed
	// ErrFlushed is returned by a read after Flush once the records
	// submitted before the flush were read.
	ErrFlushed = errors.New("data was flushed")
)

// Record is one sample read from the ring buffer.
type Record struct {
	// RawSample is the sample's bytes: exactly the size reserved or
	// output, without the ring's padding to 8 bytes.
	RawSample []byte
	// Remaining is the minimum number of bytes still unread in the ring
	// buffer after this record.
	Remaining int
}

// Reader consumes a RingBuf map. Reads block until a program submits a
// record with a wake-up (the default, or BPF_RB_FORCE_WAKEUP; a record
// submitted with BPF_RB_NO_WAKEUP is delivered at the next wake-up or
// read, as with epoll on Linux).
type Reader struct {
	rb         *maps.RingBufMap
	mu         sync.Mutex // serialises reads
	deadline   time.Time
	pendingErr error
	closed     chan struct{}
	closeOnce  sync.Once
	flush      chan struct{}
}

// NewReader returns a reader of m, which must be a RingBuf map.
func NewReader(m maps.Map) (*Reader, error) {
	if m == nil {
		return nil, fmt.Errorf("nil map: %w", maps.ErrInvalid)
	}
	rb, ok := m.(*maps.RingBufMap)
	if !ok {
		return nil, fmt.Errorf("map of type %v, want RingBuf: %w", m.Type(), maps.ErrInvalid)
	}
	if rb.Closed() {
		return nil, fmt.Errorf("ringbuffer: %w", ErrClosed)
	}
	return &Reader{rb: rb, closed: make(chan struct{}), flush: make(chan struct{}, 1)}, nil
}

// Read blocks until a record is available and returns it. A deadline
// (SetDeadline) or a Flush makes it return the records present, then an
// error matching os.ErrDeadlineExceeded or ErrFlushed. Close interrupts
// it with an error matching ErrClosed.
func (r *Reader) Read() (Record, error) {
	var rec Record
	err := r.ReadInto(&rec)
	return rec, err
}

// ReadInto is like Read but reuses rec.RawSample's storage.
func (r *Reader) ReadInto(rec *Record) error {
	return r.ReadContextInto(context.Background(), rec)
}

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
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-r.closed:
			return fmt.Errorf("ringbuffer: %w", ErrClosed)
		default:
		}
		if r.rb.Closed() {
			return fmt.Errorf("ringbuffer: map closed: %w", ErrClosed)
		}
		if s, ok := r.rb.Next(rec.RawSample[:0]); ok {
			rec.RawSample = s
			rec.Remaining = int(r.rb.Query(maps.RBAvailData))
			return nil
		}
		if pe := r.pendingErr; pe != nil {
			r.pendingErr = nil
			return pe
		}
		var expired <-chan time.Time
		if !r.deadline.IsZero() {
			d := time.Until(r.deadline)
			if d <= 0 {
				r.pendingErr = fmt.Errorf("ringbuffer: %w", os.ErrDeadlineExceeded)
				continue
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-r.rb.Notify():
		case <-r.flush:
			r.pendingErr = ErrFlushed
		case <-expired:
			r.pendingErr = fmt.Errorf("ringbuffer: %w", os.ErrDeadlineExceeded)
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return fmt.Errorf("ringbuffer: %w", ErrClosed)
		}
	}
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
		return fmt.Errorf("ringbuffer: %w", ErrClosed)
	default:
	}
	select {
	case r.flush <- struct{}{}:
	default:
	}
	return nil
}

// AvailableBytes returns the bytes of unread records.
func (r *Reader) AvailableBytes() int { return int(r.rb.Query(maps.RBAvailData)) }

// BufferSize returns the size of the ring buffer's data area.
func (r *Reader) BufferSize() int { return int(r.rb.Query(maps.RBRingSize)) }

// Close interrupts pending reads, which return an error matching
// ErrClosed, as do later ones. It does not close the map. Close may be
// called more than once.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}
