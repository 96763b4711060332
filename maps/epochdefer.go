package maps

import (
	"sync"
	"time"
)

// deferQueue holds the callbacks of Defer, in the order they were
// deferred, each tagged with the epoch current then (nondecreasing).
type deferQueue struct {
	mu      sync.Mutex
	idle    sync.Cond // signalled when the queue empties; L is mu
	q       []deferred
	running bool // a drain goroutine is running
}

type deferred struct {
	tag uint64
	f   func()
}

// Defer runs f, on a goroutine of its own, once every run that entered
// the epoch before Defer was called has exited: the counterpart of the
// kernel's call_rcu. Maps of maps use it to drop a slot's reference on
// an inner map that runs in flight may still be using. f must not block.
func (e *Epoch) Defer(f func()) {
	d := &e.def
	d.mu.Lock()
	d.q = append(d.q, deferred{tag: e.current(), f: f})
	start := !d.running
	d.running = true
	d.mu.Unlock()
	if start {
		go e.drain()
	}
}

// Barrier waits until no callback of Defer is pending, also those the
// callbacks themselves defer: the counterpart of the kernel's
// rcu_barrier. Runs that never end make it wait for ever.
func (e *Epoch) Barrier() {
	d := &e.def
	d.mu.Lock()
	if d.idle.L == nil {
		d.idle.L = &d.mu
	}
	for d.running {
		d.idle.Wait()
	}
	d.mu.Unlock()
}

// Pending returns the number of callbacks of Defer not yet run.
func (e *Epoch) Pending() int {
	d := &e.def
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.q)
}

// drain runs the deferred callbacks whose grace period is over, moving
// the epoch forward, until the queue is empty.
func (e *Epoch) drain() {
	d := &e.def
	wait := 20 * time.Microsecond
	var batch []deferred
	for {
		d.mu.Lock()
		if len(d.q) == 0 {
			d.running = false
			if d.idle.L != nil {
				d.idle.Broadcast()
			}
			d.mu.Unlock()
			return
		}
		cur := e.tryAdvance()
		n := 0
		for n < len(d.q) && safe(d.q[n].tag, cur) {
			n++
		}
		batch = append(batch[:0], d.q[:n]...)
		rest := copy(d.q, d.q[n:])
		clear(d.q[rest:])
		d.q = d.q[:rest]
		d.mu.Unlock()
		for i := range batch {
			batch[i].f()
			batch[i].f = nil
		}
		if n > 0 {
			wait = 20 * time.Microsecond
			continue
		}
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Millisecond)
	}
}
