/* .rodata is read-only for programs (BPF_F_RDONLY_PROG) and frozen for
 * user space after load. */
#include "hostile.h"

const volatile __u64 cfg = 5;

SEC("raw")
int rodata_write(void *ctx)
{
	*(volatile __u64 *)&cfg = 6;
	return cfg == 6 ? ESCAPED : NOT_REACHED;
}

/* Returns the configuration, for the Go-side update case. */
SEC("raw")
int rodata_read(void *ctx)
{
	return cfg;
}

/* The same write through a helper's output buffer. */
SEC("raw")
int rodata_helper_write(void *ctx)
{
	__u64 v = 6;
	bpf_probe_read_kernel((void *)&cfg, sizeof(v), &v);
	return cfg == 6 ? ESCAPED : NOT_REACHED;
}
