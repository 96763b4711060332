package helpers

import "github.com/xebpf/xebpf/api"

// Prototype returns the prototype of the Linux helper with id id (enum
// bpf_func_id): the implemented helper's (see Linux) if xebpf has it, else
// the one from the table of the helpers xebpf lacks, which a program may
// call (a static verifier checks the call against it) but which fails
// with ErrHelperNotImplemented when reached. It reports false for an id
// Linux does not define (0, or past bpf_cgrp_storage_delete, 211).
func Prototype(id int32) (api.Prototype, bool) {
	if f, ok := ByID(id); ok {
		return f.Proto, true
	}
	lo, hi := 0, len(unimplemented)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case unimplemented[m].id < id:
			lo = m + 1
		case unimplemented[m].id > id:
			hi = m
		default:
			return unimplemented[m].proto, true
		}
	}
	return api.Prototype{}, false
}

// unimplementedProto is one prototype of the table below.
type unimplementedProto struct {
	id    int32
	proto api.Prototype
}

// unimplemented holds, in id order, the prototypes of the Linux helpers
// (ids 1 to 211, the last one Linux defines: later kernel features are
// kfuncs) that the table linux lacks. Each is the kernel's struct
// bpf_func_proto written in package api's kinds; the flags in the kinds'
// comments are the kernel's.
//
// Several helpers have more than one bpf_func_proto, one per program
// type. Where they differ in kinds, the table has the most common one,
// and the comment says which and what the others are. Where a helper's
// proto changed across kernel versions, the table has the newest (its
// comment says so when the older one was more permissive).
//
// Helpers that take a reference (acquire functions, in Linux's verifier:
// sk_lookup_tcp, sk_lookup_udp, skc_lookup_tcp, ringbuf_reserve,
// ringbuf_reserve_dynptr, kptr_xchg) are told by id, as Linux's
// is_acquire_function does; their kinds do not say it.
//
// The implemented helpers with per-program-type protos, in table linux:
// get_socket_cookie (46) has ArgCtx (socket filter, tc, cgroup skb, sock,
// sock_addr, sock_ops, sk_skb) where tracing and sk_reuseport programs
// have ArgBTFSockCommon (bpf_get_socket_ptr_cookie_proto); and
// xdp_get_buff_len (188) has ArgCtx where tracing programs have ArgBTFID
// (struct xdp_buff). Two of table linux's kinds are more permissive than
// the kernel's: fib_lookup (69) arg 2 is ARG_PTR_TO_MEM (| MEM_WRITE),
// initialized memory the helper reads, not ArgUninitMem; snprintf (165)
// arg 1 is ARG_PTR_TO_MEM_OR_NULL (| MEM_WRITE), not uninitialized.
var unimplemented = []unimplementedProto{
	{22, proto("perf_event_read", api.RetInteger, api.ArgConstMapPtr, api.ArgAnything)},
	{29, proto("skb_get_tunnel_opt", api.RetInteger, api.ArgCtx, api.ArgUninitMem, api.ArgConstSize)},
	{30, proto("skb_set_tunnel_opt", api.RetInteger, api.ArgCtx, api.ArgMem, api.ArgConstSize)},
	{35, proto("get_current_task", api.RetInteger)},
	{36, proto("probe_write_user", api.RetInteger, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{40, proto("csum_update", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{41, proto("set_hash_invalid", api.RetInteger, api.ArgCtx)},
	// setsockopt: sock_ops and cgroup sock_addr programs (the proto here);
	// bpf_sk_setsockopt_proto (TCP congestion control struct_ops, LSM,
	// iterators, cgroup sockopt) has ArgBTFSockCommon for arg 1.
	{49, proto("setsockopt", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{52, proto("sk_redirect_map", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgAnything, api.ArgAnything)},
	{53, proto("sock_map_update", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgMapKey, api.ArgAnything)},
	{55, proto("perf_event_read_value", api.RetInteger, api.ArgConstMapPtr, api.ArgAnything, api.ArgUninitMem, api.ArgConstSize)},
	{56, proto("perf_prog_read_value", api.RetInteger, api.ArgCtx, api.ArgUninitMem, api.ArgConstSize)},
	// getsockopt: as setsockopt; bpf_sk_getsockopt_proto has
	// ArgBTFSockCommon for arg 1.
	{57, proto("getsockopt", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgUninitMem, api.ArgConstSize)},
	{58, proto("override_return", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{59, proto("sock_ops_cb_flags_set", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{60, proto("msg_redirect_map", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgAnything, api.ArgAnything)},
	{61, proto("msg_apply_bytes", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{62, proto("msg_cork_bytes", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{63, proto("msg_pull_data", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgAnything)},
	{64, proto("bind", api.RetInteger, api.ArgCtx, api.ArgMem, api.ArgConstSize)},
	{66, proto("skb_get_xfrm_state", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgUninitMem, api.ArgConstSize, api.ArgAnything)},
	// get_stack: kprobe, tracepoint and perf_event programs; the raw
	// tracepoint proto declared arg 2 ARG_PTR_TO_MEM | MEM_RDONLY though the
	// helper writes it (a kernel mistake, corrected to ARG_PTR_TO_UNINIT_MEM).
	{67, proto("get_stack", api.RetInteger, api.ArgCtx, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{70, proto("sock_hash_update", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgMapKey, api.ArgAnything)},
	{71, proto("msg_redirect_hash", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgMapKey, api.ArgAnything)},
	{72, proto("sk_redirect_hash", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgMapKey, api.ArgAnything)},
	{73, proto("lwt_push_encap", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{74, proto("lwt_seg6_store_bytes", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{75, proto("lwt_seg6_adjust_srh", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything)},
	{76, proto("lwt_seg6_action", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{77, proto("rc_repeat", api.RetInteger, api.ArgCtx)},
	{78, proto("rc_keydown", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgAnything)},
	{79, proto("skb_cgroup_id", api.RetInteger, api.ArgCtx)},
	{80, proto("get_current_cgroup_id", api.RetInteger)},
	{81, proto("get_local_storage", api.RetMapValue, api.ArgConstMapPtr, api.ArgAnything)},
	{82, proto("sk_select_reuseport", api.RetInteger, api.ArgCtx, api.ArgConstMapPtr, api.ArgMapKey, api.ArgAnything)},
	{83, proto("skb_ancestor_cgroup_id", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{84, proto("sk_lookup_tcp", api.RetSocketOrNull, api.ArgCtx, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgAnything)},
	{85, proto("sk_lookup_udp", api.RetSocketOrNull, api.ArgCtx, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgAnything)},
	{86, proto("sk_release", api.RetInteger, api.ArgReleaseSock)},
	{90, proto("msg_push_data", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgAnything)},
	{91, proto("msg_pop_data", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything, api.ArgAnything)},
	{92, proto("rc_pointer_rel", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything)},
	{95, proto("sk_fullsock", api.RetSocketOrNull, api.ArgSockCommon)},
	{96, proto("tcp_sock", api.RetTCPSockOrNull, api.ArgSockCommon)},
	{97, proto("skb_ecn_set_ce", api.RetInteger, api.ArgCtx)},
	{98, proto("get_listener_sock", api.RetSocketOrNull, api.ArgSockCommon)},
	{99, proto("skc_lookup_tcp", api.RetSockCommonOrNull, api.ArgCtx, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgAnything)},
	{100, proto("tcp_check_syncookie", api.RetInteger, api.ArgBTFSockCommon, api.ArgMem, api.ArgConstSize, api.ArgMem, api.ArgConstSize)},
	{101, proto("sysctl_get_name", api.RetInteger, api.ArgCtx, api.ArgWritableMem, api.ArgConstSize, api.ArgAnything)},
	{102, proto("sysctl_get_current_value", api.RetInteger, api.ArgCtx, api.ArgUninitMem, api.ArgConstSize)},
	{103, proto("sysctl_get_new_value", api.RetInteger, api.ArgCtx, api.ArgUninitMem, api.ArgConstSize)},
	{104, proto("sysctl_set_new_value", api.RetInteger, api.ArgCtx, api.ArgMem, api.ArgConstSize)},
	{105, proto("strtol", api.RetInteger, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgPtrToLong)},
	{106, proto("strtoul", api.RetInteger, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgPtrToLong)},
	// sk_storage_get and sk_storage_delete: tc, cgroup skb, sock_ops,
	// sk_msg and cgroup sock_addr programs; cgroup sock programs have
	// ArgCtx for arg 2 (bpf_sk_storage_get_cg_sock_proto), tracing
	// programs ArgBTFIDOrNull (struct sock).
	{107, proto("sk_storage_get", api.RetMapValueOrNull, api.ArgConstMapPtr, api.ArgBTFSockCommon, api.ArgMapValueOrNull, api.ArgAnything)},
	{108, proto("sk_storage_delete", api.RetInteger, api.ArgConstMapPtr, api.ArgBTFSockCommon)},
	{109, proto("send_signal", api.RetInteger, api.ArgAnything)},
	{110, proto("tcp_gen_syncookie", api.RetInteger, api.ArgBTFSockCommon, api.ArgMem, api.ArgConstSize, api.ArgMem, api.ArgConstSize)},
	// skb_output: the tracing programs' perf_event_output, arg 1 a struct
	// sk_buff.
	{111, proto("skb_output", api.RetInteger, api.ArgBTFID, api.ArgConstMapPtr, api.ArgAnything, api.ArgMem, api.ArgConstSizeOrZero)},
	{116, proto("tcp_send_ack", api.RetInteger, api.ArgBTFID /* struct tcp_sock */, api.ArgAnything)},
	{117, proto("send_signal_thread", api.RetInteger, api.ArgAnything)},
	{119, proto("read_branch_records", api.RetInteger, api.ArgCtx, api.ArgWritableMemOrNull, api.ArgConstSizeOrZero, api.ArgAnything)},
	{120, proto("get_ns_current_pid_tgid", api.RetInteger, api.ArgAnything, api.ArgAnything, api.ArgUninitMem, api.ArgConstSize)},
	// xdp_output: the tracing programs' perf_event_output, arg 1 a struct
	// xdp_buff.
	{121, proto("xdp_output", api.RetInteger, api.ArgBTFID, api.ArgConstMapPtr, api.ArgAnything, api.ArgMem, api.ArgConstSizeOrZero)},
	// get_netns_cookie: cgroup sock, sock_addr, sock_ops and sk_msg
	// programs all have ArgCtxOrNull (NULL: the initial namespace).
	{122, proto("get_netns_cookie", api.RetInteger, api.ArgCtxOrNull)},
	{123, proto("get_current_ancestor_cgroup_id", api.RetInteger, api.ArgAnything)},
	// sk_assign: tc programs; sk_lookup programs have ArgSocketOrNull for
	// arg 2 (bpf_sk_lookup_assign_proto).
	{124, proto("sk_assign", api.RetInteger, api.ArgCtx, api.ArgBTFSockCommon, api.ArgAnything)},
	{126, proto("seq_printf", api.RetInteger, api.ArgBTFID /* struct seq_file */, api.ArgMem, api.ArgConstSize, api.ArgMemOrNull, api.ArgConstSizeOrZero)},
	{127, proto("seq_write", api.RetInteger, api.ArgBTFID /* struct seq_file */, api.ArgMem, api.ArgConstSizeOrZero)},
	{128, proto("sk_cgroup_id", api.RetInteger, api.ArgBTFSockCommon)},
	{129, proto("sk_ancestor_cgroup_id", api.RetInteger, api.ArgBTFSockCommon, api.ArgAnything)},
	{135, proto("csum_level", api.RetInteger, api.ArgCtx, api.ArgAnything)},
	{136, proto("skc_to_tcp6_sock", api.RetBTFIDOrNull /* struct tcp6_sock */, api.ArgBTFSockCommon)},
	{137, proto("skc_to_tcp_sock", api.RetBTFIDOrNull /* struct tcp_sock */, api.ArgBTFSockCommon)},
	{138, proto("skc_to_tcp_timewait_sock", api.RetBTFIDOrNull /* struct tcp_timewait_sock */, api.ArgBTFSockCommon)},
	{139, proto("skc_to_tcp_request_sock", api.RetBTFIDOrNull /* struct tcp_request_sock */, api.ArgBTFSockCommon)},
	{140, proto("skc_to_udp6_sock", api.RetBTFIDOrNull /* struct udp6_sock */, api.ArgBTFSockCommon)},
	{141, proto("get_task_stack", api.RetInteger, api.ArgBTFID /* struct task_struct */, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{142, proto("load_hdr_opt", api.RetInteger, api.ArgCtx, api.ArgWritableMem, api.ArgConstSize, api.ArgAnything)},
	{143, proto("store_hdr_opt", api.RetInteger, api.ArgCtx, api.ArgMem, api.ArgConstSize, api.ArgAnything)},
	{144, proto("reserve_hdr_opt", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything)},
	{145, proto("inode_storage_get", api.RetMapValueOrNull, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct inode */, api.ArgMapValueOrNull, api.ArgAnything)},
	{146, proto("inode_storage_delete", api.RetInteger, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct inode */)},
	{147, proto("d_path", api.RetInteger, api.ArgBTFID /* struct path */, api.ArgWritableMem, api.ArgConstSizeOrZero)},
	{148, proto("copy_from_user", api.RetInteger, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{149, proto("snprintf_btf", api.RetInteger, api.ArgWritableMem, api.ArgConstSize, api.ArgMem, api.ArgConstSize, api.ArgAnything)},
	{150, proto("seq_printf_btf", api.RetInteger, api.ArgBTFID /* struct seq_file */, api.ArgMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{151, proto("skb_cgroup_classid", api.RetInteger, api.ArgCtx)},
	{152, proto("redirect_neigh", api.RetInteger, api.ArgAnything, api.ArgMemOrNull, api.ArgConstSizeOrZero, api.ArgAnything)},
	{153, proto("per_cpu_ptr", api.RetMemOrBTFIDOrNull, api.ArgPercpuBTFID, api.ArgAnything)},
	{154, proto("this_cpu_ptr", api.RetMemOrBTFID, api.ArgPercpuBTFID)},
	{155, proto("redirect_peer", api.RetInteger, api.ArgAnything, api.ArgAnything)},
	{156, proto("task_storage_get", api.RetMapValueOrNull, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct task_struct */, api.ArgMapValueOrNull, api.ArgAnything)},
	{157, proto("task_storage_delete", api.RetInteger, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct task_struct */)},
	{158, proto("get_current_task_btf", api.RetBTFID /* struct task_struct, trusted */)},
	{159, proto("bprm_opts_set", api.RetInteger, api.ArgBTFID /* struct linux_binprm */, api.ArgAnything)},
	{161, proto("ima_inode_hash", api.RetInteger, api.ArgBTFID /* struct inode */, api.ArgUninitMem, api.ArgConstSize)},
	{162, proto("sock_from_file", api.RetBTFIDOrNull /* struct socket */, api.ArgBTFID /* struct file */)},
	{163, proto("check_mtu", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgPtrToInt, api.ArgAnything, api.ArgAnything)},
	{166, proto("sys_bpf", api.RetInteger, api.ArgAnything, api.ArgMem, api.ArgConstSize)},
	{167, proto("btf_find_by_name_kind", api.RetInteger, api.ArgMem, api.ArgConstSize, api.ArgAnything, api.ArgAnything)},
	{168, proto("sys_close", api.RetInteger, api.ArgAnything)},
	{169, proto("timer_init", api.RetInteger, api.ArgTimer, api.ArgConstMapPtr, api.ArgAnything)},
	{170, proto("timer_set_callback", api.RetInteger, api.ArgTimer, api.ArgFunc)},
	{171, proto("timer_start", api.RetInteger, api.ArgTimer, api.ArgAnything, api.ArgAnything)},
	{172, proto("timer_cancel", api.RetInteger, api.ArgTimer)},
	{173, proto("get_func_ip", api.RetInteger, api.ArgCtx)},
	{174, proto("get_attach_cookie", api.RetInteger, api.ArgCtx)},
	{175, proto("task_pt_regs", api.RetBTFID /* struct pt_regs */, api.ArgBTFID /* struct task_struct */)},
	{176, proto("get_branch_snapshot", api.RetInteger, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{178, proto("skc_to_unix_sock", api.RetBTFIDOrNull /* struct unix_sock */, api.ArgBTFSockCommon)},
	// kallsyms_lookup_name: arg 1 was ARG_PTR_TO_MEM (writable) before it
	// was marked MEM_RDONLY; the helper only reads it.
	{179, proto("kallsyms_lookup_name", api.RetInteger, api.ArgMem, api.ArgConstSizeOrZero, api.ArgAnything, api.ArgPtrToLong)},
	{180, proto("find_vma", api.RetInteger, api.ArgBTFID /* struct task_struct */, api.ArgAnything, api.ArgFunc, api.ArgStackOrNull, api.ArgAnything)},
	{182, proto("strncmp", api.RetInteger, api.ArgMem, api.ArgConstSize, api.ArgConstStr)},
	{183, proto("get_func_arg", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgPtrToLong)},
	{184, proto("get_func_ret", api.RetInteger, api.ArgCtx, api.ArgPtrToLong)},
	{185, proto("get_func_arg_cnt", api.RetInteger, api.ArgCtx)},
	{186, proto("get_retval", api.RetInteger)},
	{187, proto("set_retval", api.RetInteger, api.ArgAnything)},
	{191, proto("copy_from_user_task", api.RetInteger, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything, api.ArgBTFID /* struct task_struct */, api.ArgAnything)},
	{192, proto("skb_set_tstamp", api.RetInteger, api.ArgCtx, api.ArgAnything, api.ArgAnything)},
	{193, proto("ima_file_hash", api.RetInteger, api.ArgBTFID /* struct file */, api.ArgUninitMem, api.ArgConstSize)},
	// kptr_xchg returns (RET_PTR_TO_BTF_ID_OR_NULL, with the type of the
	// kptr field) the object that was in the field, a reference the
	// program now holds.
	{194, proto("kptr_xchg", api.RetBTFIDOrNull, api.ArgKptrXchgDest, api.ArgReleaseBTFIDOrNull)},
	// skc_to_mptcp_sock: arg 1 is ARG_PTR_TO_SOCK_COMMON, unlike the other
	// skc_to_* helpers.
	{196, proto("skc_to_mptcp_sock", api.RetBTFIDOrNull /* struct mptcp_sock */, api.ArgSockCommon)},
	{197, proto("dynptr_from_mem", api.RetInteger, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgAnything, api.ArgUninitDynptr)},
	{198, proto("ringbuf_reserve_dynptr", api.RetInteger, api.ArgConstMapPtr, api.ArgAnything, api.ArgAnything, api.ArgUninitRingbufDynptr)},
	{199, proto("ringbuf_submit_dynptr", api.RetVoid, api.ArgRingbufDynptr, api.ArgAnything)},
	{200, proto("ringbuf_discard_dynptr", api.RetVoid, api.ArgRingbufDynptr, api.ArgAnything)},
	{201, proto("dynptr_read", api.RetInteger, api.ArgUninitMem, api.ArgConstSizeOrZero, api.ArgDynptr, api.ArgAnything, api.ArgAnything)},
	{202, proto("dynptr_write", api.RetInteger, api.ArgDynptr, api.ArgAnything, api.ArgMem, api.ArgConstSizeOrZero, api.ArgAnything)},
	{203, proto("dynptr_data", api.RetDynptrMemOrNull, api.ArgDynptr, api.ArgAnything, api.ArgConstAllocSize)},
	// tcp_raw_*_syncookie_*: the fixed-size headers and the TCP header of
	// the gen helpers were writable ARG_PTR_TO_(FIXED_SIZE_)MEM before
	// they were marked MEM_RDONLY; the helpers only read them. The size of
	// the gen helpers' TCP header was ARG_CONST_SIZE in older kernels.
	{204, proto("tcp_raw_gen_syncookie_ipv4", api.RetInteger, api.ArgFixedMem20 /* struct iphdr */, api.ArgMem, api.ArgConstSizeOrZero)},
	{205, proto("tcp_raw_gen_syncookie_ipv6", api.RetInteger, api.ArgFixedMem40 /* struct ipv6hdr */, api.ArgMem, api.ArgConstSizeOrZero)},
	{206, proto("tcp_raw_check_syncookie_ipv4", api.RetInteger, api.ArgFixedMem20 /* struct iphdr */, api.ArgFixedMem20 /* struct tcphdr */)},
	{207, proto("tcp_raw_check_syncookie_ipv6", api.RetInteger, api.ArgFixedMem40 /* struct ipv6hdr */, api.ArgFixedMem20 /* struct tcphdr */)},
	{209, proto("user_ringbuf_drain", api.RetInteger, api.ArgConstMapPtr, api.ArgFunc, api.ArgStackOrNull, api.ArgAnything)},
	{210, proto("cgrp_storage_get", api.RetMapValueOrNull, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct cgroup */, api.ArgMapValueOrNull, api.ArgAnything)},
	{211, proto("cgrp_storage_delete", api.RetInteger, api.ArgConstMapPtr, api.ArgBTFIDOrNull /* struct cgroup */)},
}
