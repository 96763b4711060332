package verifier

import (
	"math"

	"github.com/xebpf/xebpf/isa"
)

// step runs one instruction that is neither a jump nor an exit on st. It
// reports false when the path ends at the instruction.
func (v *verifier) step(st *state, pc int, ins isa.Instruction, chain []*function) (bool, error) {
	op := ins.OpCode
	switch c := op.Class(); {
	case c.IsALU():
		return true, v.alu(st, pc, ins)
	case op == isa.OpLDDW:
		return true, v.lddw(st, pc, ins)
	case c == isa.ClassLDX:
		return true, v.load(st, pc, ins)
	case c == isa.ClassST || c == isa.ClassSTX:
		if op.Mode() == isa.ModeAtomic {
			return true, v.atomic(st, pc, ins)
		}
		return true, v.store(st, pc, ins)
	case c == isa.ClassLD:
		return true, v.legacyLoad(st, pc, ins)
	case op == isa.OpCall:
		return v.call(st, pc, ins, chain)
	}
	return false, reject(pc, ins, "instruction not supported by the verifier")
}

// reg reads register r, which must be initialized.
func (v *verifier) reg(st *state, pc int, ins isa.Instruction, r isa.Register) (value, error) {
	x := st.regs[r]
	if x.kind == kindUninit {
		return x, reject(pc, ins, "r%d is not initialized", r)
	}
	return x, nil
}

// set writes register r.
func (st *state) set(r isa.Register, x value) { st.regs[r] = x }

func (v *verifier) alu(st *state, pc int, ins isa.Instruction) error {
	op := ins.OpCode
	aluOp := op.ALUOp()
	alu64 := op.Class() == isa.ClassALU64
	dst := ins.Dst
	if dst == isa.R10 {
		return reject(pc, ins, "r10 is read-only")
	}
	src := constant(0) // neg and byte swaps have no source
	if aluOp != isa.Neg && aluOp != isa.End {
		if op.Source() == isa.SourceReg {
			var err error
			if src, err = v.reg(st, pc, ins, ins.Src); err != nil {
				return err
			}
		} else {
			c := uint64(ins.Constant) // sign-extended immediate
			if !alu64 {
				c = uint64(uint32(c))
			}
			src = constant(c)
		}
	}
	if aluOp == isa.Mov {
		if src.kind == kindMixed {
			return reject(pc, ins, "r%d holds different kinds of values on different paths", ins.Src)
		}
		if src.kind != kindScalar && src.kind != kindUninit {
			if !alu64 || ins.Offset != 0 {
				return reject(pc, ins, "32-bit or sign-extending move of a pointer: r%d is %v", ins.Src, src)
			}
			st.set(dst, src)
			return nil
		}
		r := movBounds(ins.Offset, alu64, src)
		r.id, r.off = 0, 0
		if op.Source() == isa.SourceReg && ins.Offset == 0 && (alu64 || src.fits32()) {
			// Link the copy to its source, so that bounds learned on one
			// apply to the other.
			if src.id == 0 {
				src.id, src.off = st.newID(), 0
				st.regs[ins.Src].id, st.regs[ins.Src].off = src.id, 0
			}
			r.id, r.off = src.id, src.off
		}
		st.set(dst, r)
		return nil
	}
	d, err := v.reg(st, pc, ins, dst)
	if err != nil {
		return err
	}
	if d.kind == kindMixed || src.kind == kindMixed {
		return reject(pc, ins, "arithmetic on a register that holds different kinds of values on different paths")
	}
	if aluOp == isa.End {
		if d.kind != kindScalar {
			return reject(pc, ins, "byte swap of a pointer: r%d is %v", dst, d)
		}
		w := int(ins.Constant) / 8
		if op.Source() == isa.SourceImm && !alu64 {
			// le: truncation to the width (a no-op on little-endian).
			st.set(dst, truncate(value{kind: kindScalar, smin: d.smin, smax: d.smax, umin: d.umin, umax: d.umax}, w))
			return nil
		}
		st.set(dst, truncate(unknown, w))
		return nil
	}
	if d.kind == kindScalar && src.kind == kindScalar {
		r := scalarALU(aluOp, ins.Offset, alu64, d, src)
		r.id, r.off = 0, 0
		if d.id != 0 && src.isConst() && (aluOp == isa.Add || aluOp == isa.Sub) {
			// d + c stays linked to d's base if it cannot wrap.
			c := int64(src.umin)
			if aluOp == isa.Sub {
				c = -c
			}
			if !alu64 {
				c = int64(int32(uint32(src.umin)))
				if aluOp == isa.Sub {
					c = -c
				}
			}
			if !wraps(d, c, alu64) && c > -maxOffset && c < maxOffset {
				r.id, r.off, r.rng = d.id, d.off+c, d.rng
			}
		} else if src.id != 0 && d.isConst() && aluOp == isa.Add {
			// c + s, clang's "step = c; step += i", is s + c.
			c := int64(d.umin)
			if !alu64 {
				c = int64(int32(uint32(d.umin)))
			}
			if !wraps(src, c, alu64) && c > -maxOffset && c < maxOffset {
				r.id, r.off, r.rng = src.id, src.off+c, src.rng
			}
		}
		st.set(dst, r)
		return nil
	}
	// Pointer arithmetic.
	if !alu64 {
		return reject(pc, ins, "32-bit arithmetic on a pointer: r%d is %v", dst, d)
	}
	switch aluOp {
	case isa.Add:
		p, s := d, src
		if d.kind == kindScalar {
			p, s = src, d
		}
		if s.kind != kindScalar {
			return reject(pc, ins, "adds two pointers: r%d is %v, r%d is %v", dst, d, ins.Src, src)
		}
		r, err := v.movePointer(st, pc, ins, p, s)
		if err != nil {
			return err
		}
		st.set(dst, r)
		return nil
	case isa.Sub:
		if src.kind == kindScalar {
			neg := scalarALU(isa.Neg, 0, true, src, src)
			if src.isConst() {
				neg = constant(-src.umin)
			}
			r, err := v.movePointer(st, pc, ins, d, neg)
			if err != nil {
				return err
			}
			st.set(dst, r)
			return nil
		}
		if d.kind == kindScalar {
			return reject(pc, ins, "subtracts a pointer from a scalar: r%d is %v", ins.Src, src)
		}
		// pointer - pointer into the same object: a scalar.
		packets := func(k kind) bool { return k == kindPacket || k == kindPacketEnd || k == kindPacketMeta }
		if packets(d.kind) && packets(src.kind) {
			r := signedRange(-maxPacket, maxPacket)
			if d.kind == kindPacket && src.kind == kindPacket && d.id == src.id {
				r = constant(uint64(d.off - src.off))
			}
			if d.kind == kindPacketEnd && src.kind == kindPacket && src.id == 0 {
				// data_end - (data + off): the packet's length less off,
				// linked to the packet so that a bound on it bounds the
				// packet.
				r = signedRange(-src.off, maxPacket-src.off)
				r.id = st.newID()
				st.plen.id, st.plen.off = r.id, src.off
			}
			st.set(dst, r)
			return nil
		}
		if d.kind != src.kind || d.aux != src.aux || d.null || src.null {
			return reject(pc, ins, "subtracts pointers into different objects: r%d is %v, r%d is %v", dst, d, ins.Src, src)
		}
		r := unknown
		if d.kind == kindPacket && src.kind == kindPacket && d.id == src.id {
			r = constant(uint64(d.off - src.off))
		} else if d.kind == kindStack && d.smin == d.smax && src.smin == src.smax {
			r = constant(uint64(d.off + d.smin - src.off - src.smin))
		}
		st.set(dst, r)
		return nil
	}
	bad, which := d, dst
	if d.kind == kindScalar {
		bad, which = src, ins.Src
	}
	return reject(pc, ins, "%v on a pointer: r%d is %v", aluOp, which, bad)
}

// wraps reports whether d + c may wrap around (in 32 bits for 32-bit
// operations), breaking the link between d and its base.
func wraps(d value, c int64, alu64 bool) bool {
	if !alu64 {
		if !d.fits32() {
			return true
		}
		lo, hi := int64(d.umin)+c, int64(d.umax)+c
		return lo < 0 || hi > math.MaxUint32
	}
	if _, o := addOverflows(d.smin, c); o {
		return true
	}
	if _, o := addOverflows(d.smax, c); o {
		return true
	}
	if c >= 0 {
		return d.umax+uint64(c) < d.umax
	}
	return d.umin < uint64(-c)
}

// packetRange is the range proven from the base id: packet pointers built
// on it, and the scalars linked to it, hold it.
func (v *verifier) packetRange(st *state, id uint64) int64 {
	r := int64(0)
	st.each(func(x *value) {
		if (x.kind == kindPacket || x.kind == kindScalar) && x.id == id {
			r = max(r, x.rng)
		}
	})
	return r
}

// maxOffset bounds the variable offsets of pointers, as Linux's
// BPF_MAX_VAR_OFF: beyond it no access can be proven anyway.
const maxOffset = 1 << 29

// movePointer is pointer p plus scalar s.
func (v *verifier) movePointer(st *state, pc int, ins isa.Instruction, p, s value) (value, error) {
	switch p.kind {
	case kindPacketEnd:
		return p, reject(pc, ins, "arithmetic on packet_end")
	case kindMapHandle:
		return p, reject(pc, ins, "arithmetic on a map pointer: %v", p)
	case kindFunc:
		return p, reject(pc, ins, "arithmetic on a code address")
	}
	if p.null {
		return p, reject(pc, ins, "arithmetic on a pointer that may be NULL: %v; check it first", p)
	}
	if s.isConst() {
		c := int64(s.umin)
		if c < -maxOffset || c > maxOffset {
			return p, reject(pc, ins, "pointer offset %d out of range", c)
		}
		p.off += c
		if p.off < -maxOffset || p.off > maxOffset {
			return p, reject(pc, ins, "pointer offset %d out of range", p.off)
		}
		return p, nil
	}
	if p.kind == kindCtx {
		return p, reject(pc, ins, "variable offset added to the context pointer")
	}
	constBase := p.id == 0 && p.smin == 0 && p.smax == 0
	if s.smin < -maxOffset || s.smax > maxOffset {
		return p, reject(pc, ins, "pointer arithmetic with an unbounded scalar: %v plus %v", p, s)
	}
	r := addBounds(value{kind: kindScalar, smin: p.smin, smax: p.smax, umin: p.umin, umax: p.umax}, s)
	p.smin, p.smax, p.umin, p.umax = r.smin, r.smax, r.umin, r.umax
	if p.smin < -maxOffset || p.smax > maxOffset {
		return p, reject(pc, ins, "pointer offset out of range: %v", p)
	}
	if p.kind == kindPacket {
		if constBase && s.id != 0 && s.off > -maxOffset && s.off < maxOffset {
			// data + c + s, where s is base(s.id) + s.off: the pointer's
			// variable part is that base, so that comparisons through
			// any pointer built on it prove accesses through the others.
			b := shiftNum(s, -s.off)
			p.smin, p.smax, p.umin, p.umax = b.smin, b.smax, b.umin, b.umax
			p.off += s.off
			p.id = s.id
			p.rng = v.packetRange(st, s.id)
			return p, nil
		}
		// A new variable base: nothing is proven from it yet.
		p.id = st.newID()
		p.rng = 0
	}
	return p, nil
}

func (v *verifier) lddw(st *state, pc int, ins isa.Instruction) error {
	switch ins.Src {
	case isa.PseudoImm64:
		st.set(ins.Dst, constant(uint64(ins.Constant)))
	case isa.PseudoFunc:
		t, _ := ins.JumpTarget(pc)
		st.set(ins.Dst, pointer(kindFunc, int32(t), 0))
	case isa.PseudoMapIndex, isa.PseudoMapIndexValue:
		idx := int(uint32(ins.Constant))
		if idx >= len(v.cfg.Maps) || v.cfg.Maps[idx] == nil {
			return reject(pc, ins, "references map %d of %d", idx, len(v.cfg.Maps))
		}
		if ins.Src == isa.PseudoMapIndex {
			st.set(ins.Dst, pointer(kindMapHandle, int32(idx), 0))
			return nil
		}
		off := int64(uint32(uint64(ins.Constant) >> 32))
		if off >= int64(v.cfg.Maps[idx].ValueSize) {
			return reject(pc, ins, "offset %d past the value of map %s (%d bytes)", off, v.mapName(int32(idx)), v.cfg.Maps[idx].ValueSize)
		}
		st.set(ins.Dst, pointer(kindMapValue, int32(idx), off))
	default:
		return reject(pc, ins, "lddw source %d is not supported: maps are referenced by index", ins.Src)
	}
	return nil
}

func (v *verifier) load(st *state, pc int, ins isa.Instruction) error {
	base, err := v.reg(st, pc, ins, ins.Src)
	if err != nil {
		return err
	}
	if ins.Dst == isa.R10 {
		return reject(pc, ins, "r10 is read-only")
	}
	size := ins.OpCode.Size().Bytes()
	r, err := v.access(st, pc, ins, ins.Src, base, int64(ins.Offset), size, false, value{})
	if err != nil {
		return err
	}
	if ins.OpCode.Mode() == isa.ModeMemSX && r.kind == kindScalar {
		if !(r.umax < 1<<(8*size-1)) {
			r = signExtendLoad(size)
		}
	}
	st.set(ins.Dst, r)
	return nil
}

func (v *verifier) store(st *state, pc int, ins isa.Instruction) error {
	base, err := v.reg(st, pc, ins, ins.Dst)
	if err != nil {
		return err
	}
	size := ins.OpCode.Size().Bytes()
	var x value
	if ins.OpCode.Class() == isa.ClassST {
		x = truncate(constant(uint64(ins.Constant)), size)
	} else {
		if x, err = v.reg(st, pc, ins, ins.Src); err != nil {
			return err
		}
		if x.kind == kindMixed && base.kind != kindStack {
			return reject(pc, ins, "stores r%d, which holds different kinds of values on different paths", ins.Src)
		}
	}
	_, err = v.access(st, pc, ins, ins.Dst, base, int64(ins.Offset), size, true, x)
	return err
}

func (v *verifier) atomic(st *state, pc int, ins isa.Instruction) error {
	base, err := v.reg(st, pc, ins, ins.Dst)
	if err != nil {
		return err
	}
	x, err := v.reg(st, pc, ins, ins.Src)
	if err != nil {
		return err
	}
	if x.kind != kindScalar {
		return reject(pc, ins, "atomic operation with a pointer operand: r%d is %v", ins.Src, x)
	}
	size := ins.OpCode.Size().Bytes()
	if base.kind != kindStack && base.kind != kindMapValue && base.kind != kindRingbuf {
		return reject(pc, ins, "atomic operation on %v: only the stack and map values allow it", base)
	}
	if _, err := v.access(st, pc, ins, ins.Dst, base, int64(ins.Offset), size, false, value{}); err != nil {
		return err
	}
	if _, err := v.access(st, pc, ins, ins.Dst, base, int64(ins.Offset), size, true, unsignedRange(0, math.MaxUint64)); err != nil {
		return err
	}
	imm := ins.Constant
	const fetch, xchg, cmpxchg = 0x01, 0xe1, 0xf1
	switch {
	case imm == cmpxchg:
		if _, err := v.reg(st, pc, ins, isa.R0); err != nil {
			return err
		}
		st.set(isa.R0, truncate(unknown, size))
	case imm&fetch != 0 || imm == xchg:
		st.set(ins.Src, truncate(unknown, size))
	}
	return nil
}

// legacyLoad is LD_ABS / LD_IND: r0 = packet bytes, r6 the context; the
// instruction ends the program on a bad offset, and clobbers r1-r5.
func (v *verifier) legacyLoad(st *state, pc int, ins isa.Instruction) error {
	if r6 := st.regs[6]; r6.kind != kindCtx || r6.off != 0 || r6.smin != 0 || r6.smax != 0 {
		return reject(pc, ins, "legacy packet load needs the context in r6: r6 is %v", r6)
	}
	if ins.OpCode.Mode() == isa.ModeInd {
		x, err := v.reg(st, pc, ins, ins.Src)
		if err != nil {
			return err
		}
		if x.kind != kindScalar {
			return reject(pc, ins, "legacy packet load with a pointer offset: r%d is %v", ins.Src, x)
		}
	}
	v.clobber(st)
	st.set(isa.R0, truncate(unknown, ins.OpCode.Size().Bytes()))
	return nil
}

// clobber makes r1-r5 uninitialized, as after a call.
func (v *verifier) clobber(st *state) {
	for r := 1; r <= 5; r++ {
		st.regs[r] = uninit
	}
}
