// Package perf reads, from Go, the samples that eBPF programs of an xebpf
// collection write to a PerfEventArray map with bpf_perf_event_output.
//
// It mirrors the API and behaviour of cilium/ebpf's perf package
// (v0.22.0): code written for it compiles and behaves the same once its
// imports are github.com/xebpf/xebpf/perf and ebpf "github.com/xebpf/xebpf".
// A Reader gives every index of the array a buffer that takes records
// as Linux's perf buffers do (same sizes, lost-sample reports before the
// next sample that fits, wake-up watermarks, overwritable buffers), and is
// a thin layer over github.com/xebpf/xebpf/maps/perf, which reads a
// maps.Map. The differences, where xebpf has no kernel:
//
//   - An index is one of xebpf's CPU slots (see RunOptions.CPU), and every
//     index of the array gets a buffer: no CPU is offline.
//   - RawSample is exactly the bytes that were output; Linux may append
//     up to 7 bytes of padding, which cilium/ebpf documents as garbage.
//   - The buffers are the reader's memory, so records already written
//     stay readable after the collection is closed, as in cilium/ebpf;
//     Resume fails once the map is freed, where cilium/ebpf's reader keeps
//     the array open.
//   - Error messages differ (errors.Is matches the same sentinels).
package perf

import (
	"errors"
	"fmt"
	"os"
	"time"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
	lower "github.com/xebpf/xebpf/maps/perf"
)

var (
	// ErrClosed is os.ErrClosed: reads on a closed Reader return an error
	// matching it, as does a read that Close interrupts.
	ErrClosed = os.ErrClosed
	// ErrFlushed is returned by a read after Flush once the records
	// written before the flush were read.
	ErrFlushed = lower.ErrFlushed
)

// Record contains either a sample or a counter of the number of lost
// samples.
type Record struct {
	// CPU is the index of the buffer the record was written to.
	CPU int

	// RawSample is the data submitted via bpf_perf_event_output, exactly
	// its size.
	RawSample []byte

	// LostSamples is the number of samples which could not be output
	// since the buffer was full.
	LostSamples uint64

	// Remaining is the minimum number of bytes remaining in the per-CPU
	// buffer after this Record has been read; negative for overwritable
	// buffers.
	Remaining int
}

// ReaderOptions control the behaviour of the user space reader.
type ReaderOptions struct {
	// WakeupEvents is the number of events required in any per CPU
	// buffer before Read will process data. It is mutually exclusive
	// with Watermark. The default is zero, which means Watermark will
	// take precedence.
	WakeupEvents int
	// Watermark is the number of written bytes required in any per CPU
	// buffer before Read will process data. Must be smaller than
	// perCPUBuffer. The default is to start processing as soon as data
	// is available.
	Watermark int
	// Overwritable makes the buffers overwritable: once full, the oldest
	// event is overwritten by the newest. The reader must be paused to
	// read, and reads return the events written since the previous
	// wake-up, newest first.
	Overwritable bool
}

// Reader reads the samples of a PerfEventArray from user space.
type Reader struct {
	r *lower.Reader
}

// NewReader creates a new reader with default options.
//
// array must be a PerfEventArray. perCPUBuffer gives the size of the per
// CPU buffer in bytes. It is rounded up to the nearest power of two
// number of pages, as cilium/ebpf does.
func NewReader(array *ebpf.Map, perCPUBuffer int) (*Reader, error) {
	return NewReaderWithOptions(array, perCPUBuffer, ReaderOptions{})
}

// NewReaderWithOptions creates a new reader with the given options.
func NewReaderWithOptions(array *ebpf.Map, perCPUBuffer int, opts ReaderOptions) (*Reader, error) {
	if array == nil {
		return nil, fmt.Errorf("perf: nil map: %w", maps.ErrInvalid)
	}
	if perCPUBuffer < 1 {
		return nil, errors.New("perCPUBuffer must be larger than 0")
	}
	if opts.WakeupEvents > 0 && opts.Watermark > 0 {
		return nil, errors.New("WakeupEvents and Watermark cannot both be non-zero")
	}
	if opts.Watermark >= perCPUBuffer {
		return nil, errors.New("watermark must be smaller than perCPUBuffer")
	}
	if t := array.Type(); t != ebpf.PerfEventArray {
		return nil, fmt.Errorf("map %q: invalid Map type: %s, want PerfEventArray: %w", array.Name(), t, maps.ErrInvalid)
	}
	size, err := bufferSize(perCPUBuffer)
	if err != nil {
		return nil, fmt.Errorf("map %q: %w", array.Name(), err)
	}
	r, err := lower.NewReaderWithOptions(array.Underlying(), size, lower.ReaderOptions{
		WakeupEvents: opts.WakeupEvents, Watermark: opts.Watermark, Overwritable: opts.Overwritable,
	})
	if err != nil {
		return nil, fmt.Errorf("map %q: %w", array.Name(), err)
	}
	return &Reader{r: r}, nil
}

// bufferSize rounds perCPUBuffer up to a power of two number of pages,
// the data area cilium/ebpf maps for a perf event.
func bufferSize(perCPUBuffer int) (int, error) {
	page := os.Getpagesize()
	if perCPUBuffer > maps.MaxPerfBuffer {
		return 0, fmt.Errorf("per-CPU buffer of %d bytes above %d: %w", perCPUBuffer, maps.MaxPerfBuffer, maps.ErrInvalid)
	}
	pages := (perCPUBuffer + page - 1) / page
	n := 1
	for n < pages {
		n *= 2
	}
	return n * page, nil
}

// Close frees the reader's buffers and interrupts calls to Read, which
// return an error matching ErrClosed, as do later ones.
//
// Calls to bpf_perf_event_output from eBPF programs return -ENOENT after
// calling this method.
func (r *Reader) Close() error { return r.r.Close() }

// SetDeadline controls how long Read and ReadInto block waiting for
// samples. The zero time removes the deadline; a deadline in the past
// makes them not block when there are no records to read. Like
// cilium/ebpf's, it waits for a Read in progress to return.
func (r *Reader) SetDeadline(t time.Time) { r.r.SetDeadline(t) }

// Read returns the next record of the per-CPU buffers.
//
// It blocks until one buffer reaches its wake-up threshold (Watermark or
// WakeupEvents), then returns the records of all buffers, each up to
// where it was at the wake-up, the highest index first.
//
// Close interrupts it with an error matching os.ErrClosed. Flush makes it
// return the records in the buffers, then ErrFlushed. With a deadline
// (SetDeadline), it returns the records in the buffers, then an error
// matching os.ErrDeadlineExceeded once the deadline has passed.
func (r *Reader) Read() (Record, error) {
	var rec Record
	err := r.ReadInto(&rec)
	return rec, err
}

// ReadInto is like Read but reuses rec and its RawSample's storage.
func (r *Reader) ReadInto(rec *Record) error {
	lr := lower.Record{RawSample: rec.RawSample}
	if err := r.r.ReadInto(&lr); err != nil {
		return err
	}
	*rec = Record{CPU: lr.CPU, RawSample: lr.RawSample, LostSamples: lr.LostSamples, Remaining: lr.Remaining}
	return nil
}

// Pause stops all notifications from this Reader: while it is paused,
// bpf_perf_event_output returns -ENOENT to programs. Records already in
// the buffers stay readable; a Read waiting for a wake-up waits until
// Resume, a deadline or Flush.
func (r *Reader) Pause() error { return r.r.Pause() }

// Resume makes programs' outputs go to this Reader's buffers again.
func (r *Reader) Resume() error { return r.r.Resume() }

// BufferSize returns the size in bytes of each per-CPU buffer.
func (r *Reader) BufferSize() int { return r.r.BufferSize() }

// Flush unblocks Read and ReadInto: they return the records in the
// buffers at this point, then ErrFlushed.
func (r *Reader) Flush() error { return r.r.Flush() }

// IsUnknownEvent reports whether err occurred because a record of an
// unknown type was found in a buffer. xebpf's buffers hold only samples
// and lost-sample reports, which Read knows, so it is false for the
// errors Read returns; it is kept for code written for cilium/ebpf.
func IsUnknownEvent(err error) bool { return lower.IsUnknownEvent(err) }
