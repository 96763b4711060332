/* A kprobe built for arm64 as bpf_tracing.h reads arguments there,
 * through struct user_pt_regs, which leaves no trace in BTF: returns
 * 10 * PT_REGS_PARM1 + PT_REGS_PARM2. */
#include "xebpf/bpf.h"

struct user_pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
};
struct pt_regs;

SEC("kprobe/do_sys_openat2")
int probe(struct pt_regs *ctx)
{
	const struct user_pt_regs *r = (const void *)ctx;
	return 10 * r->regs[0] + r->regs[1];
}

char _license[] SEC("license") = "GPL";
