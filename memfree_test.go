package xebpf_test

import (
	"testing"

	"github.com/xebpf/xebpf"
)

// TestMemoryUsedZeroWhenFreed: once a collection is closed and its
// programs, maps and Runners are freed, MemoryUsed is 0 — the maps and the
// map table are given back, not only the run states — also when a
// detached program and map outlive the collection's handle.
func TestMemoryUsedZeroWhenFreed(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "limit", limitSource))
	if err != nil {
		t.Fatal(err)
	}
	for _, detach := range []bool{false, true} {
		c, err := xebpf.NewCollection(spec.Copy())
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Programs["touch"].NewRunner()
		if err != nil {
			t.Fatal(err)
		}
		if c.MemoryUsed() < 1<<20 {
			t.Fatalf("a 1 MiB array: MemoryUsed = %d", c.MemoryUsed())
		}
		var closers []func() error
		if detach {
			for name := range c.Programs {
				closers = append(closers, c.DetachProgram(name).Close)
			}
			for name := range c.Maps {
				closers = append(closers, c.DetachMap(name).Close)
			}
		}
		c.Close()
		r.Close()
		for _, close := range closers {
			if c.MemoryUsed() == 0 {
				t.Fatalf("detach %v: MemoryUsed 0 while a detached program or map is open", detach)
			}
			close()
		}
		if got := c.MemoryUsed(); got != 0 {
			t.Errorf("detach %v: MemoryUsed after everything is freed = %d, want 0", detach, got)
		}
	}
}
