package xebpf

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf/maps"
)

// cpuSlots hands out per-CPU map slots: a run holds one for its whole
// duration and no other run uses it meanwhile, as a kernel program keeps
// its CPU with preemption disabled.
type cpuSlots struct {
	n    int
	used []atomic.Uint64 // bitmap
	next atomic.Uint32
}

// processCPUs are the CPU slots of every collection: maps may be shared
// between collections (MapReplacements), and a per-CPU value must have
// one writer at a time, whichever collection's program runs.
var processCPUs = sync.OnceValue(func() *cpuSlots { return newCPUSlots(maps.NumCPU()) })

func newCPUSlots(n int) *cpuSlots {
	return &cpuSlots{n: n, used: make([]atomic.Uint64, (n+63)/64)}
}

// acquire takes slot want if it is in range, else any free slot, waiting
// while all are taken.
func (s *cpuSlots) acquire(want int) int {
	if want < 0 || want >= s.n {
		want = int(s.next.Add(1)) % s.n
	}
	for spins := 0; ; spins++ {
		for i := 0; i < s.n; i++ {
			cpu := (want + i) % s.n
			w := &s.used[cpu/64]
			bit := uint64(1) << (cpu % 64)
			old := w.Load()
			if old&bit == 0 && w.CompareAndSwap(old, old|bit) {
				return cpu
			}
		}
		runtime.Gosched()
	}
}

func (s *cpuSlots) release(cpu int) {
	w := &s.used[cpu/64]
	bit := uint64(1) << (cpu % 64)
	for {
		old := w.Load()
		if w.CompareAndSwap(old, old&^bit) {
			return
		}
	}
}
