package xebpf_test

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/maps"
)

// innerSource has an array of maps and a hash of maps of 4 slots each,
// whose inner maps are arrays of 4 u64. touch adds 1 to element 0 of the
// inner map of each slot (keys 0 to 3) of both and returns how many inner
// maps it found; inner0 is a map of the object that fits the slots.
const innerSource = `#include "xebpf/bpf.h"
struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};
struct inner inner0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} aom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} hom SEC(".maps");

static __always_inline int bump(void *outer, __u32 k)
{
	__u32 zero = 0;
	void *in = bpf_map_lookup_elem(outer, &k);
	if (!in)
		return 0;
	__u64 *v = bpf_map_lookup_elem(in, &zero);
	if (!v)
		return 0;
	__sync_fetch_and_add(v, 1);
	return 1;
}

SEC("raw")
int touch(void *ctx)
{
	int n = 0;
	for (__u32 k = 0; k < 4; k++) {
		n += bump(&aom, k);
		n += bump(&hom, k);
	}
	return n;
}
char LICENSE[] SEC("license") = "GPL";
`

// innerSpec is the MapSpec of a map that fits innerSource's slots.
var innerSpec = &xebpf.MapSpec{Name: "fresh", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}

// innerCollection loads innerSource, in checked mode if checked, and
// checks the mode.
func innerCollection(t testing.TB, spec *xebpf.CollectionSpec, checked bool) *xebpf.Collection {
	t.Helper()
	c, err := xebpf.NewCollectionWithOptions(spec.Copy(), xebpf.CollectionOptions{Checked: checked})
	if err != nil {
		t.Fatal(err)
	}
	want := interp.Fast
	if checked {
		want = interp.Checked
	}
	if got := c.Programs["touch"].Interp().Mode(); got != want {
		t.Fatalf("touch runs in %s mode, want %s", got, want)
	}
	return c
}

// innerValue returns element 0 of the inner map in slot key of outer, read
// through the slot (the inner map's own handle may be closed).
func innerValue(t testing.TB, outer *xebpf.Map, key uint32) uint64 {
	t.Helper()
	in, err := outer.Underlying().(maps.MapOfMaps).GetMap(binaryKey(key))
	if err != nil {
		t.Fatalf("slot %d: %v", key, err)
	}
	v := make([]byte, 8)
	if err := in.Lookup(binaryKey(0), v); err != nil {
		t.Fatal(err)
	}
	return binary.NativeEndian.Uint64(v)
}

// waitFreed waits for the references dropped slots held to be released
// and checks that the memory of each map's collection is given back.
func waitFreed(t testing.TB, what string, ms ...*xebpf.Map) {
	t.Helper()
	maps.DefaultEpoch().Barrier()
	for _, m := range ms {
		if got := xebpf.MapMemoryUsed(m); got != 0 {
			t.Errorf("%s: map %s: its collection still uses %d bytes", what, m, got)
		}
	}
}

// TestInnerMapOfAnotherCollection: a map of maps holds a NewMap and a map
// of another object after their handles (and that object) are closed, and
// programs, fast and checked, reach them; replacing the slot, deleting it
// (Delete, LookupAndDelete, BatchDelete) or freeing the outer map frees
// them, once the references are released after the runs' grace period.
func TestInnerMapOfAnotherCollection(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	// take puts a fresh inner map (a NewMap, or inner0 of another object
	// if fromObject) in slot key of outer and closes its handle (and the
	// other object).
	take := func(t *testing.T, outer *xebpf.Map, key uint32, fromObject bool) *xebpf.Map {
		t.Helper()
		if fromObject {
			d, err := xebpf.NewCollection(spec.Copy())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			in := d.Maps["inner0"]
			if err := outer.Put(key, in); err != nil {
				t.Fatal(err)
			}
			return in
		}
		in, err := xebpf.NewMap(innerSpec)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if err := outer.Put(key, in); err != nil {
			t.Fatal(err)
		}
		return in
	}
	for _, tc := range []struct {
		name   string
		outer  string
		remove func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32)
	}{
		{"aom replace", "aom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			if err := outer.Put(key, c.Maps["inner0"]); err != nil {
				t.Fatal(err)
			}
		}},
		{"hom replace", "hom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			if err := outer.Update(key, c.Maps["inner0"], xebpf.UpdateExist); err != nil {
				t.Fatal(err)
			}
		}},
		{"aom delete", "aom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			if err := outer.Delete(key); err != nil {
				t.Fatal(err)
			}
		}},
		{"hom delete", "hom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			if err := outer.Delete(key); err != nil {
				t.Fatal(err)
			}
		}},
		{"hom lookup and delete", "hom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			var id uint32
			if err := outer.LookupAndDelete(key, &id); err != nil {
				t.Fatal(err)
			}
		}},
		{"hom batch delete", "hom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			if n, err := outer.BatchDelete([]uint32{key}, nil); n != 1 || err != nil {
				t.Fatalf("BatchDelete = %d, %v", n, err)
			}
		}},
		{"aom close", "aom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			c.Close()
		}},
		{"hom close", "hom", func(t *testing.T, c *xebpf.Collection, outer *xebpf.Map, key uint32) {
			c.Close()
		}},
	} {
		for _, checked := range []bool{false, true} {
			for _, fromObject := range []bool{false, true} {
				name := tc.name
				if checked {
					name += " checked"
				}
				if fromObject {
					name += " object"
				}
				t.Run(name, func(t *testing.T) {
					c := innerCollection(t, spec, checked)
					defer c.Close()
					outer := c.Maps[tc.outer]
					const key = 2
					in := take(t, outer, key, fromObject)
					if err := in.Put(uint32(0), uint64(0)); !errors.Is(err, xebpf.ErrClosed) {
						t.Fatalf("Put on the closed inner map's handle = %v, want ErrClosed", err)
					}
					for i := 1; i <= 3; i++ {
						n, err := c.Programs["touch"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
						if err != nil || n != 1 {
							t.Fatalf("run %d = %d, %v; want 1 inner map found", i, n, err)
						}
						if v := innerValue(t, outer, key); v != uint64(i) {
							t.Fatalf("after run %d the inner map holds %d", i, v)
						}
					}
					maps.DefaultEpoch().Barrier()
					if xebpf.MapMemoryUsed(in) == 0 {
						t.Fatal("the inner map in a slot was freed")
					}
					tc.remove(t, c, outer, key)
					waitFreed(t, "out of its slot", in)
				})
			}
		}
	}
}

// TestInnerMapBatchUpdate: BatchUpdate of a map of maps takes inner maps,
// of other collections too, each put in its slot; it stops at the first
// that does not fit.
func TestInnerMapBatchUpdate(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	c := innerCollection(t, spec, false)
	defer c.Close()
	var ins []*xebpf.Map
	for range 3 {
		in, err := xebpf.NewMap(innerSpec)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	wide, err := xebpf.NewMap(&xebpf.MapSpec{Type: xebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	for _, tc := range []struct {
		outer string
		keys  []uint32
		vals  []*xebpf.Map
		n     int
		err   error
	}{
		{"aom", []uint32{0, 1, 2}, ins, 3, nil},
		{"hom", []uint32{0, 1, 2}, ins, 3, nil},
		{"hom", []uint32{3, 9}, []*xebpf.Map{ins[0], wide}, 1, maps.ErrInvalid},
		{"aom", []uint32{0}, ins, 0, nil},
	} {
		n, err := c.Maps[tc.outer].BatchUpdate(tc.keys, tc.vals, nil)
		if tc.n == 0 && tc.err == nil {
			if err == nil {
				t.Errorf("%s: BatchUpdate of 1 key and 3 maps succeeded", tc.outer)
			}
			continue
		}
		if n != tc.n || !errors.Is(err, tc.err) {
			t.Fatalf("%s: BatchUpdate = %d, %v; want %d, %v", tc.outer, n, err, tc.n, tc.err)
		}
	}
	for _, in := range ins {
		in.Close()
	}
	n, err := c.Programs["touch"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
	if err != nil || n != 7 {
		t.Fatalf("run = %d, %v; want 7 inner maps (3 of the array of maps, 3 + 1 of the failed batch of the hash of maps)", n, err)
	}
	c.Close()
	waitFreed(t, "the outer maps closed", ins...)
}

// TestInnerMapChurn: programs, fast and checked, look up inner maps and
// write into them in a loop while other goroutines put fresh inner maps
// (NewMaps, and maps of objects loaded and closed at once) in the slots,
// close their handles right after, delete slots, and finally close the
// outer collection under the runs. Nothing may fault (a freed inner map
// a run still used would), and every inner map's memory is given back.
func TestInnerMapChurn(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	for _, checked := range []bool{false, true} {
		name := "fast"
		if checked {
			name = "checked"
		}
		t.Run(name, func(t *testing.T) {
			c := innerCollection(t, spec, checked)
			defer c.Close()
			var (
				mu     sync.Mutex
				made   []*xebpf.Map
				found  atomic.Int64
				runs   atomic.Int64
				stop   atomic.Bool
				wg     sync.WaitGroup
				errsMu sync.Mutex
				errs   []error
			)
			fail := func(err error) {
				errsMu.Lock()
				errs = append(errs, err)
				errsMu.Unlock()
			}
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := c.Programs["touch"].NewRunner()
					if err != nil {
						fail(err)
						return
					}
					defer r.Close()
					for !stop.Load() {
						n, err := r.Run(&xebpf.RunOptions{Context: make([]byte, 8)})
						if errors.Is(err, xebpf.ErrClosed) {
							return
						}
						if err != nil {
							fail(err)
							return
						}
						runs.Add(1)
						found.Add(int64(n))
					}
				}()
			}
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					for i := 0; !stop.Load(); i++ {
						outer := c.Maps[[]string{"aom", "hom"}[rng.IntN(2)]]
						key := uint32(rng.IntN(4))
						if rng.IntN(4) == 0 {
							err := outer.Delete(key)
							if err != nil && !errors.Is(err, xebpf.ErrKeyNotExist) && !errors.Is(err, xebpf.ErrClosed) {
								fail(err)
								return
							}
							continue
						}
						var (
							in  *xebpf.Map
							d   *xebpf.Collection
							err error
						)
						if i%8 == 7 {
							if d, err = xebpf.NewCollection(spec.Copy()); err != nil {
								fail(err)
								return
							}
							in = d.Maps["inner0"]
						} else if in, err = xebpf.NewMap(innerSpec); err != nil {
							fail(err)
							return
						}
						mu.Lock()
						made = append(made, in)
						mu.Unlock()
						err = outer.Put(key, in)
						in.Close()
						if d != nil {
							d.Close()
						}
						if errors.Is(err, xebpf.ErrClosed) {
							return
						}
						if err != nil && !errors.Is(err, xebpf.ErrKeyNotExist) {
							// A hash of maps may be full for an instant:
							// its spare elements wait for their grace
							// period.
							if !errors.Is(err, maps.ErrMapFull) && !errors.Is(err, maps.ErrNoMemory) {
								fail(err)
								return
							}
						}
					}
				}()
			}
			time.Sleep(time.Second)
			c.Close() // under the runs and the updates
			time.Sleep(100 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			for _, err := range errs {
				t.Error(err)
			}
			if runs.Load() == 0 || found.Load() == 0 {
				t.Fatalf("%d runs found %d inner maps", runs.Load(), found.Load())
			}
			t.Logf("%d runs found %d inner maps; %d inner maps made", runs.Load(), found.Load(), len(made))
			waitFreed(t, "after the churn", made...)
		})
	}
}

// TestInnerMapTableReuse: a collection's programs keep reaching the fresh
// inner maps put in a slot, one after another, well past the map table's
// spare capacity: the pointers of freed inner maps are reused.
func TestInnerMapTableReuse(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	c := innerCollection(t, spec, false)
	defer c.Close()
	var made []*xebpf.Map
	for i := range 600 {
		in, err := xebpf.NewMap(innerSpec)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, in)
		if err := c.Maps["aom"].Put(uint32(0), in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		maps.DefaultEpoch().Barrier() // the previous one is freed
		n, err := c.Programs["touch"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
		if err != nil || n != 1 {
			t.Fatalf("inner map %d: run = %d, %v; want 1 inner map found", i, n, err)
		}
		if v := innerValue(t, c.Maps["aom"], 0); v != 1 {
			t.Fatalf("inner map %d holds %d, want 1", i, v)
		}
	}
	c.Close()
	waitFreed(t, "after the outer map is freed", made...)
}

// TestInnerMapInBorrowedOuter: a collection that uses another's map of
// maps (MapReplacements) and puts one of its own maps in a slot of it:
// the slot holds that map's memory after its collection is closed, for
// the runs of the map of maps' own collection, until that one is closed.
func TestInnerMapInBorrowedOuter(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	for _, checked := range []bool{false, true} {
		d := innerCollection(t, spec, checked)
		c, err := xebpf.NewCollectionWithOptions(spec.Copy(), xebpf.CollectionOptions{Checked: checked,
			MapReplacements: map[string]*xebpf.Map{"aom": d.Maps["aom"]}})
		if err != nil {
			t.Fatal(err)
		}
		in := c.Maps["inner0"]
		if err := c.Maps["aom"].Put(uint32(1), in); err != nil {
			t.Fatal(err)
		}
		probe, err := in.Clone() // to read its memory figure after Close
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		c.Close()
		maps.DefaultEpoch().Barrier()
		if xebpf.MapMemoryUsed(probe) == 0 {
			t.Fatalf("checked %v: the map in the other collection's slot was freed with its collection", checked)
		}
		for i := 1; i <= 2; i++ {
			n, err := d.Programs["touch"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
			if err != nil || n != 1 {
				t.Fatalf("checked %v: run = %d, %v; want 1 inner map found", checked, n, err)
			}
			if v := innerValue(t, d.Maps["aom"], 1); v != uint64(i) {
				t.Fatalf("checked %v: after run %d the inner map holds %d", checked, i, v)
			}
		}
		d.Close()
		waitFreed(t, "the map of maps' collection closed", probe)
	}
}

// TestInnerMapTableFull: a collection's programs reach at most 256 inner
// maps of other collections alive at once. The Put past that fails with
// ErrTableFull, not a NULL lookup later; the maps already in slots stay
// reachable; and a slot emptied makes room again once its map is freed.
func TestInnerMapTableFull(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "inner", innerSource))
	if err != nil {
		t.Fatal(err)
	}
	spec.Maps["hom"].MaxEntries = 300
	c := innerCollection(t, spec, false)
	defer c.Close()
	hom := c.Maps["hom"]
	put := func(k uint32) error {
		in, err := xebpf.NewMap(innerSpec)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		return hom.Put(k, in)
	}
	for k := range uint32(256) {
		if err := put(k); err != nil {
			t.Fatalf("inner map %d: %v", k, err)
		}
	}
	if err := put(256); !errors.Is(err, helpers.ErrTableFull) {
		t.Fatalf("inner map 257: %v, want ErrTableFull", err)
	}
	for _, k := range []uint32{0, 128, 255} {
		if _, err := innerLookup(hom, k); err != nil {
			t.Errorf("slot %d after the refused Put: %v", k, err)
		}
	}
	if err := hom.Delete(uint32(7)); err != nil {
		t.Fatal(err)
	}
	if err := put(256); err != nil {
		t.Errorf("after a slot was emptied: %v", err)
	}
}

// innerLookup returns the inner map in slot key of outer.
func innerLookup(outer *xebpf.Map, key uint32) (maps.Map, error) {
	return outer.Underlying().(maps.MapOfMaps).GetMap(binaryKey(key))
}
