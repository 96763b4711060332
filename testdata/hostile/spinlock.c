/* bpf_spin_lock misuse: a lock that is not a map value's lock word, a
 * helper call holding a lock, and a plain store into a lock word. */
#include "hostile.h"

struct locked {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} locks SEC(".maps");

/* A stack word holding 1 as the lock: taking it never succeeds. */
SEC("raw")
int lock_stack_word(void *ctx)
{
	struct bpf_spin_lock l;
	*(volatile __u32 *)&l.val = 1;
	bpf_spin_lock(&l);
	bpf_spin_unlock(&l);
	return ESCAPED;
}

/* bpf_map_update_elem(BPF_F_LOCK) on the element whose lock the program
 * holds: the helper takes the same lock again. */
SEC("raw")
int lock_then_update(void *ctx)
{
	__u32 k = 0;
	struct locked nv = {.n = 7};
	struct locked *v = bpf_map_lookup_elem(&locks, &k);
	if (!v)
		return NOT_REACHED;
	bpf_spin_lock(&v->lock);
	bpf_map_update_elem(&locks, &k, &nv, BPF_F_LOCK);
	bpf_spin_unlock(&v->lock);
	return ESCAPED;
}

/* A plain store of 1 into the lock word: the lock looks taken for ever. */
SEC("raw")
int store_lock_word(void *ctx)
{
	__u32 k = 0;
	struct locked *v = bpf_map_lookup_elem(&locks, &k);
	if (!v)
		return NOT_REACHED;
	*(volatile __u32 *)&v->lock.val = 1;
	return ESCAPED;
}

/* The honest user of the lock, for the post-conditions. */
SEC("raw")
int lock_value(void *ctx)
{
	__u32 k = 0;
	struct locked *v = bpf_map_lookup_elem(&locks, &k);
	if (!v)
		return NOT_REACHED;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* The lock word set to 1 by a helper writing over it. */
SEC("raw")
int helper_lock_word(void *ctx)
{
	__u32 k = 0, one = 1;
	struct locked *v = bpf_map_lookup_elem(&locks, &k);
	if (!v)
		return NOT_REACHED;
	bpf_probe_read_kernel(&v->lock, sizeof(one), &one);
	return ESCAPED;
}
