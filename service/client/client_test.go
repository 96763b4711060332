package client_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf/service/client"
)

// TestSocketPath: --socket, else $XEBPF_SOCKET, else the default for the
// user.
func TestSocketPath(t *testing.T) {
	t.Setenv(client.EnvSocket, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1001")
	t.Setenv("XDG_STATE_HOME", "/home/u/.state")
	def, state := client.RootSocket, client.RootStateDir
	if os.Geteuid() != 0 {
		def, state = "/run/user/1001/xebpf/xebpf.sock", "/home/u/.state/xebpf"
	}
	if got := client.SocketPath(""); got != def {
		t.Errorf("default socket %q, want %q", got, def)
	}
	if got := client.DefaultStateDir(); got != state {
		t.Errorf("default state %q, want %q", got, state)
	}
	t.Setenv(client.EnvSocket, "/env.sock")
	if got := client.SocketPath(""); got != "/env.sock" {
		t.Errorf("with %s: %q", client.EnvSocket, got)
	}
	if got := client.SocketPath("/flag.sock"); got != "/flag.sock" {
		t.Errorf("with --socket: %q", got)
	}
}

// TestDialError: without a daemon, Dial says where it looked and how to
// start one.
func TestDialError(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := client.Dial(sock)
	want := "connect to the xebpf daemon at " + sock + " (start it with xebpf daemon, or set --socket or XEBPF_SOCKET): "
	if err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("Dial: %v", err)
	}
}
