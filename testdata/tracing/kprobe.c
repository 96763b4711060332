// Kprobe programs built for one architecture: compiled by TestKprobeArch
// with clang-19 against libbpf's bpf_tracing.h (cilium/ebpf's copy), for
// -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64, with the register struct
// declared as the kernel's headers (KERNEL_NAMES, x86 only) or user
// space's declare it, and with CO-RE relocations on its fields (CORE).
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#ifdef CORE
#define RELOCATABLE __attribute__((preserve_access_index))
#else
#define RELOCATABLE
#endif

#if defined(__TARGET_ARCH_x86) && defined(KERNEL_NAMES)
#define __VMLINUX_H__ 1 /* bpf_tracing.h then reads the kernel's names */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} RELOCATABLE;
#elif defined(__TARGET_ARCH_x86)
struct pt_regs { /* <asm/ptrace.h> */
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
} RELOCATABLE;
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs { /* arm64's <asm/ptrace.h> */
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} RELOCATABLE;
/* What libbpf's PT_REGS_PARM1_SYSCALL reads on arm64. */
struct pt_regs___arm64 {
	unsigned long orig_x0;
} RELOCATABLE;
#endif

#include "bpf_helpers.h"
#include "bpf_tracing.h"

char __license[] SEC("license") = "GPL";

struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, 9);
	__type(key, __u32);
	__type(value, __u64);
} out SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&out, &k, &v, 0);
}

/* out[0..4]: the five arguments; out[5]: PT_REGS_RC; out[6]: PT_REGS_SP;
 * out[7]: PT_REGS_IP; out[8]: arm64's orig_x0 (CORE builds). */
SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(probe, long a1, long a2, long a3, long a4, long a5)
{
	put(0, a1);
	put(1, a2);
	put(2, a3);
	put(3, a4);
	put(4, a5);
	put(5, PT_REGS_RC(ctx));
	put(6, PT_REGS_SP(ctx));
	put(7, PT_REGS_IP(ctx));
#if defined(__TARGET_ARCH_arm64) && defined(CORE)
	put(8, ((struct pt_regs___arm64 *)ctx)->orig_x0);
#endif
	return 0;
}
