/* A kprobe built for x86-64 (struct pt_regs with the kernel's names, as
 * vmlinux.h declares it): returns 10 * PT_REGS_PARM1 + PT_REGS_PARM2. */
#include "xebpf/bpf.h"

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

SEC("kprobe/do_sys_openat2")
int probe(struct pt_regs *ctx)
{
	return 10 * ctx->di + ctx->si;
}

char _license[] SEC("license") = "GPL";
