package xebpf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/platform"
)

// TestMemoryLimitFourLargeHashes: four hash maps of 25 million entries
// (954 MiB each) exceed the default limit at the second map, with an
// error naming it; with a limit that fits them, they load.
func TestMemoryLimitFourLargeHashes(t *testing.T) {
	obj := buildC(t, "flows", `#include "xebpf/bpf.h"
struct flows {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 25000000);
	__type(key, __u32);
	__type(value, __u64);
};
struct flows flows0 SEC(".maps");
struct flows flows1 SEC(".maps");
struct flows flows2 SEC(".maps");
struct flows flows3 SEC(".maps");

SEC("raw")
int count(void *ctx)
{
	__u32 k = 7;
	__u64 one = 1, *v = bpf_map_lookup_elem(&flows3, &k);
	if (v)
		return ++*v;
	bpf_map_update_elem(&flows3, &k, &one, BPF_ANY);
	return 1;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.MapOrder) != 4 {
		t.Fatalf("maps %v", spec.MapOrder)
	}
	before := platform.Live()
	_, err = xebpf.NewCollection(spec)
	var le *xebpf.MemoryLimitError
	if !errors.Is(err, xebpf.ErrMemoryLimit) || !errors.As(err, &le) {
		t.Fatalf("four 954 MiB maps under the default limit: %v, want ErrMemoryLimit", err)
	}
	second := spec.MapOrder[1]
	want := `create map "` + second + `": needs 954 MiB with 954 MiB already allocated, collection memory limit 1 GiB (CollectionOptions.MemoryLimit)`
	if err.Error() != want {
		t.Fatalf("error:\n %s\nwant\n %s", err, want)
	}
	if le.Limit != xebpf.DefaultMemoryLimit || le.Need < 950<<20 {
		t.Fatalf("%+v", le)
	}
	if after := platform.Live(); after != before {
		t.Fatalf("%d off-heap blocks left by the failed load", after-before)
	}

	if raceEnabled || testing.Short() {
		// Loading them takes seconds (and 2 GB under the race detector),
		// for a single goroutine.
		t.Skip("loading four 954 MiB maps: skipped in short mode and under the race detector")
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{MemoryLimit: 4 << 30})
	if err != nil {
		t.Fatalf("four 954 MiB maps under a 4 GiB limit: %v", err)
	}
	defer c.Close()
	if used := c.MemoryUsed(); used < 4*950<<20 || used > 4<<30 {
		t.Fatalf("MemoryUsed = %d", used)
	}
	for want := uint32(1); want <= 2; want++ {
		if ret, err := c.Programs["count"].Run(nil); err != nil || ret != want {
			t.Fatalf("run: %d, %v; want %d", ret, err, want)
		}
	}
}

// limitSource has a 1 MiB array and a program using it.
const limitSource = `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, char[1024]);
} big SEC(".maps");

SEC("raw")
int touch(void *ctx)
{
	__u32 k = 3;
	char *v = bpf_map_lookup_elem(&big, &k);
	if (!v)
		return 0;
	v[0]++;
	return v[0];
}
char LICENSE[] SEC("license") = "GPL";
`

// TestMemoryLimitCountsRunStates: run states are charged while they
// exist; a run or Runner that needs one past the limit fails with
// ErrMemoryLimit, and freeing one gives its memory back.
func TestMemoryLimitCountsRunStates(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "limit", limitSource))
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loaded := c.MemoryUsed()
	if loaded < 1<<20 || loaded > 2<<20 {
		t.Fatalf("a 1 MiB array: MemoryUsed = %d", loaded)
	}
	r, err := c.Programs["touch"].NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	runState := c.MemoryUsed() - loaded
	if runState < 8<<10 || runState > 256<<10 {
		t.Fatalf("a Runner's run state: %d bytes", runState)
	}
	r.Close()
	if got := c.MemoryUsed(); got != loaded {
		t.Fatalf("MemoryUsed after Runner.Close = %d, want %d", got, loaded)
	}

	tests := []struct {
		name    string
		limit   int64
		loadErr bool // NewCollection fails
		runErr  bool // a run and a Runner fail
	}{
		{"the maps do not fit", loaded - 1, true, false},
		{"the maps fit, no run state", loaded, false, true},
		{"one run state fits", loaded + runState, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{MemoryLimit: tt.limit})
			if tt.loadErr {
				if !errors.Is(err, xebpf.ErrMemoryLimit) || !strings.Contains(err.Error(), `create map "big"`) {
					t.Fatalf("NewCollection: %v, want ErrMemoryLimit naming map big", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Programs["touch"].Run(nil)
			_, rerr := c.Programs["touch"].NewRunner()
			if tt.runErr {
				if !errors.Is(err, xebpf.ErrMemoryLimit) || !strings.Contains(err.Error(), "run touch: run state: needs") {
					t.Fatalf("Run: %v, want ErrMemoryLimit", err)
				}
				if !errors.Is(rerr, xebpf.ErrMemoryLimit) {
					t.Fatalf("NewRunner: %v, want ErrMemoryLimit", rerr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			// The run's state stays in the pool, charged: a Runner needs a
			// second one, past the limit.
			if !errors.Is(rerr, xebpf.ErrMemoryLimit) {
				t.Fatalf("NewRunner with the only run state in the pool: %v, want ErrMemoryLimit", rerr)
			}
		})
	}
	if _, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{MemoryLimit: -1}); err == nil {
		t.Fatal("a negative MemoryLimit: no error")
	}
}

// TestMemoryLimitDefaultAdmitsCorpus: every corpus object that
// instantiates fits the default limit with room to spare.
func TestMemoryLimitDefaultAdmitsCorpus(t *testing.T) {
	var largest int64
	var which string
	for _, f := range corpusFiles(t) {
		spec, err := xebpf.LoadCollectionSpec(f)
		if err != nil {
			continue
		}
		c, err := xebpf.NewCollection(spec)
		if errors.Is(err, xebpf.ErrMemoryLimit) {
			t.Errorf("%s: %v", f, err)
		}
		if err != nil {
			continue
		}
		if u := c.MemoryUsed(); u > largest {
			largest, which = u, f
		}
		c.Close()
	}
	t.Logf("largest: %s, %d MiB", which, largest>>20)
	if largest > xebpf.DefaultMemoryLimit/2 {
		t.Errorf("%s needs %d MiB, more than half the default limit", which, largest>>20)
	}
}
