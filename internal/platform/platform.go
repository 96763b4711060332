// Package platform allocates memory that the Go garbage collector neither
// moves nor frees: the stacks, contexts, packets and map values that eBPF
// programs address with raw 64-bit pointers. Each operating system provides
// mapPages and unmapPages in its own file.
package platform

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// PageSize is the granularity of allocations.
const PageSize = 4096

// MaxAlloc bounds a single allocation (4 GiB), so a hostile size from an
// object file cannot exhaust the address space.
const MaxAlloc = 1 << 32

// live counts the blocks allocated and not yet freed.
var live atomic.Int64

// Live returns the number of blocks allocated and not yet freed, for leak
// tests.
func Live() int64 { return live.Load() }

// ErrTooLarge is returned for allocations above MaxAlloc.
var ErrTooLarge = errors.New("allocation too large")

// Memory is a zeroed, page-aligned block outside the Go heap. Its address
// is stable until Free.
type Memory struct {
	b []byte
}

// Alloc returns size bytes (rounded up to whole pages) of zeroed memory
// outside the Go heap.
func Alloc(size int) (*Memory, error) {
	if size < 0 || size > MaxAlloc {
		return nil, fmt.Errorf("alloc %d bytes: %w", size, ErrTooLarge)
	}
	if size == 0 {
		size = 1
	}
	n := (size + PageSize - 1) &^ (PageSize - 1)
	b, err := mapPages(n)
	if err != nil {
		return nil, fmt.Errorf("alloc %d bytes: %w", size, err)
	}
	live.Add(1)
	return &Memory{b: b[:size:size]}, nil
}

// Bytes returns the block as a slice. The slice must not be used after Free.
func (m *Memory) Bytes() []byte { return m.b }

// Addr returns the address of the first byte.
func (m *Memory) Addr() uintptr {
	if len(m.b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&m.b[0]))
}

// Len returns the usable size in bytes.
func (m *Memory) Len() int { return len(m.b) }

// Free returns the block to the operating system. Free is idempotent.
func (m *Memory) Free() error {
	if m == nil || m.b == nil {
		return nil
	}
	b := m.b[:cap(m.b)]
	n := (len(b) + PageSize - 1) &^ (PageSize - 1)
	m.b = nil
	live.Add(-1)
	return unmapPages(unsafe.Slice(&b[0], n))
}
