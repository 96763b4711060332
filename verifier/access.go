package verifier

import (
	"fmt"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// maxPacket bounds packet offsets, as Linux's MAX_PACKET_OFF.
const maxPacket = 0xffff

// access checks a load (write false) or store (write true, of x) of size
// bytes at base + off, where base is register r, and returns the loaded
// value.
func (v *verifier) access(st *state, pc int, ins isa.Instruction, r isa.Register, base value, off int64, size int, write bool, x value) (value, error) {
	what := "read"
	if write {
		what = "write"
	}
	if v.permissive != nil {
		if err := v.permissiveAccess(pc, ins, r, base); err != nil {
			return value{}, err
		}
	}
	if write && x.kind.mayBePointer() && base.kind != kindStack {
		return value{}, reject(pc, ins, "leaks a pointer into %v memory: r%d is %v", base.kind, ins.Src, x)
	}
	if base.null {
		return value{}, v.notNullChecked(pc, ins, r, base)
	}
	if err := v.noteAccess(pc, ins, base); err != nil {
		return value{}, err
	}
	if base.kind.isPointer() && wideOffset(base) {
		return value{}, reject(pc, ins, "%s through r%d, whose offset is not bounded: r%d is %v", what, r, r, base)
	}
	lo := base.off + base.smin + off
	hi := base.off + base.smax + off + int64(size) // exclusive
	switch base.kind {
	case kindStack:
		return v.stackAccess(st, pc, ins, r, base, lo, hi, size, write, x)
	case kindMapValue:
		vs, ro, locks := v.valueBounds(base.aux)
		if lo < 0 || hi > vs {
			return value{}, reject(pc, ins, "%s of %d bytes at offset [%d, %d) outside the %d-byte value of map %s: r%d is %v",
				what, size, lo, hi-int64(size), vs, v.mapName(base.aux), r, base)
		}
		if write && ro {
			return value{}, reject(pc, ins, "write to read-only map %s", v.mapName(base.aux))
		}
		for _, l := range locks {
			if lo < int64(l)+4 && hi > int64(l) {
				return value{}, reject(pc, ins, "direct access to the bpf_spin_lock of map %s", v.mapName(base.aux))
			}
		}
		return truncate(unknown, size), nil
	case kindRingbuf:
		if lo < 0 || hi > int64(base.aux) {
			return value{}, reject(pc, ins, "%s of %d bytes at offset [%d, %d) outside a %d-byte ring-buffer record: r%d is %v",
				what, size, lo, hi-int64(size), base.aux, r, base)
		}
		return truncate(unknown, size), nil
	case kindPacket:
		if write && !v.cfg.PacketWritable {
			return value{}, reject(pc, ins, "write to the packet, which this program type may only read")
		}
		var ok bool
		a := base.off + off
		if base.id == 0 {
			ok = a >= 0 && a+int64(size) <= st.pmin
		} else {
			// Bytes before the variable base, down to the packet's
			// start, are in the packet too.
			ok = base.smin >= 0 && base.smax <= maxPacket && base.smin+a >= 0 && a+int64(size) <= base.rng ||
				// Or within what is proven from the packet's start.
				base.smin >= 0 && base.smax <= maxPacket && base.smin+a >= 0 && base.smax+a+int64(size) <= st.pmin
		}
		if !ok {
			return value{}, reject(pc, ins, "packet %s of %d bytes at offset %d not proven inside the packet (compare with data_end first): r%d is %v%s",
				what, size, a, r, base, v.packetProven(st, base))
		}
		return truncate(unknown, size), nil
	case kindPacketMeta:
		if write && !v.cfg.PacketWritable {
			return value{}, reject(pc, ins, "write to the packet metadata, which this program type may only read")
		}
		if lo < 0 || hi > st.mmin {
			return value{}, reject(pc, ins, "metadata %s of %d bytes at offset [%d, %d) not proven before the packet's start (compare with data first): r%d is %v; proven: %d bytes",
				what, size, lo, hi-int64(size), r, base, st.mmin)
		}
		return truncate(unknown, size), nil
	case kindCtx:
		return v.ctxAccess(st, pc, ins, r, base, off, size, write, x)
	case kindScalar:
		return value{}, reject(pc, ins, "%s through r%d, which is not a pointer: r%d is %v", what, r, r, base)
	case kindMixed:
		return value{}, reject(pc, ins, "%s through r%d, which holds different kinds of values on different paths", what, r)
	}
	return value{}, reject(pc, ins, "%s through r%d, which is %v", what, r, base)
}

// noteAccess records which loads and stores go through the context, and
// at which offset of it their base points: the facts context rewriting
// uses. An instruction that reaches the context on one path and other
// memory (or another context offset) on another cannot be rewritten.
func (v *verifier) noteAccess(pc int, ins isa.Instruction, base value) error {
	i := int(v.at[pc])
	k, seen := v.ctxBase[i]
	isCtx := base.kind == kindCtx
	switch {
	case !seen && !v.notCtx[i]:
		if isCtx {
			v.ctxBase[i] = base.off
		} else {
			v.notCtx[i] = true
		}
	case isCtx && (!seen || k != base.off), !isCtx && seen:
		return v.fail(reject(pc, ins, "the base register is the context on some paths and other memory (or another context offset) on others"))
	}
	return nil
}

func (v *verifier) packetProven(st *state, p value) string {
	if p.id == 0 {
		if st.pmin <= 0 {
			return "; no packet bytes proven"
		}
		return "; proven: " + itoa(st.pmin) + " bytes"
	}
	return ""
}

func itoa(x int64) string {
	if x == 0 {
		return "0"
	}
	neg := x < 0
	var b [24]byte
	i := len(b)
	for x != 0 {
		d := x % 10
		if d < 0 {
			d = -d
		}
		i--
		b[i] = byte('0' + d)
		x /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// ctxAccess checks an access to the context at constant offset.
func (v *verifier) ctxAccess(st *state, pc int, ins isa.Instruction, r isa.Register, base value, off int64, size int, write bool, x value) (value, error) {
	if base.smin != 0 || base.smax != 0 {
		return value{}, reject(pc, ins, "variable offset into the context: r%d is %v", r, base)
	}
	o := base.off + off
	l := v.cfg.Context
	if l == nil || len(l.Fields) == 0 {
		if o < 0 || o+int64(size) > int64(v.cfg.ContextSize) {
			return value{}, reject(pc, ins, "context access of %d bytes at offset %d outside the %d-byte context", size, o, v.cfg.ContextSize)
		}
		if write && !v.cfg.ContextWritable {
			return value{}, reject(pc, ins, "write to the context, which this program type may only read")
		}
		if write && x.kind.mayBePointer() {
			return value{}, reject(pc, ins, "leaks a pointer into the context: r%d is %v", ins.Src, x)
		}
		return truncate(unknown, size), nil
	}
	if ins.OpCode.Mode() == isa.ModeMemSX {
		return value{}, reject(pc, ins, "sign-extending load from the context")
	}
	for _, f := range l.Fields {
		if o < int64(f.Offset) || o >= int64(f.Offset+f.Size) {
			continue
		}
		if o+int64(size) > int64(f.Offset+f.Size) {
			return value{}, reject(pc, ins, "%s context access at offset %d, size %d crosses field %s", l.Name, o, size, f.Name)
		}
		if f.Kind.IsPointer() {
			if write {
				return value{}, reject(pc, ins, "write to %s.%s, a pointer field", l.Name, f.Name)
			}
			if o != int64(f.Offset) || (size != 4 && size != 8) {
				return value{}, reject(pc, ins, "%s.%s must be read whole (4 or 8 bytes at its offset)", l.Name, f.Name)
			}
			switch f.Kind {
			case ctxaccess.PacketStart:
				return pointer(kindPacket, 0, 0), nil
			case ctxaccess.PacketEnd:
				return pointer(kindPacketEnd, 0, 0), nil
			case ctxaccess.PacketMeta:
				return pointer(kindPacketMeta, 0, 0), nil
			}
			return unknown, nil // a host pointer: a number to the program
		}
		if write {
			if !f.Writable {
				return value{}, reject(pc, ins, "write to %s.%s, which this program type may only read", l.Name, f.Name)
			}
			if x.kind.mayBePointer() {
				return value{}, reject(pc, ins, "leaks a pointer into the context: r%d is %v", ins.Src, x)
			}
		}
		return truncate(unknown, size), nil
	}
	return value{}, reject(pc, ins, "%s context access at offset %d, size %d is not a field", l.Name, o, size)
}

// stackAccess checks an access to bytes [lo, hi) of a frame's stack
// (offsets from its frame pointer), with size the access width.
func (v *verifier) stackAccess(st *state, pc int, ins isa.Instruction, r isa.Register, base value, lo, hi int64, size int, write bool, x value) (value, error) {
	what := "read"
	if write {
		what = "write"
	}
	if lo < -512 || hi > 0 {
		return value{}, reject(pc, ins, "stack %s of %d bytes at offset [%d, %d) outside the 512-byte stack: r%d is %v", what, size, lo, hi-int64(size), r, base)
	}
	f := int(base.aux)
	a := int(lo + 512) // first byte, from the stack's bottom
	constOff := base.smin == base.smax
	if write {
		fr := st.frameW(f)
		if !constOff {
			if x.kind.mayBePointer() {
				return value{}, reject(pc, ins, "spills a pointer at a variable stack offset: r%d is %v", r, base)
			}
			// Any slot in the range may be written: no spilled value
			// survives, and a pointer's bytes are no longer data.
			for s := a / 8; s <= (int(hi+512)-1)/8; s++ {
				killSpill(&fr.slots[s])
			}
			return value{}, nil
		}
		s, b := a/8, a%8
		if x.kind.mayBePointer() {
			if size != 8 || b != 0 {
				return value{}, reject(pc, ins, "spills a pointer with a %d-byte store at stack offset %d", size, lo)
			}
			fr.slots[s] = slot{v: x, init: 0xff, vo: 0, vw: 8}
			return value{}, nil
		}
		for k := a; k < a+size; k++ {
			sl := &fr.slots[k/8]
			if sl.v.kind != kindUninit && !(k/8 == s && b == int(sl.vo) && size == int(sl.vw)) {
				killSpill(sl)
			}
			sl.init |= 1 << (k % 8)
		}
		if (a+size-1)/8 == s && b%size == 0 {
			if x.kind == kindScalar && x.id == 0 && ins.OpCode.Class() == isa.ClassSTX && (size == 8 || truncate(x, size).sameNum(x)) {
				// Link the spilled copy to its register, so that bounds
				// learned on one apply to the other.
				x.id, x.off = st.newID(), 0
				st.regs[ins.Src].id, st.regs[ins.Src].off = x.id, 0
			}
			sv := x
			if x.kind == kindScalar && size < 8 {
				sv = truncate(x, size)
				sv.id, sv.off = 0, 0
				if sv.sameNum(x) {
					sv.id, sv.off = x.id, x.off
				}
			}
			fr.slots[s].v, fr.slots[s].vo, fr.slots[s].vw = sv, uint8(b), uint8(size)
		}
		return value{}, nil
	}
	fr := st.frames[f]
	// Reads: every byte must be initialized, and no pointer read in part.
	for k := a; k < int(hi+512); k++ {
		sl := &fr.slots[k/8]
		if sl.init&(1<<(k%8)) == 0 {
			return value{}, reject(pc, ins, "reads uninitialized stack byte at offset %d: r%d is %v", k-512, r, base)
		}
	}
	if !constOff {
		for s := a / 8; s <= (int(hi+512)-1)/8; s++ {
			if fr.slots[s].v.kind.mayBePointer() {
				return value{}, reject(pc, ins, "reads a spilled pointer at a variable stack offset: r%d is %v", r, base)
			}
		}
		return truncate(unknown, size), nil
	}
	s, b := a/8, a%8
	sl := &fr.slots[s]
	if (a+size-1)/8 == s && sl.v.kind != kindUninit {
		if int(sl.vo) == b && int(sl.vw) == size {
			return sl.v, nil
		}
		if sl.v.kind == kindScalar && sl.vo == 0 && b == 0 && int(sl.vw) > size {
			// The low bytes of a spilled scalar.
			return truncate(sl.v, size), nil
		}
	}
	for k := a / 8; k <= (a+size-1)/8; k++ {
		if fr.slots[k].v.kind.mayBePointer() {
			return value{}, reject(pc, ins, "reads part of a spilled pointer at stack offset %d: r%d is %v", lo, r, base)
		}
	}
	return truncate(unknown, size), nil
}

// killSpill forgets a slot's spilled value; the bytes of a spilled pointer
// are no longer readable.
func killSpill(sl *slot) {
	if sl.v.kind.mayBePointer() {
		sl.init = 0
	}
	sl.v, sl.vo, sl.vw = value{}, 0, 0
}

// readable checks that size bytes from pointer p may be read by a helper
// (initialized if on the stack, no spilled pointer), or written if write;
// for stack writes it marks the bytes initialized. sizeMin bytes at least
// are written.
func (v *verifier) helperMemory(st *state, pc int, ins isa.Instruction, r isa.Register, p value, sizeMin, sizeMax int64, write bool) error {
	if sizeMax == 0 {
		return nil
	}
	if p.null {
		return v.notNullChecked(pc, ins, r, p)
	}
	if wideOffset(p) || sizeMax > maxOffset {
		return reject(pc, ins, "helper memory through r%d, whose offset or size is not bounded: r%d is %v", r, r, p)
	}
	lo := p.off + p.smin
	hi := p.off + p.smax + sizeMax
	what := "read"
	if write {
		what = "write"
	}
	switch p.kind {
	case kindStack:
		if lo < -512 || hi > 0 {
			return reject(pc, ins, "helper %s of up to %d bytes at stack offset [%d, %d) outside the 512-byte stack: r%d is %v", what, sizeMax, lo, hi, r, p)
		}
		a := int(lo + 512)
		if write {
			fr := st.frameW(int(p.aux))
			for k := a; k < int(hi+512); k++ {
				killSpill(&fr.slots[k/8])
			}
			if p.smin == p.smax {
				for k := a; k < a+int(sizeMin); k++ {
					fr.slots[k/8].init |= 1 << (k % 8)
				}
			}
			return nil
		}
		fr := st.frames[p.aux]
		for k := a; k < int(hi+512); k++ {
			sl := &fr.slots[k/8]
			if sl.init&(1<<(k%8)) == 0 {
				return reject(pc, ins, "passes uninitialized stack byte at offset %d to a helper: r%d is %v", k-512, r, p)
			}
			if sl.v.kind.mayBePointer() {
				return reject(pc, ins, "passes a spilled pointer (stack offset %d) to a helper: r%d is %v", k-512, r, p)
			}
		}
		return nil
	case kindMapValue:
		vs, ro, locks := v.valueBounds(p.aux)
		if lo < 0 || hi > vs {
			return reject(pc, ins, "helper %s of up to %d bytes at offset [%d, %d) outside the %d-byte value of map %s: r%d is %v", what, sizeMax, lo, hi, vs, v.mapName(p.aux), r, p)
		}
		if write && ro {
			return reject(pc, ins, "helper writes read-only map %s", v.mapName(p.aux))
		}
		for _, l := range locks {
			if lo < int64(l)+4 && hi > int64(l) {
				return reject(pc, ins, "helper memory covers the bpf_spin_lock of map %s", v.mapName(p.aux))
			}
		}
		return nil
	case kindRingbuf:
		if lo < 0 || hi > int64(p.aux) {
			return reject(pc, ins, "helper %s of up to %d bytes outside a %d-byte ring-buffer record: r%d is %v", what, sizeMax, p.aux, r, p)
		}
		return nil
	case kindPacket:
		if write && !v.cfg.PacketWritable {
			return reject(pc, ins, "helper writes the packet, which this program type may only read")
		}
		a := p.off
		var ok bool
		if p.id == 0 {
			ok = a >= 0 && a+sizeMax <= st.pmin
		} else {
			ok = p.smin >= 0 && p.smax <= maxPacket && p.smin+a >= 0 && a+sizeMax <= p.rng ||
				p.smin >= 0 && p.smax <= maxPacket && p.smin+a >= 0 && p.smax+a+sizeMax <= st.pmin
		}
		if !ok {
			return reject(pc, ins, "helper %s of up to %d bytes not proven inside the packet: r%d is %v%s", what, sizeMax, r, p, v.packetProven(st, p))
		}
		return nil
	case kindCtx:
		return reject(pc, ins, "passes the context as helper memory: r%d is %v", r, p)
	}
	return reject(pc, ins, "helper memory argument r%d is not a pointer to memory: %v", r, p)
}

var _ = maps.Array

// notNullChecked is the error of a use of r, which holds p, a pointer
// that may be NULL: what it is, and the call that made it, with its
// source line.
func (v *verifier) notNullChecked(pc int, ins isa.Instruction, r isa.Register, p value) error {
	what, call := p.String(), "the call"
	switch p.kind {
	case kindMapValue:
		what, call = "map_value_or_null of map "+v.mapName(p.aux), "the lookup"
	case kindRingbuf:
		what, call = fmt.Sprintf("a ring-buffer record of %d bytes or NULL", p.aux), "the reservation"
	case kindMapHandle:
		what, call = "an inner map of "+v.mapName(p.aux)+" or NULL", "the lookup"
	}
	at := fmt.Sprintf("pc %d", p.defPC)
	if v.cfg.LineInfo != nil {
		if l, ok := v.cfg.LineInfo(int(p.defPC)); ok {
			at = fmt.Sprintf("%s:%d (pc %d)", l.File, l.Line, p.defPC)
		}
	}
	return reject(pc, ins, "r%d is %s: %s at %s is not checked for NULL", r, what, call, at)
}

// wideOffset reports whether pointer p's offset may lie beyond what any
// object spans (a widened loop pointer): the bounds of an access through
// it cannot be computed without overflow, and prove nothing.
func wideOffset(p value) bool {
	return p.smin < -maxOffset || p.smax > maxOffset || p.off < -maxOffset || p.off > maxOffset
}
