package interp

import (
	"encoding/binary"
	"unsafe"

	"github.com/xebpf/xebpf/api"
)

// addTags is the tag of the sum of values tagged d and s: a pointer plus a
// scalar stays a pointer into the same object; anything else is a scalar.
func addTags(d, s api.Tag) api.Tag {
	if s == api.NoTag {
		return d
	}
	if d == api.NoTag {
		return s
	}
	return api.NoTag
}

// subTags is the tag of d - s: a pointer minus a scalar stays a pointer;
// the difference of two pointers, or a scalar minus a pointer, is a scalar.
func subTags(d, s api.Tag) api.Tag {
	if s == api.NoTag {
		return d
	}
	return api.NoTag
}

// atomicTags updates the tags of the registers an atomic operation with
// imm writes: the fetched old value (in src, or r0 for cmpxchg) is a
// scalar.
func atomicTags(imm int64, src, r0 *api.Tag) {
	switch {
	case imm == 0xf1: // cmpxchg
		*r0 = api.NoTag
	case imm&1 != 0: // fetch variants and xchg
		*src = api.NoTag
	}
}

// callChecked calls helper h from a checked run with the argument
// registers and their tags, and sets the tags of r0-r5 after it: r0's as
// the helper says, r1-r5 scalars (the helper clobbered them, in Linux's
// terms). executed is the run's instruction count so far, which callbacks
// continue.
func (p *Program) callChecked(m *machine, h api.Helper, reg *[16]uint64, tag *[16]api.Tag, depth int, executed int64) (uint64, error) {
	m.depth = depth
	m.executed = uint64(executed)
	r0, err := m.call.Call(h, [5]uint64{reg[1], reg[2], reg[3], reg[4], reg[5]}, [5]api.Tag{tag[1], tag[2], tag[3], tag[4], tag[5]})
	t := m.call.ReturnTag()
	if int(t) >= len(m.objs.list) { // not a tag of this run
		t = api.NoTag
	}
	tag[0] = t
	tag[1], tag[2], tag[3], tag[4], tag[5] = api.NoTag, api.NoTag, api.NoTag, api.NoTag, api.NoTag
	return r0, err
}

// slowMemory performs the load, store or atomic operation in, which the
// inline checks did not allow, or returns its fault.
func (p *Program) slowMemory(m *machine, in *insn, reg *[16]uint64, tag *[16]api.Tag) *api.Fault {
	pc := p.codeIndex(in)
	size := [4]uint64{4, 2, 1, 8}[in.op>>3&3]
	if in.op&7 == 1 { // LDX
		addr := reg[in.src&15] + uint64(in.off)
		v, t, f := p.slowAccess(m, pc, tag[in.src&15], addr, size, false, nil)
		if f != nil {
			return f
		}
		if in.op&0xe0 == 0x80 { // MEMSX: sign-extending
			shift := 64 - 8*size
			v = uint64(int64(v<<shift) >> shift)
		}
		reg[in.dst&15], tag[in.dst&15] = v, t
		return nil
	}
	addr := reg[in.dst&15] + uint64(in.off)
	t := tag[in.dst&15]
	if in.op&0xe0 == 0xc0 { // atomic
		if addr&(size-1) != 0 {
			f := p.objectFault(m, pc, t, addr, size, true, api.ErrMisaligned)
			return f
		}
		if o := &m.objs.list[t]; o.region != nil && o.region.Fields != nil {
			return p.objectFault(m, pc, t, addr, size, true, api.ErrBadContextAccess)
		}
		_, _, f := p.slowAccess(m, pc, t, addr, size, true, func(a uint64) {
			if size == 4 {
				reg[in.src&15], reg[0] = atomicOp32(a, in.imm, reg[in.src&15], reg[0])
			} else {
				reg[in.src&15], reg[0] = atomicOp64(a, in.imm, reg[in.src&15], reg[0])
			}
		})
		if f == nil {
			atomicTags(in.imm, &tag[in.src&15], &tag[0])
		}
		return f
	}
	v := uint64(in.imm)
	if in.op&7 == 3 { // STX
		v = reg[in.src&15]
	}
	_, _, f := p.slowAccess(m, pc, t, addr, size, true, func(a uint64) {
		switch size {
		case 1:
			store8(a, v)
		case 2:
			store16(a, v)
		case 4:
			store32(a, v)
		default:
			store64(a, v)
		}
	})
	if f == nil {
		m.wroteRange(t, addr, size)
	}
	return f
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

func (p *Program) helper(in *insn) api.Helper {
	if in.src == 2 {
		return p.btfHelpers[int32(in.imm)]
	}
	return p.helpers[in.imm] // Compile checked that it exists
}

// helperByID returns the helper with id v, for callx through a register
// holding a helper id, or nil.
func (p *Program) helperByID(v uint64) api.Helper {
	if v < uint64(len(p.helpers)) {
		return p.helpers[v]
	}
	return nil
}

// callHelperFast is callChecked for the fast loop: the loop's entry gave
// m.call the run's environment and mode and m.p the program, so a call
// sets only the depth, the arguments and the stop flag.
func (p *Program) callHelperFast(m *machine, depth int, h api.Helper, r1, r2, r3, r4, r5 uint64) (uint64, bool, error) {
	m.depth = depth
	return m.call.CallFast(h, [5]uint64{r1, r2, r3, r4, r5})
}

func (p *Program) helperFault(pc int, err error) error {
	if f, ok := err.(*api.Fault); ok && f.Reason == api.ErrBadHelperMemory {
		f.PC, f.Insn = pc, p.InsnAt(pc)
		return f
	}
	f := p.fault(api.ErrHelperFailed, pc)
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
func loadPacket(env *api.Env, size uint8, k int32) (uint64, bool) {
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
