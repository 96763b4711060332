package sockhook_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
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
//	flip:A:B:N       N connects to 127.0.0.1 from one buffer whose port
//	                 another thread flips between A and B all along: the
//	                 count of bytes read per listener and of denials
//	pid              print the process id
//	tid:PORT         connect to 127.0.0.1:PORT, print the thread's and
//	                 the process's ids
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
	case "tid":
		// A connect from this thread, then the thread's id.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return result(err)
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return result(err)
		}
		return fmt.Sprintf("ok %d %d", unix.Gettid(), os.Getpid())
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
	case "flip":
		parts := strings.Split(arg, ":")
		pa, _ := strconv.Atoi(parts[0])
		pb, _ := strconv.Atoi(parts[1])
		n, _ := strconv.Atoi(parts[2])
		// struct sockaddr_in; its first word (family and port) is
		// stored atomically, so that the flipping is no data race in Go.
		var sa [4]uint32
		word := func(port int) uint32 {
			return uint32(unix.AF_INET) | uint32(port>>8|(port&0xff)<<8)<<16 // little-endian
		}
		sa[1] = 0x0100007f // 127.0.0.1
		atomic.StoreUint32(&sa[0], word(pa))
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				atomic.StoreUint32(&sa[0], word([]int{pa, pb}[i%2]))
			}
		}()
		counts := map[string]int{}
		for range n {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				return result(err)
			}
			_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), 16)
			switch {
			case errno == unix.EPERM:
				counts["denied"]++
			case errno != 0:
				counts[unix.ErrnoName(errno)]++
			default:
				b := make([]byte, 1)
				if k, err := unix.Read(fd, b); err == nil && k == 1 {
					counts[string(b)]++
				} else {
					counts["noread"]++
				}
			}
			unix.Close(fd)
		}
		close(stop)
		<-done
		return fmt.Sprintf("ok A=%d B=%d denied=%d other=%d", counts["A"], counts["B"], counts["denied"], n-counts["A"]-counts["B"]-counts["denied"])
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
