package maps

import (
	"sync"

	"github.com/xebpf/xebpf/internal/platform"
)

// arena is one off-heap block of fixed-size slots with a free list and a
// limbo list of released slots waiting for the epoch to pass.
type arena struct {
	mem    *platform.Memory
	buf    []byte
	base   uintptr
	stride int
	n      int
	epoch  *Epoch

	mu    sync.Mutex
	free  []int32
	limbo []limboSlot
	head  int // first live index in limbo
	// stolen counts slots reused before their grace period ended.
	stolen int
	strict bool // tests: fail with ENOMEM rather than reuse or overwrite early
}

type limboSlot struct {
	slot int32
	tag  uint64
}

// newArena allocates n slots of stride bytes (stride a multiple of 8).
func newArena(n, stride int, ep *Epoch) (*arena, error) {
	mem, err := platform.Alloc(n * stride)
	if err != nil {
		return nil, err
	}
	a := &arena{mem: mem, buf: mem.Bytes(), base: mem.Addr(), stride: stride, n: n, epoch: ep}
	a.free = make([]int32, n)
	for i := range a.free {
		a.free[i] = int32(n - 1 - i) // pop order 0, 1, 2...
	}
	return a, nil
}

// slot returns the bytes of slot i.
func (a *arena) slot(i int32) []byte {
	off := int(i) * a.stride
	return a.buf[off : off+a.stride : off+a.stride]
}

// addr returns the address of slot i.
func (a *arena) addr(i int32) uintptr { return a.base + uintptr(i)*uintptr(a.stride) }

// alloc takes a free slot, reclaiming limbo slots whose grace period is
// over. It returns -1 when every spare slot is still in limbo.
func (a *arena) alloc() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.free) == 0 {
		a.reclaimLocked()
		if len(a.free) == 0 {
			return -1
		}
	}
	i := a.free[len(a.free)-1]
	a.free = a.free[:len(a.free)-1]
	return i
}

// steal takes the slot that has waited longest in limbo although its
// grace period may not be over, or returns -1. Kernel preallocated hash
// maps reuse freed elements at once; this is the fallback when every
// spare slot is held by runs still in flight.
func (a *arena) steal() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.head == len(a.limbo) || a.strict {
		return -1
	}
	i := a.limbo[a.head].slot
	a.head++
	a.stolen++
	return i
}

// release puts slot i in limbo; it is reused after the epoch has passed.
func (a *arena) release(i int32) {
	a.mu.Lock()
	a.limbo = append(a.limbo, limboSlot{i, a.epoch.current()})
	a.mu.Unlock()
}

func (a *arena) reclaimLocked() {
	if a.head == len(a.limbo) {
		return
	}
	cur := a.epoch.tryAdvance()
	for a.head < len(a.limbo) && safe(a.limbo[a.head].tag, cur) {
		a.free = append(a.free, a.limbo[a.head].slot)
		a.head++
	}
	if a.head == len(a.limbo) {
		a.limbo, a.head = a.limbo[:0], 0
	} else if a.head > len(a.limbo)/2 {
		n := copy(a.limbo, a.limbo[a.head:])
		a.limbo, a.head = a.limbo[:n], 0
	}
}

// inLimbo reports whether slot i waits for reclamation (for tests).
func (a *arena) inLimbo(i int32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.limbo[a.head:] {
		if l.slot == i {
			return true
		}
	}
	return false
}

func (a *arena) region() Region { return Region{Addr: a.base, Size: a.n * a.stride} }

func (a *arena) close() error {
	if a == nil {
		return nil
	}
	return a.mem.Free()
}
