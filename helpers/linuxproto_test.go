package helpers_test

import (
	"strings"
	"testing"
	"unicode"

	ciliumasm "github.com/cilium/ebpf/asm"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
)

// lastLinuxHelper is the last id of enum bpf_func_id
// (bpf_cgrp_storage_delete); Linux adds kfuncs, not helpers, since.
const lastLinuxHelper = 211

// snakeName returns Linux's name of a helper ("sock_map_update") from
// cilium/ebpf's Go name of it ("FnSockMapUpdate"), as program.go's
// helperName does.
func snakeName(goName string) string {
	var b strings.Builder
	for i, r := range strings.TrimPrefix(goName, "Fn") {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isMem reports whether k is a memory argument whose size the next
// argument gives.
func isMem(k api.ArgKind) bool {
	return k.IsMem() || k == api.ArgWritableMem || k == api.ArgWritableMemOrNull
}

// memWithoutSize lists the helpers whose kernel prototype has a memory
// argument not followed by its size. There are none: memory of a fixed
// size (tcp_raw_*_syncookie_* headers, strtol's, get_func_arg's and
// kallsyms_lookup_name's u64, check_mtu's u32) has kinds of its own
// (ArgFixedMem20/40, ArgPtrToLong, ArgPtrToInt) that carry the size.
// A helper listed here is also checked to have such an argument still.
var memWithoutSize = map[string]string{}

// TestPrototypeEveryLinuxHelper checks that every Linux helper id has a
// prototype named as cilium/ebpf names it, and the shape of each.
func TestPrototypeEveryLinuxHelper(t *testing.T) {
	n := 0
	for id := int32(1); id <= lastLinuxHelper; id++ {
		p, ok := helpers.Prototype(id)
		bf, err := ciliumasm.BuiltinFuncForPlatform("linux", uint32(id))
		if err != nil {
			t.Fatal(err)
		}
		if goName := bf.String(); strings.HasPrefix(goName, "Fn") {
			if want := snakeName(goName); !ok || p.Name != want {
				t.Errorf("id %d is bpf_%s in Linux, prototype %v (found %t)", id, want, p, ok)
			}
		}
		if !ok {
			continue
		}
		n++
		if f, impl := helpers.ByID(id); impl && f.Proto != p {
			t.Errorf("id %d: Prototype %v, implemented helper's %v", id, p, f.Proto)
		}
		if strings.Contains(p.String(), "Kind(") {
			t.Errorf("id %d: unnamed kind in %v", id, p)
		}
		_, exempt := memWithoutSize[p.Name]
		unsized := false
		args := p.Args
		for i, a := range args {
			if a.IsSize() && (i == 0 || !isMem(args[i-1])) {
				t.Errorf("%v: size argument %d does not follow a memory argument", p, i+1)
			}
			if isMem(a) && (i == 4 || !args[i+1].IsSize()) {
				unsized = true
				if !exempt {
					t.Errorf("%v: memory argument %d has no size", p, i+1)
				}
			}
			if a == api.ArgNone {
				for _, rest := range args[i:] {
					if rest != api.ArgNone {
						t.Errorf("%v: argument after ArgNone", p)
					}
				}
			}
		}
		if exempt && !unsized {
			t.Errorf("%v: listed in memWithoutSize but every memory argument has a size", p)
		}
	}
	if n != lastLinuxHelper {
		t.Errorf("%d prototypes for ids 1..%d", n, lastLinuxHelper)
	}
	for _, id := range []int32{0, -1, lastLinuxHelper + 1, 1 << 20} {
		if p, ok := helpers.Prototype(id); ok {
			t.Errorf("Prototype(%d) = %v, want none", id, p)
		}
	}
}

// TestPrototypeSpotChecks compares well-known helpers with the kinds of
// the kernel's bpf_func_proto for them.
func TestPrototypeSpotChecks(t *testing.T) {
	for _, tc := range []struct {
		id   int32
		want string
	}{
		// ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE_OR_ZERO, ARG_ANYTHING
		{112, "integer bpf_probe_read_user(uninit_mem, const_size_or_zero, anything)"},
		{114, "integer bpf_probe_read_user_str(uninit_mem, const_size_or_zero, anything)"},
		// RET_PTR_TO_SOCKET_OR_NULL; ARG_PTR_TO_CTX, ARG_PTR_TO_MEM |
		// MEM_RDONLY, ARG_CONST_SIZE, ARG_ANYTHING, ARG_ANYTHING
		{84, "socket_or_null bpf_sk_lookup_tcp(ctx, mem, const_size, anything, anything)"},
		{99, "sock_common_or_null bpf_skc_lookup_tcp(ctx, mem, const_size, anything, anything)"},
		// ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE
		{86, "integer bpf_sk_release(release_sock)"},
		{16, "integer bpf_get_current_comm(uninit_mem, const_size)"},
		{26, "integer bpf_skb_load_bytes(ctx, anything, uninit_mem, const_size)"},
		{28, "integer bpf_csum_diff(mem_or_null, const_size_or_zero, mem_or_null, const_size_or_zero, anything)"},
		{25, "integer bpf_perf_event_output(ctx, const_map_ptr, anything, mem, const_size_or_zero)"},
		{67, "integer bpf_get_stack(ctx, uninit_mem, const_size_or_zero, anything)"},
		// RET_PTR_TO_RINGBUF_MEM_OR_NULL; ARG_CONST_MAP_PTR,
		// ARG_CONST_ALLOC_SIZE_OR_ZERO, ARG_ANYTHING
		{131, "ringbuf_mem_or_null bpf_ringbuf_reserve(const_map_ptr, const_alloc_size, anything)"},
		{35, "integer bpf_get_current_task()"},
		{66, "integer bpf_skb_get_xfrm_state(ctx, anything, uninit_mem, const_size, anything)"},
		{46, "integer bpf_get_socket_cookie(ctx)"},
		// RET_PTR_TO_MAP_VALUE_OR_NULL; ARG_CONST_MAP_PTR,
		// ARG_PTR_TO_BTF_ID_SOCK_COMMON, ARG_PTR_TO_MAP_VALUE_OR_NULL,
		// ARG_ANYTHING
		{107, "map_value_or_null bpf_sk_storage_get(const_map_ptr, btf_sock_common, map_value_or_null, anything)"},
		{173, "integer bpf_get_func_ip(ctx)"},
		{109, "integer bpf_send_signal(anything)"},
		{58, "integer bpf_override_return(ctx, anything)"},
		{120, "integer bpf_get_ns_current_pid_tgid(anything, anything, uninit_mem, const_size)"},
		{22, "integer bpf_perf_event_read(const_map_ptr, anything)"},
		{105, "integer bpf_strtol(mem, const_size, anything, ptr_to_long)"},
		{163, "integer bpf_check_mtu(ctx, anything, ptr_to_int, anything, anything)"},
		// RET_PTR_TO_MAP_VALUE (never NULL)
		{81, "map_value bpf_get_local_storage(const_map_ptr, anything)"},
		{96, "tcp_sock_or_null bpf_tcp_sock(sock_common)"},
		{153, "mem_or_btf_id_or_null bpf_per_cpu_ptr(percpu_btf_id, anything)"},
		{158, "btf_id bpf_get_current_task_btf()"},
		{147, "integer bpf_d_path(btf_id, writable_mem, const_size_or_zero)"},
		{169, "integer bpf_timer_init(timer, const_map_ptr, anything)"},
		{194, "btf_id_or_null bpf_kptr_xchg(kptr_xchg_dest, release_btf_id_or_null)"},
		{197, "integer bpf_dynptr_from_mem(uninit_mem, const_size_or_zero, anything, uninit_dynptr)"},
		{203, "dynptr_mem_or_null bpf_dynptr_data(dynptr, anything, const_alloc_size)"},
		{41, "integer bpf_set_hash_invalid(ctx)"},
		{206, "integer bpf_tcp_raw_check_syncookie_ipv4(fixed_mem20, fixed_mem20)"},
	} {
		p, ok := helpers.Prototype(tc.id)
		if got := p.String(); !ok || got != tc.want {
			t.Errorf("Prototype(%d) = %q (found %t), want %q", tc.id, got, ok, tc.want)
		}
	}
}
