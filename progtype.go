package xebpf

import (
	"fmt"
	"maps"
	"slices"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/ctxaccess"
)

// FieldKind is the kind of a context field.
type FieldKind = ctxaccess.Kind

// Context field kinds.
const (
	Scalar      = ctxaccess.Scalar      // plain data the program may read
	PacketStart = ctxaccess.PacketStart // address of the first packet byte
	PacketEnd   = ctxaccess.PacketEnd   // address one past the last packet byte
	PacketMeta  = ctxaccess.PacketMeta  // address of the metadata before the packet
)

// ContextField is one field of a context struct as the program's C code
// declares it. Pointer fields may be declared as 32-bit (like xdp_md.data):
// xebpf rewrites their loads to read the real 64-bit address.
type ContextField = ctxaccess.Field

// Context describes the C struct a program of a type receives in r1.
type Context = ctxaccess.Layout

// Helper is a helper function's implementation.
type Helper = api.Helper

// HelperCall is what a helper sees of the program that called it.
type HelperCall = api.HelperCall

// HelperPrototype is what the verifier knows of a helper: the kinds of its
// arguments and of its result (package api has the kinds).
type HelperPrototype = api.Prototype

// ProgramKind is a kind of program: the context it receives, the helpers it
// may call and what its return value means. The built-in types mirror
// Linux's; an embedding program declares its own with a Go value of this
// type (see examples/hostplugin).
type ProgramKind struct {
	// Name identifies the type in messages ("xdp", "socket_filter").
	Name string
	// Context is the struct r1 points to. A Context with no fields is raw
	// memory the host fills from RunOptions.Context.
	Context *Context
	// Format, if set, names the fields of a context whose Context checks
	// accesses more coarsely: a tracepoint's record, which programs may
	// read anywhere, described by its format (TracepointKind). Nil means
	// Context.Fields name them. ContextFromJSON builds contexts by these
	// names.
	Format []ContextField
	// Packet is set for types whose context points into RunOptions.Data.
	packet packetKind
	// Helpers are extra helpers the type offers, by id. They take
	// precedence over xebpf's Linux helpers with the same id.
	Helpers map[int32]Helper
	// Prototypes are the verifier's prototypes of Helpers, by id. A
	// helper without one cannot be called from a verified program.
	Prototypes map[int32]HelperPrototype
	// LinuxHelpers selects which of xebpf's Linux helpers the type allows;
	// nil allows none.
	LinuxHelpers func(id int32) bool
	// Returns, if set, is the range of return values (the low 32 bits of
	// r0) the type's hook gives a meaning: the verifier rejects a program
	// that may return another.
	Returns *[2]uint32
	// Result names a return value ("XDP_PASS"); nil or "" means unnamed.
	Result func(ret uint32) string
}

type packetKind uint8

const (
	packetNone   packetKind = iota
	packetXDP               // xdp_buff in a 4096-byte frame with 256 bytes of headroom
	packetSkbL2             // skb starting at the Ethernet header (TC)
	packetSkbL3             // skb starting at the network header (socket filter)
	packetCustom            // host type with packet pointer fields
)

// XDP actions.
const (
	XDPAborted  = 0
	XDPDrop     = 1
	XDPPass     = 2
	XDPTx       = 3
	XDPRedirect = 4
)

func xdpResult(ret uint32) string {
	switch ret {
	case XDPAborted:
		return "XDP_ABORTED"
	case XDPDrop:
		return "XDP_DROP"
	case XDPPass:
		return "XDP_PASS"
	case XDPTx:
		return "XDP_TX"
	case XDPRedirect:
		return "XDP_REDIRECT"
	}
	return ""
}

func tcResult(ret uint32) string {
	switch int32(ret) {
	case -1:
		return "TC_ACT_UNSPEC"
	case 0:
		return "TC_ACT_OK"
	case 1:
		return "TC_ACT_RECLASSIFY"
	case 2:
		return "TC_ACT_SHOT"
	case 3:
		return "TC_ACT_PIPE"
	case 4:
		return "TC_ACT_STOLEN"
	case 5:
		return "TC_ACT_QUEUED"
	case 6:
		return "TC_ACT_REPEAT"
	case 7:
		return "TC_ACT_REDIRECT"
	}
	return ""
}

// xdpContext is struct xdp_md.
var xdpContext = &Context{Name: "xdp_md", Size: 24, Fields: []ContextField{
	{Name: "data", Offset: 0, Size: 4, Kind: PacketStart},
	{Name: "data_end", Offset: 4, Size: 4, Kind: PacketEnd},
	{Name: "data_meta", Offset: 8, Size: 4, Kind: PacketMeta},
	{Name: "ingress_ifindex", Offset: 12, Size: 4},
	{Name: "rx_queue_index", Offset: 16, Size: 4},
	{Name: "egress_ifindex", Offset: 20, Size: 4},
}}

// skbContext returns struct __sk_buff with the fields writable that Linux
// lets the given type write.
func skbContext(writable ...string) *Context {
	w := map[string]bool{}
	for _, n := range writable {
		w[n] = true
	}
	f := func(name string, off, size int) ContextField {
		return ContextField{Name: name, Offset: off, Size: size, Writable: w[name]}
	}
	fields := []ContextField{
		f("len", 0, 4), f("pkt_type", 4, 4), f("mark", 8, 4), f("queue_mapping", 12, 4),
		f("protocol", 16, 4), f("vlan_present", 20, 4), f("vlan_tci", 24, 4), f("vlan_proto", 28, 4),
		f("priority", 32, 4), f("ingress_ifindex", 36, 4), f("ifindex", 40, 4), f("tc_index", 44, 4),
	}
	for i := 0; i < 5; i++ {
		fields = append(fields, ContextField{Name: fmt.Sprintf("cb[%d]", i), Offset: 48 + 4*i, Size: 4, Writable: true})
	}
	fields = append(fields,
		f("hash", 68, 4), f("tc_classid", 72, 4),
		ContextField{Name: "data", Offset: 76, Size: 4, Kind: PacketStart},
		ContextField{Name: "data_end", Offset: 80, Size: 4, Kind: PacketEnd},
		f("napi_id", 84, 4), f("family", 88, 4), f("remote_ip4", 92, 4), f("local_ip4", 96, 4),
		f("remote_ip6", 100, 16), f("local_ip6", 116, 16), f("remote_port", 132, 4), f("local_port", 136, 4),
		ContextField{Name: "data_meta", Offset: 140, Size: 4, Kind: PacketMeta},
		f("flow_keys", 144, 8), f("tstamp", 152, 8), f("wire_len", 160, 4), f("gso_segs", 164, 4),
		f("sk", 168, 8), f("gso_size", 176, 4), f("tstamp_type", 180, 1), f("hwtstamp", 184, 8),
	)
	return &Context{Name: "__sk_buff", Size: 192, Fields: fields}
}

// The built-in program kinds, which KindOf hands out copies of.
var (
	// xdpKind: XDP programs get an xdp_md for a frame of 4096 bytes with 256
	// bytes of headroom, as BPF_PROG_TEST_RUN gives them.
	xdpKind = &ProgramKind{Name: "xdp", Context: xdpContext, packet: packetXDP, Result: xdpResult,
		LinuxHelpers: allowExcept(skbOnlyHelpers)}
	// socketFilterKind: socket filter programs get an __sk_buff whose data starts at the
	// network header, as after eth_type_trans.
	socketFilterKind = &ProgramKind{Name: "socket_filter", Context: skbContext(), packet: packetSkbL3,
		LinuxHelpers: allowExcept(append(append([]int32{9, 13}, xdpOnlyHelpers...), tcOnlyHelpers...))}
	// schedCLSKind: SchedCLS (TC classifier/action) programs get an __sk_buff whose data
	// starts at the Ethernet header.
	schedCLSKind = &ProgramKind{Name: "sched_cls", Context: skbContext("mark", "priority", "tc_index", "tc_classid", "queue_mapping", "tstamp"),
		packet: packetSkbL2, Result: tcResult, LinuxHelpers: allowExcept(xdpOnlyHelpers)}
	// rawKind: raw-memory programs get RunOptions.Context as plain memory in r1.
	// Programs of other types (tracing, tail-call targets in numbered
	// sections) get it too, with every Linux helper: the packet helpers
	// fail at run time when there is no packet.
	rawKind = &ProgramKind{Name: "raw", Context: &Context{Name: "raw"}, LinuxHelpers: func(int32) bool { return true }}
)

// Linux helper ids that only one family of program types may call, as
// Linux's verifier allows them (net/core/filter.c: xdp_func_proto,
// sk_filter_func_proto, tc_cls_act_func_proto).
var (
	// xdpOnlyHelpers: xdp_adjust_head, redirect_map, xdp_adjust_meta, xdp_adjust_tail.
	xdpOnlyHelpers = []int32{44, 51, 54, 65}
	// skbOnlyHelpers: skb_store_bytes, l3/l4_csum_replace, clone_redirect,
	// get_cgroup_classid, skb_vlan_push/pop, skb_get/set_tunnel_key,
	// get_route_realm, skb_load_bytes, skb_change_proto, skb_change_type,
	// skb_under_cgroup, get_hash_recalc, skb_change_tail, skb_pull_data,
	// skb_change_head, get_socket_cookie, get_socket_uid, set_hash,
	// skb_adjust_room, skb_load_bytes_relative.
	skbOnlyHelpers = []int32{9, 10, 11, 13, 17, 18, 19, 20, 21, 24, 26, 31, 32, 33, 34, 38, 39, 43, 46, 47, 48, 50, 68}
	// tcOnlyHelpers are the helpers of TC programs socket filters may not
	// call (bpf_fib_lookup too, which XDP programs may).
	tcOnlyHelpers = []int32{10, 11, 17, 18, 19, 20, 21, 24, 31, 32, 33, 34, 38, 39, 43, 48, 50, 69}
)

func allowExcept(ids []int32) func(int32) bool {
	return func(id int32) bool {
		for _, x := range ids {
			if x == id {
				return false
			}
		}
		return true
	}
}

// ProgramType is a Linux BPF_PROG_TYPE_* id, cilium/ebpf's ProgramType:
// the hook a program is written for. ProgramSpec.Type holds it; KindOf
// gives what xebpf runs programs of a type with.
type ProgramType = elf.ProgramType

// Program types, with cilium/ebpf's names and Linux's numbers.
const (
	UnspecifiedProgram    = elf.Unspec
	SocketFilter          = elf.SocketFilter
	Kprobe                = elf.Kprobe
	SchedCLS              = elf.SchedCLS
	SchedACT              = elf.SchedACT
	TracePoint            = elf.TracePoint
	XDP                   = elf.XDP
	PerfEvent             = elf.PerfEvent
	CGroupSKB             = elf.CGroupSKB
	CGroupSock            = elf.CGroupSock
	LWTIn                 = elf.LWTIn
	LWTOut                = elf.LWTOut
	LWTXmit               = elf.LWTXmit
	SockOps               = elf.SockOps
	SkSKB                 = elf.SkSKB
	CGroupDevice          = elf.CGroupDevice
	SkMsg                 = elf.SkMsg
	RawTracepoint         = elf.RawTracepoint
	CGroupSockAddr        = elf.CGroupSockAddr
	LWTSeg6Local          = elf.LWTSeg6Local
	LircMode2             = elf.LircMode2
	SkReuseport           = elf.SkReuseport
	FlowDissector         = elf.FlowDissector
	CGroupSysctl          = elf.CGroupSysctl
	RawTracepointWritable = elf.RawTracepointWritable
	CGroupSockopt         = elf.CGroupSockopt
	Tracing               = elf.Tracing
	StructOps             = elf.StructOps
	Extension             = elf.Extension
	LSM                   = elf.LSM
	SkLookup              = elf.SkLookup
	Syscall               = elf.Syscall
	Netfilter             = elf.Netfilter
)

// clone returns a copy of k that shares nothing a caller may change with
// it: its context layout, format, helper tables and return range are
// copies, so that changing the copy leaves the built-in kinds alone.
func (k *ProgramKind) clone() *ProgramKind {
	c := *k
	if k.Context != nil {
		ctx := *k.Context
		ctx.Fields = slices.Clone(k.Context.Fields)
		c.Context = &ctx
	}
	c.Format = slices.Clone(k.Format)
	c.Helpers = maps.Clone(k.Helpers)
	c.Prototypes = maps.Clone(k.Prototypes)
	if k.Returns != nil {
		r := *k.Returns
		c.Returns = &r
	}
	return &c
}
