//go:build !linux

package isolate

import (
	"os"
	"runtime"
	"runtime/debug"
)

var exeSuffix = map[bool]string{true: ".exe"}[runtime.GOOS == "windows"]

// maxRSSKB is unknown outside Linux.
func maxRSSKB(*os.ProcessState) int64 { return 0 }

// LimitMemory has no address-space backstop to set outside Linux: it
// sets the Go runtime's soft memory limit instead, which makes the
// collector work harder near it; the verifier's own check stops the
// analysis past it.
func LimitMemory(n uint64) error {
	debug.SetMemoryLimit(int64(min(n, 1<<62)))
	return nil
}

// SelfMaxRSSKB is unknown outside Linux.
func SelfMaxRSSKB() int64 { return 0 }

// PeakMemoryKB is unknown outside Linux.
func PeakMemoryKB() int64 { return 0 }
