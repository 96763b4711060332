// Programs that submit records to a ring buffer, for the ringbuf package's
// tests. They are XDP programs so that the kernel can test-run them too.
// Built by the tests: clang-19 -O2 -g -target bpf -I ../include -c ringbuf.c
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} counts SEC(".maps");

// reserve5 reserves a 5-byte record and fills it with the packet's first
// bytes; it counts its runs in counts[0].
SEC("xdp")
int reserve5(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&counts, &zero);
	__u8 *rec;

	if (n)
		__sync_fetch_and_add(n, 1);
	if (data + 5 > end)
		return XDP_ABORTED;
	rec = bpf_ringbuf_reserve(&events, 5, 0);
	if (!rec)
		return XDP_DROP;
	for (int i = 0; i < 5; i++)
		rec[i] = data[i];
	bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}

// output copies the packet's first data[0] % 32 bytes into a record with
// bpf_ringbuf_output; data[1] & 3 are its flags (BPF_RB_*). XDP_DROP
// tells that the ring had no room.
SEC("xdp")
int output(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u8 buf[32];

	if (data + sizeof(buf) > end)
		return XDP_ABORTED;
	__builtin_memcpy(buf, data, sizeof(buf));
	if (bpf_ringbuf_output(&events, buf, buf[0] & 31, buf[1] & 3))
		return XDP_DROP;
	return XDP_PASS;
}

// discard reserves a record and discards it, then outputs "xyz": readers
// see "xyz" only.
SEC("xdp")
int discard(struct xdp_md *ctx)
{
	char s[3] = {'x', 'y', 'z'};
	void *rec = bpf_ringbuf_reserve(&events, 16, 0);

	if (!rec)
		return XDP_DROP;
	bpf_ringbuf_discard(rec, 0);
	if (bpf_ringbuf_output(&events, s, sizeof(s), 0))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
