// Tracepoint and raw tracepoint programs for TestTracepoint and
// TestRawTracepoint: they copy what they read of their context into "out".
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include "bpf_helpers.h"

char __license[] SEC("license") = "GPL";

struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} out SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&out, &k, &v, 0);
}

/* syscalls/sys_enter_openat, as its format file describes it. */
struct sys_enter_openat {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	__s32 __syscall_nr;
	__u32 pad;
	__s64 dfd;
	__u64 filename;
	__u64 flags;
	__u64 mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int openat(struct sys_enter_openat *ctx)
{
	put(0, ctx->common_pid);
	put(1, ctx->__syscall_nr);
	put(2, ctx->dfd);
	put(3, ctx->filename);
	put(4, ctx->flags);
	put(5, ctx->mode);
	return 0;
}

/* The same record as samples/bpf declares it: syscall_nr as a long reads
 * __syscall_nr and the padding after it in one 8-byte load. */
struct syscalls_enter_openat_args {
	__u64 unused;
	long syscall_nr;
	long dfd;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_legacy(struct syscalls_enter_openat_args *ctx)
{
	put(6, ctx->syscall_nr);
	return 0;
}

struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

SEC("raw_tracepoint/sys_enter")
int raw(struct bpf_raw_tracepoint_args *ctx)
{
	put(0, ctx->args[0]);
	put(1, ctx->args[1]);
	put(2, ctx->args[2]);
	return 0;
}
