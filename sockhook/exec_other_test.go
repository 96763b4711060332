//go:build !linux

package sockhook_test

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/xebpf/xebpf/sockhook"
)

// TestCommandNotSupported: off Linux, Command says socket hooks are not
// supported on this OS.
func TestCommandNotSupported(t *testing.T) {
	c := &sockhook.Command{Cmd: exec.Command("true"), Hooks: &sockhook.Set{}}
	if err := c.Run(); !errors.Is(err, sockhook.ErrNotSupported) {
		t.Fatalf("Run = %v, want ErrNotSupported", err)
	}
}
