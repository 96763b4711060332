package xebpf

import "sync/atomic"

// lifetime counts the references to an object whose off-heap memory runs
// may reach, and frees the object when the last reference is dropped after
// close. The references are the object's open handle (one, dropped by
// close), the runs or operations in progress on it, and its children not
// yet freed (a Program and a Map hold one on their Collection, a Runner
// one on its Program), so each run touches only the counter of the object
// it runs on: one atomic add to enter, one to leave.
//
// The count lives in the low bits of one word, with a closed bit and a
// freed bit above it. Once closed, acquire fails; an acquire racing with
// close may increment the count after the closed bit is set, sees the bit
// and gives its reference back, so the count can pass through zero more
// than once, and the freed bit makes sure free runs once.
type lifetime struct {
	n    atomic.Int64
	free func() error
}

const (
	lifeClosed = 1 << 62
	lifeFreed  = 1 << 61
)

// init sets the open reference and what frees the object.
func (l *lifetime) init(free func() error) {
	l.n.Store(1)
	l.free = free
}

// acquire takes a reference for a run; it fails once the object is closed.
func (l *lifetime) acquire() bool {
	if l.n.Add(1)&lifeClosed == 0 {
		return true
	}
	l.release()
	return false
}

// release drops a reference. The release that drops the last reference
// of a closed object frees it and returns free's error.
func (l *lifetime) release() error {
	if l.n.Add(-1) == lifeClosed && l.n.CompareAndSwap(lifeClosed, lifeClosed|lifeFreed) {
		return l.free()
	}
	return nil
}

// close marks the object closed, so that acquire fails, and drops the open
// reference: the object is freed now if nothing else holds it, else by the
// last release. It reports whether this call closed the object (false if
// it was closed already) and returns free's error if it freed it.
func (l *lifetime) close() (bool, error) {
	if l.n.Or(lifeClosed)&lifeClosed != 0 {
		return false, nil
	}
	return true, l.release()
}

// freed reports whether the object was freed.
func (l *lifetime) freed() bool { return l.n.Load()&lifeFreed != 0 }

// acquireLive takes a reference unless the object was freed: unlike
// acquire it succeeds after close, for objects (Variables) that keep
// using memory their collection frees only when nothing holds it.
func (l *lifetime) acquireLive() bool {
	if l.n.Add(1)&lifeFreed == 0 {
		return true
	}
	// Freed: the count was zero and stays unused; no release, which
	// would free again.
	l.n.Add(-1)
	return false
}
