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

// PerfEventArrayMap is a BPF_MAP_TYPE_PERF_EVENT_ARRAY map: one sample
// buffer per index (per CPU), which a reader attaches, as a perf event is
// attached to each index on Linux. Samples that do not fit are counted as
// lost and reported to the reader.
type PerfEventArrayMap struct {
	base
	mu     sync.RWMutex // guards bufs (attach and detach)
	bufs   []*perfBuf
	notify chan struct{}
	rmu    sync.Mutex // consumers
	next   int        // CPU the reader polls next
}

type perfBuf struct {
	mu   sync.Mutex
	data []byte
	head uint64 // read position
	tail uint64 // write position
	lost uint64
}

func newPerf(s0 Spec, id uint32) (*PerfEventArrayMap, error) {
	return &PerfEventArrayMap{base: base{spec: s0, id: id}, notify: make(chan struct{}, 1)}, nil
}

// Attach gives every index a buffer of perCPUBytes bytes (rounded up to a
// multiple of 8), replacing earlier ones.
func (m *PerfEventArrayMap) Attach(perCPUBytes int) error {
	if perCPUBytes < 16 || perCPUBytes > MaxPerfBuffer {
		return fmt.Errorf("per-CPU buffer of %d bytes: %w", perCPUBytes, ErrInvalid)
	}
	n := int(roundup8(uint64(perCPUBytes)))
	bufs := make([]*perfBuf, m.spec.MaxEntries)
	for i := range bufs {
		bufs[i] = &perfBuf{data: make([]byte, n)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	m.bufs = bufs
	return nil
}

// Detach removes the buffers; outputs then fail with -ENOENT.
func (m *PerfEventArrayMap) Detach() {
	m.mu.Lock()
	m.bufs = nil
	m.mu.Unlock()
	m.wake()
}

func (m *PerfEventArrayMap) wake() {
	select {
	case m.notify <- struct{}{}:
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
	if m.bufs == nil {
		m.mu.RUnlock()
		return -int64(ENOENT)
	}
	b := m.bufs[idx]
	m.mu.RUnlock()
	need := roundup8(uint64(len(data)) + 8)
	b.mu.Lock()
	size := uint64(len(b.data))
	if need > size-(b.tail-b.head) {
		b.lost++
		b.mu.Unlock()
		return -int64(ENOSPC)
	}
	var hdr [8]byte
	binary.NativeEndian.PutUint32(hdr[:], uint32(len(data)))
	b.put(hdr[:])
	b.put(data)
	b.tail = b.tail - uint64(len(data)) - 8 + need
	b.mu.Unlock()
	m.wake()
	return 0
}

// put writes p at the tail, wrapping around, and advances the tail.
func (b *perfBuf) put(p []byte) {
	off := b.tail % uint64(len(b.data))
	n := copy(b.data[off:], p)
	copy(b.data, p[n:])
	b.tail += uint64(len(p))
}

// get copies n bytes at position pos into dst.
func (b *perfBuf) get(dst []byte, pos uint64) []byte {
	off := pos % uint64(len(b.data))
	end := off + uint64(len(dst))
	if end <= uint64(len(b.data)) {
		copy(dst, b.data[off:end])
	} else {
		n := copy(dst, b.data[off:])
		copy(dst[n:], b.data)
	}
	return dst
}

// Next consumes the next event, polling the buffers round-robin. It
// returns either lost > 0 (samples lost on cpu since the last report) or
// a sample appended to dst; ok is false when no buffer has anything.
func (m *PerfEventArrayMap) Next(dst []byte) (cpu int, sample []byte, lost uint64, ok bool) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := len(m.bufs)
	for k := range n {
		c := (m.next + k) % n
		b := m.bufs[c]
		b.mu.Lock()
		if b.lost > 0 {
			lost, b.lost = b.lost, 0
			b.mu.Unlock()
			m.next = (c + 1) % n
			return c, dst, lost, true
		}
		if b.head == b.tail {
			b.mu.Unlock()
			continue
		}
		var hdr [8]byte
		l := uint64(binary.NativeEndian.Uint32(b.get(hdr[:], b.head)))
		start := len(dst)
		dst = append(dst, make([]byte, l)...)
		b.get(dst[start:], b.head+8)
		b.head += roundup8(l + 8)
		b.mu.Unlock()
		m.next = (c + 1) % n
		return c, dst, 0, true
	}
	return 0, dst, 0, false
}

// Notify returns the channel that receives a value after outputs.
func (m *PerfEventArrayMap) Notify() <-chan struct{} { return m.notify }

// Iterate reports the pending samples of each buffer in order without
// consuming them (Entry.CPU and Entry.Value).
func (m *PerfEventArrayMap) Iterate(yield func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	var es []Entry
	m.mu.RLock()
	for c, b := range m.bufs {
		b.mu.Lock()
		for pos := b.head; pos != b.tail; {
			var hdr [8]byte
			l := uint64(binary.NativeEndian.Uint32(b.get(hdr[:], pos)))
			es = append(es, Entry{CPU: c, Value: b.get(make([]byte, l), pos+8)})
			pos += roundup8(l + 8)
		}
		b.mu.Unlock()
	}
	m.mu.RUnlock()
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
	m.closed.Store(true)
	m.Detach()
	return nil
}

// Closed reports whether Close was called.
func (m *PerfEventArrayMap) Closed() bool { return m.closed.Load() }
