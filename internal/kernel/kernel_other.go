//go:build !linux

package kernel

import (
	"fmt"
	"runtime"
	"time"
)

var errOS = fmt.Errorf("%w: needs Linux, this is %s", ErrUnavailable, runtime.GOOS)

// Available reports why this system cannot test-run eBPF programs: only
// Linux can. The error wraps ErrUnavailable.
func Available() error { return errOS }

// Release returns "none": this OS runs no Linux kernel.
func Release() string { return "none" }

// Collection is an object loaded into the kernel; on this OS none can be.
type Collection struct{}

// Load fails with ErrUnavailable: only Linux can load eBPF objects.
func Load(path string, opts LoadOptions) (*Collection, error) {
	return nil, fmt.Errorf("load %s: %w", path, errOS)
}

// Close does nothing.
func (c *Collection) Close() {}

// Programs returns no names.
func (c *Collection) Programs() []string { return nil }

// ProgramType returns "".
func (c *Collection) ProgramType(name string) string { return "" }

// ProgramErrors returns nil.
func (c *Collection) ProgramErrors() []error { return nil }

// Run fails with ErrUnavailable.
func (c *Collection) Run(program string, in RunInput) (RunResult, error) {
	return RunResult{}, errOS
}

// Bench fails with ErrUnavailable.
func (c *Collection) Bench(program string, in RunInput, repeat int) (time.Duration, error) {
	return 0, errOS
}

// LoadMaps fails with ErrUnavailable.
func (c *Collection) LoadMaps(states map[string]MapState) error { return errOS }

// DumpMaps fails with ErrUnavailable.
func (c *Collection) DumpMaps() (map[string]MapState, error) { return nil, errOS }

// ValueMasks returns nil.
func (c *Collection) ValueMasks() map[string][]ByteRange { return nil }

// ProbeLayout fails with ErrUnavailable: only Linux has the frame.
func ProbeLayout() (Layout, error) { return Layout{}, errOS }

func probeLayoutOnce() (Layout, error) { return Layout{}, errOS }
