/* A small program for gen2go's tests: a map with a struct value (a global
 * type), a program, a volatile const (.rodata), .bss variables and a
 * struct only -type brings into the Go file. -DEXTRA_VAR=name adds a
 * .bss variable called name, for the tests of the compiler flags. */
#include "xebpf/bpf.h"

char __license[] SEC("license") = "MIT";

struct stats {
	__u64 packets;
	__u64 bytes;
};

/* Only reachable through a pointer: a global type only with -type. */
struct event {
	__u32 pid;
	__u64 bytes;
	char comm[16];
};
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 16);
} counts SEC(".maps");

volatile const __u32 min_len = 0;
__u64 seen;

#ifdef EXTRA_VAR
__u64 EXTRA_VAR;
#endif

static long (*map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

SEC("socket") int count_packets(struct __sk_buff *skb)
{
	__u32 key = skb->protocol;
	struct stats st = { .packets = 1, .bytes = skb->len };

	seen++;
#ifdef EXTRA_VAR
	EXTRA_VAR++;
#endif
	if (skb->len < min_len)
		return 0;
	map_update_elem(&counts, &key, &st, BPF_ANY);
	return skb->len;
}
