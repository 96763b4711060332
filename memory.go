package xebpf

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/xebpf/xebpf/internal/platform"
)

// DefaultMemoryLimit is the memory a collection may allocate when
// CollectionOptions.MemoryLimit is 0: 1 GiB, the per-map limit of package
// maps (maps.DefaultMaxMemory), so that every map it admits on its own
// also loads in a collection of its own. The largest object of xebpf's
// corpus, a Cilium XDP program with its connection-tracking and NAT maps at
// their default sizes, needs 408 MiB; the one with the most per-CPU
// memory would need 583 MiB on a 256-CPU host.
const DefaultMemoryLimit = 1 << 30

// ErrMemoryLimit is matched (errors.Is) by the error of an allocation
// that would take a collection past its memory limit
// (CollectionOptions.MemoryLimit); the error is a *MemoryLimitError.
var ErrMemoryLimit = errors.New("collection memory limit exceeded")

// MemoryLimitError is the error of an allocation that would take a
// collection past its memory limit.
type MemoryLimitError struct {
	// What needed the memory: `create map "flows"`, "run state".
	What string
	// Need is the memory it needed, Used what the collection had
	// allocated already and Limit the limit, in bytes.
	Need, Used, Limit int64
}

// Error returns, for example, `create map "flows": needs 954 MiB with
// 954 MiB already allocated, collection memory limit 1 GiB
// (CollectionOptions.MemoryLimit)`.
func (e *MemoryLimitError) Error() string {
	used := ""
	if e.Used > 0 {
		used = " with " + formatBytes(e.Used) + " already allocated"
	}
	return fmt.Sprintf("%s: needs %s%s, collection memory limit %s (CollectionOptions.MemoryLimit)",
		e.What, formatBytes(e.Need), used, formatBytes(e.Limit))
}

// Is reports whether target is ErrMemoryLimit.
func (e *MemoryLimitError) Is(target error) bool { return target == ErrMemoryLimit }

// formatBytes prints n in the largest binary unit it reaches, with one
// decimal below 10 units: "512 B", "80 KiB", "1.2 GiB".
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i, v := 0, float64(n)
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i > 0 && v < 10 && v != float64(int64(v)) {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.0f %s", v, units[i])
}

// memAccount is the memory a collection has allocated, against its limit:
// its maps, map table and scratch block for the collection's life, and the
// run states of its programs and runners while they exist.
type memAccount struct {
	used  atomic.Int64
	limit int64
}

// charge accounts n more bytes for what, or fails with a
// *MemoryLimitError leaving the account unchanged.
func (a *memAccount) charge(what string, n int64) error {
	for {
		used := a.used.Load()
		if n > a.limit-used {
			return &MemoryLimitError{What: what, Need: n, Used: used, Limit: a.limit}
		}
		if a.used.CompareAndSwap(used, used+n) {
			return nil
		}
	}
}

// uncharge gives back n bytes charged before.
func (a *memAccount) uncharge(n int64) { a.used.Add(-n) }

// pages rounds n up to whole pages, the granularity of off-heap memory.
func pages(n int) int64 {
	return int64((n + platform.PageSize - 1) &^ (platform.PageSize - 1))
}
