package maps

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf/internal/platform"
)

// Ring buffer record header bits, as in Linux (BPF_RINGBUF_*).
const (
	RingBufBusyBit    = 1 << 31 // BPF_RINGBUF_BUSY_BIT: reserved, not committed
	RingBufDiscardBit = 1 << 30 // BPF_RINGBUF_DISCARD_BIT: skip this record
	RingBufHeaderSize = 8       // BPF_RINGBUF_HDR_SZ
	ringBufMaxRecord  = 1<<30 - 1
)

// RingBufMap is a BPF_MAP_TYPE_RINGBUF map: a multi-producer,
// single-consumer buffer of variable-size records in Linux's format. Each
// record starts at an 8-byte aligned position with an 8-byte header: a
// 32-bit length (bit 31 BUSY while reserved, bit 30 DISCARD) and a 32-bit
// page offset. Where Linux maps the data pages twice to keep a record
// contiguous across the end of the buffer, this implementation fills the
// tail with a discarded padding record and starts the record at offset 0,
// which Linux consumers already skip.
type RingBufMap struct {
	base
	mem    *platform.Memory
	buf    []byte
	addr   uintptr
	size   uint64
	mask   uint64
	mu     sync.Mutex // producers
	consMu sync.Mutex // consumers
	prod   atomic.Uint64
	cons   atomic.Uint64
	notify chan struct{}
}

func newRingBuf(s0 Spec, id uint32) (*RingBufMap, error) {
	mem, err := platform.Alloc(int(s0.MaxEntries))
	if err != nil {
		return nil, err
	}
	n := uint64(s0.MaxEntries)
	return &RingBufMap{base: base{spec: s0, id: id}, mem: mem, buf: mem.Bytes(), addr: mem.Addr(),
		size: n, mask: n - 1, notify: make(chan struct{}, 1)}, nil
}

// Regions returns the data area, where reserved samples live.
func (r *RingBufMap) Regions() []Region { return []Region{{Addr: r.addr, Size: int(r.size)}} }

func (r *RingBufMap) hdr(off uint64) *uint32 { return word32(r.addr + uintptr(off)) }

// Reserve is bpf_ringbuf_reserve: it returns the address of size bytes
// for a sample, or 0 if flags are not 0, the size is too big or there is
// no room.
func (r *RingBufMap) Reserve(size, flags uint64) uintptr {
	if flags != 0 || size > ringBufMaxRecord {
		return 0
	}
	need := roundup8(size + RingBufHeaderSize)
	if need > r.size {
		return 0
	}
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return 0
	}
	cons, prod := r.cons.Load(), r.prod.Load()
	off := prod & r.mask
	pad := uint64(0)
	if tail := r.size - off; need > tail {
		pad = tail
	}
	// Like Linux, the producer stays less than a whole buffer ahead of
	// the consumer: a full ring is never mistaken for an empty one.
	if prod+pad+need-cons > r.mask {
		r.mu.Unlock()
		return 0
	}
	if pad > 0 {
		binary.NativeEndian.PutUint32(r.buf[off+4:], uint32(off/pageSize))
		atomic.StoreUint32(r.hdr(off), uint32(pad-RingBufHeaderSize)|RingBufDiscardBit)
		off = 0
	}
	binary.NativeEndian.PutUint32(r.buf[off+4:], uint32(off/pageSize))
	atomic.StoreUint32(r.hdr(off), uint32(size)|RingBufBusyBit)
	r.prod.Store(prod + pad + need)
	r.mu.Unlock()
	return r.addr + uintptr(off) + RingBufHeaderSize
}

// commit clears the BUSY bit of the sample at addr; samples not reserved
// from this buffer are ignored. An empty sample whose header fills the
// buffer's last 8 bytes is at the buffer's end.
func (r *RingBufMap) commit(addr uintptr, flags uint64, discard bool) {
	if addr < r.addr+RingBufHeaderSize || addr-r.addr > uintptr(r.size) || (addr-r.addr)%8 != 0 || r.closed.Load() {
		return
	}
	h := r.hdr(uint64(addr-r.addr) - RingBufHeaderSize)
	for {
		old := atomic.LoadUint32(h)
		if old&RingBufBusyBit == 0 {
			return
		}
		nw := old &^ RingBufBusyBit
		if discard {
			nw |= RingBufDiscardBit
		}
		if atomic.CompareAndSwapUint32(h, old, nw) {
			break
		}
	}
	if flags&RBNoWakeup == 0 {
		r.wake()
	}
}

func (r *RingBufMap) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Submit is bpf_ringbuf_submit.
func (r *RingBufMap) Submit(addr uintptr, flags uint64) { r.commit(addr, flags, false) }

// Discard is bpf_ringbuf_discard.
func (r *RingBufMap) Discard(addr uintptr, flags uint64) { r.commit(addr, flags, true) }

// Output is bpf_ringbuf_output: it copies size bytes at dataAddr into a
// new record. It returns 0, -EINVAL for bad flags or -EAGAIN without room.
func (r *RingBufMap) Output(dataAddr uintptr, size, flags uint64) int64 {
	if dataAddr == 0 && size != 0 {
		return -int64(EINVAL)
	}
	if flags&^(RBNoWakeup|RBForceWakeup) != 0 {
		return -int64(EINVAL)
	}
	a := r.Reserve(size, 0)
	if a == 0 {
		return -int64(EAGAIN)
	}
	copy(bytesAt(a, int(size)), bytesAt(dataAddr, int(size)))
	r.commit(a, flags, false)
	return 0
}

// Write copies data into a new record from Go (the Go-side counterpart of
// Output).
func (r *RingBufMap) Write(data []byte, flags uint64) error {
	if flags&^(RBNoWakeup|RBForceWakeup) != 0 {
		return ErrInvalid
	}
	a := r.Reserve(uint64(len(data)), 0)
	if a == 0 {
		return ErrNoSpace
	}
	copy(bytesAt(a, len(data)), data)
	r.commit(a, flags, false)
	return nil
}

// Query is bpf_ringbuf_query.
func (r *RingBufMap) Query(flags uint64) uint64 {
	switch flags {
	case RBAvailData:
		return r.prod.Load() - r.cons.Load()
	case RBRingSize:
		return r.size
	case RBConsPos:
		return r.cons.Load()
	case RBProdPos:
		return r.prod.Load()
	}
	return 0
}

// record returns the record at consumer position pos: its total length,
// whether it is committed, discarded, and its sample. ok is false when
// pos has no complete record (none yet, still BUSY, or corrupted).
func (r *RingBufMap) record(pos, prod uint64) (total uint64, sample []byte, discarded, ok bool) {
	if pos == prod || r.closed.Load() {
		return 0, nil, false, false
	}
	off := pos & r.mask
	h := atomic.LoadUint32(r.hdr(off))
	if h&RingBufBusyBit != 0 {
		return 0, nil, false, false
	}
	l := uint64(h &^ (RingBufBusyBit | RingBufDiscardBit))
	total = roundup8(l + RingBufHeaderSize)
	if off+RingBufHeaderSize+l > r.size || total > prod-pos {
		return 0, nil, false, false // corrupted by a program writing past its sample
	}
	return total, r.buf[off+RingBufHeaderSize : off+RingBufHeaderSize+l], h&RingBufDiscardBit != 0, true
}

// Next appends the oldest committed sample to dst and consumes it. ok is
// false when no committed sample is available.
func (r *RingBufMap) Next(dst []byte) (out []byte, ok bool) {
	r.consMu.Lock()
	defer r.consMu.Unlock()
	for {
		cons, prod := r.cons.Load(), r.prod.Load()
		total, sample, discarded, ok := r.record(cons, prod)
		if !ok {
			return dst, false
		}
		if !discarded {
			dst = append(dst, sample...)
		}
		r.cons.Store(cons + total)
		if !discarded {
			return dst, true
		}
	}
}

// Notify returns the channel that receives a value after submissions that
// ask for a wake-up. A single consumer waits on it.
func (r *RingBufMap) Notify() <-chan struct{} { return r.notify }

// Iterate reports the committed samples in order without consuming them;
// it stops at the first sample still reserved.
func (r *RingBufMap) Iterate(yield func(Entry) bool) error {
	if r.closed.Load() {
		return ErrClosed
	}
	r.consMu.Lock()
	defer r.consMu.Unlock()
	prod := r.prod.Load()
	for pos := r.cons.Load(); ; {
		total, sample, discarded, ok := r.record(pos, prod)
		if !ok {
			return nil
		}
		pos += total
		if !discarded && !yield(Entry{Value: append([]byte(nil), sample...)}) {
			return nil
		}
	}
}

// Close releases the buffer and wakes a waiting reader.
func (r *RingBufMap) Close() error {
	r.consMu.Lock()
	defer r.consMu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	r.wake()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mem.Free()
}

// Closed reports whether Close was called.
func (r *RingBufMap) Closed() bool { return r.closed.Load() }
