package interp

import (
	"sync/atomic"
	"unsafe"
)

// The functions in this file dereference raw program addresses. Callers
// guarantee the address lies in off-heap memory of the run (checked mode
// verifies it first; fast mode relies on the verifier), so converting the
// integer to a pointer never hides a Go heap object from the collector.

func ptr(addr uint64) unsafe.Pointer {
	// Reinterpret the integer's bits as a pointer; the memory is not Go's.
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

func load8(addr uint64) uint64  { return uint64(*(*uint8)(ptr(addr))) }
func load16(addr uint64) uint64 { return uint64(*(*uint16)(ptr(addr))) }
func load32(addr uint64) uint64 { return uint64(*(*uint32)(ptr(addr))) }
func load64(addr uint64) uint64 { return *(*uint64)(ptr(addr)) }

func store8(addr, v uint64)  { *(*uint8)(ptr(addr)) = uint8(v) }
func store16(addr, v uint64) { *(*uint16)(ptr(addr)) = uint16(v) }
func store32(addr, v uint64) { *(*uint32)(ptr(addr)) = uint32(v) }
func store64(addr, v uint64) { *(*uint64)(ptr(addr)) = v }

func atomic32(addr uint64) *uint32 { return (*uint32)(ptr(addr)) }
func atomic64(addr uint64) *uint64 { return (*uint64)(ptr(addr)) }

// atomicOp32 performs a 32-bit BPF_ATOMIC operation and returns the new
// values of the src register and r0.
func atomicOp32(addr uint64, op int64, src, r0 uint64) (newSrc, newR0 uint64) {
	p := atomic32(addr)
	v := uint32(src)
	switch op {
	case 0x00, 0x01:
		old := atomic.AddUint32(p, v) - v
		return fetch(op, src, uint64(old)), r0
	case 0x40, 0x41:
		old := atomic.OrUint32(p, v)
		return fetch(op, src, uint64(old)), r0
	case 0x50, 0x51:
		old := atomic.AndUint32(p, v)
		return fetch(op, src, uint64(old)), r0
	case 0xa0, 0xa1:
		for {
			old := atomic.LoadUint32(p)
			if atomic.CompareAndSwapUint32(p, old, old^v) {
				return fetch(op, src, uint64(old)), r0
			}
		}
	case 0xe1:
		return uint64(atomic.SwapUint32(p, v)), r0
	case 0xf1:
		for {
			old := atomic.LoadUint32(p)
			if old != uint32(r0) {
				return src, uint64(old)
			}
			if atomic.CompareAndSwapUint32(p, old, v) {
				return src, uint64(old)
			}
		}
	}
	return src, r0
}

// atomicOp64 is atomicOp32 for 64-bit operands.
func atomicOp64(addr uint64, op int64, src, r0 uint64) (newSrc, newR0 uint64) {
	p := atomic64(addr)
	switch op {
	case 0x00, 0x01:
		old := atomic.AddUint64(p, src) - src
		return fetch(op, src, old), r0
	case 0x40, 0x41:
		return fetch(op, src, atomic.OrUint64(p, src)), r0
	case 0x50, 0x51:
		return fetch(op, src, atomic.AndUint64(p, src)), r0
	case 0xa0, 0xa1:
		for {
			old := atomic.LoadUint64(p)
			if atomic.CompareAndSwapUint64(p, old, old^src) {
				return fetch(op, src, old), r0
			}
		}
	case 0xe1:
		return atomic.SwapUint64(p, src), r0
	case 0xf1:
		for {
			old := atomic.LoadUint64(p)
			if old != r0 {
				return src, old
			}
			if atomic.CompareAndSwapUint64(p, old, src) {
				return src, old
			}
		}
	}
	return src, r0
}

func fetch(op int64, src, old uint64) uint64 {
	if op&0x01 != 0 {
		return old
	}
	return src
}

// bytesAt returns the size bytes at addr as a slice.
func bytesAt(addr, size uint64) []byte {
	if size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr(addr)), size)
}
