//go:build !linux

package difftest

import "testing"

// pinCPU does nothing: only Linux runs the kernel side.
func pinCPU(t testing.TB) {}
