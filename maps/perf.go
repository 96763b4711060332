package maps

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Perf event output flags, with the Linux values.
const (
	PerfIndexMask  uint64 = 0xffffffff // BPF_F_INDEX_MASK
	PerfCurrentCPU uint64 = 0xffffffff // BPF_F_CURRENT_CPU
	PerfCtxLenMask uint64 = 0xfffff << 32
	// MaxPerfBuffer bounds the per-CPU buffer a reader may attach.
	MaxPerfBuffer = 256 << 20
)

// Record types of a per-CPU buffer, with Linux's values (PERF_RECORD_*).
const (
	// PerfRecordLost reports samples dropped because the buffer was full.
	PerfRecordLost uint32 = 2
	// PerfRecordSample is a sample of bpf_perf_event_output.
	PerfRecordSample uint32 = 9
)

// Sizes of records in a Linux perf buffer: a sample is the 8-byte
// struct perf_event_header, a u32 size and the data, padded to 8 bytes;
// a lost-samples report is the header, an id and the count.
const (
	perfHeaderSize = 8
	perfLostSize   = 24
)

func perfSampleSize(n uint64) uint64 { return perfHeaderSize + roundup8(n+4) }

// PerfEventArrayMap is a BPF_MAP_TYPE_PERF_EVENT_ARRAY map: one sample
// buffer per index (per CPU), which a reader attaches as a set
// (PerfBuffers), as a perf event is attached to each index on Linux.
// Buffers take as much room per record as Linux's, and a sample that does
// not fit is lost: the buffer reports the count before the next sample
// that fits, as Linux writes PERF_RECORD_LOST.
type PerfEventArrayMap struct {
	base
	mu     sync.RWMutex // guards cur (attach and detach)
	cur    *PerfBuffers
	notify chan struct{}
	rmu    sync.Mutex // consumers of Next
	next   int        // CPU Next polls next
}

func newPerf(s0 Spec, id uint32) (*PerfEventArrayMap, error) {
	return &PerfEventArrayMap{base: base{spec: s0, id: id}, notify: make(chan struct{}, 1)}, nil
}

// PerfOptions are the wake-up and overwrite settings of a PerfBuffers,
// those of perf_event_attr that cilium/ebpf's perf.ReaderOptions sets.
type PerfOptions struct {
	// WakeupEvents, when above 0, wakes the reader every WakeupEvents
	// samples written to one buffer (perf_event_attr.wakeup_events); the
	// byte watermark is then half the buffer, as in Linux.
	WakeupEvents int
	// Watermark wakes the reader whenever more than Watermark bytes were
	// written to one buffer since its last wake-up (wakeup_watermark).
	// 0 means 1 byte, every record, when WakeupEvents is 0. It must be
	// below the buffer size and cannot be combined with WakeupEvents.
	Watermark int
	// Overwritable makes a full buffer drop its oldest records to make
	// room instead of losing the new sample (write_backward). Reads then
	// return the records written since the previous Load, newest first.
	Overwritable bool
}

// PerfBuffers is one reader's set of per-index buffers. Outputs go to it
// while it is attached to its map; its records stay readable after it is
// detached, like the mapped pages of a perf event.
type PerfBuffers struct {
	m         *PerfEventArrayMap
	rings     []*PerfRing
	opts      PerfOptions
	size      int
	watermark uint64
	notify    chan struct{}
}

// PerfRing is the buffer of one index.
type PerfRing struct {
	cpu  int
	set  *PerfBuffers
	mu   sync.Mutex
	data []byte
	head uint64 // position of the oldest record not consumed
	tail uint64 // write position
	snap uint64 // tail at the last Load: reads stop there
	prev uint64 // overwritable: snap before the last Load
	lost uint64 // samples lost since the last lost-samples record
	// Wake-up accounting: samples since the last wake-up (WakeupEvents)
	// and the position the byte watermark counts from.
	events int
	wakeAt uint64
	// Overwritable: positions of the records the last Load found, oldest
	// first; Next takes the newest.
	pending []uint64
}

// PerfRecord is a record read from a PerfRing.
type PerfRecord struct {
	// Type is PerfRecordSample or PerfRecordLost.
	Type uint32
	// Sample is the sample's bytes (exactly the size that was output),
	// appended to the slice given to Next; empty for other records.
	Sample []byte
	// Lost is the count of a PerfRecordLost record.
	Lost uint64
	// Remaining is the number of bytes of records left before the
	// position of the last Load, or -1 for an overwritable buffer.
	Remaining int
}

// NewBuffers creates a buffer of perCPUBytes bytes (rounded up to a
// multiple of 8) for every index of m and attaches them, replacing the
// buffers attached before.
func (m *PerfEventArrayMap) NewBuffers(perCPUBytes int, opts PerfOptions) (*PerfBuffers, error) {
	if perCPUBytes < 16 || perCPUBytes > MaxPerfBuffer {
		return nil, fmt.Errorf("per-CPU buffer of %d bytes: %w", perCPUBytes, ErrInvalid)
	}
	n := int(roundup8(uint64(perCPUBytes)))
	switch {
	case opts.WakeupEvents < 0 || opts.Watermark < 0:
		return nil, fmt.Errorf("negative wake-up setting %+v: %w", opts, ErrInvalid)
	case opts.WakeupEvents > 0 && opts.Watermark > 0:
		return nil, fmt.Errorf("both WakeupEvents and Watermark set: %w", ErrInvalid)
	case opts.Watermark >= n:
		return nil, fmt.Errorf("watermark %d not below the buffer size %d: %w", opts.Watermark, n, ErrInvalid)
	}
	b := &PerfBuffers{m: m, opts: opts, size: n, notify: make(chan struct{}, 1)}
	switch {
	case opts.WakeupEvents > 0:
		b.watermark = uint64(n / 2)
	case opts.Watermark > 0:
		b.watermark = uint64(opts.Watermark)
	default:
		b.watermark = 1
	}
	b.rings = make([]*PerfRing, m.spec.MaxEntries)
	for i := range b.rings {
		b.rings[i] = &PerfRing{cpu: i, set: b, data: make([]byte, n)}
	}
	if err := b.Attach(); err != nil {
		return nil, err
	}
	return b, nil
}

// Attach gives every index a buffer of perCPUBytes bytes (rounded up to a
// multiple of 8) that wakes the reader at every record, replacing earlier
// ones.
func (m *PerfEventArrayMap) Attach(perCPUBytes int) error {
	_, err := m.NewBuffers(perCPUBytes, PerfOptions{})
	return err
}

// Detach removes the buffers; outputs then fail with -ENOENT.
func (m *PerfEventArrayMap) Detach() {
	m.mu.Lock()
	cur := m.cur
	m.cur = nil
	m.mu.Unlock()
	if cur != nil {
		cur.wake()
	}
	m.wake()
}

func (m *PerfEventArrayMap) wake() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Rings returns the buffers, by index.
func (b *PerfBuffers) Rings() []*PerfRing { return b.rings }

// Options returns the options the set was created with.
func (b *PerfBuffers) Options() PerfOptions { return b.opts }

// Size returns the size of each buffer in bytes.
func (b *PerfBuffers) Size() int { return b.size }

// Notify returns the channel that receives a value when a buffer of the
// set wakes its reader (see PerfOptions), and when the set is detached.
func (b *PerfBuffers) Notify() <-chan struct{} { return b.notify }

// Attach makes outputs go to b's buffers, replacing the set attached
// before, as putting perf event fds into the array does on Linux. It
// fails with ErrClosed once the map is closed.
func (b *PerfBuffers) Attach() error {
	m := b.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	m.cur = b
	return nil
}

// Detach stops outputs to b's buffers, which then fail with -ENOENT, if b
// is attached. The records stay readable.
func (b *PerfBuffers) Detach() {
	m := b.m
	m.mu.Lock()
	if m.cur == b {
		m.cur = nil
	}
	m.mu.Unlock()
	b.wake()
}

// Attached reports whether outputs go to b.
func (b *PerfBuffers) Attached() bool {
	b.m.mu.RLock()
	defer b.m.mu.RUnlock()
	return b.m.cur == b
}

func (b *PerfBuffers) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Output is bpf_perf_event_output run on cpu: it appends size bytes at
// dataAddr to the buffer that flags selects (BPF_F_CURRENT_CPU or an
// index). It returns 0, -E2BIG for an index out of range, -ENOENT for an
// index without a buffer, -ENOSPC when the sample was lost, -EINVAL for
// bad flags.
func (m *PerfEventArrayMap) Output(cpu int, flags uint64, dataAddr uintptr, size uint64) int64 {
	if dataAddr == 0 && size != 0 {
		return -int64(EINVAL)
	}
	if flags&^(PerfIndexMask|PerfCtxLenMask) != 0 {
		return -int64(EINVAL)
	}
	if size > MaxPerfBuffer {
		return -int64(E2BIG)
	}
	return m.output(cpu, flags, bytesAt(dataAddr, int(size)))
}

// Write appends data to the buffer of index idx from Go.
func (m *PerfEventArrayMap) Write(idx uint32, data []byte) error {
	if r := m.output(0, uint64(idx), data); r != 0 {
		return &Error{errno: Errno(-r), msg: fmt.Sprintf("perf event output to index %d: errno %d", idx, -r)}
	}
	return nil
}

func (m *PerfEventArrayMap) output(cpu int, flags uint64, data []byte) int64 {
	idx := flags & PerfIndexMask
	if idx == PerfCurrentCPU {
		idx = uint64(cpu)
	}
	if idx >= uint64(m.spec.MaxEntries) {
		return -int64(E2BIG)
	}
	m.mu.RLock()
	cur := m.cur
	m.mu.RUnlock()
	if cur == nil {
		return -int64(ENOENT)
	}
	r, wake := cur.rings[idx].write(data)
	if wake {
		cur.wake()
		m.wake()
	}
	return r
}

// write appends a sample, preceded by a lost-samples record if samples
// were lost since the last one, and reports whether to wake the reader.
func (r *PerfRing) write(data []byte) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := uint64(len(r.data))
	need := perfSampleSize(uint64(len(data)))
	if r.lost > 0 {
		need += perfLostSize
	}
	if r.set.opts.Overwritable {
		if need > size {
			r.lost++
			return -int64(ENOSPC), false
		}
		for size-(r.tail-r.head) < need {
			r.head += r.recordSize(r.head)
		}
	} else if need >= size-(r.tail-r.head) {
		// Linux keeps a byte free (CIRC_SPACE): a full buffer is never
		// mistaken for an empty one.
		r.lost++
		return -int64(ENOSPC), false
	}
	if r.lost > 0 {
		var rec [perfLostSize]byte
		binary.NativeEndian.PutUint32(rec[0:], PerfRecordLost)
		binary.NativeEndian.PutUint64(rec[16:], r.lost)
		r.put(r.tail, rec[:])
		r.tail += perfLostSize
		r.lost = 0
	}
	var hdr [perfHeaderSize]byte
	binary.NativeEndian.PutUint32(hdr[0:], PerfRecordSample)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(len(data)))
	r.put(r.tail, hdr[:])
	r.put(r.tail+perfHeaderSize, data)
	r.tail += perfSampleSize(uint64(len(data)))
	wake := false
	if n := r.set.opts.WakeupEvents; n > 0 {
		if r.events++; r.events >= n {
			r.events -= n
			wake = true
		}
	}
	if r.tail-r.wakeAt > r.set.watermark {
		r.wakeAt += r.set.watermark
		wake = true
	}
	return 0, wake
}

// put writes p at position pos, wrapping around.
func (r *PerfRing) put(pos uint64, p []byte) {
	off := pos % uint64(len(r.data))
	n := copy(r.data[off:], p)
	copy(r.data, p[n:])
}

// get copies len(dst) bytes at position pos into dst.
func (r *PerfRing) get(dst []byte, pos uint64) []byte {
	off := pos % uint64(len(r.data))
	n := copy(dst, r.data[off:])
	copy(dst[n:], r.data)
	return dst
}

// header returns the type and the u32 after it of the record at pos;
// headers are 8-byte aligned and never wrap.
func (r *PerfRing) header(pos uint64) (typ, n uint32) {
	off := pos % uint64(len(r.data))
	return binary.NativeEndian.Uint32(r.data[off:]), binary.NativeEndian.Uint32(r.data[off+4:])
}

func (r *PerfRing) recordSize(pos uint64) uint64 {
	typ, n := r.header(pos)
	if typ == PerfRecordLost {
		return perfLostSize
	}
	return perfSampleSize(uint64(n))
}

// CPU returns the ring's index.
func (r *PerfRing) CPU() int { return r.cpu }

// Load makes the records written so far readable by Next, as a perf
// reader loads data_head after a wake-up.
func (r *PerfRing) Load() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prev, r.snap = r.snap, r.tail
	if !r.set.opts.Overwritable {
		return
	}
	r.pending = r.pending[:0]
	for pos := r.head; pos != r.snap; pos += r.recordSize(pos) {
		if pos >= r.prev {
			r.pending = append(r.pending, pos)
		}
	}
}

// Next consumes the next record before the position of the last Load,
// appending a sample to dst. ok is false when there is none. An
// overwritable buffer returns the records the last Load found newest
// first, skipping those overwritten since, and consumes nothing: the
// records stay until overwritten.
func (r *PerfRing) Next(dst []byte) (rec PerfRecord, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pos uint64
	if r.set.opts.Overwritable {
		for {
			if len(r.pending) == 0 {
				return PerfRecord{Sample: dst}, false
			}
			pos = r.pending[len(r.pending)-1]
			r.pending = r.pending[:len(r.pending)-1]
			if pos >= r.head {
				break
			}
		}
	} else {
		if r.head == r.snap {
			return PerfRecord{Sample: dst}, false
		}
		pos = r.head
		r.head += r.recordSize(pos)
	}
	rec = r.decode(pos, dst)
	rec.Remaining = int(r.snap - r.head)
	if r.set.opts.Overwritable {
		rec.Remaining = -1
	}
	return rec, true
}

func (r *PerfRing) decode(pos uint64, dst []byte) PerfRecord {
	typ, n := r.header(pos)
	if typ == PerfRecordLost {
		var b [8]byte
		return PerfRecord{Type: typ, Sample: dst, Lost: binary.NativeEndian.Uint64(r.get(b[:], pos+16))}
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	r.get(dst[start:], pos+perfHeaderSize)
	return PerfRecord{Type: typ, Sample: dst}
}

// Next consumes the next event of the attached buffers, polling them
// round-robin and reading all that was written. It returns either
// lost > 0 (samples lost on cpu, reported where Linux reports them: before
// the next sample that fitted) or a sample appended to dst; ok is false
// when no buffer has anything.
func (m *PerfEventArrayMap) Next(dst []byte) (cpu int, sample []byte, lost uint64, ok bool) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	m.mu.RLock()
	cur := m.cur
	m.mu.RUnlock()
	if cur == nil {
		return 0, dst, 0, false
	}
	n := len(cur.rings)
	for k := range n {
		c := (m.next + k) % n
		r := cur.rings[c]
		r.Load()
		if rec, ok := r.Next(dst); ok {
			m.next = (c + 1) % n
			return c, rec.Sample, rec.Lost, true
		}
	}
	return 0, dst, 0, false
}

// Notify returns the channel that receives a value after outputs that
// wake the reader.
func (m *PerfEventArrayMap) Notify() <-chan struct{} { return m.notify }

// Iterate reports the pending samples of each attached buffer in order
// without consuming them (Entry.CPU and Entry.Value).
func (m *PerfEventArrayMap) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	m.mu.RLock()
	cur := m.cur
	m.mu.RUnlock()
	if cur == nil {
		return nil
	}
	var es []Entry
	for c, r := range cur.rings {
		r.mu.Lock()
		for pos := r.head; pos != r.tail; pos += r.recordSize(pos) {
			if rec := r.decode(pos, nil); rec.Type == PerfRecordSample {
				es = append(es, Entry{CPU: c, Value: rec.Sample})
			}
		}
		r.mu.Unlock()
	}
	for _, e := range es {
		if !yield(e) {
			break
		}
	}
	return nil
}

// NextKey iterates the indices like an array.
func (m *PerfEventArrayMap) NextKey(key, nextOut []byte) error {
	return arrayNextKey(&m.base, key, nextOut)
}

// Close detaches the buffers and wakes a waiting reader.
func (m *PerfEventArrayMap) Close() error {
	m.mu.Lock()
	m.closed.Store(true)
	m.mu.Unlock()
	m.Detach()
	return nil
}

// Closed reports whether Close was called.
func (m *PerfEventArrayMap) Closed() bool { return m.closed.Load() }
