// Package kernel runs eBPF objects in the Linux kernel, through
// cilium/ebpf and BPF_PROG_TEST_RUN, as the reference that xebpf's own
// results are compared against (xebpf run --compare-kernel).
//
// Load puts an object's maps and programs into the kernel (a program the
// kernel rejects does not keep the others out); LoadSpec does the same from
// the spec xebpf's own ELF loader parsed, so it takes objects cilium/ebpf's
// reader cannot (legacy map sections without BTF, iproute2 tail-call
// sections) and program types chosen by the caller. Collection.Run test-runs one
// program, Collection.DumpMaps and Collection.LoadMaps read and write map
// contents in the JSON-ready MapState form, Compare lists how two outcomes
// differ, and Collection.Bench measures the kernel's time per run. Only
// Linux can do this: elsewhere every call returns ErrUnavailable. The JSON
// types (MapState, Entry) and Compare build everywhere, so xebpf's side can
// use them.
//
// # The test-run environment
//
// Observed on Linux 6.18 (x86_64, 4 KiB pages) with the programs of
// testdata/env_probe.c; TestEnvironmentXDP and TestEnvironmentSkb assert
// every fact below on a kernel whose test-run frame has that layout
// (CheckLayout, which ProbeLayout measures), and skip elsewhere. Tests
// that compare xebpf with the running kernel likewise state the Linux
// behaviour they rely on and skip, naming the kernel's Release, where it
// differs in a way known to vary between versions.
//
// All packet programs: the data must hold at least 14 bytes (an Ethernet
// header); 0 or 13 bytes fail with EINVAL (Run returns ErrShortPacket
// before asking). The return value is r0 as the program left it, truncated
// to 32 bits, with no clamping: an XDP program returning 7 gives 7, a
// socket filter returning -1 gives 0xffffffff, TC_ACT_UNSPEC gives
// 0xffffffff. RunResult.Duration is the kernel's mean per run, in whole
// nanoseconds, and excludes time the task was descheduled.
//
// XDP: data points at the Ethernet header, data_meta == data (no metadata),
// data_end-data is the packet length; ingress_ifindex is 1 (loopback),
// rx_queue_index 0. Of the 256 bytes of XDP_PACKET_HEADROOM, struct
// xdp_frame takes 40: bpf_xdp_adjust_head can move data back by at most 216
// bytes, and bpf_xdp_adjust_meta reserve at most 216 bytes of metadata
// (multiples of 4). The frame fills one 4096-byte page less 320 bytes of
// struct skb_shared_info, so the tail can grow by 3520-len bytes
// (bpf_xdp_adjust_tail; grown bytes read as zero) and shrink to 14 bytes.
// Packets longer than 3520 bytes are accepted even by programs without
// xdp.frags: the first 3520 bytes are linear (data_end-data = 3520), the rest
// sits in fragments out of direct reach; data_out returns every byte. With
// Repeat > 1 the runs share one frame: head and tail moves accumulate (five
// runs of a program prepending 4 bytes give 20 bytes more).
//
// Socket filters (BPF_PROG_TYPE_SOCKET_FILTER): the skb starts at the
// network header. skb->len is the packet length less 14, offset 0 of
// bpf_skb_load_bytes and of LD_ABS/LD_IND is the first byte after the
// Ethernet header; data and data_end are not readable. skb->protocol is the
// frame's EtherType as stored (htons, e.g. 0x0008 for IPv4 on little-endian),
// ifindex 1, ingress_ifindex 0, pkt_type from eth_type_trans against the
// loopback's all-zero MAC and broadcast address (destination
// 00:00:00:00:00:00 → PACKET_HOST 0, any group address including
// ff:ff:ff:ff:ff:ff → PACKET_MULTICAST 2, anything else → PACKET_OTHERHOST
// 3; PACKET_BROADCAST never occurs), mark,
// priority, queue_mapping, vlan_*, hash, napi_id, tc_index and cb[] zero.
// data_out has the input's length, with the 14 Ethernet bytes zeroed and the
// rest as the program left it.
//
// TC classifiers (sched_cls) and actions: the skb starts at the Ethernet
// header; skb->len and data_end-data are the full length, data_meta == data,
// LD_ABS offset 0 is the destination MAC. Other fields as for socket
// filters. Without ctx_in, wire_len and gso_segs read 0. A struct __sk_buff
// given as ctx_in (192 bytes) sets mark, priority, ifindex (0 means
// loopback), cb[], tstamp, wire_len (0 becomes skb->len), gso_segs and
// gso_size; ctx_out returns those writable fields as the program left them
// and zero elsewhere (len reads 0 in ctx_out). data_out is the whole frame.
//
// Maps: per-CPU values come one per possible CPU; a test run happens on
// the calling thread's CPU, so which slot a per-CPU update lands in is not
// fixed (Compare ignores the slot). Map lookups from user space report
// struct bpf_spin_lock and similar kernel-managed fields as zero; see
// Collection.ValueMasks.
//
// # Reference figures
//
// Kernel mean time per run (BenchmarkKernel, 100000 repetitions, JIT on,
// Intel Xeon, 2 shared vCPUs): empty XDP 5 ns; XDP parser with a hash
// lookup and update on a 64-byte packet 14 ns; byte-wise checksum of a
// 1500-byte frame 640 ns; 1000 array-map lookups 890 ns.
package kernel
