// Package ringbuf reads, from Go, the records that eBPF programs of an
// xebpf collection submit to a RingBuf map (bpf_ringbuf_output,
// bpf_ringbuf_reserve and bpf_ringbuf_submit).
//
// It mirrors the API and behaviour of cilium/ebpf's ringbuf package
// (v0.22.0): code written for it compiles and behaves the same once its
// imports are github.com/xebpf/xebpf/ringbuf and
// ebpf "github.com/xebpf/xebpf". It is a thin layer over
// github.com/xebpf/xebpf/maps/ringbuf, which reads a maps.Map. The
// differences, where xebpf has no kernel:
//
//   - The ring lives in the collection's memory, not in pages the reader
//     maps: closing the *ebpf.Map leaves the reader working, as in
//     cilium/ebpf, but once the collection is closed and its maps freed
//     reads return an error matching ErrClosed.
//   - Read returns at once the records already in the ring when it
//     starts, those submitted with BPF_RB_NO_WAKEUP included; it waits
//     only when the ring is empty.
//   - Where Linux maps the ring twice so that a record may run past the
//     end of the buffer, xebpf pads the end with a discarded record and
//     starts the record at offset 0: Remaining and AvailableBytes count
//     that padding.
//   - Error messages differ (errors.Is matches the same sentinels).
package ringbuf

import (
	"fmt"
	"os"
	"time"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
	lower "github.com/xebpf/xebpf/maps/ringbuf"
)

var (
	// ErrClosed is os.ErrClosed: reads on a closed Reader return an error
	// matching it, as does a read that Close interrupts.
	ErrClosed = os.ErrClosed
	// ErrFlushed is returned by a read after Flush once the records
	// submitted before the flush were read.
	ErrFlushed = lower.ErrFlushed
)

// Record is one sample read from the ring buffer.
type Record struct {
	// RawSample is the sample: exactly the bytes reserved or output,
	// without the ring's padding to 8 bytes.
	RawSample []byte

	// Remaining is the minimum number of bytes remaining in the ring
	// buffer after this Record has been read.
	Remaining int
}

// Reader reads the records of a RingBuf map from user space.
type Reader struct {
	r *lower.Reader
}

// NewReader returns a reader of ringbufMap, which must be a RingBuf map;
// the error names the map otherwise.
func NewReader(ringbufMap *ebpf.Map) (*Reader, error) {
	if ringbufMap == nil {
		return nil, fmt.Errorf("ringbuf: nil map: %w", maps.ErrInvalid)
	}
	if t := ringbufMap.Type(); t != ebpf.RingBuf {
		return nil, fmt.Errorf("map %q: invalid Map type: %s, want RingBuf: %w", ringbufMap.Name(), t, maps.ErrInvalid)
	}
	if n := ringbufMap.MaxEntries(); n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("map %q: ringbuffer map size %d is zero or not a power of two: %w", ringbufMap.Name(), n, maps.ErrInvalid)
	}
	r, err := lower.NewReader(ringbufMap.Underlying())
	if err != nil {
		return nil, fmt.Errorf("map %q: %w", ringbufMap.Name(), err)
	}
	return &Reader{r: r}, nil
}

// Close frees the reader and interrupts calls to Read, which return an
// error matching ErrClosed, as do later ones. It does not close the map.
func (r *Reader) Close() error { return r.r.Close() }

// SetDeadline controls how long Read and ReadInto block waiting for
// samples. The zero time removes the deadline. Like cilium/ebpf's, it
// waits for a Read in progress to return.
func (r *Reader) SetDeadline(t time.Time) { r.r.SetDeadline(t) }

// Read returns the next record of the ring, waiting for one if the ring
// is empty.
//
// Close interrupts it with an error matching os.ErrClosed. Flush makes it
// return the records in the ring, then ErrFlushed. With a deadline
// (SetDeadline), it returns the records in the ring, then an error
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
	rec.RawSample, rec.Remaining = lr.RawSample, lr.Remaining
	return nil
}

// BufferSize returns the size in bytes of the ring buffer.
func (r *Reader) BufferSize() int { return r.r.BufferSize() }

// Flush unblocks Read and ReadInto: they return the records in the ring
// at this point, then ErrFlushed.
func (r *Reader) Flush() error { return r.r.Flush() }

// AvailableBytes returns the amount of data in the ring buffer not read
// yet, in bytes (records with their headers and padding).
func (r *Reader) AvailableBytes() int { return r.r.AvailableBytes() }
