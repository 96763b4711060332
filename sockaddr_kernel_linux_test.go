package xebpf_test

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
)

// TestSockAddrAgainstKernel loads CGroupSockAddr programs into the
// running kernel too: its verifier must accept what xebpf's accepts and
// reject what xebpf's rejects, the two known differences aside (the sk
// field and get_socket_cookie, which xebpf does not offer).
func TestSockAddrAgainstKernel(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("kernel eBPF unavailable: %v", err)
	}
	for _, tc := range []struct {
		name, sec, body string
		known           string // a difference xebpf makes on purpose: xebpf refuses, Linux accepts
	}{
		{"read all", "cgroup/connect4", "return ctx->user_family + ctx->user_ip4 + ctx->user_port + ctx->family + ctx->type + ctx->protocol == 7;", ""},
		{"rewrite ip4 and port", "cgroup/connect4", "ctx->user_ip4 = 0x0100007f; ctx->user_port = 0x5000; return 1;", ""},
		{"rewrite ip6", "cgroup/connect6", "ctx->user_ip6[3] = 0x01000000; ctx->user_port = 1; return 1;", ""},
		{"bind4 returns 3", "cgroup/bind4", "return ctx->user_port == 5 ? 3 : 1;", ""},
		{"bind6 rewrites", "cgroup/bind6", "ctx->user_ip6[0] = 0; return 1;", ""},
		{"pid_tgid", "cgroup/connect4", "return (bpf_get_current_pid_tgid() >> 32) != 1;", ""},
		{"ip6 in connect4", "cgroup/connect4", "return ctx->user_ip6[0] == 1;", ""},
		{"ip4 in bind6", "cgroup/bind6", "return ctx->user_ip4 == 1;", ""},
		{"write family", "cgroup/connect4", "ctx->family = 10; return 1;", ""},
		{"msg_src_ip4", "cgroup/bind4", "return ctx->msg_src_ip4 == 1;", ""},
		{"connect returns 2", "cgroup/connect4", "return ctx->user_port == 5 ? 2 : 1;", ""},
		{"bind returns 4", "cgroup/bind4", "return ctx->user_port == 5 ? 4 : 1;", ""},
		{"sk", "cgroup/connect4", "return ctx->sk != 0;", "sk"},
		{"socket cookie", "cgroup/connect4", "return ((__u64 (*)(void *))46)(ctx) == 5;", "get_socket_cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := buildC(t, "k", sockAddrC+`SEC("`+tc.sec+`") int prog(struct bpf_sock_addr *ctx) { `+tc.body+` }
char LICENSE[] SEC("license") = "GPL";
`)
			spec, err := xebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			c, xerr := xebpf.NewCollection(spec)
			if xerr == nil {
				c.Close()
			}
			kspec, err := ebpf.LoadCollectionSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			kc, kerr := ebpf.NewCollection(kspec)
			if kerr == nil {
				kc.Close()
			}
			switch {
			case tc.known != "":
				if xerr == nil || !strings.Contains(xerr.Error(), tc.known) || kerr != nil {
					t.Errorf("known difference %s: xebpf %v, Linux %v", tc.known, xerr, kerr)
				}
			case (xerr == nil) != (kerr == nil):
				t.Errorf("xebpf: %v; Linux: %v", xerr, kerr)
			}
		})
	}
}
