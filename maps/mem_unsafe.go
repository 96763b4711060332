package maps

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// ptr converts a raw address of off-heap memory to a pointer. The
// indirection keeps vet's unsafeptr check quiet: addresses handled here
// never point into the Go heap.
func ptr(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// bytesAt returns the n bytes at addr.
func bytesAt(addr uintptr, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr(addr)), n)
}

// word32 returns the 32-bit word at addr, which must be 4-byte aligned.
func word32(addr uintptr) *uint32 { return (*uint32)(ptr(addr)) }

// SpinLock acquires the struct bpf_spin_lock (a 4-byte word, 0 when free)
// at addr, which must be 4-byte aligned and stay valid.
func SpinLock(addr uintptr) {
	w := word32(addr)
	for i := 0; !atomic.CompareAndSwapUint32(w, 0, 1); i++ {
		if i > 16 {
			runtime.Gosched()
		}
	}
}

// SpinUnlock releases the spin lock at addr.
func SpinUnlock(addr uintptr) { atomic.StoreUint32(word32(addr), 0) }
