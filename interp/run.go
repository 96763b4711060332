package interp

import (
	"encoding/binary"
	"unsafe"
)

// inRegions reports whether [addr, addr+size) lies in one of the run's
// regions, writable if write is set.
func (p *Program) inRegions(env *Env, addr, size uint64, write bool) bool {
	return env.inRegions(addr, size, write)
}

// inRegions reports whether [addr, addr+size) lies in one region of the
// run, writable if write is set. It tries the region of the previous hit
// first: a program's accesses outside the stack mostly go to one region
// at a time (a map value, the packet), which may be far down the list.
func (env *Env) inRegions(addr, size uint64, write bool) bool {
	if h := env.regionHint; uint(h) < uint(len(env.Regions)) {
		if r := &env.Regions[h]; r.contains(addr, size) && (!write || r.Writable) {
			return true
		}
	}
	for i := range env.Regions {
		r := &env.Regions[i]
		if r.contains(addr, size) && (!write || r.Writable) {
			env.regionHint = i
			return true
		}
	}
	return false
}

// codeAddr is the value of lddw src 4 for slot pc: an address inside the
// program's code array, which callx recognises.
func (p *Program) codeAddr(pc int) uint64 {
	return uint64(uintptr(unsafe.Pointer(&p.code[0]))) + uint64(pc)*uint64(unsafe.Sizeof(insn{}))
}

// localTarget reports whether v is the code address of a function entry and
// returns its slot.
func (p *Program) localTarget(v uint64) (int, bool) {
	base := uint64(uintptr(unsafe.Pointer(&p.code[0])))
	size := uint64(unsafe.Sizeof(insn{}))
	if v < base || (v-base)%size != 0 {
		return 0, false
	}
	pc := (v - base) / size
	if pc >= uint64(len(p.funcStart)) || !p.funcStart[pc] {
		return 0, false
	}
	return int(pc), true
}

func (p *Program) helper(in *insn) Helper {
	if in.src == 2 {
		return p.btfHelpers[int32(in.imm)]
	}
	return p.helpers[in.imm] // Compile checked that it exists
}

// helperByID returns the helper with id v, for callx through a register
// holding a helper id, or nil.
func (p *Program) helperByID(v uint64) Helper {
	if v < uint64(len(p.helpers)) {
		return p.helpers[v]
	}
	return nil
}

// callHelperFast is callHelper for the fast loop, which keeps the call's
// program, environment and mode out of its prologue.
func (p *Program) callHelperFast(m *machine, env *Env, depth int, h Helper, r1, r2, r3, r4, r5 uint64) (uint64, bool, error) {
	c := &m.call
	c.Args = [5]uint64{r1, r2, r3, r4, r5}
	c.p, c.env, c.checked, c.depth, c.stop = p, env, false, depth, false
	r0, err := h(c)
	return r0, c.stop, err
}

func (p *Program) helperFault(pc int, err error) error {
	if f, ok := err.(*Fault); ok && f.Reason == ErrBadHelperMemory {
		f.PC, f.Insn = pc, p.insnAt(pc)
		return f
	}
	f := p.fault(ErrHelperFailed, pc)
	f.Err = err
	return f
}

// Classic BPF's negative offsets for LD_ABS/LD_IND: from the link-layer
// header, and from the network header (include/uapi/linux/filter.h).
const (
	skfLLOff  = -0x200000
	skfNetOff = -0x100000
)

// loadPacket implements LD_ABS/LD_IND: a big-endian load of 1, 2 or 4
// bytes at offset k of the packet, as Linux's bpf_skb_load_helper: k ≥ 0
// counts from the packet start, k in [SKF_NET_OFF, 0) from the network
// header and k in [SKF_LL_OFF, SKF_NET_OFF) from the link-layer header;
// the bytes must lie between the buffer's head and the packet's end.
func loadPacket(env *Env, size uint8, k int32) (uint64, bool) {
	pkt := &env.Packet
	n := uint64(4)
	switch size {
	case 0x08:
		n = 2
	case 0x10:
		n = 1
	}
	if pkt.Addr == 0 {
		return 0, false
	}
	end := pkt.Addr + pkt.Size
	var p uint64
	switch {
	case k >= 0:
		if uint64(k) > pkt.Size || pkt.Size-uint64(k) < n {
			return 0, false
		}
		p = pkt.Addr + uint64(k)
	case k >= skfNetOff && env.NetHeader != 0:
		p = env.NetHeader + uint64(k-skfNetOff)
	case k >= skfLLOff && k < skfNetOff && env.LinkHeader != 0:
		p = env.LinkHeader + uint64(k-skfLLOff)
	default:
		return 0, false
	}
	if k < 0 && (p < env.PacketHead || p > end || end-p < n) {
		return 0, false
	}
	b := bytesAt(p, n)
	switch n {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), true
	}
	return uint64(binary.BigEndian.Uint32(b)), true
}
