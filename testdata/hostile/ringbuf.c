/* Ring buffer records: a program owns the bytes of the record it reserved,
 * until it submits or discards it, and nothing else of the ring. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

/* The record header (length, BUSY and DISCARD bits) is 8 bytes before the
 * record: mark the record discarded and submit it. */
SEC("raw")
int rb_header_write(void *ctx)
{
	__u64 *rec = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!rec)
		return NOT_REACHED;
	*rec = 1;
	*(volatile __u32 *)((void *)rec - 8) = 8 | (1 << 30);
	bpf_ringbuf_submit(rec, 0);
	return ESCAPED;
}

/* A write to a record after its submission, which the consumer may be
 * reading. */
SEC("raw")
int rb_use_after_submit(void *ctx)
{
	volatile __u64 *rec = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!rec)
		return NOT_REACHED;
	*rec = 1;
	bpf_ringbuf_submit((void *)rec, 0);
	*rec = ESCAPED;
	return ESCAPED;
}

/* Record A submitted, then record B's pointer reaches back into A. */
SEC("raw")
int rb_other_record(void *ctx)
{
	__u64 *a = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!a)
		return NOT_REACHED;
	*a = 1;
	bpf_ringbuf_submit(a, 0);
	__u64 *b = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!b)
		return NOT_REACHED;
	*(volatile __u64 *)((void *)b - 16) = ESCAPED;
	bpf_ringbuf_discard(b, 0);
	return ESCAPED;
}

SEC("raw")
int rb_double_submit(void *ctx)
{
	__u64 *rec = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!rec)
		return NOT_REACHED;
	*rec = 1;
	bpf_ringbuf_submit(rec, 0);
	bpf_ringbuf_submit(rec, 0);
	return ESCAPED;
}

/* A pointer into the middle of a reserved record, where the program wrote
 * what looks like a BUSY header, submitted as if it were a record. */
SEC("raw")
int rb_forged_submit(void *ctx)
{
	__u64 *rec = bpf_ringbuf_reserve(&rb, 32, 0);
	if (!rec)
		return NOT_REACHED;
	rec[0] = 1;
	rec[1] = 8 | (1U << 31);
	bpf_ringbuf_submit(&rec[2], 0);
	bpf_ringbuf_discard(rec, 0);
	return ESCAPED;
}

/* A record reserved and never submitted: the consumer waits at it. */
SEC("raw")
int rb_leak_reservation(void *ctx)
{
	__u64 *rec = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!rec)
		return NOT_REACHED;
	*rec = 1;
	return ESCAPED;
}

/* A fault while holding a reserved record. */
SEC("raw")
int rb_fault_holding(void *ctx)
{
	__u64 *rec = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!rec)
		return NOT_REACHED;
	*rec = 1;
	asm volatile("r0 = *(u8 *)(r10 + 8)" ::: "r0"); /* above the stack */
	return NOT_REACHED;
}

/* The honest producer, for the post-conditions: one record holding 2. */
SEC("raw")
int rb_good(void *ctx)
{
	__u64 v = 2;
	return bpf_ringbuf_output(&rb, &v, sizeof(v), 0);
}
