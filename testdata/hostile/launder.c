/* Pointers laundered through maps and tail calls: what comes back out of
 * a map is a number, not a pointer. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} stash SEC(".maps");

int forger(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jmp SEC(".maps") = {
	.values = {[0] = (void *)&forger},
};

/* The entry program stores the context's address in a map and tail-calls
 * forger, which takes it back out and widens the packet's end. */
SEC("xdp")
int tail_ctx_launder(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *slot = bpf_map_lookup_elem(&stash, &k);
	if (!slot)
		return NOT_REACHED;
	*slot = (__u64)ctx;
	bpf_tail_call(ctx, &jmp, 0);
	return NOT_REACHED;
}

SEC("xdp")
int forger(struct xdp_md *ctx)
{
	__u8 buf[64];
	__u32 k = 0;
	__u64 *slot = bpf_map_lookup_elem(&stash, &k);
	if (!slot)
		return NOT_REACHED;
	*(volatile __u64 *)(*slot + XDP_END_WORD) += 0x10000;
	if (bpf_xdp_load_bytes(ctx, 3840, buf, sizeof(buf)) == 0)
		return ESCAPED;
	return XDP_PASS;
}

/* A map value's address stored in the map and dereferenced after reading
 * it back. */
SEC("raw")
int map_ptr_roundtrip(void *ctx)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *a = bpf_map_lookup_elem(&stash, &k0);
	__u64 *b = bpf_map_lookup_elem(&stash, &k1);
	if (!a || !b)
		return NOT_REACHED;
	*b = (__u64)a;
	__u64 p = *(volatile __u64 *)b;
	*(volatile __u64 *)p = ESCAPED;
	return ESCAPED;
}

struct fake_xdp {
	struct xdp_md md;
	__u64 data, data_end, data_meta;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fake_xdp);
} fakes SEC(".maps");

int fake_ctx_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jmp_fake SEC(".maps") = {
	.values = {[0] = (void *)&fake_ctx_target},
};

/* bpf_tail_call with a map value as the context: the target starts with
 * r1 pointing at a context the program made, where its rewritten
 * ctx->data and ctx->data_end loads find bounds around a map descriptor. */
SEC("xdp")
int tail_call_fake_ctx(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct fake_xdp *fake = bpf_map_lookup_elem(&fakes, &k);
	if (!fake)
		return NOT_REACHED;
	fake->data = fake->data_meta = (__u64)&stash;
	fake->data_end = (__u64)&stash + 64;
	bpf_tail_call(fake, &jmp_fake, 0);
	return NOT_REACHED;
}

SEC("xdp")
int fake_ctx_target(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 4 > end)
		return XDP_PASS;
	return *(__u32 *)data == BPF_MAP_TYPE_ARRAY ? ESCAPED : NOT_REACHED;
}

static long noop(__u64 i, void *c) { return 1; }

/* The code address of a callback, read and written as memory. */
SEC("raw")
int code_ptr_write(void *ctx)
{
	void *f = noop;
	barrier_var(f);
	*(volatile __u64 *)f = 0x95; /* exit */
	return bpf_loop(1, noop, 0, 0) == 1 ? ESCAPED : NOT_REACHED;
}

static long key_write(void *map, __u32 *key, __u64 *val, void *c)
{
	*(volatile __u32 *)key = 7;
	return 1;
}

/* bpf_for_each_map_elem hands callbacks a read-only key. */
SEC("raw")
int for_each_key_write(void *ctx)
{
	bpf_for_each_map_elem(&stash, key_write, 0, 0);
	return ESCAPED;
}
