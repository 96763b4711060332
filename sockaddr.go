package xebpf

import (
	"fmt"

	"github.com/xebpf/xebpf/elf"
)

// SockAddr is Linux's struct bpf_sock_addr, the context of
// cgroup/connect4, connect6, bind4 and bind6 programs (CGroupSockAddr), in
// the kernel's layout: a RunOptions.Context and ContextOut. The addresses
// and the port are in network byte order as the program sees them: the
// bytes of the sockaddr read as native integers (UserPort holds the 2
// port bytes in its low 16 bits).
type SockAddr struct {
	UserFamily uint32    // the sockaddr's family (AF_INET, AF_INET6)
	UserIP4    uint32    // sin_addr; IPv4 hooks may rewrite it
	UserIP6    [4]uint32 // sin6_addr; IPv6 hooks may rewrite it
	UserPort   uint32    // sin_port or sin6_port; the hooks may rewrite it
	Family     uint32    // the socket's family
	Type       uint32    // the socket's type (SOCK_STREAM, SOCK_DGRAM)
	Protocol   uint32    // the socket's protocol (IPPROTO_TCP, IPPROTO_UDP)
	MsgSrcIP4  uint32    // sendmsg's source address (not these hooks')
	MsgSrcIP6  [4]uint32 // sendmsg's source address (not these hooks')
	_          uint32
	// Sk is the struct bpf_sock pointer. xebpf has no socket to show the
	// program: it is not a field programs may read.
	Sk uint64
}

// SockAddrSize is the size of struct bpf_sock_addr.
const SockAddrSize = 72

// Return values of CGroupSockAddr programs: a connect or bind goes on
// with 1 and fails with EPERM with 0. A bind program may also return 3:
// allow, and skip the CAP_NET_BIND_SERVICE check for a privileged port.
const (
	SockAddrDeny           = 0
	SockAddrAllow          = 1
	SockAddrAllowNoBindCap = 3
)

// sockAddrHelpers are the Linux helpers CGroupSockAddr programs may call
// here, of those Linux's sock_addr_func_proto offers: bpf_base_func_proto's
// (maps, time, random numbers, CPU ids, trace_printk, ring buffers, loops,
// strncmp, dynptrs, spin locks, tail calls), perf_event_output and the
// current task's ids and comm. Not the socket ones (get_socket_cookie,
// sk_lookup_*, setsockopt, sk_storage), which need a kernel socket.
var sockAddrHelpers = allowOnly([]int32{
	1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 25, 42, 87, 88, 89, 93, 94, 125,
	130, 131, 132, 133, 134, 160, 164, 165, 181, 182, 195,
	197, 198, 199, 200, 201, 202, 203, 208,
})

// sockAddrContext returns struct bpf_sock_addr with the fields a hook's
// programs may access, as Linux's sock_addr_is_valid_access allows them:
// user_ip4 in IPv4 hooks and user_ip6 in IPv6 hooks, both writable, the
// port writable, the socket's family, type and protocol read-only; not
// msg_src_ip4/6 (sendmsg hooks only) nor sk.
func sockAddrContext(ip4, ip6 bool) *Context {
	fs := []ContextField{{Name: "user_family", Offset: 0, Size: 4}}
	if ip4 {
		fs = append(fs, ContextField{Name: "user_ip4", Offset: 4, Size: 4, Writable: true})
	}
	if ip6 {
		fs = append(fs, ContextField{Name: "user_ip6", Offset: 8, Size: 16, Writable: true})
	}
	fs = append(fs,
		ContextField{Name: "user_port", Offset: 24, Size: 4, Writable: true},
		ContextField{Name: "family", Offset: 28, Size: 4},
		ContextField{Name: "type", Offset: 32, Size: 4},
		ContextField{Name: "protocol", Offset: 36, Size: 4},
	)
	return &Context{Name: "bpf_sock_addr", Size: SockAddrSize, Fields: fs}
}

func sockAddrResult(ret uint32) string {
	switch ret {
	case SockAddrDeny:
		return "deny"
	case SockAddrAllow:
		return "allow"
	case SockAddrAllowNoBindCap:
		return "allow (no CAP_NET_BIND_SERVICE check)"
	}
	return ""
}

// The built-in CGroupSockAddr kinds, by hook. sockAddrAnyKind is for a
// program whose attach type is not known: it may access the fields of
// either family's hooks.
var (
	sockAddrKinds = map[elf.AttachType]*ProgramKind{
		elf.AttachCGroupInet4Connect: {Name: "cgroup/connect4", Context: sockAddrContext(true, false), LinuxHelpers: sockAddrHelpers, Returns: &[2]uint32{0, 1}, Result: sockAddrResult},
		elf.AttachCGroupInet6Connect: {Name: "cgroup/connect6", Context: sockAddrContext(false, true), LinuxHelpers: sockAddrHelpers, Returns: &[2]uint32{0, 1}, Result: sockAddrResult},
		elf.AttachCGroupInet4Bind:    {Name: "cgroup/bind4", Context: sockAddrContext(true, false), LinuxHelpers: sockAddrHelpers, Returns: &[2]uint32{0, 3}, Result: sockAddrResult},
		elf.AttachCGroupInet6Bind:    {Name: "cgroup/bind6", Context: sockAddrContext(false, true), LinuxHelpers: sockAddrHelpers, Returns: &[2]uint32{0, 3}, Result: sockAddrResult},
	}
	sockAddrAnyKind = &ProgramKind{Name: "cgroup_sock_addr", Context: sockAddrContext(true, true), LinuxHelpers: sockAddrHelpers, Returns: &[2]uint32{0, 3}, Result: sockAddrResult}
)

// SockAddrKind returns the kind of CGroupSockAddr programs of a hook:
// elf.AttachCGroupInet4Connect, Inet6Connect, Inet4Bind or Inet6Bind. The
// result is a copy the caller may change.
func SockAddrKind(attach elf.AttachType) (*ProgramKind, error) {
	k := sockAddrKinds[attach]
	if k == nil {
		return nil, fmt.Errorf("attach type %d is not a connect or bind hook of CGroupSockAddr programs", attach)
	}
	return k.clone(), nil
}

// sockAddrKindOf returns the kind of a CGroupSockAddr program attached
// at attach: its hook's, or one with both families' fields.
func sockAddrKindOf(attach elf.AttachType) *ProgramKind {
	if k := sockAddrKinds[attach]; k != nil {
		return k
	}
	return sockAddrAnyKind
}
