package service

import (
	"strings"

	"github.com/xebpf/xebpf"
)

// progTypeNames are libbpf's names of program types (bpftool prog show),
// by Linux's BPF_PROG_TYPE_* id.
var progTypeNames = []string{
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
	"sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
	"lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
	"cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
}

// progTypeAliases are the section-name prefixes bpftool's prog load
// type TYPE also takes (libbpf_prog_type_by_name).
var progTypeAliases = map[string]xebpf.ProgramType{
	"socket":     xebpf.SocketFilter,
	"classifier": xebpf.SchedCLS,
	"tc":         xebpf.SchedCLS,
	"action":     xebpf.SchedACT,
	"cgroup/skb": xebpf.CGroupSKB,
	"raw_tp":     xebpf.RawTracepoint,
}

// progKindNames are the program types of prog load's type TYPE that are
// not Linux's: "bind", eBPF for Windows' bind programs (its program type
// and section name, EBPF_PROGRAM_TYPE_BIND), for xebpf exec's bind hook.
var progKindNames = map[string]func() *xebpf.ProgramKind{
	"bind": xebpf.WindowsBindKind,
}

// parseProgKind returns the kind of a program type of progKindNames, nil
// for other names.
func parseProgKind(s string) *xebpf.ProgramKind {
	if k := progKindNames[strings.ToLower(s)]; k != nil {
		return k()
	}
	return nil
}

// isWindowsBind reports whether p runs as eBPF for Windows' bind program.
func isWindowsBind(p *xebpf.Program) bool {
	k := p.Kind()
	return k != nil && k.Context != nil && k.Name == "bind" && k.Context.Name == "bind_md"
}

// progTypeOf returns the name prog show gives p's type: libbpf's, or
// "bind" for eBPF for Windows' bind programs.
func progTypeOf(p *xebpf.Program) string {
	if isWindowsBind(p) {
		return "bind"
	}
	return ProgTypeName(p.Type())
}

// mapTypeNames are libbpf's names of map types (bpftool map show), by
// Linux's BPF_MAP_TYPE_* id.
var mapTypeNames = []string{
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
	"percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash",
	"lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap",
	"xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
	"percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
	"struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
	"user_ringbuf", "cgrp_storage", "arena",
}

// ProgTypeName returns libbpf's name of a program type.
func ProgTypeName(t xebpf.ProgramType) string {
	if int(t) < len(progTypeNames) {
		return progTypeNames[t]
	}
	return "type " + t.String()
}

// ParseProgType parses a program type by libbpf's name or a section-name
// prefix ("xdp", "socket", "kprobe", "classifier", ...).
func ParseProgType(s string) (xebpf.ProgramType, bool) {
	s = strings.TrimSuffix(strings.ToLower(s), "/")
	for i, n := range progTypeNames {
		if n == s && i != 0 {
			return xebpf.ProgramType(i), true
		}
	}
	t, ok := progTypeAliases[s]
	return t, ok
}

// MapTypeName returns libbpf's name of a map type.
func MapTypeName(t xebpf.MapType) string {
	if int(t) < len(mapTypeNames) {
		return mapTypeNames[t]
	}
	return "type " + t.String()
}

// ParseMapType parses a map type by libbpf's name ("hash", "array", ...).
func ParseMapType(s string) (xebpf.MapType, bool) {
	s = strings.ToLower(s)
	for i, n := range mapTypeNames {
		if n == s && i != 0 {
			return xebpf.MapType(i), true
		}
	}
	return 0, false
}
