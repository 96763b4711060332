package verifier

import (
	"math"

	"github.com/xebpf/xebpf/isa"
)

// branch splits st at a conditional jump into the states where it is
// taken and where it falls through (nil where impossible).
func (v *verifier) branch(st *state, pc int, ins isa.Instruction) (taken, fall *state, err error) {
	op := ins.OpCode.JumpOp()
	is32 := ins.OpCode.Class() == isa.ClassJMP32
	a, err := v.reg(st, pc, ins, ins.Dst)
	if err != nil {
		return nil, nil, err
	}
	var b value
	if ins.OpCode.Source() == isa.SourceReg {
		if b, err = v.reg(st, pc, ins, ins.Src); err != nil {
			return nil, nil, err
		}
	} else {
		c := uint64(ins.Constant)
		if is32 {
			c = uint64(uint32(c))
		}
		b = constant(c)
	}
	if a.kind == kindMixed || b.kind == kindMixed {
		return nil, nil, reject(pc, ins, "compares a register that holds different kinds of values on different paths")
	}
	taken, fall = st, st.clone()
	if a.kind == kindScalar && b.kind == kindScalar {
		if is32 && !(a.fits32() && b.fits32() && (!signed(op) || a.smax <= math.MaxInt32 && b.smax <= math.MaxInt32)) {
			// Compare the low 32 bits only to find an impossible branch;
			// the registers' bounds stay.
			alo, ahi := a.low32()
			blo, bhi := b.low32()
			a32, b32 := unsignedRange(alo, ahi), unsignedRange(blo, bhi)
			if signed(op) {
				if alo != ahi || blo != bhi {
					return taken, fall, nil
				}
				a32, b32 = constant(uint64(int64(int32(alo)))), constant(uint64(int64(int32(blo))))
			}
			at, bt, af, bf := refine(op, a32, b32)
			if at.empty() || bt.empty() {
				taken = nil
			}
			if af.empty() || bf.empty() {
				fall = nil
			}
			return taken, fall, nil
		}
		at, bt, af, bf := refine(op, a, b)
		if at.empty() || bt.empty() {
			taken = nil
		} else {
			setScalar(taken, ins.Dst, at)
			if ins.OpCode.Source() == isa.SourceReg {
				setScalar(taken, ins.Src, bt)
			}
		}
		if af.empty() || bf.empty() {
			fall = nil
		} else {
			setScalar(fall, ins.Dst, af)
			if ins.OpCode.Source() == isa.SourceReg {
				setScalar(fall, ins.Src, bf)
			}
		}
		return taken, fall, nil
	}
	if is32 {
		if a.kind.isPointer() || b.kind.isPointer() {
			return nil, nil, reject(pc, ins, "32-bit comparison of a pointer")
		}
		return taken, fall, nil
	}
	// A pointer compared with NULL.
	if p, reg, ok := nullCheck(a, b, ins); ok && (op == isa.JEq || op == isa.JNE) {
		isNull, notNull := taken, fall
		if op == isa.JNE {
			isNull, notNull = fall, taken
		}
		if !p.null {
			// A pointer that cannot be NULL is never equal to 0.
			isNull = nil
		} else {
			v.markNull(isNull, reg, p)
			markNonNull(notNull, reg, p)
		}
		if op == isa.JNE {
			return notNull, isNull, nil
		}
		return isNull, notNull, nil
	}
	// A packet pointer compared with packet_end.
	if a.kind == kindPacket && b.kind == kindPacketEnd || a.kind == kindPacketEnd && b.kind == kindPacket {
		p, pr, swapped := a, ins.Dst, false
		if a.kind == kindPacketEnd {
			p, pr, swapped = b, ins.Src, true
		}
		// Where p + extra <= end holds.
		inT, extraT, inF, extraF := packetFacts(op, swapped)
		if inT {
			learnPacket(taken, pr, p, extraT)
		}
		if inF {
			learnPacket(fall, pr, p, extraF)
		}
		return taken, fall, nil
	}
	// The metadata pointer compared with a constant-offset packet pointer.
	if a.kind == kindPacketMeta && b.kind == kindPacket || a.kind == kindPacket && b.kind == kindPacketMeta {
		m, p, swapped := a, b, false
		if a.kind == kindPacket {
			m, p, swapped = b, a, true
		}
		if p.id != 0 || p.smin != 0 || p.smax != 0 || m.smin != m.smax {
			return taken, fall, nil
		}
		// Where meta + extra <= data + p.off.
		inT, extraT, inF, extraF := packetFacts(op, swapped)
		n := m.off + m.smin - p.off
		if inT {
			taken.mmin = max(taken.mmin, min(n+extraT, maxPacket))
		}
		if inF {
			fall.mmin = max(fall.mmin, min(n+extraF, maxPacket))
		}
		return taken, fall, nil
	}
	return taken, fall, nil
}

func signed(op isa.JumpOp) bool {
	return op == isa.JSGT || op == isa.JSGE || op == isa.JSLT || op == isa.JSLE
}

// nullCheck recognizes a comparison of a pointer with the constant 0.
func nullCheck(a, b value, ins isa.Instruction) (value, isa.Register, bool) {
	zero := func(x value) bool { return x.kind == kindScalar && x.isConst() && x.umin == 0 }
	if a.kind.isPointer() && zero(b) {
		return a, ins.Dst, true
	}
	if b.kind.isPointer() && zero(a) && ins.OpCode.Source() == isa.SourceReg {
		return b, ins.Src, true
	}
	return value{}, 0, false
}

// markNull makes every holder of p's id the scalar 0; a ring-buffer
// reservation that failed holds nothing to release.
func (v *verifier) markNull(st *state, r isa.Register, p value) {
	if st == nil {
		return
	}
	if p.id == 0 {
		st.regs[r] = constant(0)
		return
	}
	st.update(func(x *value) bool { return x.id == p.id && x.kind.isPointer() }, func(x *value) { *x = constant(0) })
	st.dropRef(p.id)
}

func markNonNull(st *state, r isa.Register, p value) {
	if st == nil {
		return
	}
	if p.id == 0 {
		st.regs[r].null = false
		return
	}
	st.update(func(x *value) bool { return x.id == p.id && x.kind.isPointer() }, func(x *value) { x.null = false })
}

func (st *state) dropRef(id uint64) {
	for i, r := range st.refs {
		if r == id {
			st.refs = append(st.refs[:i:i], st.refs[i+1:]...)
			return
		}
	}
}

// packetFacts says, for a comparison op of packet pointer p with end
// (end op p if swapped), on which branches p + extra <= end holds.
func packetFacts(op isa.JumpOp, swapped bool) (inTaken bool, extraTaken int64, inFall bool, extraFall int64) {
	if swapped {
		// end op p is p op' end.
		switch op {
		case isa.JGT:
			op = isa.JLT
		case isa.JGE:
			op = isa.JLE
		case isa.JLT:
			op = isa.JGT
		case isa.JLE:
			op = isa.JGE
		default:
			return
		}
	}
	switch op {
	case isa.JGT: // p > end: fall-through has p <= end
		return false, 0, true, 0
	case isa.JGE: // p >= end: fall-through has p < end
		return false, 0, true, 1
	case isa.JLT: // p < end
		return true, 1, false, 0
	case isa.JLE: // p <= end
		return true, 0, false, 0
	}
	return
}

// learnPacket records p + extra <= end for every pointer sharing p's base.
func learnPacket(st *state, r isa.Register, p value, extra int64) {
	n := p.off + extra
	if p.id == 0 {
		st.pmin = max(st.pmin, min(n, maxPacket))
		return
	}
	if p.smin >= 0 && p.smin <= maxPacket {
		// The base is at least smin bytes in.
		st.pmin = max(st.pmin, min(p.smin+n, maxPacket))
	}
	st.update(func(x *value) bool { return (x.kind == kindPacket || x.kind == kindScalar) && x.id == p.id }, func(x *value) { x.rng = max(x.rng, n) })
	// data + var + n <= data_end, and no packet is longer than maxPacket
	// (xebpf's frames are 4 KiB): the variable part is at most
	// maxPacket - n, for every pointer sharing it.
	if lim := maxPacket - n; p.smax > lim && lim >= p.smin {
		st.update(func(x *value) bool { return x.kind == kindPacket && x.id == p.id }, func(x *value) {
			x.smax = min(x.smax, lim)
			if x.smin >= 0 {
				x.umax = min(x.umax, uint64(lim))
			}
			x.deduce()
		})
	}
}

// setScalar gives register r the bounds of x, and every value linked to
// it (base + another offset) the bounds that follow.
func setScalar(st *state, r isa.Register, x value) {
	old := st.regs[r]
	x.deduce()
	x.id, x.off = old.id, old.off
	st.regs[r] = x
	if old.id == 0 {
		return
	}
	if old.id == st.plen.id && x.smin > math.MinInt64+maxPacket {
		// x = data_end - data - plen.off + old.off >= smin.
		if n := x.smin - old.off + st.plen.off; n > 0 {
			st.pmin = max(st.pmin, min(n, maxPacket))
		}
	}
	boundLinked(st, old, x)
}

// boundLinked gives every scalar of st linked to old (its id, another
// offset) the bounds that follow from old's new bounds x.
func boundLinked(st *state, old, x value) {
	st.update(func(y *value) bool { return y.kind == kindScalar && y.id == old.id }, func(y *value) {
		if y.off == old.off {
			y.smin, y.smax, y.umin, y.umax = x.smin, x.smax, x.umin, x.umax
			return
		}
		// y = x + (y.off - x.off), if that does not wrap.
		d := y.off - old.off
		if wraps(x, d, true) {
			return
		}
		n := addBounds(value{kind: kindScalar, smin: x.smin, smax: x.smax, umin: x.umin, umax: x.umax}, constant(uint64(d)))
		if m := meet(*y, n); !m.empty() {
			y.smin, y.smax, y.umin, y.umax = m.smin, m.smax, m.umin, m.umax
		}
	})
}

// refine returns a and b narrowed where a op b holds (t) and where it
// does not (f).
func refine(op isa.JumpOp, a, b value) (at, bt, af, bf value) {
	at, bt, af, bf = a, b, a, b
	switch op {
	case isa.JEq:
		at = meet(a, b)
		bt = at
		af, bf = exclude(a, b), exclude(b, a)
	case isa.JNE:
		af = meet(a, b)
		bf = af
		at, bt = exclude(a, b), exclude(b, a)
	case isa.JGT:
		at, bt = ugt(a, b)
		bf, af = uge(b, a)
	case isa.JGE:
		at, bt = uge(a, b)
		bf, af = ugt(b, a)
	case isa.JLT:
		bt, at = ugt(b, a)
		af, bf = uge(a, b)
	case isa.JLE:
		bt, at = uge(b, a)
		af, bf = ugt(a, b)
	case isa.JSGT:
		at, bt = sgt(a, b)
		bf, af = sge(b, a)
	case isa.JSGE:
		at, bt = sge(a, b)
		bf, af = sgt(b, a)
	case isa.JSLT:
		bt, at = sgt(b, a)
		af, bf = sge(a, b)
	case isa.JSLE:
		bt, at = sge(b, a)
		af, bf = sgt(a, b)
	case isa.JSet:
		if a.isConst() && b.isConst() {
			if a.umin&b.umin == 0 {
				at = empty()
			} else {
				af = empty()
			}
		}
		if at.kind == kindScalar && !at.empty() && at.umin == 0 {
			at.umin = 1
		}
	}
	for _, x := range []*value{&at, &bt, &af, &bf} {
		x.deduce()
	}
	return
}

func empty() value { return value{kind: kindScalar, smin: 1, smax: 0, umin: 1, umax: 0} }

func meet(a, b value) value {
	r := a
	r.smin, r.smax = max(a.smin, b.smin), min(a.smax, b.smax)
	r.umin, r.umax = max(a.umin, b.umin), min(a.umax, b.umax)
	r.deduce()
	return r
}

// exclude removes the constant b from a's bounds where it is an end.
func exclude(a, b value) value {
	if !b.isConst() {
		return a
	}
	c := b.umin
	if a.isConst() && a.umin == c {
		return empty()
	}
	if a.umin == c {
		a.umin++
	}
	if a.umax == c {
		a.umax--
	}
	if a.smin == int64(c) {
		a.smin++
	}
	if a.smax == int64(c) {
		a.smax--
	}
	a.deduce()
	return a
}

// ugt narrows a and b to a > b (unsigned).
func ugt(a, b value) (value, value) {
	if b.umin == math.MaxUint64 || a.umax == 0 {
		return empty(), empty()
	}
	a.umin = max(a.umin, b.umin+1)
	b.umax = min(b.umax, a.umax-1)
	return a, b
}

// uge narrows a and b to a >= b (unsigned).
func uge(a, b value) (value, value) {
	a.umin = max(a.umin, b.umin)
	b.umax = min(b.umax, a.umax)
	return a, b
}

func sgt(a, b value) (value, value) {
	if b.smin == math.MaxInt64 || a.smax == math.MinInt64 {
		return empty(), empty()
	}
	a.smin = max(a.smin, b.smin+1)
	b.smax = min(b.smax, a.smax-1)
	return a, b
}

func sge(a, b value) (value, value) {
	a.smin = max(a.smin, b.smin)
	b.smax = min(b.smax, a.smax)
	return a, b
}
