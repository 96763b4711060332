/* The context through a stack slot at a computed address: refused at
 * load (see spill_ctx_write). Once a data-flow pass of its own took what
 * came back for "not the context" and left the stores to the context's
 * hidden pointer words to checked mode. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} victim SEC(".maps");

/* The context goes through a stack slot at a computed index, and its data
 * words are pointed at the map's descriptor, which bpf_xdp_load_bytes
 * then reads. The verifier refuses the spill at a variable offset; the
 * permissive analysis that rewrites the context accesses of unverified
 * programs cannot tell what comes back out of the slot (the context, or
 * what the slot held before) and refuses to load the program, rather
 * than leave the access to the hidden words unrewritten. */
SEC("xdp")
int spill_ctx_write(struct xdp_md *ctx)
{
	void *volatile slots[4];
	__u32 i = ctx->ingress_ifindex & 3;
	__u32 desc[6];
	slots[i] = ctx;
	void *c = slots[i];
	*(volatile __u64 *)(c + XDP_DATA_WORD) = (__u64)&victim;
	*(volatile __u64 *)(c + XDP_END_WORD) = (__u64)&victim + 64;
	if (bpf_xdp_load_bytes(ctx, 0, desc, sizeof(desc)) != 0)
		return XDP_PASS;
	/* The descriptor starts with type 2 (array), key size 4, value size 8. */
	if (desc[0] == BPF_MAP_TYPE_ARRAY && desc[1] == 4 && desc[2] == 8)
		return ESCAPED;
	return NOT_REACHED;
}
