package maps

import "sync/atomic"

// Epoch tracks program runs so that map slots released during a run are
// reused only after every run that might still hold a pointer to them has
// finished (epoch-based reclamation, the counterpart of the kernel's RCU).
//
// A run brackets itself with Enter and Exit:
//
//	e := maps.DefaultEpoch().Enter()
//	defer maps.DefaultEpoch().Exit(e)
//
// Both are allocation-free and lock-free. The zero value is ready to use.
type Epoch struct {
	cur    atomic.Uint64
	_      [56]byte
	active [3]paddedCounter
	def    deferQueue // Defer's callbacks (epochdefer.go)
}

type paddedCounter struct {
	n atomic.Int64
	_ [56]byte
}

// EpochToken identifies the epoch a run entered; pass it to Exit.
type EpochToken uint64

var defaultEpoch = new(Epoch)

// DefaultEpoch returns the epoch domain shared by all maps of the process.
func DefaultEpoch() *Epoch { return defaultEpoch }

// Enter marks the start of a run that may dereference map values.
func (e *Epoch) Enter() EpochToken {
	for {
		c := e.cur.Load()
		e.active[c%3].n.Add(1)
		if e.cur.Load() == c {
			return EpochToken(c)
		}
		// The epoch moved between the load and the increment; the
		// reclaimer may not have seen us, so register again.
		e.active[c%3].n.Add(-1)
	}
}

// Exit marks the end of the run that Enter returned t for.
func (e *Epoch) Exit(t EpochToken) { e.active[uint64(t)%3].n.Add(-1) }

// current returns the epoch to tag a released slot with.
func (e *Epoch) current() uint64 { return e.cur.Load() }

// tryAdvance moves the epoch forward as far as it can (at most two steps)
// and returns the new value. Epoch c+1 may start once no run of epoch c-1
// remains, so runs in flight always belong to cur-1 or cur.
func (e *Epoch) tryAdvance() uint64 {
	for range 2 {
		c := e.cur.Load()
		if e.active[(c+2)%3].n.Load() != 0 { // (c-1) mod 3
			return c
		}
		e.cur.CompareAndSwap(c, c+1)
	}
	return e.cur.Load()
}

// safe reports whether a slot released at epoch tag can be reused when the
// epoch is cur: every run that could see it has exited.
func safe(tag, cur uint64) bool { return cur >= tag+2 }
