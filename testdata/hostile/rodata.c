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
