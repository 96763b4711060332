//go:build linux || darwin || freebsd || netbsd || openbsd

package platform

import "golang.org/x/sys/unix"

func mapPages(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
}

func unmapPages(b []byte) error { return unix.Munmap(b) }
