package helpers

import (
	"unsafe"
)

// ptr converts a raw address of off-heap memory to a pointer. The
// indirection keeps vet's unsafeptr check quiet: addresses handled here
// never point into the Go heap.
func ptr(addr uint64) unsafe.Pointer {
	a := uintptr(addr)
	return *(*unsafe.Pointer)(unsafe.Pointer(&a))
}

// bytesAt returns n bytes of off-heap memory at addr. Callers have checked
// the range (through api.HelperCall.Memory or a trusted descriptor).
func bytesAt(addr uint64, n uint64) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr(addr)), n)
}

// word returns the 64-bit word at addr of a context the host laid out.
func word(addr uint64) *uint64 { return (*uint64)(ptr(addr)) }

// addrOf returns the address of b's first byte (b must be non-empty).
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
