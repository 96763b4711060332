package difftest

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// pinCPU keeps the calling goroutine on one OS thread bound to one CPU
// until t ends, so that every kernel test run updates the same per-CPU
// slot, as xebpf's sequential runs do.
func pinCPU(t testing.TB) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		t.Logf("cannot pin to a CPU: %v", err)
		return
	}
	var one unix.CPUSet
	for i := range 1024 {
		if old.IsSet(i) {
			one.Set(i)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		t.Logf("cannot pin to a CPU: %v", err)
		return
	}
	t.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
}
