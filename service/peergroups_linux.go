//go:build linux && !386

package service

import (
	"syscall"
	"unsafe"
)

// soPeerGroups is Linux's SO_PEERGROUPS (4.13).
const soPeerGroups = 59

// peerGroups reads the supplementary groups of a unix socket's peer;
// nil when the kernel does not tell.
func peerGroups(fd int) []uint32 {
	buf := make([]uint32, 64)
	for range 2 {
		n := uint32(len(buf) * 4)
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, soPeerGroups,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch errno {
		case 0:
			return buf[:n/4]
		case syscall.ERANGE:
			buf = make([]uint32, n/4+1)
		default:
			return nil
		}
	}
	return nil
}
