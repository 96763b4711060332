package main

import (
	"os"
	"syscall"
)

// maxRSSKB returns this process's peak resident set size in KiB.
func maxRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) // KiB on Linux
}

// childMaxRSSKB returns the peak resident set size of an exited child in
// KiB.
func childMaxRSSKB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}

// limitMemory limits this process's address space (RLIMIT_AS) to n bytes,
// or less if the hard limit is lower: past it mmap fails, and the Go
// runtime exits with "out of memory".
func limitMemory(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &l); err != nil {
		return err
	}
	l.Cur = min(n, l.Max)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &l)
}
