/* A tracepoint program on syscalls/sys_enter_openat's record and a raw
 * tracepoint program: they return what they read. */
#include "xebpf/bpf.h"

struct openat_args {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 dfd;
	__u64 filename, flags, mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int openat(struct openat_args *ctx)
{
	return ctx->flags + ctx->mode;
}

struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

SEC("raw_tracepoint/sys_enter")
int raw(struct bpf_raw_tracepoint_args *ctx)
{
	return ctx->args[1];
}

char _license[] SEC("license") = "GPL";
