/* Writes to a ring buffer: per packet, a reserved-and-submitted 16-byte
 * record {seq, len, first 8 bytes}, a reserved-and-discarded one, and a
 * 3-byte record through bpf_ringbuf_output. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

__u32 seq;

struct event {
	__u32 seq;
	__u32 len;
	__u8 head[8];
};

SEC("xdp")
int xdp_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 8 > data_end)
		return XDP_ABORTED;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_DROP;
	e->seq = ++seq;
	e->len = data_end - data;
	__builtin_memcpy(e->head, data, 8);
	bpf_ringbuf_submit(e, 0);

	__u32 *skip = bpf_ringbuf_reserve(&events, 4, 0);
	if (skip) {
		*skip = 0xffffffff;
		bpf_ringbuf_discard(skip, 0);
	}

	__u8 tail[3] = {0xab, 0xcd, (__u8)seq};
	bpf_ringbuf_output(&events, tail, sizeof(tail), 0);
	return XDP_PASS;
}
