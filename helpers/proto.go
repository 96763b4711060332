package helpers

import (
	"fmt"

	"github.com/xebpf/xebpf/api"
)

// Prototype types live in package api, shared with the verifier. (The
// name Prototype is the function that returns any Linux helper's
// prototype; the type is api.Prototype.)
type (
	ArgKind = api.ArgKind
	RetKind = api.RetKind
)

// Argument and return kinds, from package api.
const (
	ArgNone            = api.ArgNone
	ArgAnything        = api.ArgAnything
	ArgConstMapPtr     = api.ArgConstMapPtr
	ArgMapKey          = api.ArgMapKey
	ArgMapValue        = api.ArgMapValue
	ArgUninitMapValue  = api.ArgUninitMapValue
	ArgMem             = api.ArgMem
	ArgMemOrNull       = api.ArgMemOrNull
	ArgUninitMem       = api.ArgUninitMem
	ArgUninitMemOrNull = api.ArgUninitMemOrNull
	ArgConstSize       = api.ArgConstSize
	ArgConstSizeOrZero = api.ArgConstSizeOrZero
	ArgConstAllocSize  = api.ArgConstAllocSize
	ArgCtx             = api.ArgCtx
	ArgFunc            = api.ArgFunc
	ArgStackOrNull     = api.ArgStackOrNull
	ArgSpinLock        = api.ArgSpinLock
	ArgRingbufMem      = api.ArgRingbufMem
	ArgConstStr        = api.ArgConstStr

	RetInteger          = api.RetInteger
	RetVoid             = api.RetVoid
	RetMapValueOrNull   = api.RetMapValueOrNull
	RetRingbufMemOrNull = api.RetRingbufMemOrNull
)

// Func is one helper: its Linux id (enum bpf_func_id), prototype and
// implementation.
type Func struct {
	ID    int32
	Proto api.Prototype
	Impl  api.Helper
}

// Linux helper ids, as in enum bpf_func_id.
const (
	IDMapLookupElem       int32 = 1
	IDMapUpdateElem       int32 = 2
	IDMapDeleteElem       int32 = 3
	IDProbeRead           int32 = 4
	IDKtimeGetNs          int32 = 5
	IDTracePrintk         int32 = 6
	IDGetPrandomU32       int32 = 7
	IDGetSmpProcessorID   int32 = 8
	IDSkbStoreBytes       int32 = 9
	IDL3CsumReplace       int32 = 10
	IDL4CsumReplace       int32 = 11
	IDTailCall            int32 = 12
	IDCloneRedirect       int32 = 13
	IDGetCurrentPidTgid   int32 = 14
	IDGetCurrentUidGid    int32 = 15
	IDGetCurrentComm      int32 = 16
	IDGetCgroupClassid    int32 = 17
	IDSkbVlanPush         int32 = 18
	IDSkbVlanPop          int32 = 19
	IDSkbGetTunnelKey     int32 = 20
	IDSkbSetTunnelKey     int32 = 21
	IDRedirect            int32 = 23
	IDGetRouteRealm       int32 = 24
	IDPerfEventOutput     int32 = 25
	IDSkbLoadBytes        int32 = 26
	IDGetStackID          int32 = 27
	IDCsumDiff            int32 = 28
	IDSkbChangeProto      int32 = 31
	IDSkbChangeType       int32 = 32
	IDSkbUnderCgroup      int32 = 33
	IDGetHashRecalc       int32 = 34
	IDCurrentTaskUnderCg  int32 = 37
	IDSkbChangeTail       int32 = 38
	IDSkbPullData         int32 = 39
	IDGetNumaNodeID       int32 = 42
	IDSkbChangeHead       int32 = 43
	IDXDPAdjustHead       int32 = 44
	IDProbeReadStr        int32 = 45
	IDGetSocketCookie     int32 = 46
	IDGetSocketUID        int32 = 47
	IDSetHash             int32 = 48
	IDSkbAdjustRoom       int32 = 50
	IDRedirectMap         int32 = 51
	IDXDPAdjustMeta       int32 = 54
	IDXDPAdjustTail       int32 = 65
	IDSkbLoadBytesRel     int32 = 68
	IDFibLookup           int32 = 69
	IDMapPushElem         int32 = 87
	IDMapPopElem          int32 = 88
	IDMapPeekElem         int32 = 89
	IDSpinLock            int32 = 93
	IDSpinUnlock          int32 = 94
	IDProbeReadUser       int32 = 112
	IDProbeReadKernel     int32 = 113
	IDProbeReadUserStr    int32 = 114
	IDProbeReadKernelStr  int32 = 115
	IDJiffies64           int32 = 118
	IDKtimeGetBootNs      int32 = 125
	IDRingbufOutput       int32 = 130
	IDRingbufReserve      int32 = 131
	IDRingbufSubmit       int32 = 132
	IDRingbufDiscard      int32 = 133
	IDRingbufQuery        int32 = 134
	IDKtimeGetCoarseNs    int32 = 160
	IDForEachMapElem      int32 = 164
	IDSnprintf            int32 = 165
	IDTraceVprintk        int32 = 177
	IDLoop                int32 = 181
	IDXDPGetBuffLen       int32 = 188
	IDXDPLoadBytes        int32 = 189
	IDXDPStoreBytes       int32 = 190
	IDMapLookupPercpuElem int32 = 195
	IDKtimeGetTaiNs       int32 = 208
)

func proto(name string, ret RetKind, args ...ArgKind) api.Prototype {
	p := api.Prototype{Name: name, Ret: ret}
	copy(p.Args[:], args)
	return p
}

// linux is the table behind Linux, in id order.
var linux = []Func{
	{IDMapLookupElem, proto("map_lookup_elem", RetMapValueOrNull, ArgConstMapPtr, ArgMapKey), mapLookupElem},
	{IDMapUpdateElem, proto("map_update_elem", RetInteger, ArgConstMapPtr, ArgMapKey, ArgMapValue, ArgAnything), mapUpdateElem},
	{IDMapDeleteElem, proto("map_delete_elem", RetInteger, ArgConstMapPtr, ArgMapKey), mapDeleteElem},
	{IDProbeRead, proto("probe_read", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadKernel},
	{IDKtimeGetNs, proto("ktime_get_ns", RetInteger), ktimeGetNs},
	{IDTracePrintk, proto("trace_printk", RetInteger, ArgMem, ArgConstSize), tracePrintk},
	{IDGetPrandomU32, proto("get_prandom_u32", RetInteger), getPrandomU32},
	{IDGetSmpProcessorID, proto("get_smp_processor_id", RetInteger), getSmpProcessorID},
	{IDSkbStoreBytes, proto("skb_store_bytes", RetInteger, ArgCtx, ArgAnything, ArgMem, ArgConstSize, ArgAnything), skbStoreBytes},
	{IDL3CsumReplace, proto("l3_csum_replace", RetInteger, ArgCtx, ArgAnything, ArgAnything, ArgAnything, ArgAnything), l3CsumReplace},
	{IDL4CsumReplace, proto("l4_csum_replace", RetInteger, ArgCtx, ArgAnything, ArgAnything, ArgAnything, ArgAnything), l4CsumReplace},
	{IDTailCall, proto("tail_call", RetVoid, ArgCtx, ArgConstMapPtr, ArgAnything), tailCall},
	{IDCloneRedirect, proto("clone_redirect", RetInteger, ArgCtx, ArgAnything, ArgAnything), cloneRedirect},
	{IDGetCurrentPidTgid, proto("get_current_pid_tgid", RetInteger), getCurrentPidTgid},
	{IDGetCurrentUidGid, proto("get_current_uid_gid", RetInteger), getCurrentUidGid},
	{IDGetCurrentComm, proto("get_current_comm", RetInteger, ArgUninitMem, ArgConstSize), getCurrentComm},
	{IDGetCgroupClassid, proto("get_cgroup_classid", RetInteger, ArgCtx), getCgroupClassid},
	{IDSkbVlanPush, proto("skb_vlan_push", RetInteger, ArgCtx, ArgAnything, ArgAnything), movesHeaders(skbVlanPush)},
	{IDSkbVlanPop, proto("skb_vlan_pop", RetInteger, ArgCtx), movesHeaders(skbVlanPop)},
	{IDSkbGetTunnelKey, proto("skb_get_tunnel_key", RetInteger, ArgCtx, ArgUninitMem, ArgConstSize, ArgAnything), skbGetTunnelKey},
	{IDSkbSetTunnelKey, proto("skb_set_tunnel_key", RetInteger, ArgCtx, ArgMem, ArgConstSize, ArgAnything), skbSetTunnelKey},
	{IDRedirect, proto("redirect", RetInteger, ArgAnything, ArgAnything), redirect},
	{IDGetRouteRealm, proto("get_route_realm", RetInteger, ArgCtx), getRouteRealm},
	{IDPerfEventOutput, proto("perf_event_output", RetInteger, ArgCtx, ArgConstMapPtr, ArgAnything, ArgMem, ArgConstSizeOrZero), perfEventOutput},
	{IDSkbLoadBytes, proto("skb_load_bytes", RetInteger, ArgCtx, ArgAnything, ArgUninitMem, ArgConstSize), skbLoadBytes},
	{IDGetStackID, proto("get_stackid", RetInteger, ArgCtx, ArgConstMapPtr, ArgAnything), getStackID},
	{IDCsumDiff, proto("csum_diff", RetInteger, ArgMemOrNull, ArgConstSizeOrZero, ArgMemOrNull, ArgConstSizeOrZero, ArgAnything), csumDiffFolded},
	{IDSkbChangeProto, proto("skb_change_proto", RetInteger, ArgCtx, ArgAnything, ArgAnything), movesHeaders(skbChangeProto)},
	{IDSkbChangeType, proto("skb_change_type", RetInteger, ArgCtx, ArgAnything), skbChangeType},
	{IDSkbUnderCgroup, proto("skb_under_cgroup", RetInteger, ArgCtx, ArgConstMapPtr, ArgAnything), skbUnderCgroup},
	{IDGetHashRecalc, proto("get_hash_recalc", RetInteger, ArgCtx), getHashRecalc},
	{IDCurrentTaskUnderCg, proto("current_task_under_cgroup", RetInteger, ArgConstMapPtr, ArgAnything), currentTaskUnderCgroup},
	{IDSkbChangeTail, proto("skb_change_tail", RetInteger, ArgCtx, ArgAnything, ArgAnything), movesHeaders(skbChangeTail)},
	{IDSkbPullData, proto("skb_pull_data", RetInteger, ArgCtx, ArgAnything), skbPullData},
	{IDGetNumaNodeID, proto("get_numa_node_id", RetInteger), getNumaNodeID},
	{IDSkbChangeHead, proto("skb_change_head", RetInteger, ArgCtx, ArgAnything, ArgAnything), movesHeaders(skbChangeHead)},
	{IDXDPAdjustHead, proto("xdp_adjust_head", RetInteger, ArgCtx, ArgAnything), xdpAdjustHead},
	{IDProbeReadStr, proto("probe_read_str", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadKernelStr},
	{IDGetSocketCookie, proto("get_socket_cookie", RetInteger, ArgCtx), getSocketCookie},
	{IDGetSocketUID, proto("get_socket_uid", RetInteger, ArgCtx), getSocketUID},
	{IDSetHash, proto("set_hash", RetInteger, ArgCtx, ArgAnything), setHash},
	{IDSkbAdjustRoom, proto("skb_adjust_room", RetInteger, ArgCtx, ArgAnything, ArgAnything, ArgAnything), movesHeaders(skbAdjustRoom)},
	{IDRedirectMap, proto("redirect_map", RetInteger, ArgConstMapPtr, ArgAnything, ArgAnything), redirectMap},
	{IDXDPAdjustMeta, proto("xdp_adjust_meta", RetInteger, ArgCtx, ArgAnything), xdpAdjustMeta},
	{IDXDPAdjustTail, proto("xdp_adjust_tail", RetInteger, ArgCtx, ArgAnything), xdpAdjustTail},
	{IDSkbLoadBytesRel, proto("skb_load_bytes_relative", RetInteger, ArgCtx, ArgAnything, ArgUninitMem, ArgConstSize, ArgAnything), skbLoadBytesRelative},
	{IDFibLookup, proto("fib_lookup", RetInteger, ArgCtx, ArgUninitMem, ArgConstSize, ArgAnything), fibLookup},
	{IDMapPushElem, proto("map_push_elem", RetInteger, ArgConstMapPtr, ArgMapValue, ArgAnything), mapPushElem},
	{IDMapPopElem, proto("map_pop_elem", RetInteger, ArgConstMapPtr, ArgUninitMapValue), mapPopElem},
	{IDMapPeekElem, proto("map_peek_elem", RetInteger, ArgConstMapPtr, ArgUninitMapValue), mapPeekElem},
	{IDSpinLock, proto("spin_lock", RetVoid, ArgSpinLock), spinLock},
	{IDSpinUnlock, proto("spin_unlock", RetVoid, ArgSpinLock), spinUnlock},
	{IDProbeReadUser, proto("probe_read_user", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadUser},
	{IDProbeReadKernel, proto("probe_read_kernel", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadKernel},
	{IDProbeReadUserStr, proto("probe_read_user_str", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadUserStr},
	{IDProbeReadKernelStr, proto("probe_read_kernel_str", RetInteger, ArgUninitMem, ArgConstSizeOrZero, ArgAnything), probeReadKernelStr},
	{IDJiffies64, proto("jiffies64", RetInteger), jiffies64},
	{IDKtimeGetBootNs, proto("ktime_get_boot_ns", RetInteger), ktimeGetBootNs},
	{IDRingbufOutput, proto("ringbuf_output", RetInteger, ArgConstMapPtr, ArgMem, ArgConstSizeOrZero, ArgAnything), ringbufOutput},
	{IDRingbufReserve, proto("ringbuf_reserve", RetRingbufMemOrNull, ArgConstMapPtr, ArgConstAllocSize, ArgAnything), ringbufReserve},
	{IDRingbufSubmit, proto("ringbuf_submit", RetVoid, ArgRingbufMem, ArgAnything), ringbufSubmit},
	{IDRingbufDiscard, proto("ringbuf_discard", RetVoid, ArgRingbufMem, ArgAnything), ringbufDiscard},
	{IDRingbufQuery, proto("ringbuf_query", RetInteger, ArgConstMapPtr, ArgAnything), ringbufQuery},
	{IDKtimeGetCoarseNs, proto("ktime_get_coarse_ns", RetInteger), ktimeGetCoarseNs},
	{IDForEachMapElem, proto("for_each_map_elem", RetInteger, ArgConstMapPtr, ArgFunc, ArgStackOrNull, ArgAnything), forEachMapElem},
	{IDSnprintf, proto("snprintf", RetInteger, ArgUninitMemOrNull, ArgConstSizeOrZero, ArgConstStr, ArgMemOrNull, ArgConstSizeOrZero), snprintfHelper},
	{IDTraceVprintk, proto("trace_vprintk", RetInteger, ArgMem, ArgConstSize, ArgMemOrNull, ArgConstSizeOrZero), traceVprintk},
	{IDLoop, proto("loop", RetInteger, ArgAnything, ArgFunc, ArgStackOrNull, ArgAnything), loop},
	{IDXDPGetBuffLen, proto("xdp_get_buff_len", RetInteger, ArgCtx), xdpGetBuffLen},
	{IDXDPLoadBytes, proto("xdp_load_bytes", RetInteger, ArgCtx, ArgAnything, ArgUninitMem, ArgConstSize), xdpLoadBytes},
	{IDXDPStoreBytes, proto("xdp_store_bytes", RetInteger, ArgCtx, ArgAnything, ArgMem, ArgConstSize), xdpStoreBytes},
	{IDMapLookupPercpuElem, proto("map_lookup_percpu_elem", RetMapValueOrNull, ArgConstMapPtr, ArgMapKey, ArgAnything), mapLookupPercpuElem},
	{IDKtimeGetTaiNs, proto("ktime_get_tai_ns", RetInteger), ktimeGetTaiNs},
}

// Linux returns the helpers xebpf implements, in id order, with Linux's
// ids, names and prototypes. The slice is a copy.
func Linux() []Func { return append([]Func(nil), linux...) }

// ByID returns the helper with Linux id id.
func ByID(id int32) (Func, bool) {
	for _, f := range linux {
		if f.ID == id {
			return f, true
		}
	}
	return Func{}, false
}

// Config returns the implementations of the helpers for which filter
// returns true (all of them if filter is nil), keyed by id, ready for
// interp.Config.Helpers.
func Config(filter func(Func) bool) map[int32]api.Helper {
	m := make(map[int32]api.Helper, len(linux))
	for _, f := range linux {
		if filter == nil || filter(f) {
			h := f.Impl
			if ChangesPacket(f.ID) {
				h = renewsPacket(h)
			}
			if f.ID != IDSpinUnlock {
				h = notUnderLock(f.Proto.Name, h)
			}
			m[f.ID] = h
		}
	}
	return m
}

// changesPacket are the helpers that may change the packet's data or
// place, as Linux's bpf_helper_changes_pkt_data lists them.
var changesPacket = map[int32]bool{
	9: true, 10: true, 11: true, 13: true, 18: true, 19: true, 31: true, 38: true,
	39: true, 43: true, 44: true, 50: true, 54: true, 65: true, 73: true, 74: true, 75: true, 76: true,
}

// ChangesPacket reports whether the helper with Linux id id may change the
// packet (bpf_helper_changes_pkt_data): after a call, the program's packet
// pointers are no longer valid.
func ChangesPacket(id int32) bool { return changesPacket[id] }

// renewsPacket wraps helper h so that every call, whatever it returns,
// moves the packet region to where the packet is (perhaps its old place):
// in checked mode the program's packet pointers die, as Linux's verifier
// invalidates them after any call of such a helper.
func renewsPacket(h api.Helper) api.Helper {
	return func(c *api.HelperCall) (uint64, error) {
		r0, err := h(c)
		if r, ok := c.Env().Context.(*Run); ok && r.Packet != nil && err == nil {
			p := r.Packet
			p.sync(c, p.bMeta, p.bData, p.bEnd)
		}
		return r0, err
	}
}

// notUnderLock wraps helper h so that calling it while the run holds a
// bpf_spin_lock ends the run with ErrSpinLock, as Linux's verifier
// refuses any call but bpf_spin_unlock inside a critical section (a map
// update with BPF_F_LOCK on the held lock would deadlock).
func notUnderLock(name string, h api.Helper) api.Helper {
	return func(c *api.HelperCall) (uint64, error) {
		if r, ok := c.Env().Context.(*Run); ok && r.lock != 0 {
			return 0, fmt.Errorf("%w: bpf_%s called while holding a bpf_spin_lock", ErrSpinLock, name)
		}
		return h(c)
	}
}
