//go:build linux

package main

import (
	"fmt"
	"net"
	"time"

	"github.com/xebpf/xebpf/service/client"
	"golang.org/x/sys/unix"
)

// dialHookSession connects to the daemon for hook runs with blocking
// system calls rather than Go's poller: the supervisor's workers are
// locked to their threads, and a read through the poller parks the
// worker and hands its thread over twice per decision, which measured
// about 100µs a call against about 20µs this way.
func dialHookSession(path string) (*client.Client, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("connect to the xebpf daemon at %s: %w", path, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to the xebpf daemon at %s: %w", path, err)
	}
	return client.NewClient(&blockingConn{fd: fd, path: path}), nil
}

// blockingConn is a net.Conn over a unix socket read and written with
// blocking system calls.
type blockingConn struct {
	fd   int
	path string
}

func (c *blockingConn) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(b) > 0 {
			return 0, net.ErrClosed
		}
		return n, nil
	}
}

func (c *blockingConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(c.fd, b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

func (c *blockingConn) Close() error                     { return unix.Close(c.fd) }
func (c *blockingConn) LocalAddr() net.Addr              { return &net.UnixAddr{Net: "unix"} }
func (c *blockingConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: c.path, Net: "unix"} }
func (c *blockingConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (c *blockingConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (c *blockingConn) SetWriteDeadline(time.Time) error { return errNoDeadline }
