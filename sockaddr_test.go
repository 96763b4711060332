package xebpf_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
)

// sockAddrC is struct bpf_sock_addr as include/uapi/linux/bpf.h declares it.
const sockAddrC = `#include "xebpf/bpf.h"
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;
	__u32 user_ip6[4];
	__u32 user_port;
	__u32 family;
	__u32 type;
	__u32 protocol;
	__u32 msg_src_ip4;
	__u32 msg_src_ip6[4];
	__bpf_md_ptr(struct bpf_sock *, sk);
};
_Static_assert(sizeof(struct bpf_sock_addr) == 72, "layout");
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
`

// TestSockAddrKind runs clang-built CGroupSockAddr programs on a
// bpf_sock_addr: a connect4 program that denies one port, rewrites
// another and reads the socket's fields and the task's pid; a connect6
// program rewriting the address; and checks that the verifier refuses
// what Linux refuses of these hooks.
func TestSockAddrKind(t *testing.T) {
	obj := buildC(t, "sockaddr", sockAddrC+`
SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == __builtin_bswap16(7001))
		return 0;
	if (ctx->user_port == __builtin_bswap16(7002) && ctx->type == 1 && ctx->family == 2) {
		ctx->user_port = __builtin_bswap16(7003);
		ctx->user_ip4 = __builtin_bswap32(0x7f000002);
	}
	if ((__u32)bpf_get_current_pid_tgid() == 4242)
		ctx->user_port = __builtin_bswap16(4242);
	return 1;
}
SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	if (ctx->user_family == 10 && ctx->user_ip6[3] == __builtin_bswap32(1))
		ctx->user_ip6[3] = __builtin_bswap32(2);
	return 1;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := func(p uint16) uint32 { return uint32(p>>8 | p<<8) } // network order, read natively
	ip4 := func(a uint32) uint32 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], a)
		return binary.NativeEndian.Uint32(b[:])
	}
	for _, tc := range []struct {
		name      string
		prog      string
		in        xebpf.SockAddr
		task      *helpers.Task
		ret       uint32
		port, ip4 uint32
		ip6       [4]uint32
	}{
		{"deny", "connect4", xebpf.SockAddr{UserFamily: 2, UserIP4: ip4(0x7f000001), UserPort: port(7001), Family: 2, Type: 1}, nil, 0, port(7001), ip4(0x7f000001), [4]uint32{}},
		{"rewrite", "connect4", xebpf.SockAddr{UserFamily: 2, UserIP4: ip4(0x7f000001), UserPort: port(7002), Family: 2, Type: 1}, nil, 1, port(7003), ip4(0x7f000002), [4]uint32{}},
		{"udp not rewritten", "connect4", xebpf.SockAddr{UserFamily: 2, UserIP4: ip4(0x7f000001), UserPort: port(7002), Family: 2, Type: 2}, nil, 1, port(7002), ip4(0x7f000001), [4]uint32{}},
		{"task", "connect4", xebpf.SockAddr{UserFamily: 2, UserPort: port(80), Family: 2, Type: 1}, &helpers.Task{PID: 4242, TGID: 4242}, 1, port(4242), 0, [4]uint32{}},
		{"v6", "connect6", xebpf.SockAddr{UserFamily: 10, UserIP6: [4]uint32{0, 0, 0, ip4(1)}, UserPort: port(80), Family: 10, Type: 1}, nil, 1, port(80), 0, [4]uint32{0, 0, 0, ip4(2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out xebpf.SockAddr
			ret, err := c.Programs[tc.prog].Run(&xebpf.RunOptions{Context: tc.in, ContextOut: &out, Task: tc.task})
			if err != nil {
				t.Fatal(err)
			}
			if ret != tc.ret || out.UserPort != tc.port || out.UserIP4 != tc.ip4 || out.UserIP6 != tc.ip6 {
				t.Errorf("got %d, port %#x, ip4 %#x, ip6 %x; want %d, %#x, %#x, %x", ret, out.UserPort, out.UserIP4, out.UserIP6, tc.ret, tc.port, tc.ip4, tc.ip6)
			}
			if out.Family != tc.in.Family || out.Type != tc.in.Type {
				t.Errorf("read-only fields changed: %+v", out)
			}
		})
	}
	for _, attach := range []elf.AttachType{elf.AttachCGroupInet4Connect, elf.AttachCGroupInet6Connect, elf.AttachCGroupInet4Bind, elf.AttachCGroupInet6Bind} {
		k, err := xebpf.SockAddrKind(attach)
		if err != nil || k.Context.Size != xebpf.SockAddrSize {
			t.Errorf("SockAddrKind(%d) = %v, %v", attach, k, err)
		}
	}
	if _, err := xebpf.SockAddrKind(elf.AttachCGroupInetIngress); err == nil {
		t.Error("SockAddrKind of an skb hook succeeded")
	}
	// Without an attach type: both families' fields.
	names := map[string]bool{}
	for _, f := range xebpf.KindOf(xebpf.CGroupSockAddr).Context.Fields {
		names[f.Name] = f.Writable
	}
	if !names["user_ip4"] || !names["user_ip6"] || !names["user_port"] {
		t.Errorf("KindOf(CGroupSockAddr) fields: %v", names)
	}
}

// TestSockAddrVerifierRefuses checks what the verifier refuses of
// CGroupSockAddr programs, as Linux does: user_ip6 in an IPv4 hook,
// writes to read-only fields, msg_src_ip4 outside sendmsg hooks, a
// connect program returning 2, and calls of socket helpers.
func TestSockAddrVerifierRefuses(t *testing.T) {
	for _, tc := range []struct{ name, sec, body, want string }{
		{"ip6 in connect4", "cgroup/connect4", "return ctx->user_ip6[0] == 1;", "not a field"},
		{"ip4 in bind6", "cgroup/bind6", "return ctx->user_ip4 == 1;", "not a field"},
		{"write family", "cgroup/connect4", "ctx->family = 10; return 1;", "may only read"},
		{"msg_src_ip4", "cgroup/bind4", "return ctx->msg_src_ip4 == 1;", "not a field"},
		{"connect returns 2", "cgroup/connect4", "return ctx->user_port == 5 ? 2 : 1;", "return"},
		{"socket cookie", "cgroup/connect4", "return ((__u64 (*)(void *))46)(ctx) == 5;", "get_socket_cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := buildC(t, "refused", sockAddrC+`SEC("`+tc.sec+`") int prog(struct bpf_sock_addr *ctx) { `+tc.body+` }
char LICENSE[] SEC("license") = "GPL";
`)
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			c, err := xebpf.NewCollection(spec)
			if err == nil {
				c.Close()
				t.Fatal("the verifier accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// bind programs may return 3.
	obj := buildC(t, "bind3", sockAddrC+`SEC("cgroup/bind4") int prog(struct bpf_sock_addr *ctx) { return ctx->user_port == 5 ? 3 : 1; }
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("bind4 returning 3: %v", err)
	}
	c.Close()
}
