package sockhook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xebpf/xebpf/helpers"
)

// The seccomp user-notification structures (include/uapi/linux/seccomp.h).
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	PID   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// auditArch returns the AUDIT_ARCH_* of the host and whether socket
// hooks support it.
func auditArch() (uint32, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, true
	}
	return 0, false
}

// x32SyscallBit marks x86-64's x32 system calls, which the filter refuses
// with the rest of the foreign ABIs.
const x32SyscallBit = 0x40000000

// filter returns the seccomp filter the shim installs: for the host's
// architecture, the calls nrs notify the supervisor and every other call
// is allowed; a call of another ABI (i386 or x32 on x86-64) kills the
// process, since its connect and bind would go unseen.
func filter(arch uint32, nrs []uint32) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	// Jump offsets count the instructions to skip. The last three
	// instructions: allow at 4+k, notify at 5+k, kill at 6+k.
	k := uint8(len(nrs))
	f := []unix.SockFilter{
		/* 0 */ {Code: ldAbs, K: 4}, // A = seccomp_data.arch
		/* 1 */ {Code: jeq, K: arch, Jt: 0, Jf: 4 + k}, // foreign arch: kill
		/* 2 */ {Code: ldAbs, K: 0}, // A = seccomp_data.nr
		/* 3 */ {Code: jge, K: x32SyscallBit, Jt: 2 + k, Jf: 0}, // x32: kill
	}
	for j, nr := range nrs {
		f = append(f, unix.SockFilter{Code: jeq, K: nr, Jt: k - uint8(j), Jf: 0}) // 4+j: notify
	}
	return append(f,
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_USER_NOTIF},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS},
	)
}

// shimSyscalls returns the calls the shim's filter traps: connect and
// bind, as the value of ShimEnv names them ("connect,bind").
func shimSyscalls(v string) []uint32 {
	var nrs []uint32
	for _, name := range strings.Split(v, ",") {
		switch name {
		case "connect":
			nrs = append(nrs, uint32(unix.SYS_CONNECT))
		case "bind":
			nrs = append(nrs, uint32(unix.SYS_BIND))
		}
	}
	return nrs
}

// sockaddrStorage is sizeof(struct sockaddr_storage), the longest address
// connect and bind take.
const sockaddrStorage = 128

// shimFD is the descriptor of the shim's end of the socket pair.
const shimFD = 3

// RunShimIfRequested makes the process the shim when Command started it
// (ShimEnv is set): it installs the seccomp filter, hands the listener to
// the supervisor and executes the command, never returning; on failure it
// exits with status 127. Without ShimEnv it returns at once.
func RunShimIfRequested() {
	if os.Getenv(ShimEnv) == "" {
		return
	}
	err := runShim()
	msg := []byte("E" + err.Error())
	unix.Sendmsg(shimFD, msg, nil, nil, 0)
	fmt.Fprintf(os.Stderr, "xebpf exec: %v\n", err)
	os.Exit(127)
}

// runShim is the shim: os.Args[1] is the command's path, os.Args[2:] its
// argv. It returns only on failure.
func runShim() error {
	if len(os.Args) < 3 {
		return errors.New("shim: no command")
	}
	arch, ok := auditArch()
	if !ok {
		return fmt.Errorf("shim: %s: %w", runtime.GOARCH, ErrNotSupported)
	}
	// The filter and no_new_privs are the calling thread's, and execve
	// keeps the calling thread's: stay on one thread from here on.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("shim: PR_SET_NO_NEW_PRIVS: %w", err)
	}
	insns := filter(arch, shimSyscalls(os.Getenv(ShimEnv)))
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	// WAIT_KILLABLE_RECV (Linux 5.19): once the supervisor has received
	// a call, only a fatal signal interrupts the caller's wait. Without
	// it a signal (Go's preemption signal, say) would interrupt and
	// restart a call the supervisor is already making for the caller,
	// which would then connect twice. Older kernels refuse the flag:
	// there, the filter goes without it.
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	lfd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	if errno == unix.EINVAL {
		lfd, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
	}
	runtime.KeepAlive(insns)
	if errno != 0 {
		err := fmt.Errorf("shim: seccomp user notification: %w", errno)
		if errno == unix.EINVAL || errno == unix.ENOSYS || errno == unix.EACCES || errno == unix.EPERM {
			err = fmt.Errorf("%w (%w)", ErrNotSupported, err)
		}
		return err
	}
	if err := unix.Sendmsg(shimFD, []byte("F"), unix.UnixRights(int(lfd)), nil, 0); err != nil {
		return fmt.Errorf("shim: hand over the listener: %w", err)
	}
	unix.Close(int(lfd))
	unix.Close(shimFD)
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, ShimEnv+"=") {
			env = append(env, e)
		}
	}
	if err := unix.Exec(os.Args[1], os.Args[2:], env); err != nil {
		return fmt.Errorf("exec %s: %w", os.Args[1], err)
	}
	return nil
}

// supervisor is the state of a Command's supervisor: worker threads
// that each wait for a call (SECCOMP_IOCTL_NOTIF_RECV), decide on it and
// answer it. The kernel wakes one waiting worker per call, so a call
// costs no hand-over between threads; a worker that is about to make a
// connect that may block starts another when none is left waiting.
type supervisor struct {
	shim      *exec.Cmd
	listener  int
	portStart int // ip_unprivileged_port_start
	stop      atomic.Bool
	idle      atomic.Int32 // workers waiting for a call
	mu        sync.Mutex
	workers   map[int]bool // thread ids of the running workers
	done      sync.WaitGroup
}

// Workers: how many start, and how many may run at once.
const (
	initialWorkers = 2
	maxWorkers     = 64
)

// Start starts the command through the shim and supervises its connect
// and bind calls until Wait returns.
func (c *Command) Start() error {
	if c.Cmd == nil || c.Hooks == nil {
		return errors.New("xebpf exec: Command needs Cmd and Hooks")
	}
	if _, ok := auditArch(); !ok {
		return fmt.Errorf("xebpf exec: %s: %w", runtime.GOARCH, ErrNotSupported)
	}
	path := c.Cmd.Path
	if c.Cmd.Err != nil {
		return fmt.Errorf("xebpf exec: %w", c.Cmd.Err)
	}
	shim := c.Shim
	if len(shim) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("xebpf exec: the shim: %w", err)
		}
		shim = []string{exe}
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("xebpf exec: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "supervisor"), os.NewFile(uintptr(pair[1]), "shim")
	defer ours.Close()
	args := c.Cmd.Args
	if len(args) == 0 {
		args = []string{path}
	}
	cmd := exec.Command(shim[0], append(append(shim[1:len(shim):len(shim)], path), args...)...)
	// The filter traps only the calls programs are attached to.
	var trap []string
	if c.Hooks.Hooks(OpConnect, 0) {
		trap = append(trap, "connect")
	}
	if c.Hooks.Hooks(OpBind, 0) {
		trap = append(trap, "bind")
	}
	shimEnv := ShimEnv + "=" + strings.Join(append(trap, "shim"), ",")
	cmd.Env = append(append([]string(nil), c.Cmd.Env...), shimEnv)
	if c.Cmd.Env == nil {
		cmd.Env = append(os.Environ(), shimEnv)
	}
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Cmd.Dir, c.Cmd.Stdin, c.Cmd.Stdout, c.Cmd.Stderr
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = c.Cmd.SysProcAttr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return fmt.Errorf("xebpf exec: start the shim: %w", err)
	}
	lfd, err := receiveListener(int(ours.Fd()))
	if err != nil {
		cmd.Wait()
		return fmt.Errorf("xebpf exec: %w", err)
	}
	c.sup = supervisor{shim: cmd, listener: lfd, portStart: unprivilegedPortStart(), workers: map[int]bool{}}
	c.Cmd.Process = cmd.Process
	for range initialWorkers {
		c.startWorker()
	}
	return nil
}

// receiveListener receives the shim's listener, or its error.
func receiveListener(fd int) (int, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receive the seccomp listener: %w", err)
	}
	if n == 0 {
		return -1, errors.New("the shim exited before it installed the seccomp filter (does the program call sockhook.RunShimIfRequested?)")
	}
	if buf[0] == 'E' {
		msg := string(buf[1:n])
		if strings.Contains(msg, ErrNotSupported.Error()) {
			return -1, fmt.Errorf("%w: %s", ErrNotSupported, msg)
		}
		return -1, errors.New(msg)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("the shim sent no listener: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("the shim sent no listener: %v", err)
	}
	return fds[0], nil
}

// Wait waits for the command to exit, then stops the supervisor: calls
// that children left running make after that fail with ENOSYS.
func (c *Command) Wait() error {
	s := &c.sup
	if s.shim == nil {
		return errors.New("xebpf exec: not started")
	}
	err := s.shim.Wait()
	// A worker waits in an ioctl no close interrupts: a signal does
	// (SIGURG, which Go's runtime takes for a preemption request and
	// otherwise ignores). Signal until every worker has seen the stop.
	s.stop.Store(true)
	finished := make(chan struct{})
	go func() { s.done.Wait(); close(finished) }()
	for {
		s.mu.Lock()
		for tid := range s.workers {
			unix.Tgkill(os.Getpid(), tid, unix.SIGURG)
		}
		s.mu.Unlock()
		select {
		case <-finished:
			unix.Close(s.listener)
			return err
		case <-time.After(time.Millisecond):
		}
	}
}

// startWorker starts a worker, unless there are maxWorkers already.
func (c *Command) startWorker() {
	s := &c.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.workers) >= maxWorkers || s.stop.Load() {
		return
	}
	s.done.Add(1)
	started := make(chan int)
	go c.worker(started)
	s.workers[<-started] = true
}

// worker answers calls on its own thread until Wait stops it.
func (c *Command) worker(started chan<- int) {
	s := &c.sup
	runtime.LockOSThread() // Wait signals this thread
	tid := unix.Gettid()
	started <- tid
	defer func() {
		s.mu.Lock()
		delete(s.workers, tid)
		s.mu.Unlock()
		s.done.Done()
	}()
	for !s.stop.Load() {
		var n seccompNotif
		s.idle.Add(1)
		err := ioctl(s.listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
		s.idle.Add(-1)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOENT { // a signal, or the caller is gone
				continue
			}
			c.logf("receive a seccomp notification: %v", err)
			return
		}
		resp := c.handle(&n)
		if err := ioctl(s.listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil && err != unix.ENOENT {
			c.logf("answer %s of thread %d: %v", sysName(n.Data.Nr), n.PID, err)
		}
	}
}

func (c *Command) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func sysName(nr int32) string {
	if nr == unix.SYS_BIND {
		return "bind"
	}
	return "connect"
}

// handle decides on one notification and returns the answer. Calls on
// sockets no attached program applies to (not AF_INET or AF_INET6, of
// a family no program is attached for, or neither stream nor datagram)
// go on in the kernel (SECCOMP_USER_NOTIF_FLAG_
// CONTINUE): that decision rests on the socket, not on memory the
// process could change. Every other call the supervisor makes itself, on
// the process's socket (pidfd_getfd), with the address it read and
// checked: the kernel never reads the process's memory again, so the
// process cannot change the address between the check and its use.
func (c *Command) handle(n *seccompNotif) seccompNotifResp {
	s := &c.sup
	resp := seccompNotifResp{ID: n.ID}
	fail := func(errno unix.Errno) seccompNotifResp {
		resp.Error = -int32(errno)
		return resp
	}
	op := OpConnect
	if n.Data.Nr == unix.SYS_BIND {
		op = OpBind
		c.stats.Binds.Add(1)
	} else {
		c.stats.Connects.Add(1)
	}
	tid := int(n.PID)
	pidfd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD)
	if err == unix.EINVAL { // a kernel before 6.9: the thread group's pidfd
		var tgid int
		if tgid, err = tgidOf(tid); err == nil {
			pidfd, err = unix.PidfdOpen(tgid, 0)
		}
	}
	if err != nil {
		c.logf("%v of thread %d: pidfd_open: %v", op, tid, err)
		return fail(unix.EPERM)
	}
	defer unix.Close(pidfd)
	sock, err := unix.PidfdGetfd(pidfd, int(int32(n.Data.Args[0])), 0)
	if err != nil {
		if err == unix.EBADF {
			return fail(unix.EBADF)
		}
		c.logf("%v of thread %d: pidfd_getfd: %v", op, tid, err)
		return fail(unix.EPERM)
	}
	defer unix.Close(sock)
	r := Request{Op: op}
	var vals [3]int
	for i, opt := range []int{unix.SO_DOMAIN, unix.SO_TYPE, unix.SO_PROTOCOL} {
		if vals[i], err = unix.GetsockoptInt(sock, unix.SOL_SOCKET, opt); err != nil {
			if err == unix.ENOTSOCK {
				return fail(unix.ENOTSOCK)
			}
			c.logf("%v of thread %d: getsockopt: %v", op, tid, err)
			return fail(unix.EPERM)
		}
	}
	r.Family, r.Type, r.Protocol = uint32(vals[0]), uint32(vals[1]), uint32(vals[2])
	if !c.Hooks.Hooks(op, r.Family) || (r.Type != unix.SOCK_STREAM && r.Type != unix.SOCK_DGRAM) {
		if !s.valid(n.ID) {
			return resp
		}
		resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
		return resp
	}
	// The address: what move_addr_to_kernel copies, at most a struct
	// sockaddr_storage.
	addrLen := int(int32(n.Data.Args[2]))
	if addrLen < 0 || addrLen > sockaddrStorage {
		return fail(unix.EINVAL)
	}
	r.Addr = make([]byte, addrLen)
	if addrLen > 0 {
		local := []unix.Iovec{{Base: &r.Addr[0], Len: uint64(addrLen)}}
		remote := []unix.RemoteIovec{{Base: uintptr(n.Data.Args[1]), Len: addrLen}}
		if got, err := unix.ProcessVMReadv(tid, local, remote, 0); err != nil || got != addrLen {
			if !s.valid(n.ID) {
				return resp
			}
			if err == nil || err == unix.EFAULT {
				return fail(unix.EFAULT)
			}
			c.logf("%v of thread %d: read the address: %v", op, tid, err)
			return fail(unix.EPERM)
		}
	}
	var capEff uint64
	if op == OpBind || c.Hooks.NeedsTask(&r) {
		if capEff, err = readTask(tid, &r.Task); err != nil {
			if !s.valid(n.ID) {
				return resp
			}
			c.logf("%v of thread %d: %v", op, tid, err)
			return fail(unix.EPERM)
		}
	}
	if op == OpBind && c.Hooks.Has(WindowsBind) {
		r.AppID = appID(int(r.Task.TGID))
	}
	// Everything read came from the thread that is still waiting in this
	// call: its pid was not reused for another.
	if !s.valid(n.ID) {
		return resp
	}
	if r.Applies() {
		c.stats.Hooked.Add(1)
	}
	v := c.Hooks.Decide(&r)
	if !v.Allow {
		c.stats.Denied.Add(1)
		return fail(unix.EPERM)
	}
	if op == OpBind && !v.NoBindCap && len(v.Addr) >= 4 {
		port := int(v.Addr[2])<<8 | int(v.Addr[3])
		// inet_bind_sk's check, on the caller's capabilities rather than
		// the supervisor's.
		if port != 0 && port < s.portStart && capEff&(1<<unix.CAP_NET_BIND_SERVICE) == 0 {
			return fail(unix.EACCES)
		}
	}
	nr := uintptr(unix.SYS_CONNECT)
	if op == OpBind {
		nr = unix.SYS_BIND
	} else if s.idle.Load() == 0 {
		if fl, err := unix.FcntlInt(uintptr(sock), unix.F_GETFL, 0); err == nil && fl&unix.O_NONBLOCK == 0 {
			c.startWorker() // this connect may wait for the network
		}
	}
	var p unsafe.Pointer
	if len(v.Addr) > 0 {
		p = unsafe.Pointer(&v.Addr[0])
	}
	if _, _, errno := unix.Syscall(nr, uintptr(sock), uintptr(p), uintptr(len(v.Addr))); errno != 0 {
		return fail(errno)
	}
	return resp
}

// valid reports whether the notification's thread still waits for it.
func (s *supervisor) valid(id uint64) bool {
	return ioctl(s.listener, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// tgidOf returns the thread group of a thread.
func tgidOf(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	v, ok := statusField(b, "Tgid")
	if !ok {
		return 0, fmt.Errorf("/proc/%d/status has no Tgid", tid)
	}
	n, err := strconv.Atoi(v)
	return n, err
}

// statusField returns the first word of a field of /proc/PID/status.
func statusField(b []byte, name string) (string, bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				return f[0], true
			}
		}
	}
	return "", false
}

// readTask fills t from /proc/TID/status and /proc/TID/comm, as the
// get_current_* helpers see the thread: its id and its thread group's,
// its real user and group ids and its comm. It returns the thread's
// effective capabilities too.
func readTask(tid int, t *helpers.Task) (capEff uint64, err error) {
	dir := "/proc/" + strconv.Itoa(tid) + "/"
	b, err := os.ReadFile(dir + "status")
	if err != nil {
		return 0, fmt.Errorf("read the task: %w", err)
	}
	t.PID = uint32(tid)
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"Tgid", &t.TGID}, {"Uid", &t.UID}, {"Gid", &t.GID}} {
		v, ok := statusField(b, f.name)
		if !ok {
			return 0, fmt.Errorf("%sstatus has no %s", dir, f.name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%sstatus: %s: %w", dir, f.name, err)
		}
		*f.dst = uint32(n)
	}
	if v, ok := statusField(b, "CapEff"); ok {
		capEff, _ = strconv.ParseUint(v, 16, 64)
	}
	comm, err := os.ReadFile(dir + "comm")
	if err != nil {
		return 0, fmt.Errorf("read the task's comm: %w", err)
	}
	copy(t.Comm[:len(t.Comm)-1], bytes.TrimSuffix(comm, []byte{'\n'}))
	return capEff, nil
}

// appID returns a process's application id as eBPF for Windows' bind
// hook gives it: the executable's path in UTF-16LE with its terminating
// NUL.
func appID(pid int) []byte {
	path, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return nil
	}
	u := utf16.Encode([]rune(path + "\x00"))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		out[2*i], out[2*i+1] = byte(c), byte(c>>8)
	}
	return out
}

// unprivilegedPortStart returns net.ipv4.ip_unprivileged_port_start.
func unprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}
