//go:build !linux

package sockhook

import "fmt"

// supervisor has no state off Linux.
type supervisor struct{}

// RunShimIfRequested does nothing off Linux, where Command never starts a
// shim.
func RunShimIfRequested() {}

// Start fails with ErrNotSupported: socket hooks need Linux's seccomp
// user notification.
func (c *Command) Start() error {
	return fmt.Errorf("xebpf exec: %w", ErrNotSupported)
}

// Wait fails with ErrNotSupported.
func (c *Command) Wait() error {
	return fmt.Errorf("xebpf exec: %w", ErrNotSupported)
}
