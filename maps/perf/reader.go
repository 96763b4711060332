// Package perf reads samples that eBPF programs write to a PerfEventArray
// map with bpf_perf_event_output, like cilium/ebpf's perf package.
package perf

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/xebpf/xebpf/maps"
)

// ErrClosed is returned by reads on a closed Reader.
var ErrClosed = os.ErrClosed

// Record is a sample or a report of lost samples.
type Record struct {
	// CPU is the index (CPU) of the buffer the record comes from.
	CPU int
	// RawSample is the sample; empty when LostSamples is set.
	RawSample []byte
	// LostSamples counts samples dropped on CPU because its buffer was
	// full, since the previous report.
	LostSamples uint64
}

// Reader attaches buffers to a PerfEventArray map and reads them.
type Reader struct {
	m         *maps.PerfEventArrayMap
	mu        sync.Mutex
	closed    chan struct{}
	closeOnce sync.Once
}

// NewReader attaches a buffer of perCPUBuffer bytes to every index of m,
// which must be a PerfEventArray map.
func NewReader(m maps.Map, perCPUBuffer int) (*Reader, error) {
	pm, ok := m.(*maps.PerfEventArrayMap)
	if !ok {
		return nil, fmt.Errorf("map of type %v, want PerfEventArray: %w", m.Type(), maps.ErrInvalid)
	}
	if err := pm.Attach(perCPUBuffer); err != nil {
		return nil, err
	}
	return &Reader{m: pm, closed: make(chan struct{})}, nil
}

// Read blocks until a sample or a lost-samples report is available.
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
	for {
		select {
		case <-r.closed:
			return ErrClosed
		default:
		}
		if r.m.Closed() {
			return ErrClosed
		}
		cpu, s, lost, ok := r.m.Next(rec.RawSample[:0])
		if ok {
			rec.CPU, rec.RawSample, rec.LostSamples = cpu, s, lost
			return nil
		}
		select {
		case <-r.m.Notify():
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return ErrClosed
		}
	}
}

// Close detaches the buffers and interrupts pending reads, which return
// ErrClosed.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		close(r.closed)
		r.m.Detach()
	})
	return nil
}
