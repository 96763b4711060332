package elf

import "strings"

// sectionDef is one libbpf SEC() convention. A name ending in "+" matches the
// bare name or the name followed by "/" and an attach target.
type sectionDef struct {
	name   string
	typ    ProgramType
	attach AttachType
}

// sectionDefs follows libbpf's section_defs table (tools/lib/bpf/libbpf.c),
// in its order: the first match wins.
var sectionDefs = []sectionDef{
	{"socket", SocketFilter, AttachNone},
	{"sk_reuseport/migrate", SkReuseport, AttachSkReuseportSelectOrMigrate},
	{"sk_reuseport", SkReuseport, AttachSkReuseportSelect},
	{"kprobe+", Kprobe, AttachNone},
	{"uprobe+", Kprobe, AttachNone},
	{"uprobe.s+", Kprobe, AttachNone},
	{"kretprobe+", Kprobe, AttachNone},
	{"uretprobe+", Kprobe, AttachNone},
	{"uretprobe.s+", Kprobe, AttachNone},
	{"kprobe.multi+", Kprobe, AttachTraceKprobeMulti},
	{"kretprobe.multi+", Kprobe, AttachTraceKprobeMulti},
	{"kprobe.session+", Kprobe, AttachTraceKprobeSession},
	{"uprobe.multi+", Kprobe, AttachTraceUprobeMulti},
	{"uretprobe.multi+", Kprobe, AttachTraceUprobeMulti},
	{"uprobe.session+", Kprobe, AttachTraceUprobeSession},
	{"uprobe.multi.s+", Kprobe, AttachTraceUprobeMulti},
	{"uretprobe.multi.s+", Kprobe, AttachTraceUprobeMulti},
	{"uprobe.session.s+", Kprobe, AttachTraceUprobeSession},
	{"ksyscall+", Kprobe, AttachNone},
	{"kretsyscall+", Kprobe, AttachNone},
	{"usdt+", Kprobe, AttachNone},
	{"usdt.s+", Kprobe, AttachNone},
	{"tc/ingress", SchedCLS, AttachTCXIngress},
	{"tc/egress", SchedCLS, AttachTCXEgress},
	{"tcx/ingress", SchedCLS, AttachTCXIngress},
	{"tcx/egress", SchedCLS, AttachTCXEgress},
	{"tc", SchedCLS, AttachNone},
	{"classifier", SchedCLS, AttachNone},
	{"action", SchedACT, AttachNone},
	{"netkit/primary", SchedCLS, AttachNetkitPrimary},
	{"netkit/peer", SchedCLS, AttachNetkitPeer},
	{"tracepoint+", TracePoint, AttachNone},
	{"tp+", TracePoint, AttachNone},
	{"raw_tracepoint+", RawTracepoint, AttachNone},
	{"raw_tp+", RawTracepoint, AttachNone},
	{"raw_tracepoint.w+", RawTracepointWritable, AttachNone},
	{"raw_tp.w+", RawTracepointWritable, AttachNone},
	{"tp_btf+", Tracing, AttachTraceRawTp},
	{"fentry+", Tracing, AttachTraceFEntry},
	{"fmod_ret+", Tracing, AttachModifyReturn},
	{"fexit+", Tracing, AttachTraceFExit},
	{"fentry.s+", Tracing, AttachTraceFEntry},
	{"fmod_ret.s+", Tracing, AttachModifyReturn},
	{"fexit.s+", Tracing, AttachTraceFExit},
	{"freplace+", Extension, AttachNone},
	{"lsm+", LSM, AttachLSMMac},
	{"lsm.s+", LSM, AttachLSMMac},
	{"lsm_cgroup+", LSM, AttachLSMCgroup},
	{"iter+", Tracing, AttachTraceIter},
	{"iter.s+", Tracing, AttachTraceIter},
	{"syscall", Syscall, AttachNone},
	{"xdp.frags/devmap", XDP, AttachXDPDevMap},
	{"xdp/devmap", XDP, AttachXDPDevMap},
	{"xdp.frags/cpumap", XDP, AttachXDPCPUMap},
	{"xdp/cpumap", XDP, AttachXDPCPUMap},
	{"xdp.frags", XDP, AttachXDP},
	{"xdp", XDP, AttachXDP},
	{"perf_event", PerfEvent, AttachNone},
	{"lwt_in", LWTIn, AttachNone},
	{"lwt_out", LWTOut, AttachNone},
	{"lwt_xmit", LWTXmit, AttachNone},
	{"lwt_seg6local", LWTSeg6Local, AttachNone},
	{"sockops", SockOps, AttachCGroupSockOps},
	{"sk_skb/stream_parser", SkSKB, AttachSkSKBStreamParser},
	{"sk_skb/stream_verdict", SkSKB, AttachSkSKBStreamVerdict},
	{"sk_skb/verdict", SkSKB, AttachSkSKBVerdict},
	{"sk_skb", SkSKB, AttachNone},
	{"sk_msg", SkMsg, AttachSkMsgVerdict},
	{"lirc_mode2", LircMode2, AttachLircMode2},
	{"flow_dissector", FlowDissector, AttachFlowDissector},
	{"cgroup_skb/ingress", CGroupSKB, AttachCGroupInetIngress},
	{"cgroup_skb/egress", CGroupSKB, AttachCGroupInetEgress},
	{"cgroup/skb", CGroupSKB, AttachNone},
	{"cgroup/sock_create", CGroupSock, AttachCGroupInetSockCreate},
	{"cgroup/sock_release", CGroupSock, AttachCGroupInetSockRelease},
	{"cgroup/sock", CGroupSock, AttachCGroupInetSockCreate},
	{"cgroup/post_bind4", CGroupSock, AttachCGroupInet4PostBind},
	{"cgroup/post_bind6", CGroupSock, AttachCGroupInet6PostBind},
	{"cgroup/bind4", CGroupSockAddr, AttachCGroupInet4Bind},
	{"cgroup/bind6", CGroupSockAddr, AttachCGroupInet6Bind},
	{"cgroup/connect4", CGroupSockAddr, AttachCGroupInet4Connect},
	{"cgroup/connect6", CGroupSockAddr, AttachCGroupInet6Connect},
	{"cgroup/connect_unix", CGroupSockAddr, AttachCGroupUnixConnect},
	{"cgroup/sendmsg4", CGroupSockAddr, AttachCGroupUDP4Sendmsg},
	{"cgroup/sendmsg6", CGroupSockAddr, AttachCGroupUDP6Sendmsg},
	{"cgroup/sendmsg_unix", CGroupSockAddr, AttachCGroupUnixSendmsg},
	{"cgroup/recvmsg4", CGroupSockAddr, AttachCGroupUDP4Recvmsg},
	{"cgroup/recvmsg6", CGroupSockAddr, AttachCGroupUDP6Recvmsg},
	{"cgroup/recvmsg_unix", CGroupSockAddr, AttachCGroupUnixRecvmsg},
	{"cgroup/getpeername4", CGroupSockAddr, AttachCGroupInet4GetPeername},
	{"cgroup/getpeername6", CGroupSockAddr, AttachCGroupInet6GetPeername},
	{"cgroup/getpeername_unix", CGroupSockAddr, AttachCGroupUnixGetpeername},
	{"cgroup/getsockname4", CGroupSockAddr, AttachCGroupInet4GetSockname},
	{"cgroup/getsockname6", CGroupSockAddr, AttachCGroupInet6GetSockname},
	{"cgroup/getsockname_unix", CGroupSockAddr, AttachCGroupUnixGetsockname},
	{"cgroup/sysctl", CGroupSysctl, AttachCGroupSysctl},
	{"cgroup/getsockopt", CGroupSockopt, AttachCGroupGetsockopt},
	{"cgroup/setsockopt", CGroupSockopt, AttachCGroupSetsockopt},
	{"cgroup/dev", CGroupDevice, AttachCGroupDevice},
	{"struct_ops+", StructOps, AttachNone},
	{"struct_ops.s+", StructOps, AttachNone},
	{"sk_lookup", SkLookup, AttachSkLookup},
	{"netfilter", Netfilter, AttachNetfilter},
}

// legacyPrefixes are matched, in order, when no libbpf convention applies:
// older loaders (samples/bpf's bpf_load.c, iproute2, libbpf before 1.0)
// accepted any section starting with these, such as "socket1", "xdp_prog",
// "cgroup/skb_filter" or "lwt_xmit_foo".
var legacyPrefixes = []sectionDef{
	{"socket", SocketFilter, AttachNone},
	{"xdp", XDP, AttachXDP},
	{"kprobe", Kprobe, AttachNone},
	{"kretprobe", Kprobe, AttachNone},
	{"uprobe", Kprobe, AttachNone},
	{"uretprobe", Kprobe, AttachNone},
	{"tracepoint", TracePoint, AttachNone},
	{"raw_tracepoint", RawTracepoint, AttachNone},
	{"perf_event", PerfEvent, AttachNone},
	{"cgroup/skb", CGroupSKB, AttachNone},
	{"cgroup/sock", CGroupSock, AttachCGroupInetSockCreate},
	{"sockops", SockOps, AttachCGroupSockOps},
	{"sk_skb", SkSKB, AttachNone},
	{"sk_msg", SkMsg, AttachSkMsgVerdict},
	{"classifier", SchedCLS, AttachNone},
	{"action", SchedACT, AttachNone},
	{"lwt_in", LWTIn, AttachNone},
	{"lwt_out", LWTOut, AttachNone},
	{"lwt_xmit", LWTXmit, AttachNone},
	{"lwt_seg6local", LWTSeg6Local, AttachNone},
}

// ClassifySection returns the program type, attach type and attach target
// that a section name implies under libbpf's SEC() conventions, falling back
// to the whole names of other loaders' conventions (Cilium's "from-netdev",
// iproute2's "ingress", ...) and then to the legacy prefix conventions; ok
// is false when none applies. The loader refines the result for programs
// (see LoadCollectionSpec): Cilium's XDP programs in "from-netdev", and
// tail-call sections ("2/7") typed by their program array.
func ClassifySection(section string) (typ ProgramType, attach AttachType, attachTo string, ok bool) {
	for _, d := range sectionDefs {
		name, plus := strings.CutSuffix(d.name, "+")
		if section == name {
			return d.typ, d.attach, "", true
		}
		if plus {
			if rest, found := strings.CutPrefix(section, name+"/"); found {
				return d.typ, d.attach, rest, true
			}
		}
	}
	for _, d := range conventionDefs {
		if section == d.name {
			return d.typ, d.attach, "", true
		}
	}
	for _, d := range legacyPrefixes {
		if rest, found := strings.CutPrefix(section, d.name); found {
			attachTo, _ := strings.CutPrefix(rest, "/")
			if attachTo == rest {
				attachTo = ""
			}
			return d.typ, d.attach, attachTo, true
		}
	}
	return Unspec, AttachNone, "", false
}

// LibbpfSection reports whether a section name follows one of libbpf's
// SEC() conventions, which other libbpf-like loaders (cilium/ebpf) also
// read; names only older loaders gave a meaning (legacy prefixes,
// Cilium's and iproute2's names) do not.
func LibbpfSection(section string) bool {
	for _, d := range sectionDefs {
		name, plus := strings.CutSuffix(d.name, "+")
		if section == name || plus && strings.HasPrefix(section, name+"/") {
			return true
		}
	}
	return false
}
