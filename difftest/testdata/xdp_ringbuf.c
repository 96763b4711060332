/* Ring buffer output: every run writes a 24-byte record (length and the
 * first 16 bytes of the frame) with bpf_ringbuf_output, then reserves a
 * 40-byte record that it submits for even lengths and discards for odd
 * ones; helper results are kept in .bss. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} events SEC(".maps");

struct head {
	__u32 len;
	__u32 seq;
	__u8 bytes[16];
};

struct big {
	__u64 seq;
	__u8 bytes[32];
};

__u32 seq;
long out_err;
__u64 reserve_fail;

SEC("xdp")
int xdp_ringbuf(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 48 > end)
		return XDP_PASS;
	struct head h = {.len = end - data, .seq = ++seq};
	__builtin_memcpy(h.bytes, data, 16);
	out_err = bpf_ringbuf_output(&events, &h, sizeof(h), 0);
	struct big *b = bpf_ringbuf_reserve(&events, sizeof(*b), 0);
	if (!b) {
		reserve_fail++;
		return XDP_DROP;
	}
	b->seq = seq;
	__builtin_memcpy(b->bytes, data + 16, 32);
	if (h.len & 1) {
		bpf_ringbuf_discard(b, 0);
		return XDP_PASS;
	}
	bpf_ringbuf_submit(b, 0);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
