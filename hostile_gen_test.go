//go:build linux || darwin || freebsd || netbsd || openbsd

package xebpf_test

import (
	"encoding/binary"

	"github.com/xebpf/xebpf/isa"
)

// This file turns fuzz bytes into structurally valid but hostile XDP
// programs for FuzzHostilePrograms: they take pointers to everything a
// program can reach (context, packet, stack, map values, global data,
// ring-buffer records, map handles, callbacks), do arithmetic on them,
// spill and fill them, load and store through them at random widths and
// offsets, pass them to helpers, and forge pointers to memory they must
// never reach. A program is mostly plausible and wrong where the input
// says so, so that runs get deep before they fault.

// byteSource hands out the fuzz input; past its end it returns zeros.
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) more() bool { return s.i < len(s.b) }

func (s *byteSource) byte() byte {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return c
}

// intn returns a number in [0, n).
func (s *byteSource) intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := int(s.byte())
	if n > 256 {
		v |= int(s.byte()) << 8
	}
	return v % n
}

// chance reports true with probability p/256.
func (s *byteSource) chance(p int) bool { return int(s.byte()) < p }

func (s *byteSource) u32() uint32 {
	return uint32(s.byte()) | uint32(s.byte())<<8 | uint32(s.byte())<<16 | uint32(s.byte())<<24
}

func (s *byteSource) u64() uint64 { return uint64(s.u32()) | uint64(s.u32())<<32 }

// Maps of the hostile collection, in MapOrder (sorted by name): an lddw
// names a map by its index here.
const (
	mArray  = iota // array whose values hold a bpf_spin_lock
	mCanary        // array no program references: must never change
	mData          // global data (one value, lddw src 6)
	mHash          // hash map with known keys
	mProgs         // program array: main, tail, two empty slots
	mRing          // ring buffer
	mRodata        // read-only global data (BPF_F_RDONLY_PROG)
	numMaps
)

var hostileMapNames = [numMaps]string{"array", "canary", "data", "hash", "progs", "ringbuf", "rodata"}

// Sizes of the hostile maps.
const (
	arrayEntries  = 6
	arrayValue    = 32
	arrayLockOff  = 8 // offset of the bpf_spin_lock in an array value
	canaryEntries = 4
	canaryValue   = 48
	dataValue     = 64
	hashEntries   = 8
	hashKeySize   = 8
	hashValue     = 24
	hashInitial   = 6 // keys present before a run; the map has room for two more
	progSlots     = 4
	ringSize      = 4096
	rodataValue   = 32
	bookOffset    = 16 // packet offset of the address book (see hostilePacket)
)

// hashKey returns the i-th key the generator knows: the first hashInitial
// are in the map before a run.
func hashKey(i int) uint64 { return 0x1000 + uint64(i)*0x0101_0101 }

// kind is what the generator believes a register holds.
type kind uint8

const (
	kScalar kind = iota // a number, or nothing known
	kCtx                // the context
	kStack              // the stack
	kPacket             // the packet
	kValue              // a map value (obj: map)
	kRecord             // a ring-buffer record
	kArg                // a callback argument of unknown kind
	kForged             // an address the program must not reach
	kHandle             // a map handle (obj: map)
	kCode               // a function's address (obj: function)
)

// belief is what a register or stack slot is thought to hold: for
// pointers, an offset off from the start of an object of size bytes.
type belief struct {
	k         kind
	obj       int
	off, size int64
}

func (b belief) memory() bool { return b.k >= kStack && b.k <= kForged }

// role is what a function of a generated program is.
type role uint8

const (
	roleMain     role = iota // the entry: r1 is the context, kept in r6
	roleSub                  // a BPF-to-BPF function, called with r1 the context
	roleCallback             // a bpf_loop, bpf_for_each_map_elem or callx target
)

// Functions of a generated program, by index.
const (
	fnMain = iota
	fnSub
	fnCallback1
	fnCallback2
	numFns
)

// maxFnSlots bounds a function's size so that every jump fits its 16-bit
// offset.
const maxFnSlots = 4096

// fn is one function being generated.
type fn struct {
	role   role
	insns  []isa.Instruction
	slot   []int // slot of each instruction in the function
	slots  int
	refs   []ref
	regs   [11]belief
	spill  [64]belief // what the 8-byte slots at r10-8, r10-16, ... hold
	noCall bool       // inside a bpf_spin_lock critical section
	// pinned registers hold what an enclosing construct needs at its
	// end (a loop counter, a locked value, a reserved record): actions
	// inside do not write them, unless wrongly.
	pinned [11]bool
}

// pin marks r pinned while body runs.
func (f *fn) pin(r isa.Register, body func()) {
	was := f.pinned[r]
	f.pinned[r] = true
	body()
	f.pinned[r] = was
}

// ref is an instruction whose constant is the relative address of a
// function (lddw src 4, or a local call), fixed when functions are laid
// out.
type ref struct{ insn, fn int }

func (f *fn) emit(ins isa.Instruction) int {
	f.insns = append(f.insns, ins)
	f.slot = append(f.slot, f.slots)
	f.slots += ins.Slots()
	return len(f.insns) - 1
}

// gen generates the programs of one fuzz input.
type gen struct {
	s       *byteSource
	hostile int    // chance, out of 256, that a choice is deliberately wrong
	pktLen  int    // the packet's length
	forged  uint64 // address of memory no program may reach (the canary page)
	fns     []*fn
}

// Instruction constructors.

func aluImm(class isa.Class, op isa.ALUOp, dst isa.Register, imm int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(class) | isa.OpCode(isa.SourceImm) | isa.OpCode(op), Dst: dst, Constant: int64(imm)}
}

func aluReg(class isa.Class, op isa.ALUOp, dst, src isa.Register) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(class) | isa.OpCode(isa.SourceReg) | isa.OpCode(op), Dst: dst, Src: src}
}

func movImm(dst isa.Register, imm int32) isa.Instruction {
	return aluImm(isa.ClassALU64, isa.Mov, dst, imm)
}
func movReg(dst, src isa.Register) isa.Instruction { return aluReg(isa.ClassALU64, isa.Mov, dst, src) }
func addImm(dst isa.Register, imm int32) isa.Instruction {
	return aluImm(isa.ClassALU64, isa.Add, dst, imm)
}

func ldx(size isa.Size, dst, src isa.Register, off int16) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(size), Dst: dst, Src: src, Offset: off}
}

func stx(size isa.Size, dst, src isa.Register, off int16) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeMem) | isa.OpCode(size), Dst: dst, Src: src, Offset: off}
}

func st(size isa.Size, dst isa.Register, off int16, imm int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(isa.ClassST) | isa.OpCode(isa.ModeMem) | isa.OpCode(size), Dst: dst, Offset: off, Constant: int64(imm)}
}

func lddw(dst isa.Register, pseudo isa.Register, c int64) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpLDDW, Dst: dst, Src: pseudo, Constant: c}
}

func callHelper(id int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCall, Src: isa.CallHelper, Constant: int64(id)}
}

func jmpImm(class isa.Class, op isa.JumpOp, dst isa.Register, imm int32) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(class) | isa.OpCode(isa.SourceImm) | isa.OpCode(op), Dst: dst, Constant: int64(imm)}
}

func jmpReg(class isa.Class, op isa.JumpOp, dst, src isa.Register) isa.Instruction {
	return isa.Instruction{OpCode: isa.OpCode(class) | isa.OpCode(isa.SourceReg) | isa.OpCode(op), Dst: dst, Src: src}
}

var (
	exitInsn = isa.Instruction{OpCode: isa.OpExit}
	sizes    = [4]isa.Size{isa.SizeB, isa.SizeH, isa.SizeW, isa.SizeDW}
	condOps  = []isa.JumpOp{isa.JEq, isa.JGT, isa.JGE, isa.JSet, isa.JNE, isa.JSGT, isa.JSGE, isa.JLT, isa.JLE, isa.JSLT, isa.JSLE}
	aluOps   = []isa.ALUOp{isa.Add, isa.Sub, isa.Mul, isa.Div, isa.Or, isa.And, isa.LSh, isa.RSh, isa.Mod, isa.Xor, isa.ArSh}
	atomics  = []int32{isa.AtomicAdd, isa.AtomicOr, isa.AtomicAnd, isa.AtomicXor,
		isa.AtomicAdd | isa.AtomicFetch, isa.AtomicOr | isa.AtomicFetch, isa.AtomicAnd | isa.AtomicFetch,
		isa.AtomicXor | isa.AtomicFetch, isa.AtomicXchg, isa.AtomicCmpXchg}
)

// newGen reads the input's header: how hostile the programs are and the
// packet's length.
func newGen(input []byte, forged uint64) *gen {
	s := &byteSource{b: input}
	g := &gen{s: s, forged: forged}
	h := int(s.byte())
	g.hostile = h * h >> 11 // at most one wrong choice in eight, mostly far fewer
	g.pktLen = 14 + s.intn(242)
	return g
}

// program generates one program: the entry function, a BPF-to-BPF
// function and two callbacks, laid out in that order.
func (g *gen) program() []isa.Instruction {
	g.fns = []*fn{{role: roleMain}, {role: roleSub}, {role: roleCallback}, {role: roleCallback}}
	budgets := [numFns]int{8 + g.s.intn(56), 1 + g.s.intn(12), 1 + g.s.intn(12), 1 + g.s.intn(12)}
	for i, f := range g.fns {
		g.function(f, budgets[i])
	}
	return link(g.fns)
}

// function generates f with about n actions.
func (g *gen) function(f *fn, n int) {
	f.regs[isa.R10] = belief{k: kStack, off: 512, size: 512}
	switch f.role {
	case roleMain, roleSub:
		// The context stays in r6, which no other instruction writes,
		// and in no other register: the loader's context analysis then
		// knows every access through it.
		f.emit(movReg(isa.R6, isa.R1))
		f.emit(movImm(isa.R1, 0))
		f.regs[isa.R6] = belief{k: kCtx}
	case roleCallback:
		// bpf_loop passes (index, ctx); bpf_for_each_map_elem passes
		// (map, key, value, ctx).
		for r := isa.R2; r <= isa.R4; r++ {
			f.regs[r] = belief{k: kArg, size: 8 << g.s.intn(3)}
		}
	}
	g.body(f, n, 0)
	g.exit(f)
}

// exit sets r0 and returns.
func (g *gen) exit(f *fn) {
	switch {
	case f.role == roleCallback:
		f.emit(movImm(isa.R0, int32(g.s.intn(2)))) // bpf_loop: 0 continues, 1 stops
	case g.s.chance(32):
		f.emit(movReg(isa.R0, g.src(f)))
	default:
		f.emit(movImm(isa.R0, int32(g.s.intn(5)))) // an XDP action
	}
	f.emit(exitInsn)
}

// link lays the functions out one after the other and fixes their
// references to each other.
func link(fns []*fn) []isa.Instruction {
	start := make([]int, len(fns))
	total := 0
	for i, f := range fns {
		start[i] = total
		total += f.slots
	}
	var out []isa.Instruction
	for i, f := range fns {
		for _, r := range f.refs {
			pc := start[i] + f.slot[r.insn]
			f.insns[r.insn].Constant = int64(start[r.fn] - (pc + 1))
		}
		out = append(out, f.insns...)
	}
	return out
}

// body generates about n actions at nesting depth depth.
func (g *gen) body(f *fn, n, depth int) {
	for ; n > 0 && g.s.more() && f.slots < maxFnSlots-256; n-- {
		g.action(f, depth)
	}
}

// reg returns a register to read.
func (g *gen) reg(f *fn) isa.Register { return isa.Register(g.s.intn(11)) }

// src returns a register to copy: any but the context in r6.
func (g *gen) src(f *fn) isa.Register {
	r := g.reg(f)
	if r == isa.R6 && f.role != roleCallback {
		return isa.R7
	}
	return r
}

// dst returns a register to write: any but r10, and in functions that
// keep the context in r6, not r6 (so that the loader's context analysis
// always knows r6).
func (g *gen) dst(f *fn) isa.Register {
	for {
		r := isa.Register(g.s.intn(10))
		if (r != isa.R6 || f.role == roleCallback) && (!f.pinned[r] || g.wrong()) {
			return r
		}
		if !g.s.more() {
			return isa.R0
		}
	}
}

// saved returns a callee-saved register to write (r7-r9, or r6 in
// callbacks).
func (g *gen) saved(f *fn) isa.Register {
	for {
		r := isa.R7 + isa.Register(g.s.intn(3))
		if f.role == roleCallback && g.s.chance(64) {
			r = isa.R6
		}
		if !f.pinned[r] || g.wrong() || !g.s.more() {
			return r
		}
	}
}

// ptr returns a register believed to point into memory, r10 if none.
func (g *gen) ptr(f *fn) isa.Register {
	var cands []isa.Register
	for r := isa.R0; r < isa.R10; r++ {
		if f.regs[r].memory() {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 || g.s.chance(40) {
		return isa.R10
	}
	return cands[g.s.intn(len(cands))]
}

// wrong reports whether this choice is to be deliberately wrong.
func (g *gen) wrong() bool { return g.s.chance(g.hostile) }

// offset returns the instruction offset of a w-byte access through a
// pointer believed to be b: inside the object, unless the choice is wrong.
func (g *gen) offset(b belief, w int) int16 {
	if b.size >= int64(w) && !g.wrong() {
		pos := int64(g.s.intn(int(b.size) - w + 1))
		if !g.s.chance(24) {
			pos &^= int64(w - 1)
		}
		return int16(pos - b.off)
	}
	switch g.s.intn(5) {
	case 0:
		return int16(b.size - b.off - int64(g.s.intn(w))) // straddles or starts at the end
	case 1:
		return int16(-b.off - 1 - int64(g.s.intn(8))) // just before the start
	case 2:
		return int16(b.size - b.off + int64(g.s.intn(64)))
	case 3:
		return int16(g.s.u32())
	}
	return int16(g.s.intn(129) - 64)
}

// imm returns an immediate: small, a boundary or random.
func (g *gen) imm() int32 {
	switch g.s.intn(6) {
	case 0, 1:
		return int32(g.s.intn(17))
	case 2:
		return int32(g.s.intn(129)) - 64
	case 3:
		return [...]int32{-1, 1, 0x7fffffff, -0x80000000, 0xff, 0xffff, 512, 4096}[g.s.intn(8)]
	case 4:
		return int32(g.s.intn(65)) * 8
	}
	return int32(g.s.u32())
}

// action generates one action.
func (g *gen) action(f *fn, depth int) {
	calls := !f.noCall || g.wrong()
	switch c := g.s.intn(32); {
	case c < 5:
		g.getPointer(f)
	case c < 9:
		g.pointerArith(f)
	case c < 11:
		g.arith(f)
	case c < 15:
		g.access(f)
	case c < 17:
		g.spill(f)
	case c < 19:
		g.fill(f)
	case c < 21 && depth < 3:
		g.branch(f, depth)
	case c < 22 && depth < 3:
		g.loop(f, depth)
	case c < 23 && depth > 0 && calls:
		g.exit(f)
	case c < 24 && depth < 2 && calls:
		g.critical(f, depth)
	case c < 30 && calls:
		g.helper(f, depth)
	case c < 31 && calls:
		g.localCall(f)
	case c < 32:
		g.forge(f)
	}
}

// getPointer loads a pointer into a register.
func (g *gen) getPointer(f *fn) {
	d := g.dst(f)
	if g.s.chance(128) {
		d = g.saved(f)
	}
	switch g.s.intn(8) {
	case 0: // the stack
		o := int32(g.s.intn(65)) * 8
		if g.wrong() {
			o = int32(g.s.intn(1024)) - 256
		}
		f.emit(movReg(d, isa.R10))
		f.emit(addImm(d, -o))
		f.regs[d] = belief{k: kStack, off: 512 - int64(o), size: 512}
	case 1, 2: // the packet, through the context
		if f.role == roleCallback {
			f.emit(movReg(d, isa.R2))
			f.regs[d] = f.regs[isa.R2]
			return
		}
		field := g.s.intn(3)
		f.emit(ldx(isa.SizeW, d, isa.R6, int16(4*field)))
		f.regs[d] = belief{k: kPacket, size: int64(g.pktLen)}
		if field == 1 { // data_end
			f.regs[d].off = int64(g.pktLen)
		}
	case 3: // a map handle
		m := g.mapRef()
		f.emit(lddw(d, isa.PseudoMapIndex, int64(m)))
		f.regs[d] = belief{k: kHandle, obj: m}
	case 4: // global data
		m, size := mData, int64(dataValue)
		if g.s.chance(80) {
			m, size = mRodata, rodataValue
		}
		off := int64(g.s.intn(int(size)))
		f.emit(lddw(d, isa.PseudoMapIndexValue, int64(m)|off<<32))
		f.regs[d] = belief{k: kValue, obj: m, off: off, size: size}
	case 5, 6: // a map value
		if f.noCall && !g.wrong() {
			f.emit(movReg(d, isa.R10))
			f.regs[d] = f.regs[isa.R10]
			return
		}
		g.lookup(f, d, 1)
	case 7: // a callback's address
		cb := fnCallback1 + g.s.intn(2)
		i := f.emit(lddw(d, isa.PseudoFunc, 0))
		f.refs = append(f.refs, ref{i, cb})
		f.regs[d] = belief{k: kCode, obj: cb}
	}
}

// mapRef returns a map for a handle: any the programs may reference.
func (g *gen) mapRef() int {
	for {
		if m := g.s.intn(numMaps); m != mCanary {
			return m
		}
		if !g.s.more() {
			return mArray
		}
	}
}

// lookupMap returns a map to look up: the array or the hash map mostly.
func (g *gen) lookupMap() int {
	if g.wrong() {
		return g.mapRef()
	}
	return [...]int{mArray, mHash, mHash, mData, mRodata, mArray}[g.s.intn(6)]
}

// key writes a key for map m on the stack and returns its offset from
// r10.
func (g *gen) key(f *fn, m int) int16 {
	o := -8 * int16(1+g.s.intn(64))
	switch m {
	case mHash:
		k := hashKey(g.s.intn(hashEntries + 1))
		if g.wrong() {
			k = g.s.u64()
		}
		f.emit(st(isa.SizeW, isa.R10, o, int32(k)))
		f.emit(st(isa.SizeW, isa.R10, o+4, int32(k>>32)))
	default:
		idx := int32(g.s.intn(arrayEntries + 1))
		if g.wrong() {
			idx = g.imm()
		}
		f.emit(st(isa.SizeW, isa.R10, o, idx))
	}
	f.spill[-o/8-1] = belief{}
	return o
}

// lookup calls bpf_map_lookup_elem and puts the result in d; with guard
// set, the next actions run only when it is not NULL.
func (g *gen) lookup(f *fn, d isa.Register, guard int) {
	m := g.lookupMap()
	o := g.key(f, m)
	f.emit(lddw(isa.R1, isa.PseudoMapIndex, int64(m)))
	f.emit(movReg(isa.R2, isa.R10))
	f.emit(addImm(isa.R2, int32(o)))
	f.emit(callHelper(1))
	g.clobber(f)
	size := map[int]int64{mArray: arrayValue, mHash: hashValue, mData: dataValue, mRodata: rodataValue}[m]
	f.emit(movReg(d, isa.R0))
	f.regs[d] = belief{k: kValue, obj: m, size: size}
	f.regs[isa.R0] = f.regs[d]
	if guard > 0 && !g.wrong() {
		g.guarded(f, jmpImm(isa.ClassJMP, isa.JEq, d, 0), func() { g.body(f, 1+g.s.intn(4), 2) })
	}
}

// clobber records that a call clobbered r0-r5.
func (g *gen) clobber(f *fn) {
	for r := isa.R0; r <= isa.R5; r++ {
		f.regs[r] = belief{}
	}
}

// guarded emits jump, then what body emits, with the jump's target the
// instruction after them.
func (g *gen) guarded(f *fn, jump isa.Instruction, body func()) {
	j := f.emit(jump)
	from := f.slots
	body()
	f.insns[j].Offset = int16(f.slots - from)
}

// pointerArith moves a pointer by a constant or a register.
func (g *gen) pointerArith(f *fn) {
	r := g.ptr(f)
	if r == isa.R10 {
		d := g.dst(f)
		f.emit(movReg(d, isa.R10))
		f.regs[d] = f.regs[isa.R10]
		r = d
	}
	b := &f.regs[r]
	switch g.s.intn(4) {
	case 0, 1:
		delta := int32(g.s.intn(33)) - 16
		if b.size > 0 && !g.wrong() {
			delta = int32(int64(g.s.intn(int(b.size)+1)) - b.off)
		}
		if g.s.chance(64) {
			f.emit(aluImm(isa.ClassALU64, isa.Sub, r, -delta))
		} else {
			f.emit(addImm(r, delta))
		}
		b.off += int64(delta)
	case 2: // plus a scalar register
		s := g.dst(f)
		v := int32(g.s.intn(17)) - 8
		f.emit(movImm(s, v))
		f.regs[s] = belief{}
		f.emit(aluReg(isa.ClassALU64, isa.Add, r, s))
		b.off += int64(v)
	case 3: // minus a scalar register, or plus a register of any kind
		s := g.reg(f)
		if g.s.chance(128) {
			f.emit(aluReg(isa.ClassALU64, isa.Sub, r, s))
		} else {
			f.emit(aluReg(isa.ClassALU64, isa.Add, r, s))
		}
		if f.regs[s].k != kScalar || s == r {
			*b = belief{}
		}
	}
}

// arith does any arithmetic on any register, which turns pointers into
// scalars.
func (g *gen) arith(f *fn) {
	d := g.dst(f)
	class := isa.ClassALU64
	if g.s.chance(96) {
		class = isa.ClassALU
	}
	f.regs[d] = belief{}
	switch g.s.intn(8) {
	case 0, 1, 2:
		op := aluOps[g.s.intn(len(aluOps))]
		ins := aluImm(class, op, d, g.imm())
		if (op == isa.Div || op == isa.Mod) && g.s.chance(64) {
			ins.Offset = 1 // signed
		}
		f.emit(ins)
	case 3, 4:
		op := aluOps[g.s.intn(len(aluOps))]
		ins := aluReg(class, op, d, g.reg(f))
		if (op == isa.Div || op == isa.Mod) && g.s.chance(64) {
			ins.Offset = 1
		}
		f.emit(ins)
	case 5: // mov, sign-extending or not
		s := g.src(f)
		ins := aluReg(class, isa.Mov, d, s)
		if g.s.chance(128) {
			if class == isa.ClassALU64 {
				ins.Offset = [...]int16{8, 16, 32}[g.s.intn(3)]
			} else {
				ins.Offset = [...]int16{8, 16}[g.s.intn(2)]
			}
		} else if class == isa.ClassALU64 {
			f.regs[d] = f.regs[s]
		}
		f.emit(ins)
	case 6: // byte swaps and negation
		switch g.s.intn(3) {
		case 0:
			f.emit(aluImm(class, isa.Neg, d, 0))
		case 1:
			f.emit(aluImm(class, isa.End, d, [...]int32{16, 32, 64}[g.s.intn(3)]))
		case 2:
			f.emit(aluReg(isa.ClassALU, isa.End, d, 0)) // to big endian
			f.insns[len(f.insns)-1].Constant = [...]int64{16, 32, 64}[g.s.intn(3)]
		}
	case 7:
		if class == isa.ClassALU64 && g.s.chance(64) {
			f.emit(lddw(d, isa.PseudoImm64, int64(g.s.u64())))
		} else {
			f.emit(movImm(d, g.imm()))
		}
	}
}

// access loads or stores through a pointer register.
func (g *gen) access(f *fn) {
	r := g.ptr(f)
	if f.role != roleCallback && g.s.chance(40) {
		g.ctxLoad(f)
		return
	}
	if g.s.chance(8) { // a legacy packet load (XDP has no packet for them)
		size := sizes[g.s.intn(3)]
		if g.s.chance(128) {
			f.emit(isa.Instruction{OpCode: isa.OpCode(isa.ClassLD) | isa.OpCode(isa.ModeAbs) | isa.OpCode(size), Constant: int64(g.imm())})
		} else {
			f.emit(isa.Instruction{OpCode: isa.OpCode(isa.ClassLD) | isa.OpCode(isa.ModeInd) | isa.OpCode(size), Src: g.reg(f), Constant: int64(g.imm())})
		}
		g.clobber(f)
		return
	}
	b := f.regs[r]
	wi := g.s.intn(4)
	size, w := sizes[wi], 1<<wi
	off := g.offset(b, w)
	switch g.s.intn(8) {
	case 0, 1, 2: // load
		d := g.dst(f)
		ins := ldx(size, d, r, off)
		if w < 8 && g.s.chance(48) {
			ins.OpCode = isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMemSX) | isa.OpCode(size)
		}
		f.emit(ins)
		f.regs[d] = belief{}
		if b.k == kStack && w == 8 && off%8 == 0 {
			if i := (b.off - 512 + int64(off)) / -8; i >= 1 && i <= 64 && (b.off+int64(off))%8 == 0 {
				f.regs[d] = f.spill[i-1]
			}
		}
	case 3, 4:
		f.emit(stx(size, r, g.reg(f), off))
	case 5:
		f.emit(st(size, r, off, g.imm()))
	default: // atomic
		size, w = isa.SizeW, 4
		if g.s.chance(128) {
			size, w = isa.SizeDW, 8
		}
		off = g.offset(b, w)
		if !g.wrong() {
			off = int16((int64(off)+b.off)&^int64(w-1) - b.off)
		}
		s := g.src(f)
		if s == isa.R10 {
			s = isa.R0 // the fetching forms write their source register
		}
		f.emit(isa.Instruction{OpCode: isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeAtomic) | isa.OpCode(size),
			Dst: r, Src: s, Offset: off, Constant: int64(atomics[g.s.intn(len(atomics))])})
		f.regs[s], f.regs[isa.R0] = belief{}, belief{}
	}
	if b.k == kStack {
		// A store to the stack may overwrite spilled pointers.
		for i := range f.spill {
			if g.s.chance(16) {
				f.spill[i] = belief{}
			}
		}
	}
}

// ctxLoad reads a field of the context (r6 in the functions that keep
// it there). Only valid accesses: the loader refuses the others.
func (g *gen) ctxLoad(f *fn) {
	d := g.dst(f)
	switch field := g.s.intn(6); field {
	case 0, 1, 2: // data, data_end, data_meta
		f.emit(ldx(isa.SizeW, d, isa.R6, int16(4*field)))
		f.regs[d] = belief{k: kPacket, size: int64(g.pktLen)}
		if field == 1 {
			f.regs[d].off = int64(g.pktLen)
		}
	default: // ingress_ifindex, rx_queue_index, egress_ifindex
		f.emit(ldx(isa.SizeW, d, isa.R6, int16(4*field)))
		f.regs[d] = belief{}
	}
}

// spill stores a register to an 8-byte stack slot (or, wrongly, to any
// bytes of the stack).
func (g *gen) spill(f *fn) {
	r := g.src(f)
	if g.s.chance(160) {
		r = g.ptr(f)
	}
	i := g.s.intn(64)
	off := int16(-8 * (i + 1))
	size := isa.SizeDW
	if g.wrong() {
		size = sizes[g.s.intn(4)]
		off += int16(g.s.intn(8))
	}
	f.emit(stx(size, isa.R10, r, off))
	f.spill[i] = belief{}
	if size == isa.SizeDW && off%8 == 0 {
		f.spill[i] = f.regs[r]
	}
}

// fill loads an 8-byte stack slot, preferably one holding a pointer.
func (g *gen) fill(f *fn) {
	var cands []int
	for i, b := range f.spill {
		if b.k != kScalar {
			cands = append(cands, i)
		}
	}
	i := g.s.intn(64)
	if len(cands) > 0 && !g.s.chance(32) {
		i = cands[g.s.intn(len(cands))]
	}
	d := g.dst(f)
	off := int16(-8 * (i + 1))
	size := isa.SizeDW
	if g.wrong() {
		size = sizes[g.s.intn(4)]
		off += int16(g.s.intn(8))
	}
	f.emit(ldx(size, d, isa.R10, off))
	f.regs[d] = belief{}
	if size == isa.SizeDW && off%8 == 0 {
		f.regs[d] = f.spill[i]
	}
}

// branch skips the next actions on a condition.
func (g *gen) branch(f *fn, depth int) {
	class := isa.ClassJMP
	if g.s.chance(64) {
		class = isa.ClassJMP32
	}
	op := condOps[g.s.intn(len(condOps))]
	var j isa.Instruction
	switch g.s.intn(4) {
	case 0:
		j = isa.Instruction{OpCode: isa.OpJA}
	case 1:
		j = jmpReg(class, op, g.reg(f), g.reg(f))
	default:
		j = jmpImm(class, op, g.reg(f), g.imm())
	}
	g.guarded(f, j, func() { g.body(f, 1+g.s.intn(5), depth+1) })
}

// loop repeats the next actions a few times with a counter the body may
// clobber: the instruction budget ends the loops that never stop.
func (g *gen) loop(f *fn, depth int) {
	c := g.saved(f)
	if g.wrong() {
		c = g.dst(f)
	}
	f.emit(movImm(c, int32(1+g.s.intn(6))))
	top := f.slots
	f.pin(c, func() { g.body(f, 1+g.s.intn(4), depth+1) })
	f.emit(addImm(c, -1))
	j := f.emit(jmpImm(isa.ClassJMP, isa.JNE, c, 0))
	f.insns[j].Offset = int16(top - (f.slot[j] + 1))
	f.regs[c] = belief{}
}

// critical takes the bpf_spin_lock of an array value, runs a few actions
// without helper calls, and releases it (or, wrongly, does not).
func (g *gen) critical(f *fn, depth int) {
	l := g.saved(f)
	f.emit(lddw(isa.R1, isa.PseudoMapIndex, mArray))
	o := g.key(f, mArray)
	f.emit(movReg(isa.R2, isa.R10))
	f.emit(addImm(isa.R2, int32(o)))
	f.emit(callHelper(1))
	g.clobber(f)
	f.emit(movReg(l, isa.R0))
	f.regs[l] = belief{k: kValue, obj: mArray, size: arrayValue}
	lockOff := int32(arrayLockOff)
	if g.wrong() {
		lockOff = int32(g.s.intn(arrayValue+8)) - 4
	}
	g.guarded(f, jmpImm(isa.ClassJMP, isa.JEq, l, 0), func() {
		f.emit(movReg(isa.R1, l))
		f.emit(addImm(isa.R1, lockOff))
		f.emit(callHelper(93))
		g.clobber(f)
		saved := f.noCall
		f.noCall = true
		f.pin(l, func() { g.body(f, 1+g.s.intn(4), depth+1) })
		f.noCall = saved
		if !g.wrong() {
			f.emit(movReg(isa.R1, l))
			f.emit(addImm(isa.R1, lockOff))
			f.emit(callHelper(94))
			g.clobber(f)
		}
	})
}

// forge loads an address the program must never reach: an address-book
// entry of the packet (see hostilePacket), or the canary page.
func (g *gen) forge(f *fn) {
	d := g.dst(f)
	var p isa.Register = 0xff
	for r := isa.R0; r < isa.R10; r++ {
		if f.regs[r].k == kPacket && f.regs[r].off == 0 {
			p = r
		}
	}
	if p != 0xff && g.s.chance(160) {
		f.emit(ldx(isa.SizeDW, d, p, int16(bookOffset+8*g.s.intn(bookEntries))))
	} else {
		f.emit(lddw(d, isa.PseudoImm64, int64(g.forged)+int64(g.s.intn(4096))))
	}
	f.regs[d] = belief{k: kForged, size: 64}
}

// localCall calls the BPF-to-BPF function (r1 the context), or a callback
// through callx.
func (g *gen) localCall(f *fn) {
	for r := isa.R2; r <= isa.R5; r++ {
		if g.s.chance(128) {
			g.setArg(f, r)
		}
	}
	if f.role != roleCallback && g.s.chance(160) {
		f.emit(movReg(isa.R1, isa.R6))
		i := f.emit(isa.Instruction{OpCode: isa.OpCall, Src: isa.CallLocal})
		f.refs = append(f.refs, ref{i, fnSub})
	} else {
		t := isa.R0 + isa.Register(g.s.intn(10))
		if t == isa.R6 && f.role != roleCallback {
			t = isa.R0
		}
		i := f.emit(lddw(t, isa.PseudoFunc, 0))
		f.refs = append(f.refs, ref{i, fnCallback1 + g.s.intn(2)})
		if g.wrong() {
			f.emit(addImm(t, int32(g.s.intn(3))*8))
		}
		f.emit(isa.Instruction{OpCode: isa.OpCallX, Dst: t})
	}
	g.clobber(f)
}

// setArg sets argument register r to something plausible for a helper: a
// pointer, a small number, or what another register holds.
func (g *gen) setArg(f *fn, r isa.Register) {
	switch g.s.intn(6) {
	case 0, 1:
		p := g.ptr(f)
		f.emit(movReg(r, p))
		f.regs[r] = f.regs[p]
		if g.s.chance(96) && f.regs[r].size > 0 {
			delta := int32(int64(g.s.intn(int(f.regs[r].size))) - f.regs[r].off)
			f.emit(addImm(r, delta))
			f.regs[r].off += int64(delta)
		}
	case 2, 3:
		f.emit(movImm(r, int32(g.s.intn(65))))
		f.regs[r] = belief{}
	case 4:
		s := g.src(f)
		f.emit(movReg(r, s))
		f.regs[r] = f.regs[s]
	default:
		f.emit(movImm(r, g.imm()))
		f.regs[r] = belief{}
	}
}

// setPtr points argument register r at n bytes of memory: the stack, or
// a pointer register with room, or (wrongly) anything.
func (g *gen) setPtr(f *fn, r isa.Register, n int) {
	if g.wrong() {
		g.setArg(f, r)
		return
	}
	for range 4 {
		p := g.ptr(f)
		b := f.regs[p]
		if p == isa.R10 || b.size < int64(n) || b.k == kForged {
			continue
		}
		f.emit(movReg(r, p))
		f.emit(addImm(r, int32(int64(g.s.intn(int(b.size)-n+1))-b.off)))
		f.regs[r] = b
		return
	}
	o := int32(8 * (1 + g.s.intn(64-((n+7)/8))))
	o += int32((n + 7) &^ 7)
	f.emit(movReg(r, isa.R10))
	f.emit(addImm(r, -o))
	f.regs[r] = belief{k: kStack, off: 512 - int64(o), size: 512}
}

// setCtx sets r1 to the context (or, wrongly, to something else).
func (g *gen) setCtx(f *fn) {
	if f.role == roleCallback || g.wrong() {
		g.setArg(f, isa.R1)
		return
	}
	f.emit(movReg(isa.R1, isa.R6))
}

// setHandle loads the handle of map m into r (or, wrongly, of another
// map, or something that is no handle).
func (g *gen) setHandle(f *fn, r isa.Register, m int) {
	if g.wrong() {
		if g.s.chance(128) {
			g.setArg(f, r)
			return
		}
		m = g.mapRef()
	}
	f.emit(lddw(r, isa.PseudoMapIndex, int64(m)))
}

// setCallback loads a callback's address into r (or, wrongly, something
// else).
func (g *gen) setCallback(f *fn, r isa.Register) {
	if g.wrong() {
		g.setArg(f, r)
		return
	}
	i := f.emit(lddw(r, isa.PseudoFunc, 0))
	f.refs = append(f.refs, ref{i, fnCallback1 + g.s.intn(2)})
}

// setSize sets r to a size: small, or (wrongly) anything.
func (g *gen) setSize(f *fn, r isa.Register, max int) {
	n := int32(g.s.intn(max + 1))
	if g.wrong() {
		n = g.imm()
	}
	f.emit(movImm(r, n))
}

// helper calls a helper with arguments of the kinds it takes, some of
// them wrong.
func (g *gen) helper(f *fn, depth int) {
	var id int32
	r0 := belief{}
	switch g.s.intn(20) {
	case 0, 1: // bpf_map_lookup_elem
		g.lookup(f, g.dst(f), depth)
		return
	case 2, 3: // bpf_map_update_elem
		m := g.lookupMap()
		g.setHandle(f, isa.R1, m)
		o := g.key(f, m)
		f.emit(movReg(isa.R2, isa.R10))
		f.emit(addImm(isa.R2, int32(o)))
		g.setPtr(f, isa.R3, map[int]int{mArray: arrayValue, mHash: hashValue, mData: dataValue, mRodata: rodataValue}[m])
		f.emit(movImm(isa.R4, int32(g.s.intn(5))))
		id = 2
	case 4: // bpf_map_delete_elem
		m := g.lookupMap()
		g.setHandle(f, isa.R1, m)
		o := g.key(f, m)
		f.emit(movReg(isa.R2, isa.R10))
		f.emit(addImm(isa.R2, int32(o)))
		id = 3
	case 5: // bpf_probe_read* and bpf_probe_read*_str
		n := 1 + g.s.intn(64)
		g.setPtr(f, isa.R1, n)
		g.setSize(f, isa.R2, n)
		g.setArg(f, isa.R3)
		id = [...]int32{4, 113, 112, 45, 115, 114}[g.s.intn(6)]
	case 6: // bpf_xdp_load_bytes, bpf_xdp_store_bytes
		n := 1 + g.s.intn(32)
		g.setCtx(f)
		f.emit(movImm(isa.R2, int32(g.s.intn(g.pktLen+8))))
		g.setPtr(f, isa.R3, n)
		g.setSize(f, isa.R4, n)
		id = 189 + int32(g.s.intn(2))
	case 7: // bpf_xdp_adjust_head, _meta, _tail, bpf_xdp_get_buff_len
		g.setCtx(f)
		f.emit(movImm(isa.R2, int32(g.s.intn(129))-64))
		id = [...]int32{44, 54, 65, 188}[g.s.intn(4)]
	case 8: // bpf_csum_diff
		for _, r := range [2]isa.Register{isa.R1, isa.R3} {
			n := 4 * g.s.intn(9)
			if g.s.chance(40) {
				f.emit(movImm(r, 0))
				n = 0
			} else {
				g.setPtr(f, r, n)
			}
			f.emit(movImm(r+1, int32(n)))
		}
		g.setArg(f, isa.R5)
		id = 28
	case 9: // bpf_tail_call
		g.setCtx(f)
		g.setHandle(f, isa.R2, mProgs)
		f.emit(movImm(isa.R3, int32(g.s.intn(progSlots+2))))
		id = 12
	case 10, 11: // bpf_loop
		nr := int32(g.s.intn(12))
		if g.s.chance(16) {
			nr = [...]int32{1 << 16, 1<<23 + 1, -1}[g.s.intn(3)]
		}
		f.emit(movImm(isa.R1, nr))
		g.setCallback(f, isa.R2)
		g.setArg(f, isa.R3)
		f.emit(movImm(isa.R4, 0))
		if g.wrong() {
			f.emit(movImm(isa.R4, g.imm()))
		}
		id = 181
	case 12: // bpf_for_each_map_elem
		g.setHandle(f, isa.R1, [...]int{mArray, mHash, mData, mRodata}[g.s.intn(4)])
		g.setCallback(f, isa.R2)
		g.setArg(f, isa.R3)
		f.emit(movImm(isa.R4, 0))
		id = 164
	case 13, 14: // ring buffer reserve, then submit or discard
		g.reserve(f, depth)
		return
	case 15: // bpf_ringbuf_output, bpf_ringbuf_query
		g.setHandle(f, isa.R1, mRing)
		if g.s.chance(128) {
			n := g.s.intn(64)
			g.setPtr(f, isa.R2, n)
			g.setSize(f, isa.R3, n)
			f.emit(movImm(isa.R4, int32(g.s.intn(3))))
			id = 130
		} else {
			f.emit(movImm(isa.R2, int32(g.s.intn(4))))
			id = 134
		}
	case 16: // bpf_snprintf, bpf_trace_printk with a format on the stack
		g.printf(f)
		return
	default: // any helper XDP programs may call, with any arguments
		ids := hostileHelperIDs()
		for r := isa.R1; r <= isa.R5; r++ {
			g.setArg(f, r)
		}
		id = ids[g.s.intn(len(ids))]
	}
	f.emit(callHelper(id))
	g.clobber(f)
	f.regs[isa.R0] = r0
}

// reserve reserves a ring-buffer record, writes through it and submits or
// discards it (or, wrongly, leaks it or releases it twice).
func (g *gen) reserve(f *fn, depth int) {
	d := g.saved(f)
	size := int32(8 * g.s.intn(9))
	if g.wrong() {
		size = g.imm()
	}
	g.setHandle(f, isa.R1, mRing)
	f.emit(movImm(isa.R2, size))
	f.emit(movImm(isa.R3, 0))
	f.emit(callHelper(131))
	g.clobber(f)
	f.emit(movReg(d, isa.R0))
	f.regs[d] = belief{k: kRecord, size: int64(size)}
	g.guarded(f, jmpImm(isa.ClassJMP, isa.JEq, d, 0), func() {
		if depth < 2 {
			f.pin(d, func() { g.body(f, g.s.intn(4), depth+1) })
		}
		for n := 1 - btoi(g.wrong()) + btoi(g.wrong()); n > 0; n-- {
			f.emit(movReg(isa.R1, d))
			f.emit(movImm(isa.R2, int32(g.s.intn(3))))
			f.emit(callHelper(132 + int32(g.s.intn(2))))
			g.clobber(f)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// printfFormats are the formats printf writes to the stack.
var printfFormats = []string{"%d %u\n", "%s", "%llx %p", "%pI4 %pi6", "%c%c%c", "%016llx %s %s", "%", "%pK %pB", "%5s|%-5s"}

// printf writes a format string and an argument array on the stack and
// calls bpf_snprintf or bpf_trace_printk.
func (g *gen) printf(f *fn) {
	format := []byte(printfFormats[g.s.intn(len(printfFormats))])
	format = append(format, 0)
	fo := int16(-256)
	for i := 0; i < len(format); i += 4 {
		var w [4]byte
		copy(w[:], format[i:])
		f.emit(st(isa.SizeW, isa.R10, fo+int16(i), int32(binary.LittleEndian.Uint32(w[:]))))
	}
	// The arguments: pointers and numbers at r10-320.
	ao := int16(-320)
	for i := range 3 {
		r := g.reg(f)
		if g.s.chance(128) {
			r = g.ptr(f)
		}
		f.emit(stx(isa.SizeDW, isa.R10, r, ao+int16(8*i)))
	}
	fmtLen := int32(len(format))
	if g.wrong() {
		fmtLen = g.imm()
	}
	if g.s.chance(128) {
		f.emit(movReg(isa.R1, isa.R10))
		f.emit(addImm(isa.R1, -128))
		f.emit(movImm(isa.R2, int32(g.s.intn(65))))
		f.emit(movReg(isa.R3, isa.R10))
		f.emit(addImm(isa.R3, int32(fo)))
		f.emit(movReg(isa.R4, isa.R10))
		f.emit(addImm(isa.R4, int32(ao)))
		f.emit(movImm(isa.R5, int32(8*g.s.intn(4))))
		f.emit(callHelper(165))
	} else {
		f.emit(movReg(isa.R1, isa.R10))
		f.emit(addImm(isa.R1, int32(fo)))
		f.emit(movImm(isa.R2, fmtLen))
		f.emit(ldx(isa.SizeDW, isa.R3, isa.R10, ao))
		f.emit(ldx(isa.SizeDW, isa.R4, isa.R10, ao+8))
		f.emit(ldx(isa.SizeDW, isa.R5, isa.R10, ao+16))
		f.emit(callHelper(6))
	}
	g.clobber(f)
	for i := range f.spill[31:41] {
		f.spill[31+i] = belief{}
	}
}

// bookEntries is the number of addresses in the packet's address book.
const bookEntries = 10
