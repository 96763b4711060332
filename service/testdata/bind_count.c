// An eBPF for Windows bind program (load it with type bind) that counts
// the binds to each port (host order, 0 for any port) in a hash map,
// records the length of the last app id it saw in app_id_len[0], and
// denies the binds to the port deny_port[0] holds; the tests run it in
// the daemon for xebpf exec's bind hook.
#include "xebpf/bpf.h"

// eBPF for Windows' bind_md_t (include/ebpf_nethooks.h).
typedef enum { BIND_OPERATION_BIND, BIND_OPERATION_POST_BIND, BIND_OPERATION_UNBIND } bind_operation_t;
typedef enum { BIND_PERMIT, BIND_DENY, BIND_REDIRECT } bind_action_t;
typedef struct _bind_md {
	__u8 *app_id_start;
	__u8 *app_id_end;
	__u64 process_id;
	__u8 socket_address[16];
	__u8 socket_address_length;
	bind_operation_t operation;
	__u8 protocol;
} bind_md_t;
_Static_assert(sizeof(bind_md_t) == 56, "bind_md layout");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} binds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} deny_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} app_id_len SEC(".maps");

SEC("bind")
int bind_count(bind_md_t *ctx)
{
	__u32 zero = 0, port;
	__u64 one = 1, len, *n;
	if (ctx->operation != BIND_OPERATION_BIND)
		return BIND_PERMIT;
	port = (__u32)ctx->socket_address[2] << 8 | ctx->socket_address[3];
	n = bpf_map_lookup_elem(&binds, &port);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&binds, &port, &one, BPF_NOEXIST);
	len = ctx->app_id_end - ctx->app_id_start;
	bpf_map_update_elem(&app_id_len, &zero, &len, BPF_ANY);
	__u32 *deny = bpf_map_lookup_elem(&deny_port, &zero);
	if (deny && *deny == port)
		return BIND_DENY;
	return BIND_PERMIT;
}

char _license[] SEC("license") = "Dual BSD/GPL";
