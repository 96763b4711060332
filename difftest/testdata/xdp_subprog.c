/* BPF-to-BPF calls: non-inlined functions taking packet pointers, stack
 * pointers and scalars, returning 64-bit values, calling each other four
 * deep, with results kept in .data. */
#include "xebpf/bpf.h"

#define noinline __attribute__((noinline))

__u64 results[6] = {1, 2, 3, 4, 5, 6};

static noinline __u64 mix(__u64 a, __u64 b)
{
	a ^= b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2);
	return a * 0xff51afd7ed558ccdULL;
}

static noinline int sum_bytes(__u8 *p, __u8 *end, __u32 n, __u64 *out)
{
	__u64 s = 0;
	int i;
	for (i = 0; i < 64; i++) {
		if (i >= n || p + i + 1 > end)
			break;
		s = mix(s, p[i]);
	}
	*out = s;
	return i;
}

static noinline __u64 level3(__u64 x) { return mix(x, 3) >> 3; }
static noinline __u64 level2(__u64 x) { return level3(x ^ 2) + 2; }
static noinline __u64 level1(__u64 x) { return level2(x * 5) | 1; }

static noinline int parse_ports(void *l4, void *end, __u16 *sport, __u16 *dport)
{
	struct udphdr *uh = l4;
	if ((void *)(uh + 1) > end)
		return -1;
	*sport = bpf_ntohs(uh->source);
	*dport = bpf_ntohs(uh->dest);
	return 0;
}

SEC("xdp")
int xdp_subprog(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u64 h = 0;
	int n = sum_bytes(data, end, (end - data) & 63, &h);
	results[0] = h;
	results[1] = n;
	results[2] = level1(h);
	__u16 sp = 0, dp = 0;
	if (data + 34 <= end && data[12] == 8 && data[13] == 0 && (data[14] & 0xf) == 5) {
		if (parse_ports(data + 34, end, &sp, &dp) == 0)
			results[3] = (__u64)sp << 16 | dp;
		else
			results[4]++;
	}
	results[5] += mix(sp, dp) & 0xffff;
	return (level1(n) + dp) % 4;
}

char _license[] SEC("license") = "GPL";
