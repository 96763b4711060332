package api

import "unsafe"

// bytesAt returns size bytes of off-heap memory at addr, which the run's
// checks (or, in fast mode, the program's verifier) have allowed.
// Reinterpreting the integer as a pointer hides no Go heap object from
// the collector: program memory is not Go's.
func bytesAt(addr, size uint64) []byte {
	if size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), size)
}
