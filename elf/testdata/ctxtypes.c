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

// arm64's struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h),
// which bpf_tracing.h reads kprobe arguments through for
// __TARGET_ARCH_arm64, and the kernel's struct pt_regs
// (arch/arm64/include/asm/ptrace.h, as in Linux 5.10 to 6.12) under a name
// of xebpf's own: CO-RE relocations against pt_regs in objects built for
// arm64 resolve against it (see TargetArch).
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

struct xebpf_arm64_pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
	__s32 syscallno;
	__u32 unused2;
	__u64 sdei_ttbr1;
	__u64 pmr_save;
	__u64 stackframe[2];
	__u64 lockdep_hardirqs;
	__u64 exit_rcu;
};

// One function per type keeps every type in the BTF without data sections.
int xebpf_ctx_xdp_md(struct xdp_md *ctx) { return 0; }
int xebpf_ctx_sk_buff(struct __sk_buff *ctx) { return 0; }
int xebpf_ctx_bpf_sock(struct bpf_sock *ctx) { return 0; }
int xebpf_ctx_bpf_sock_ops(struct bpf_sock_ops *ctx) { return 0; }
int xebpf_ctx_pt_regs(struct pt_regs *ctx) { return 0; }
int xebpf_ctx_user_pt_regs(struct user_pt_regs *ctx) { return 0; }
int xebpf_ctx_arm64_pt_regs(struct xebpf_arm64_pt_regs *ctx) { return 0; }
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
