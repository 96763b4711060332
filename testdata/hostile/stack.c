/* The stack: what a run may see of it, and how far r10 reaches. */
#include "hostile.h"

#define SECRET 0x5ec7e75ec7e7

/* Run with a context whose first byte is 1: leaves a secret 256 bytes down
 * the stack. Run with 0: returns what is there without writing it first
 * (Linux refuses the read of uninitialised stack). */
SEC("raw")
int uninit_stack(__u8 *ctx)
{
	__u64 v;
	if (*ctx == 1) {
		v = SECRET;
		asm volatile("*(u64 *)(r10 - 256) = %0" ::"r"(v));
		return 1;
	}
	asm volatile("%0 = *(u64 *)(r10 - 256)" : "=r"(v));
	return v == SECRET ? ESCAPED : v != 0 ? NOT_REACHED : 0;
}

/* A subprogram returning the address of its own stack. */
static __attribute__((noinline)) __u64 frame_addr(void)
{
	__u64 p;
	asm volatile("%0 = r10; %0 += -8" : "=r"(p));
	return p;
}

static __attribute__((noinline)) __u64 scribble(__u64 x)
{
	volatile __u64 buf[4] = {x, x, x, x};
	return buf[x & 3];
}

SEC("raw")
int stack_ptr_returned(void *ctx)
{
	__u64 p = frame_addr();
	scribble(p);
	*(volatile __u64 *)p = 1;
	return ESCAPED;
}

/* A subprogram reaching into its caller's frame through r10 + 504, the
 * caller's r10 - 8. */
static __attribute__((noinline)) __u64 poke_caller(__u64 x)
{
	asm volatile("*(u64 *)(r10 + 504) = %0" ::"r"(x));
	return 0;
}

SEC("raw")
int callee_writes_caller_frame(void *ctx)
{
	__u64 seen;
	asm volatile("r1 = 7; *(u64 *)(r10 - 8) = r1" ::: "r1");
	poke_caller(ESCAPED);
	asm volatile("%0 = *(u64 *)(r10 - 8)" : "=r"(seen));
	return seen == ESCAPED ? ESCAPED : NOT_REACHED;
}

/* A store 4 KiB below the only frame in use. */
SEC("raw")
int r10_far_write(void *ctx)
{
	asm volatile("r1 = 1; *(u64 *)(r10 - 4096) = r1" ::: "r1");
	return ESCAPED;
}
