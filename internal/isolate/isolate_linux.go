package isolate

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

const exeSuffix = ""

// maxRSSKB returns the peak resident set size of an exited child in KiB.
func maxRSSKB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) // KiB on Linux
	}
	return 0
}

// LimitMemory is the backstop of a child's memory limit n: it limits the
// process's address space (RLIMIT_AS) to what it has mapped now plus 2n
// and 128 MiB for the Go runtime's reservations, or less if the hard
// limit is lower. Past it mmap fails and the process dies; the verifier's
// own check (verifier.Config.MemoryLimit) stops it cleanly before, except
// in one allocation larger than the slack.
func LimitMemory(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &l); err != nil {
		return err
	}
	l.Cur = min(statusKB("VmSize")<<10+2*n+128<<20, l.Max)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &l)
}

// SelfMaxRSSKB returns this process's peak resident set size in KiB.
func SelfMaxRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss)
}

// PeakMemoryKB returns this process's peak resident set size in KiB, of
// its own address space alone: VmHWM from /proc/self/status. (getrusage's
// maxrss also counts the parent's memory when Go started the process with
// vfork, as os/exec does.)
func PeakMemoryKB() int64 { return int64(statusKB("VmHWM")) }

// statusKB returns a field of /proc/self/status in KiB, 0 if unknown.
func statusKB(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
