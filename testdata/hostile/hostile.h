/* Declarations the hostile programs need beyond include/xebpf/bpf.h: more
 * helper ids, flags, the layout of xebpf's context memory, and the values
 * a program returns to tell the harness what happened.
 *
 * These programs attack xebpf's checked mode. Each one is a thing the Linux
 * verifier would refuse; hostile_test.go in the repository root says what
 * each must get instead (a fault, a load error, an unchanged map). */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "xebpf/bpf.h"

/* Helpers, by their ids in enum bpf_func_id. */
static long (*bpf_skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) = (void *)9;
static long (*bpf_skb_change_tail)(void *skb, __u32 len, __u64 flags) = (void *)38;
static long (*bpf_skb_change_head)(void *skb, __u32 len, __u64 flags) = (void *)43;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_xdp_load_bytes)(struct xdp_md *xdp_md, __u32 offset, void *buf, __u32 len) = (void *)189;

enum { BPF_MAP_TYPE_PERCPU_ARRAY_ = 6 };
#define BPF_F_LOCK 4

/* xebpf lays a context out as the C struct, rounded up to 8 bytes, then
 * one 64-bit word per packet pointer field (data, data_end, data_meta):
 * the words the packet helpers trust. A program reaches them only by
 * laundering the context pointer past the load-time rewriting. */
#define XDP_DATA_WORD 24
#define XDP_END_WORD 32
#define SKB_DATA_WORD 192
#define SKB_END_WORD 200

/* Return values: ESCAPED says the attack got through (the harness reports
 * it as such); NOT_REACHED marks code a correct runtime never reaches
 * because the attack faulted first. */
#define ESCAPED 0xbad
#define NOT_REACHED 0xdead

/* barrier_var hides a value's origin from the compiler. */
#define barrier_var(v) asm volatile("" : "+r"(v))

char LICENSE[] SEC("license") = "GPL";

#endif
