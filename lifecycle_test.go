package xebpf_test

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/maps"
)

// busySource is a program that touches every kind of memory a run can
// reach: a hash map, a ring buffer, a read-only global, an inner map
// through a map-in-map, and another program through a tail call.
const busySource = `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};
struct inner inner0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = {[0] = &inner0},
};

int leaf(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = {[0] = (void *)&leaf},
};

const volatile __u32 rounds = 32;

SEC("raw")
int entry(void *ctx)
{
	for (__u32 i = 0; i < rounds; i++) {
		__u32 k = i & 63;
		__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &k);
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
		__u64 *rec = bpf_ringbuf_reserve(&events, 8, 0);
		if (rec) {
			*rec = i;
			bpf_ringbuf_submit(rec, 1); /* BPF_RB_NO_WAKEUP */
		}
	}
	bpf_tail_call(ctx, &jumps, 0);
	return 1; /* the tail call failed */
}

SEC("raw")
int leaf(void *ctx)
{
	__u32 k = 0;
	void *in = bpf_map_lookup_elem(&outer, &k);
	if (!in)
		return 2;
	__u64 *v = bpf_map_lookup_elem(in, &k);
	if (!v)
		return 2;
	__sync_fetch_and_add(v, 1);
	return 3;
}
char LICENSE[] SEC("license") = "GPL";
`

// checkFreed fails t unless the off-heap blocks return to before. Closing
// frees every block the closed objects track at once; run states a
// sync.Pool dropped (the race detector makes it drop some at random) are
// freed by their cleanups after a garbage collection, so checkFreed
// collects garbage while it waits for them.
func checkFreed(t *testing.T, before int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for platform.Live() != before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if after := platform.Live(); after != before {
		t.Fatalf("%d off-heap blocks left after the runs ended", after-before)
	}
}

// busyIterations is how many collections the close-during-runs tests
// close under load.
func busyIterations() int {
	switch {
	case testing.Short():
		return 5
	case raceEnabled:
		return 20
	}
	return 60
}

// workers runs programs and map operations of a collection on goroutines
// until they fail, and checks that every failure is ErrClosed.
type workers struct {
	t    *testing.T
	wg   sync.WaitGroup
	ok   atomic.Int64 // successful operations
	stop chan struct{}
}

func newWorkers(t *testing.T) *workers { return &workers{t: t, stop: make(chan struct{})} }

// loop calls op until it fails or the workers stop; a failure must be
// ErrClosed.
func (w *workers) loop(name string, op func() error) { w.loopThen(name, op, func() {}) }

// loopThen is loop, calling done at the end on the worker's goroutine.
func (w *workers) loopThen(name string, op func() error, done func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer done()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if err := op(); err != nil {
				if !errors.Is(err, xebpf.ErrClosed) {
					w.t.Errorf("%s: %v, want success or ErrClosed", name, err)
				}
				return
			}
			w.ok.Add(1)
		}
	}()
}

// waitFor waits until the workers have succeeded n more times, so that a
// close that follows overlaps their runs.
func (w *workers) waitFor(n int64) {
	target := w.ok.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for w.ok.Load() < target {
		if time.Now().After(deadline) {
			w.t.Fatalf("workers made no progress")
		}
		time.Sleep(10 * time.Microsecond)
	}
}

// end stops the workers that have not failed and waits for all of them.
func (w *workers) end() {
	close(w.stop)
	w.wg.Wait()
}

// runner is what runs a program: a *xebpf.Program or a *xebpf.Runner.
type runner interface {
	Run(*xebpf.RunOptions) (uint32, error)
}

// runEntry returns an operation running p (a program or a Runner),
// checking its result.
func runEntry(p runner, want uint32) func() error {
	ctx := make([]byte, 8)
	return func() error {
		ret, err := p.Run(&xebpf.RunOptions{Context: ctx})
		if err == nil && ret != want {
			return errors.New("unexpected return value")
		}
		return err
	}
}

// startBusy starts, on c, runs of both programs through Program.Run and a
// Runner (closed by its goroutine once its runs fail), Go-side updates and
// lookups, and a ring buffer consumer.
func startBusy(t *testing.T, c *xebpf.Collection, w *workers) {
	for range 2 {
		w.loop("Program.Run(entry)", runEntry(c.Programs["entry"], 3))
	}
	w.loop("Program.Run(leaf)", runEntry(c.Programs["leaf"], 3))
	r, err := c.Programs["entry"].NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	w.loopThen("Runner.Run(entry)", runEntry(r, 3), func() { r.Close() })
	counts := c.Maps["counts"]
	w.loop("Map.Update", func() error { return counts.Update(uint32(100), uint64(1), maps.UpdateAny) })
	w.loop("Map.Lookup", func() error {
		var v uint64
		err := counts.Lookup(uint32(0), &v)
		if errors.Is(err, maps.ErrKeyNotExist) {
			return nil
		}
		return err
	})
	rb := c.Maps["events"].Underlying().(*maps.RingBufMap)
	w.wg.Add(1)
	go func() { // the consumer reads the raw map, safe against its Close
		defer w.wg.Done()
		buf := make([]byte, 0, 64)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if _, ok := rb.Next(buf[:0]); !ok {
				if rb.Closed() {
					return
				}
				time.Sleep(time.Microsecond)
			}
		}
	}()
}

func loadBusy(t *testing.T) *xebpf.CollectionSpec {
	t.Helper()
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "busy", busySource))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestCollectionCloseDuringRuns: the common "defer objs.Close()" with
// worker goroutines still running. Every run either succeeds or returns
// ErrClosed; none crashes; once the runs have ended, all off-heap memory
// is freed.
func TestCollectionCloseDuringRuns(t *testing.T) {
	spec := loadBusy(t)
	before := platform.Live()
	for range busyIterations() {
		c, err := xebpf.NewCollection(spec)
		if err != nil {
			t.Fatal(err)
		}
		w := newWorkers(t)
		startBusy(t, c, w)
		w.waitFor(50)
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Every operation fails from now on; the workers end by themselves
		// (stop is only a safety net for the ring buffer consumer).
		if _, err := c.Programs["entry"].Run(&xebpf.RunOptions{Context: make([]byte, 8)}); !errors.Is(err, xebpf.ErrClosed) {
			t.Fatalf("run after Close: %v, want ErrClosed", err)
		}
		if err := c.Maps["counts"].Update(uint32(1), uint64(1), maps.UpdateAny); !errors.Is(err, xebpf.ErrClosed) {
			t.Fatalf("update after Close: %v, want ErrClosed", err)
		}
		if _, err := c.Programs["leaf"].NewRunner(); !errors.Is(err, xebpf.ErrClosed) {
			t.Fatalf("NewRunner after Close: %v, want ErrClosed", err)
		}
		w.wg.Wait()
		close(w.stop)
		checkFreed(t, before)
	}
}

// TestProgramCloseDuringRuns: closing one program fails its later runs
// with ErrClosed and leaves the collection's other programs running; a
// tail call into a closed program still works, as Linux keeps a program
// array's programs alive.
func TestProgramCloseDuringRuns(t *testing.T) {
	spec := loadBusy(t)
	before := platform.Live()
	for _, closed := range []string{"entry", "leaf"} {
		t.Run(closed, func(t *testing.T) {
			for range busyIterations() / 2 {
				c, err := xebpf.NewCollection(spec)
				if err != nil {
					t.Fatal(err)
				}
				other := map[string]string{"entry": "leaf", "leaf": "entry"}[closed]
				failing, running := newWorkers(t), newWorkers(t)
				failing.loop("Program.Run("+closed+")", runEntry(c.Programs[closed], 3))
				r, err := c.Programs[closed].NewRunner()
				if err != nil {
					t.Fatal(err)
				}
				failing.loopThen("Runner.Run("+closed+")", runEntry(r, 3), func() { r.Close() })
				running.loop("Program.Run("+other+")", runEntry(c.Programs[other], 3))
				failing.waitFor(20)
				if err := c.Programs[closed].Close(); err != nil {
					t.Fatal(err)
				}
				failing.wg.Wait() // each ended with ErrClosed
				running.waitFor(20)
				running.end()
				if running.ok.Load() == 0 {
					t.Fatalf("%s made no run", other)
				}
				if err := c.Programs[closed].Close(); err != nil {
					t.Fatalf("second Close: %v", err)
				}
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				close(failing.stop)
			}
		})
	}
	checkFreed(t, before)
}

// TestRunnerOutlivesCollection: a Runner running while its collection
// is closed finishes its run, then gets ErrClosed; the memory it runs in
// stays until the Runner is closed, and closing it frees everything.
func TestRunnerOutlivesCollection(t *testing.T) {
	spec := loadBusy(t)
	before := platform.Live()
	for range busyIterations() {
		c, err := xebpf.NewCollection(spec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Programs["entry"].NewRunner()
		if err != nil {
			t.Fatal(err)
		}
		w := newWorkers(t)
		w.loop("Runner.Run", runEntry(r, 3))
		w.waitFor(3)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		w.wg.Wait() // the runner's runs end with ErrClosed
		close(w.stop)
		if _, err := r.Run(nil); !errors.Is(err, xebpf.ErrClosed) {
			t.Fatalf("run of a closed collection's runner: %v, want ErrClosed", err)
		}
		if platform.Live() == before {
			t.Fatal("the collection's memory was freed while a Runner could still run in it")
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		// Freed by Close, not by a cleanup: no waiting.
		if after := platform.Live(); after != before {
			t.Fatalf("%d off-heap blocks left after the runner's Close", after-before)
		}
	}
}

// TestMapCloseKeepsMemoryForPrograms: a closed Map refuses Go-side
// operations, while the collection's programs keep using the map's memory.
func TestMapCloseKeepsMemoryForPrograms(t *testing.T) {
	c, err := xebpf.NewCollection(loadBusy(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := newWorkers(t)
	w.loop("Program.Run(entry)", runEntry(c.Programs["entry"], 3))
	w.waitFor(10)
	counts := c.Maps["counts"]
	raw := counts.Underlying()
	if err := counts.Close(); err != nil {
		t.Fatal(err)
	}
	w.waitFor(50) // the program still updates counts
	w.end()
	if n := w.ok.Load(); n < 60 {
		t.Fatalf("%d runs", n)
	}
	var v uint64
	if err := counts.Lookup(uint32(0), &v); !errors.Is(err, xebpf.ErrClosed) {
		t.Fatalf("Lookup of a closed map: %v, want ErrClosed", err)
	}
	if err := counts.Update(uint32(0), uint64(0), maps.UpdateAny); !errors.Is(err, xebpf.ErrClosed) {
		t.Fatalf("Update of a closed map: %v, want ErrClosed", err)
	}
	if err := counts.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	val := make([]byte, 8)
	if err := raw.Lookup(make([]byte, 4), val); err != nil {
		t.Fatalf("the map's memory is gone while the collection is open: %v", err)
	}
}

// TestDroppedRunnerIsFreed: a Runner dropped without Close is freed by a
// cleanup once the garbage collector finds it unreachable, without
// waiting for its program to be closed.
func TestDroppedRunnerIsFreed(t *testing.T) {
	c, err := xebpf.NewCollection(loadBusy(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := platform.Live()
	func() {
		r, err := c.Programs["leaf"].NewRunner()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(&xebpf.RunOptions{Context: make([]byte, 8)}); err != nil {
			t.Fatal(err)
		}
	}()
	if platform.Live() == base {
		t.Fatal("the runner allocated nothing")
	}
	checkFreed(t, base)
}
