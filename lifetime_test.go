package xebpf

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLifetimeSequences(t *testing.T) {
	errFree := errors.New("free failed")
	tests := []struct {
		name  string
		steps string // a: acquire (must succeed), A: acquire (must fail), r: release, c: close, C: close again
		frees int    // frees expected after the steps
		err   int    // index of the step whose error must be errFree, -1 for none
	}{
		{"close of an idle object frees it at once", "c", 1, 0},
		{"close with a run in progress waits for it", "ac", 0, -1},
		{"the last release after close frees", "aacrr", 1, 4},
		{"acquire after close fails and does not free again", "cA", 1, 0},
		{"acquire after close, with a run in progress, fails", "acA", 0, -1},
		{"a second close does nothing", "acCrC", 1, 3},
		{"runs before close need no free", "arar", 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lifetime
			frees := 0
			l.init(func() error { frees++; return errFree })
			for i, s := range tt.steps {
				var err error
				switch s {
				case 'a':
					if !l.acquire() {
						t.Fatalf("step %d: acquire failed", i)
					}
				case 'A':
					if l.acquire() {
						t.Fatalf("step %d: acquire of a closed object succeeded", i)
					}
				case 'r':
					err = l.release()
				case 'c', 'C':
					var first bool
					first, err = l.close()
					if first != (s == 'c') {
						t.Fatalf("step %d: close reported first=%v", i, first)
					}
				}
				if want := i == tt.err; errors.Is(err, errFree) != want {
					t.Fatalf("step %d (%c): error %v, want free's error: %v", i, s, err, want)
				}
			}
			if frees != tt.frees {
				t.Fatalf("freed %d times, want %d", frees, tt.frees)
			}
			if l.freed() != (tt.frees == 1) {
				t.Fatalf("freed() = %v", l.freed())
			}
		})
	}
}

// TestLifetimeConcurrentClose: runs acquiring and releasing while another
// goroutine closes; free runs exactly once, and never while a run that
// acquired is inside.
func TestLifetimeConcurrentClose(t *testing.T) {
	for range 200 {
		var l lifetime
		var inside, frees atomic.Int64
		var bad atomic.Bool
		l.init(func() error {
			if inside.Load() != 0 {
				bad.Store(true)
			}
			frees.Add(1)
			return nil
		})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					if !l.acquire() {
						return
					}
					inside.Add(1)
					if l.freed() {
						bad.Store(true)
					}
					inside.Add(-1)
					l.release()
				}
			}()
		}
		close(start)
		l.close()
		wg.Wait()
		if bad.Load() {
			t.Fatal("freed while a run was inside")
		}
		if n := frees.Load(); n != 1 {
			t.Fatalf("freed %d times, want 1", n)
		}
	}
}
