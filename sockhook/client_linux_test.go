package sockhook_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// clientEnv makes the test binary the client the tests run under the
// hooks: each argument is an action, and it prints one line per action.
//
//	connect:PORT     connect a TCP socket to 127.0.0.1:PORT, read a byte
//	connect6:PORT    the same to [::1]:PORT
//	nbconnect:PORT   a non-blocking connect: "ok" or "err EINPROGRESS"
//	bind:PORT        bind a new TCP socket to 127.0.0.1:PORT
//	bind6:PORT       bind a new TCP socket to [::1]:PORT
//	unix:PATH        connect a unix socket to PATH
//	badconnect:KIND  connect a TCP socket with a bad address: "null" (a
//	                 NULL pointer), "short" (8 bytes), "long" (200 bytes),
//	                 "unspec" (AF_UNSPEC), "badfd" (fd -1)
//	pid              print the process id
//	bench:N:PORT     N connects to 127.0.0.1:PORT: the mean ns of one
const clientEnv = "SOCKHOOK_TEST_CLIENT"

func runClientIfRequested() {
	if os.Getenv(clientEnv) == "" {
		return
	}
	for _, a := range os.Args[1:] {
		fmt.Println(clientAction(a))
	}
	os.Exit(0)
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(unix.Errno); ok {
		return "err " + unix.ErrnoName(e)
	}
	return "err " + err.Error()
}

func clientAction(a string) string {
	kind, arg, _ := strings.Cut(a, ":")
	port, _ := strconv.Atoi(arg)
	switch kind {
	case "pid":
		return strconv.Itoa(os.Getpid())
	case "connect", "connect6":
		fam, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if kind == "connect6" {
			fam, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
		}
		fd, err := unix.Socket(fam, unix.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, sa); err != nil {
			return result(err)
		}
		b := make([]byte, 1)
		if n, err := unix.Read(fd, b); err != nil || n != 1 {
			return fmt.Sprintf("err read %d %v", n, err)
		}
		return "ok " + string(b)
	case "nbconnect":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		return result(unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	case "bind", "bind6":
		fam, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if kind == "bind6" {
			fam, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
		}
		fd, err := unix.Socket(fam, unix.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, sa); err != nil {
			return result(err)
		}
		got, err := unix.Getsockname(fd)
		if err != nil {
			return result(err)
		}
		switch got := got.(type) {
		case *unix.SockaddrInet4:
			return fmt.Sprintf("ok %d", got.Port)
		case *unix.SockaddrInet6:
			return fmt.Sprintf("ok %d", got.Port)
		}
		return "err getsockname"
	case "badconnect":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		buf := make([]byte, 200)
		buf[0] = unix.AF_INET // native byte order: little-endian hosts
		ptr, n := uintptr(unsafe.Pointer(&buf[0])), uintptr(16)
		switch arg {
		case "null":
			ptr = 0
		case "short":
			n = 8
		case "long":
			n = 200
		case "unspec":
			buf[0] = unix.AF_UNSPEC
		case "badfd":
			fd = -1
		}
		_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), ptr, n)
		runtime.KeepAlive(buf)
		if errno != 0 {
			return result(errno)
		}
		return "ok"
	case "unix":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		return result(unix.Connect(fd, &unix.SockaddrUnix{Name: arg}))
	case "bench":
		ns, ps, _ := strings.Cut(arg, ":")
		n, _ := strconv.Atoi(ns)
		port, _ := strconv.Atoi(ps)
		sa := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		var total time.Duration
		for range n {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				return result(err)
			}
			start := time.Now()
			err = unix.Connect(fd, sa)
			total += time.Since(start)
			unix.Close(fd)
			if err != nil {
				return result(err)
			}
		}
		return fmt.Sprintf("ok %d", total.Nanoseconds()/int64(n))
	}
	return "err unknown action " + a
}
