package main

import (
	"testing"

	ebpf "github.com/xebpf/xebpf"
)

// TestPort runs the tracepoint_in_c example's program on an
// mm_page_alloc record and reads its counter.
func TestPort(t *testing.T) {
	var objs bpfObjects
	if err := loadBpfObjects(&objs, nil); err != nil {
		t.Fatalf("loading objects: %v", err)
	}
	defer objs.Close()
	// The kmem/mm_page_alloc record the example's struct alloc_info
	// reads: an 8-byte common header, pfn, order, gfp_flags, migratetype.
	rec := make([]byte, 32)
	for range 4 {
		if ret, err := objs.MmPageAlloc.Run(&ebpf.RunOptions{Context: rec}); err != nil || ret != 0 {
			t.Fatalf("run: %d, %v", ret, err)
		}
	}
	var n uint64
	if err := objs.CountingMap.Lookup(uint32(0), &n); err != nil || n != 4 {
		t.Fatalf("counting_map[0] = %d, %v; want 4", n, err)
	}
}
