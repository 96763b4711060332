package elf

import (
	"sort"
	"strings"

	"github.com/xebpf/xebpf/isa"
)

// conventionDefs are section names that loaders other than libbpf gave a
// meaning, matched whole after libbpf's conventions and before the legacy
// prefixes: Cilium's TC entry points (iproute2's tc loaded them as
// classifiers) and the bare names iproute2 objects such as Open vSwitch's
// datapath use for tc ingress and egress programs.
var conventionDefs = []sectionDef{
	{"from-netdev", SchedCLS, AttachNone}, // also Cilium's XDP entry: see refineCiliumXDP
	{"to-netdev", SchedCLS, AttachNone},
	{"from-host", SchedCLS, AttachNone},
	{"to-host", SchedCLS, AttachNone},
	{"from-container", SchedCLS, AttachNone},
	{"to-container", SchedCLS, AttachNone},
	{"from-overlay", SchedCLS, AttachNone},
	{"to-overlay", SchedCLS, AttachNone},
	{"from-network", SchedCLS, AttachNone},
	{"ingress", SchedCLS, AttachNone},
	{"egress", SchedCLS, AttachNone},
}

// Linux helper ids only XDP programs may call (xdp_adjust_head,
// redirect_map, xdp_adjust_meta, xdp_adjust_tail, xdp_output,
// xdp_get_buff_len, xdp_load_bytes, xdp_store_bytes), and ids only
// programs with an skb may call (skb_store_bytes, l3/l4_csum_replace,
// clone_redirect, skb_vlan_push/pop, skb_get/set_tunnel_key,
// skb_load_bytes, skb_change_proto/type, skb_under_cgroup,
// get_hash_recalc, skb_change_tail, skb_pull_data, skb_change_head,
// skb_adjust_room, skb_load_bytes_relative).
var (
	xdpOnlyHelpers = map[int32]bool{44: true, 51: true, 54: true, 65: true, 121: true, 188: true, 189: true, 190: true}
	skbOnlyHelpers = map[int32]bool{9: true, 10: true, 11: true, 13: true, 18: true, 19: true, 20: true, 21: true,
		26: true, 31: true, 32: true, 33: true, 34: true, 38: true, 39: true, 43: true, 50: true, 68: true}
)

// xdpMDSize is the size of struct xdp_md.
const xdpMDSize = 24

// refineCiliumXDP types as XDP the programs of Cilium's "from-netdev"
// sections that are XDP programs: Cilium's XDP objects (bpf_xdp.c) used
// the section name of its TC entry point, and only how iproute2 was told
// to attach them told them apart. A program is XDP if it calls a helper
// only XDP programs may call, or, calling none that needs an skb, reads
// its context only within struct xdp_md and reads both data and data_end
// (32-bit words at offsets 0 and 4), where a TC program would read
// __sk_buff's data at 76.
func refineCiliumXDP(cs *CollectionSpec) {
	for _, ps := range cs.Programs {
		if ps.SectionName != "from-netdev" || ps.Type != SchedCLS {
			continue
		}
		if looksLikeXDP(ps) {
			// No expected attach type, as iproute2 loaded it: the kernel
			// keeps a program array to programs of one attach type, and
			// the tail calls get none either.
			ps.Type = XDP
		}
	}
}

func looksLikeXDP(ps *ProgramSpec) bool {
	xdp := false
	for _, ins := range ps.Instructions {
		if ins.OpCode != isa.OpCall || ins.Src != isa.CallHelper {
			continue
		}
		if skbOnlyHelpers[ins.Imm()] {
			return false
		}
		xdp = xdp || xdpOnlyHelpers[ins.Imm()]
	}
	if xdp {
		return true
	}
	reads, ok := entryContextReads(ps)
	if !ok || len(reads) == 0 {
		return false
	}
	for off, size := range reads {
		if off < 0 || off+size > xdpMDSize {
			return false
		}
	}
	return reads[0] == 4 && reads[4] == 4
}

// entryContextReads returns the loads through the context pointer in the
// program's entry function, by offset (the widest load at each), found by
// a linear scan that follows the context from r1 through register copies
// and 8-byte stack spills. ok is false if a load goes through a register
// the scan cannot place (a context pointer moved by arithmetic).
func entryContextReads(ps *ProgramSpec) (reads map[int]int, ok bool) {
	end := len(ps.Instructions)
	if len(ps.Functions) > 1 {
		// Instructions of the entry function: its slots come first.
		slot, next := 0, ps.Functions[1].Slot
		for _, f := range ps.Functions[1:] {
			next = min(next, f.Slot)
		}
		for i, ins := range ps.Instructions {
			if slot >= next {
				end = i
				break
			}
			slot += ins.Slots()
		}
	}
	reads = map[int]int{}
	var ctx [11]bool
	ctx[1] = true
	spilled := map[int16]bool{}
	for _, ins := range ps.Instructions[:end] {
		op := ins.OpCode
		switch cls := op.Class(); {
		case op == isa.OpCall:
			for r := 0; r <= 5; r++ {
				ctx[r] = false
			}
		case cls == isa.ClassALU64 && op.ALUOp() == isa.Mov && op.Source() == isa.SourceReg && ins.Offset == 0:
			ctx[ins.Dst] = ctx[ins.Src]
		case cls == isa.ClassALU64 || cls == isa.ClassALU:
			if ctx[ins.Dst] && (op.ALUOp() == isa.Add || op.ALUOp() == isa.Sub) {
				return nil, false
			}
			ctx[ins.Dst] = false
		case cls == isa.ClassLD:
			ctx[0] = false
			if op == isa.OpLDDW {
				ctx[ins.Dst] = false
			}
		case cls == isa.ClassLDX:
			switch {
			case ctx[ins.Src]:
				n := op.Size().Bytes()
				if n > reads[int(ins.Offset)] {
					reads[int(ins.Offset)] = n
				}
				ctx[ins.Dst] = false
			case ins.Src == isa.R10 && op.Size() == isa.SizeDW:
				ctx[ins.Dst] = spilled[ins.Offset]
			default:
				ctx[ins.Dst] = false
			}
		case cls == isa.ClassSTX && ins.Dst == isa.R10:
			spilled[ins.Offset] = ctx[ins.Src] && op.Size() == isa.SizeDW && op.Mode() == isa.ModeMem
		case cls == isa.ClassST && ins.Dst == isa.R10:
			spilled[ins.Offset] = false
		}
	}
	return reads, true
}

// InheritTailCallTypes gives each program of unspecified type that sits in
// a program array's initial slots (iproute2's and Cilium's numbered
// "ID/KEY" sections) or tail-calls through one (Open vSwitch's "tail-N"
// sections) the type of the programs sharing that array, as Linux
// requires one type per program array: those that reference it and those
// in its slots. It repeats until no type changes, so types flow through
// chains of arrays; a program whose arrays are shared by programs of
// different types, or only by programs of unspecified type, stays
// unspecified, as do .text functions. The loader calls it; callers that
// change ProgramSpec.Type call it again to let the change flow.
func InheritTailCallTypes(cs *CollectionSpec) {
	if cs == nil {
		return
	}
	// users[a]: programs referencing array a; members[a]: those in its slots.
	users, members := map[string][]*ProgramSpec{}, map[string][]*ProgramSpec{}
	names := make([]string, 0, len(cs.Programs))
	for name := range cs.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := cs.Programs[name]
		seen := map[string]bool{}
		for _, ins := range ps.Instructions {
			if !ins.IsLDDW() || ins.Src != isa.PseudoMapIndex {
				continue
			}
			idx := int(uint32(ins.Constant))
			if idx >= len(cs.MapOrder) {
				continue
			}
			m := cs.MapOrder[idx]
			if ms := cs.Maps[m]; ms != nil && ms.Type == MapTypeProgArray && !seen[m] {
				seen[m] = true
				users[m] = append(users[m], ps)
			}
		}
	}
	for _, m := range cs.MapOrder {
		for _, kv := range cs.Maps[m].Contents {
			if kv.Ref != nil && kv.Ref.Kind == RefProgram {
				if ps := cs.Programs[kv.Ref.Name]; ps != nil {
					members[m] = append(members[m], ps)
				}
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, m := range cs.MapOrder {
			typ, agreed := Unspec, true
			for _, ps := range append(users[m][:len(users[m]):len(users[m])], members[m]...) {
				switch {
				case ps.Type == Unspec:
				case typ == Unspec:
					typ = ps.Type
				case typ != ps.Type:
					agreed = false
				}
			}
			if !agreed || typ == Unspec {
				continue
			}
			for _, ps := range append(users[m][:len(users[m]):len(users[m])], members[m]...) {
				if ps.Type == Unspec && ps.SectionName != ".text" && conflictFree(ps, typ, users, members) {
					ps.Type, ps.AttachType, ps.AttachTo = typ, AttachNone, ""
					changed = true
				}
			}
		}
	}
}

// conflictFree reports whether every array ps shares with others holds
// or is used by programs of type typ or of no type yet.
func conflictFree(ps *ProgramSpec, typ ProgramType, users, members map[string][]*ProgramSpec) bool {
	for m, ms := range members {
		in := false
		for _, p := range ms {
			in = in || p == ps
		}
		for _, p := range users[m] {
			in = in || p == ps
		}
		if !in {
			continue
		}
		for _, p := range append(users[m][:len(users[m]):len(users[m])], ms...) {
			if p.Type != Unspec && p.Type != typ {
				return false
			}
		}
	}
	return true
}

// tailCallSection splits an iproute2 tail-call section name "ID/KEY" into
// its numbers, decimal or 0x-prefixed hexadecimal as iproute2's sscanf
// "%i/%i" reads them.
func tailCallSection(name string) (id, key uint32, ok bool) {
	idStr, keyStr, found := strings.Cut(name, "/")
	if !found {
		return 0, 0, false
	}
	id, err1 := parseNumber(idStr)
	key, err2 := parseNumber(keyStr)
	return id, key, err1 == nil && err2 == nil
}

// parseNumber parses a decimal or 0x-prefixed hexadecimal uint32.
func parseNumber(s string) (uint32, error) {
	hex, ok := strings.CutPrefix(strings.ToLower(s), "0x")
	if !ok {
		return parseUint32(s)
	}
	if hex == "" || len(hex) > 8 {
		return 0, errNotNumber
	}
	var n uint32
	for _, c := range hex {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint32(c-'a'+10)
		default:
			return 0, errNotNumber
		}
	}
	return n, nil
}
