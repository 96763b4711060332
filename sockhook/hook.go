// Package sockhook runs eBPF programs on the connect and bind calls of
// real processes: Linux's cgroup/connect4, connect6, bind4 and bind6
// hooks (struct bpf_sock_addr: allow, deny with EPERM, rewrite the
// address) and eBPF for Windows' bind hook (bind_md: BIND_PERMIT,
// BIND_DENY, BIND_REDIRECT).
//
// The decision logic (Set.Decide) is the same on every OS. Hooking a
// command's system calls (Command) uses seccomp user notification, on
// Linux only (no root needed); elsewhere it fails with ErrNotSupported.
//
// How Command works: it starts the program itself again as a shim
// (ShimEnv, RunShimIfRequested), which sets no_new_privs, installs a
// seccomp filter that sends connect and bind to the supervisor, hands the
// listener over and executes the command; children inherit the filter.
// For each call the supervisor takes the caller's socket (pidfd_getfd),
// copies the address (process_vm_readv), checks that the caller still
// waits (SECCOMP_IOCTL_NOTIF_ID_VALID), runs the programs and makes the
// call itself with the address it checked, answering with its result: the
// kernel never reads the caller's memory again, so changing the address
// meanwhile gains nothing.
//
// Limits:
//   - Calls on sockets no program applies to (AF_UNIX, raw sockets, a
//     family nothing is attached for) go on in the kernel; a thread that
//     swaps the descriptor (dup2) while its call is decided can so get an
//     AF_INET socket past the hooks.
//   - The supervisor makes the calls: an LSM or audit sees its thread.
//     It emulates the one privilege check the call depends on, a bind to
//     a port below ip_unprivileged_port_start (read when the command
//     starts, in the supervisor's network namespace), on the caller's
//     capabilities.
//   - Before Linux 5.19 (no SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) a
//     signal to a caller whose connect is being made restarts the call,
//     which then fails with EISCONN or EALREADY.
//   - A system call of a foreign ABI (i386 or x32 on x86-64) kills the
//     process: its connect and bind would go unseen.
//   - Reading the caller needs ptrace access to it: a supervisor without
//     it (a caller that made itself non-dumpable, under a non-root
//     supervisor) denies its calls with EPERM.
//   - Processes left running after the command exits get ENOSYS from
//     their connect and bind.
//   - bpf_sock_addr's sk is not offered, nor the socket helpers
//     (get_socket_cookie, sk_lookup_*, setsockopt).
//   - eBPF for Windows' bind hook sees BIND_OPERATION_BIND only (not the
//     post-bind and unbind events), the executable's path in UTF-16LE as
//     its app id, the sockaddr's first 16 bytes with AF_INET6 numbered as
//     on Windows (23); BIND_REDIRECT binds to the port and address bytes
//     the program left in socket_address.
package sockhook

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/isa"
)

// The Linux attach types of the hooks.
const (
	attachConnect4 = elf.AttachCGroupInet4Connect
	attachConnect6 = elf.AttachCGroupInet6Connect
	attachBind4    = elf.AttachCGroupInet4Bind
	attachBind6    = elf.AttachCGroupInet6Bind
)

// ErrNotSupported is returned where socket hooks cannot run: on an OS
// other than Linux, or a kernel without seccomp user notification.
var ErrNotSupported = errors.New("socket hooks are not supported on this OS")

// Hook is a point programs attach to.
type Hook uint8

// Hooks.
const (
	Connect4    Hook = iota // Linux cgroup/connect4: connect of an AF_INET socket
	Connect6                // Linux cgroup/connect6: connect of an AF_INET6 socket
	Bind4                   // Linux cgroup/bind4: bind of an AF_INET socket
	Bind6                   // Linux cgroup/bind6: bind of an AF_INET6 socket
	WindowsBind             // eBPF for Windows' bind hook: bind of an AF_INET or AF_INET6 socket
)

var hookNames = [...]string{"cgroup/connect4", "cgroup/connect6", "cgroup/bind4", "cgroup/bind6", "bind"}

func (h Hook) String() string {
	if int(h) < len(hookNames) {
		return hookNames[h]
	}
	return fmt.Sprintf("Hook(%d)", h)
}

// ParseHook returns the hook of a name: cgroup/connect4 (or connect4),
// cgroup/connect6, cgroup/bind4, cgroup/bind6, and bind for eBPF for
// Windows' bind hook.
func ParseHook(name string) (Hook, error) {
	for i, n := range hookNames {
		if name == n || (strings.HasPrefix(n, "cgroup/") && name == strings.TrimPrefix(n, "cgroup/")) {
			return Hook(i), nil
		}
	}
	return 0, fmt.Errorf("unknown hook %q (want cgroup/connect4, cgroup/connect6, cgroup/bind4, cgroup/bind6 or bind)", name)
}

// Kind returns the program kind of the hook's programs.
func (h Hook) Kind() (*xebpf.ProgramKind, error) {
	switch h {
	case Connect4:
		return xebpf.SockAddrKind(attachConnect4)
	case Connect6:
		return xebpf.SockAddrKind(attachConnect6)
	case Bind4:
		return xebpf.SockAddrKind(attachBind4)
	case Bind6:
		return xebpf.SockAddrKind(attachBind6)
	case WindowsBind:
		return xebpf.WindowsBindKind(), nil
	}
	return nil, fmt.Errorf("%v: no such hook", h)
}

// Op is the system call a Request asks about.
type Op uint8

// Operations.
const (
	OpConnect Op = iota
	OpBind
)

func (o Op) String() string {
	if o == OpBind {
		return "bind"
	}
	return "connect"
}

// Linux's address families and the Windows numbering of AF_INET6.
const (
	afInet       = 2
	afInet6      = 10
	afInet6Win   = 23
	sockaddrIn   = 16 // sizeof(struct sockaddr_in)
	sockaddrIn6  = 24 // SIN6_LEN_RFC2133: the least Linux takes for AF_INET6
	maxAppIDSize = 3520
)

// Request is one connect or bind a hooked process makes.
type Request struct {
	Op Op
	// Family, Type and Protocol are the socket's (AF_INET, SOCK_STREAM,
	// IPPROTO_TCP).
	Family, Type, Protocol uint32
	// Addr is the sockaddr the process passes, in Linux's layout.
	Addr []byte
	// Task is the calling thread.
	Task helpers.Task
	// AppID is the process's application id for eBPF for Windows'
	// bind hook (the executable's path); nil when no such hook is
	// attached.
	AppID []byte
}

// Verdict is what the hooks decided about a Request.
type Verdict struct {
	// Allow is false when a program denied the call: it fails with
	// EPERM.
	Allow bool
	// Addr is the address to connect or bind to: the Request's, or as
	// the programs rewrote it (a copy).
	Addr []byte
	// NoBindCap is set when a bind program returned 3: the bind needs no
	// CAP_NET_BIND_SERVICE for a privileged port.
	NoBindCap bool
	// Runs is the number of program runs the decision took.
	Runs int
}

// Attachment is a program attached to a hook of a Set.
type Attachment struct {
	hook     Hook
	prog     *xebpf.Program
	runFn    RunFunc // instead of prog (AttachFunc)
	runs     atomic.Uint64
	usesTask bool
}

// Hook returns the hook the program is attached to.
func (a *Attachment) Hook() Hook { return a.hook }

// RunCount returns how many times the program ran.
func (a *Attachment) RunCount() uint64 { return a.runs.Load() }

// Set is the programs attached to hooks. Attach before the Set decides;
// Decide is safe for concurrent use.
type Set struct {
	mu       sync.RWMutex
	attached []*Attachment
	// OnError, if set, is told of a program run that failed; the call
	// is then denied.
	OnError func(a *Attachment, err error)
}

// Attach attaches prog to hook h: h's programs run in the order they
// were attached. The program must be of the hook's kind (Hook.Kind);
// the Set does not own it.
func (s *Set) Attach(h Hook, prog *xebpf.Program) (*Attachment, error) {
	if _, err := h.Kind(); err != nil {
		return nil, err
	}
	if prog == nil {
		return nil, fmt.Errorf("attach to %v: nil program", h)
	}
	a := &Attachment{hook: h, prog: prog, usesTask: h == WindowsBind || callsTaskHelpers(prog)}
	s.mu.Lock()
	s.attached = append(s.attached, a)
	s.mu.Unlock()
	return a, nil
}

// Attachments returns the attached programs in order.
func (s *Set) Attachments() []*Attachment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*Attachment(nil), s.attached...)
}

// Has reports whether a program is attached to h.
func (s *Set) Has(h Hook) bool {
	for _, a := range s.Attachments() {
		if a.hook == h {
			return true
		}
	}
	return false
}

// callsTaskHelpers reports whether a program calls get_current_pid_tgid,
// get_current_uid_gid or get_current_comm, or tail-calls programs that
// may.
func callsTaskHelpers(p *xebpf.Program) bool {
	for _, ins := range p.Instructions() {
		if ins.OpCode == isa.OpCall && ins.Src == 0 {
			switch ins.Constant {
			case 12, 14, 15, 16:
				return true
			}
		}
	}
	return false
}

// Hooks reports whether a program is attached to a hook of the call
// (op) on a socket of a family (AF_INET, AF_INET6; 0: of any family).
func (s *Set) Hooks(op Op, family uint32) bool {
	for _, a := range s.Attachments() {
		for _, f := range []uint32{afInet, afInet6} {
			if family != 0 && family != f {
				continue
			}
			if linux, _, windows := hooksOf(op, f); a.hook == linux || (windows && a.hook == WindowsBind) {
				return true
			}
		}
	}
	return false
}

// NeedsTask reports whether a program the Request's hooks run may look
// at Request.Task: when none does, the caller may leave it zero.
func (s *Set) NeedsTask(r *Request) bool {
	linux, ok, windows := hooksOf(r.Op, r.Family)
	if !ok {
		return false
	}
	for _, a := range s.Attachments() {
		if (a.hook == linux || (windows && a.hook == WindowsBind)) && a.usesTask {
			return true
		}
	}
	return false
}

// hooksOf returns the Linux hook and whether the Windows hook applies to
// a call on a socket of a family.
func hooksOf(op Op, family uint32) (linux Hook, ok, windows bool) {
	switch {
	case op == OpConnect && family == afInet:
		return Connect4, true, false
	case op == OpConnect && family == afInet6:
		return Connect6, true, false
	case op == OpBind && family == afInet:
		return Bind4, true, true
	case op == OpBind && family == afInet6:
		return Bind6, true, true
	}
	return 0, false, false
}

// Applies reports whether Linux would run the hooks on the call: a
// connect or bind of a stream or datagram AF_INET or AF_INET6 socket,
// with an address at least as long as its family's sockaddr, and for
// connect not AF_UNSPEC (a disconnect).
func (r *Request) Applies() bool {
	if _, ok, _ := hooksOf(r.Op, r.Family); !ok || (r.Type != 1 && r.Type != 2) {
		return false
	}
	min := sockaddrIn
	if r.Family == afInet6 {
		min = sockaddrIn6
	}
	if len(r.Addr) < min {
		return false
	}
	return r.Op != OpConnect || binary.NativeEndian.Uint16(r.Addr) != 0
}

// Decide runs the programs attached to the Request's hook, as Linux runs
// a cgroup's programs: in the order they were attached (eBPF for
// Windows' bind programs among them, for a bind), each seeing the address
// as the ones before left it, until one denies. A call the hooks do not
// apply to is allowed unchanged.
func (s *Set) Decide(r *Request) Verdict {
	v := Verdict{Allow: true, Addr: append([]byte(nil), r.Addr...)}
	if !r.Applies() {
		return v
	}
	linux, _, windows := hooksOf(r.Op, r.Family)
	var ctx [xebpf.SockAddrSize]byte
	ctxSet := false
	for _, a := range s.Attachments() {
		var ret uint32
		var err error
		switch {
		case a.hook == linux:
			if !ctxSet {
				ctx = sockAddrOf(r, v.Addr)
				ctxSet = true
			}
			ret, err = a.run(&xebpf.RunOptions{Context: ctx[:], ContextOut: ctx[:], Task: &r.Task})
			if err == nil && ret != xebpf.SockAddrDeny {
				setSockAddr(r.Family, v.Addr, &ctx)
				v.NoBindCap = v.NoBindCap || ret == xebpf.SockAddrAllowNoBindCap
			}
			v.Allow = err == nil && ret != xebpf.SockAddrDeny
		case a.hook == WindowsBind && windows:
			md := bindMDOf(r, v.Addr)
			ret, err = a.runBind(&md, appIDData(r.AppID), &r.Task)
			if err == nil && ret == xebpf.BindRedirect {
				copy(v.Addr[2:], md.SocketAddress[2:]) // not the family
				ctxSet = false
			}
			v.Allow = err == nil && ret != xebpf.BindDeny
		default:
			continue
		}
		v.Runs++
		if err != nil && s.OnError != nil {
			s.OnError(a, err)
		}
		if !v.Allow {
			return v
		}
	}
	return v
}

// run runs the attachment's program once and counts the run.
func (a *Attachment) run(opts *xebpf.RunOptions) (uint32, error) {
	a.runs.Add(1)
	if a.runFn != nil {
		return a.runFn(opts)
	}
	return a.prog.Run(opts)
}

// appIDData returns the app id as a run's Data: never nil, so that the
// program gets an empty range rather than no packet.
func appIDData(id []byte) []byte {
	if len(id) > maxAppIDSize {
		id = id[:maxAppIDSize]
	}
	if id == nil {
		return []byte{}
	}
	return id
}

// sockAddrOf returns the bpf_sock_addr of a request for an address, as
// bytes (xebpf.SockAddr's layout): encoding/binary's reflection would
// cost more than the program's run.
func sockAddrOf(r *Request, addr []byte) [xebpf.SockAddrSize]byte {
	var ctx [xebpf.SockAddrSize]byte
	put := binary.NativeEndian.PutUint32
	put(ctx[0:], uint32(binary.NativeEndian.Uint16(addr)))      // user_family
	put(ctx[24:], uint32(binary.NativeEndian.Uint16(addr[2:]))) // user_port
	put(ctx[28:], r.Family)
	put(ctx[32:], r.Type)
	put(ctx[36:], r.Protocol)
	if r.Family == afInet {
		copy(ctx[4:8], addr[4:8]) // user_ip4
	} else {
		copy(ctx[8:24], addr[8:24]) // user_ip6
	}
	return ctx
}

// setSockAddr writes the fields a program may rewrite back into addr.
func setSockAddr(family uint32, addr []byte, ctx *[xebpf.SockAddrSize]byte) {
	binary.NativeEndian.PutUint16(addr[2:], uint16(binary.NativeEndian.Uint32(ctx[24:])))
	if family == afInet {
		copy(addr[4:8], ctx[4:8])
		return
	}
	copy(addr[8:24], ctx[8:24])
}

// bindMDOf returns the bind_md of a request for an address: the
// sockaddr's first 16 bytes, with AF_INET6 numbered as on Windows (23).
func bindMDOf(r *Request, addr []byte) xebpf.BindMD {
	md := xebpf.BindMD{ProcessID: uint64(r.Task.TGID), SocketAddressLength: uint8(min(len(addr), 255)),
		Operation: xebpf.BindOperationBind, Protocol: uint8(r.Protocol)}
	copy(md.SocketAddress[:], addr)
	if binary.NativeEndian.Uint16(addr) == afInet6 {
		binary.NativeEndian.PutUint16(md.SocketAddress[:], afInet6Win)
	}
	return md
}
