/* Programs of the sockhook tests. Build:
 * clang-19 -target bpf -O2 -g -I ../include -c testdata/hooks.c -o hooks.o */
#include "xebpf/bpf.h"

/* struct bpf_sock_addr, as include/uapi/linux/bpf.h declares it. */
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
_Static_assert(sizeof(struct bpf_sock_addr) == 72, "bpf_sock_addr layout");

/* eBPF for Windows' bind_md_t (include/ebpf_nethooks.h). */
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

static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (*bpf_get_current_uid_gid)(void) = (void *)15;
static long (*bpf_get_current_comm)(void *buf, __u32 size) = (void *)16;

/* config: 0 the port connect4 and connect6 deny, 1 the port they
 * rewrite, 2 the port they rewrite it to, 3 the binds a process may make,
 * 4 the port the Windows bind program denies, 5 the port bind6 denies,
 * 6 the port bind4_nocap lets a process bind without
 * CAP_NET_BIND_SERVICE, 7 the port winbind_redirect moves to port 2;
 * ports in host order, 0 for none. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* binds: the binds each process (tgid) made. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} binds SEC(".maps");

/* app_ids: per process, the length of its app id and its pid as the
 * Windows bind program saw them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} app_ids SEC(".maps");

static __always_inline __u32 cfg(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&config, &k);
	return v ? *v : 0;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	__u16 port = __builtin_bswap16((__u16)ctx->user_port);
	__u32 from = cfg(1);
	if (port != 0 && port == cfg(0))
		return 0;
	if (from != 0 && port == from && ctx->user_ip4 == __builtin_bswap32(0x7f000001))
		ctx->user_port = __builtin_bswap16((__u16)cfg(2));
	return 1;
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	__u16 port = __builtin_bswap16((__u16)ctx->user_port);
	__u32 from = cfg(1);
	if (port != 0 && port == cfg(0))
		return 0;
	if (from != 0 && port == from && ctx->user_ip6[0] == 0 && ctx->user_ip6[3] == __builtin_bswap32(1))
		ctx->user_port = __builtin_bswap16((__u16)cfg(2));
	return 1;
}

/* tasks: per thread (pid), what the get_current_* helpers said of the
 * thread that connected, and when. */
struct task_seen {
	__u64 pid_tgid;
	__u64 uid_gid;
	__u64 ktime;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct task_seen);
} tasks SEC(".maps");

SEC("cgroup/connect4")
int connect4_task(struct bpf_sock_addr *ctx)
{
	struct task_seen t = {};
	__u32 pid;
	t.pid_tgid = bpf_get_current_pid_tgid();
	t.uid_gid = bpf_get_current_uid_gid();
	t.ktime = bpf_ktime_get_ns();
	if (bpf_get_current_comm(t.comm, sizeof(t.comm)) != 0)
		return 0;
	pid = (__u32)t.pid_tgid;
	bpf_map_update_elem(&tasks, &pid, &t, BPF_ANY);
	return 1;
}

/* bind6 denies binds to port 5; bind4_nocap lets binds to port 6 skip
 * the CAP_NET_BIND_SERVICE check (returns 3). */
SEC("cgroup/bind6")
int bind6(struct bpf_sock_addr *ctx)
{
	__u16 port = __builtin_bswap16((__u16)ctx->user_port);
	return !(port != 0 && port == cfg(5));
}

SEC("cgroup/bind4")
int bind4_nocap(struct bpf_sock_addr *ctx)
{
	__u16 port = __builtin_bswap16((__u16)ctx->user_port);
	return port != 0 && port == cfg(6) ? 3 : 1;
}

SEC("cgroup/bind4")
int bind4(struct bpf_sock_addr *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 quota = cfg(3);
	__u32 *n = bpf_map_lookup_elem(&binds, &tgid);
	__u32 c = n ? *n : 0;
	if (quota != 0 && c >= quota)
		return 0;
	c++;
	bpf_map_update_elem(&binds, &tgid, &c, BPF_ANY);
	return 1;
}

SEC("bind")
int winbind(bind_md_t *ctx)
{
	__u64 pid = ctx->process_id;
	__u64 len = ctx->app_id_end - ctx->app_id_start;
	__u16 port;
	if (ctx->operation != BIND_OPERATION_BIND)
		return BIND_PERMIT;
	bpf_map_update_elem(&app_ids, &pid, &len, BPF_ANY);
	port = (__u16)ctx->socket_address[2] << 8 | ctx->socket_address[3];
	if (port != 0 && port == cfg(4))
		return BIND_DENY;
	return BIND_PERMIT;
}

/* winbind_redirect moves binds to port 7 to port 2 (BIND_REDIRECT). */
SEC("bind")
int winbind_redirect(bind_md_t *ctx)
{
	__u16 port = (__u16)ctx->socket_address[2] << 8 | ctx->socket_address[3];
	__u32 to = cfg(2);
	if (port == 0 || port != cfg(7))
		return BIND_PERMIT;
	ctx->socket_address[2] = to >> 8;
	ctx->socket_address[3] = to;
	return BIND_REDIRECT;
}

char LICENSE[] SEC("license") = "GPL";
