// Package ringbuf reads records that eBPF programs submit to a RingBuf map,
// like cilium/ebpf's ringbuf package.
package ringbuf

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/xebpf/xebpf/maps"
)

// ErrClosed is returned by reads on a closed Reader (or a closed map).
var ErrClosed = os.ErrClosed

// Record is one sample read from the ring buffer.
type Record struct {
	// RawSample is the sample's bytes.
	RawSample []byte
	// Remaining is the number of bytes still unread in the ring buffer
	// after this record.
	Remaining int
}

// Reader consumes a RingBuf map. Reads block until a program submits a
// record with a wake-up (the default, or BPF_RB_FORCE_WAKEUP; a record
// submitted with BPF_RB_NO_WAKEUP is delivered at the next wake-up or
// read, as with epoll on Linux).
type Reader struct {
	rb        *maps.RingBufMap
	mu        sync.Mutex // serialises reads
	closed    chan struct{}
	closeOnce sync.Once
}

// NewReader returns a reader of m, which must be a RingBuf map.
func NewReader(m maps.Map) (*Reader, error) {
	rb, ok := m.(*maps.RingBufMap)
	if !ok {
		return nil, fmt.Errorf("map of type %v, want RingBuf: %w", m.Type(), maps.ErrInvalid)
	}
	return &Reader{rb: rb, closed: make(chan struct{})}, nil
}

// Read blocks until a record is available and returns it.
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
	for {
		select {
		case <-r.closed:
			return ErrClosed
		default:
		}
		if r.rb.Closed() {
			return ErrClosed
		}
		if s, ok := r.rb.Next(rec.RawSample[:0]); ok {
			rec.RawSample = s
			rec.Remaining = int(r.rb.Query(maps.RBAvailData))
			return nil
		}
		select {
		case <-r.rb.Notify():
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return ErrClosed
		}
	}
}

// AvailableBytes returns the bytes of unread records.
func (r *Reader) AvailableBytes() int { return int(r.rb.Query(maps.RBAvailData)) }

// BufferSize returns the size of the ring buffer's data area.
func (r *Reader) BufferSize() int { return int(r.rb.Query(maps.RBRingSize)) }

// Close interrupts pending reads, which return ErrClosed, as do later
// ones. It does not close the map.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}
