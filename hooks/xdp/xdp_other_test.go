//go:build !linux

package xdp

import (
	"errors"
	"testing"
)

// TestNotSupported checks that outside Linux the hook reports it has no
// way to attach.
func TestNotSupported(t *testing.T) {
	b := NewBridge()
	defer b.Close()
	if _, err := b.AddPort("eth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("AddPort: %v, want ErrNotSupported", err)
	}
	if _, err := b.Attach(xdpProgram(t, progPass, nil), "eth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Attach: %v, want ErrNotSupported", err)
	}
}
