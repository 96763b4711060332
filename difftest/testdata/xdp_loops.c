/* Loops: a bounded for loop computing FNV-1a over up to 256 bytes of the
 * frame, a bounded while loop counting set bits, and bpf_loop with a callback
 * summing a stack copy of the first 64 bytes (one iteration per byte,
 * stopping early at a zero byte after the headers). */
#include "xebpf/bpf.h"

struct loop_ctx {
	__u8 buf[64];
	__u32 n;
	__u32 sum;
	__u32 iters;
};

__u32 fnv;
__u32 bits;
__u32 cb_sum;
__u32 cb_iters;
long loop_ret;

static long add_byte(__u64 i, struct loop_ctx *c)
{
	if (i >= 64 || i >= c->n)
		return 1;
	c->iters++;
	if (i > 40 && c->buf[i & 63] == 0)
		return 1;
	c->sum = c->sum * 31 + c->buf[i & 63];
	return 0;
}

SEC("xdp")
int xdp_loops(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 h = 2166136261u;
	for (__u32 i = 0; i < 256; i++) {
		if (data + i + 1 > end)
			break;
		h = (h ^ data[i]) * 16777619u;
	}
	fnv = h;
	__u32 x = h, b = 0;
	while (x && b < 32) {
		x &= x - 1;
		b++;
	}
	bits = b;

	struct loop_ctx c = {};
	__u32 n = 0;
	for (__u32 i = 0; i < 64; i++) {
		if (data + i + 1 > end)
			break;
		c.buf[i & 63] = data[i];
		n++;
	}
	c.n = n;
	loop_ret = bpf_loop(100, add_byte, &c, 0);
	cb_sum = c.sum;
	cb_iters = c.iters;
	return (h ^ c.sum) & 3;
}

char _license[] SEC("license") = "GPL";
