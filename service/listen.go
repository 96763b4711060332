package service

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrDaemonRunning is returned by ListenUnix when a daemon already
// answers on the socket.
var ErrDaemonRunning = errors.New("a daemon is already listening on the socket")

// ListenUnix listens on a unix socket at path with the file mode and
// group (gid -1: the daemon's own). A socket file that no daemon answers
// on is left over from a daemon that died: it is removed.
func ListenUnix(path string, mode os.FileMode, gid int) (Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %s: %w", path, ErrDaemonRunning)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen %s: group %d: %w", path, gid, err)
		}
	}
	return l, nil
}
