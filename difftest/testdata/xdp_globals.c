/* Global data: a const volatile configuration and a lookup table in
 * .rodata, initialized counters and a struct in .data, zeroed counters and
 * an array in .bss. The verdict comes from the table, indexed by the packet. */
#include "xebpf/bpf.h"

const volatile __u32 min_len = 60;
const volatile __u8 drop_ttl = 1;
static const __u8 verdict_table[16] = {2, 2, 1, 2, 3, 2, 2, 1, 2, 2, 2, 3, 1, 2, 2, 2};

struct stats {
	__u64 packets;
	__u64 bytes;
	__u32 last_len;
	__u16 last_proto;
	__u8 max_ttl;
	__u8 pad;
};

struct stats st = {.packets = 1000, .bytes = 7};
__u32 generation = 42;
__u64 short_frames;
__u32 by_nibble[16];
__u8 last_bytes[8];

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;
	st.packets++;
	st.bytes += len;
	st.last_len = len;
	generation = generation * 1103515245 + 12345;
	if (len < min_len)
		short_frames++;
	if (data + 23 > end)
		return XDP_PASS;
	st.last_proto = *(__u16 *)(data + 12);
	__u8 ttl = data[22];
	if (ttl > st.max_ttl)
		st.max_ttl = ttl;
	if (ttl == drop_ttl)
		return XDP_DROP;
	__u8 nib = data[len > 100 ? 20 : 15] & 15;
	by_nibble[nib]++;
	for (int i = 0; i < 8; i++)
		last_bytes[i] = data[i + 14];
	return verdict_table[nib];
}

char _license[] SEC("license") = "GPL";
