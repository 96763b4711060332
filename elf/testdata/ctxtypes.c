// Context types xebpf resolves CO-RE relocations against. Built into the
// raw BTF blob ../ctxtypes.btf by `go generate` in the elf package.
#include <linux/types.h>
#include <linux/bpf.h>

// struct pt_regs with the x86-64 kernel's field names and layout, which
// vmlinux.h-based programs use.
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

// One function per type keeps every type in the BTF without data sections.
int xebpf_ctx_xdp_md(struct xdp_md *ctx) { return 0; }
int xebpf_ctx_sk_buff(struct __sk_buff *ctx) { return 0; }
int xebpf_ctx_bpf_sock(struct bpf_sock *ctx) { return 0; }
int xebpf_ctx_bpf_sock_ops(struct bpf_sock_ops *ctx) { return 0; }
int xebpf_ctx_pt_regs(struct pt_regs *ctx) { return 0; }
int xebpf_ctx_bpf_sock_addr(struct bpf_sock_addr *ctx) { return 0; }
int xebpf_ctx_sk_msg_md(struct sk_msg_md *ctx) { return 0; }
int xebpf_ctx_bpf_sockopt(struct bpf_sockopt *ctx) { return 0; }
int xebpf_ctx_bpf_sysctl(struct bpf_sysctl *ctx) { return 0; }
int xebpf_ctx_sk_reuseport_md(struct sk_reuseport_md *ctx) { return 0; }
int xebpf_ctx_bpf_sk_lookup(struct bpf_sk_lookup *ctx) { return 0; }
int xebpf_ctx_bpf_perf_event_value(struct bpf_perf_event_value *ctx) { return 0; }
int xebpf_ctx_bpf_cgroup_dev_ctx(struct bpf_cgroup_dev_ctx *ctx) { return 0; }
int xebpf_ctx_bpf_raw_tracepoint_args(struct bpf_raw_tracepoint_args *ctx) { return 0; }
int xebpf_ctx_bpf_flow_keys(struct bpf_flow_keys *ctx) { return 0; }
int xebpf_ctx_bpf_tcp_sock(struct bpf_tcp_sock *ctx) { return 0; }
int xebpf_ctx_bpf_xdp_sock(struct bpf_xdp_sock *ctx) { return 0; }
