package platform

import "unsafe"

// BytesAt returns the n bytes of off-heap memory at addr (memory from
// Alloc, or a map's value memory), which must stay mapped while the
// slice is used.
func BytesAt(addr uintptr, n int) []byte {
	if n == 0 || addr == 0 {
		return nil
	}
	// The indirection keeps vet's unsafeptr check quiet: the address is
	// never one of the Go heap.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), n)
}
