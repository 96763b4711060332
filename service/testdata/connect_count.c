// A connect4 program that counts the connects to each port (host order)
// in a hash map, and denies those to the port deny_port[0] holds; the
// tests run it in the daemon for xebpf exec's socket hooks.
#include "xebpf/bpf.h"

// struct bpf_sock_addr, as include/uapi/linux/bpf.h declares it.
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;
	__u32 user_ip6[4];
	__u32 user_port;
	__u32 family;
	__u32 type;
	__u32 protocol;
	__u32 msg_src_ip4;
	__u32 msg_src_ip6[4];
	__bpf_md_ptr(struct bpf_sock *, sk);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} connects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} deny_port SEC(".maps");

SEC("cgroup/connect4")
int connect_count(struct bpf_sock_addr *ctx)
{
	__u32 port = bpf_ntohs(ctx->user_port), zero = 0;
	__u64 one = 1, *n = bpf_map_lookup_elem(&connects, &port);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&connects, &port, &one, BPF_NOEXIST);
	__u32 *deny = bpf_map_lookup_elem(&deny_port, &zero);
	if (deny && *deny == port)
		return 0;
	return 1;
}

char _license[] SEC("license") = "Dual BSD/GPL";
