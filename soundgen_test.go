//go:build linux || darwin || freebsd || netbsd || openbsd

package xebpf_test

import (
	"math/rand/v2"

	"github.com/xebpf/xebpf/isa"
)

// soundGen generates XDP programs for the verifier's soundness test: a
// sequence of blocks, each an idiom of real programs (a bounds check and
// the accesses it proves, a variable header length, a map lookup and its
// NULL check, a bounded loop, a ring-buffer record, linked and spilled
// scalars, global data), each mutated with some probability in the ways
// real bugs look: a bounds check off by one or on the wrong pointer, a
// dropped NULL check, an access past the end, a missing initialization,
// a record never submitted. The blocks use the maps of hostileSpec.
//
// Registers: r6 holds the context, r7 the packet's start, r8 its end,
// throughout; blocks use r0-r5 and r9.
type soundGen struct {
	r      *rand.Rand
	mutate float64 // probability that a block is mutated
	insns  []isa.Instruction
	outs   []int // indexes of jumps to the exit
	// linuxOnly leaves out the idioms Linux's verifier cannot prove
	// (lengthDiff: Linux does not tie data_end - data to the packet's
	// range), for the kernel as a second oracle.
	linuxOnly bool
}

func (g *soundGen) emit(ins ...isa.Instruction) { g.insns = append(g.insns, ins...) }

// jumpOut emits a conditional jump to the common exit.
func (g *soundGen) jumpOut(ins isa.Instruction) {
	g.outs = append(g.outs, len(g.insns))
	g.emit(ins)
}

func (g *soundGen) wrong() bool { return g.r.Float64() < g.mutate }

var accessSizes = [...]isa.Size{isa.SizeB, isa.SizeH, isa.SizeW, isa.SizeDW}

func (g *soundGen) size() (isa.Size, int) {
	s := accessSizes[g.r.IntN(4)]
	return s, s.Bytes()
}

// program returns a program of about n blocks.
func (g *soundGen) program(n int) []isa.Instruction {
	g.insns, g.outs = nil, nil
	g.emit(movReg(isa.R6, isa.R1), ldx(isa.SizeW, isa.R7, isa.R6, 0), ldx(isa.SizeW, isa.R8, isa.R6, 4))
	blocks := []func(){g.packetConst, g.packetVar, g.joinedOffsets, g.mapLookup, g.stackVar, g.loop, g.ringbuf, g.linked, g.spilled, g.global, g.flag, g.spilledPacket, g.behindChecked}
	if !g.linuxOnly {
		blocks = append(blocks, g.lengthDiff)
	}
	for range n {
		blocks[g.r.IntN(len(blocks))]()
	}
	out := len(g.insns)
	g.emit(movImm(isa.R0, 2), exitInsn)
	// Jump offsets count slots; only lddw takes two.
	slot := make([]int, len(g.insns)+1)
	for i, ins := range g.insns {
		slot[i+1] = slot[i] + ins.Slots()
	}
	for _, i := range g.outs {
		g.insns[i].Offset = int16(slot[out] - slot[i+1])
	}
	return g.insns
}

// check emits "if r7 + k > r8 goto out", through register tmp, and
// returns k as the check proves it (one less when mutated).
func (g *soundGen) check(tmp isa.Register, base isa.Register, k int) {
	g.emit(movReg(tmp, base), addImm(tmp, int32(k)))
	g.jumpOut(jmpReg(isa.ClassJMP, isa.JGT, tmp, isa.R8))
}

// packetConst: a constant-offset check and the accesses it proves.
func (g *soundGen) packetConst() {
	k := 1 + g.r.IntN(64)
	s, w := g.size()
	if w > k {
		k = w
	}
	off := g.r.IntN(k - w + 1)
	switch {
	case g.wrong():
		off = k - w + 1 // one past the proof
	case g.wrong():
		g.check(isa.R1, isa.R7, k)
		g.emit(ldx(s, isa.R2, isa.R1, 0)) // through the end pointer
		return
	}
	g.check(isa.R1, isa.R7, k)
	if g.r.IntN(2) == 0 {
		g.emit(ldx(s, isa.R2, isa.R7, int16(off)))
	} else {
		g.emit(st(s, isa.R7, int16(off), int32(g.r.Uint32())))
	}
}

// packetVar: a header of variable length read from the packet.
func (g *soundGen) packetVar() {
	g.check(isa.R1, isa.R7, 1)
	g.emit(ldx(isa.SizeB, isa.R2, isa.R7, 0))
	mask := []int32{3, 7, 15, 63}[g.r.IntN(4)]
	g.emit(aluImm(isa.ClassALU64, isa.And, isa.R2, mask))
	if g.r.IntN(2) == 0 {
		g.emit(aluImm(isa.ClassALU64, isa.LSh, isa.R2, 2))
	}
	g.emit(movReg(isa.R3, isa.R7), aluReg(isa.ClassALU64, isa.Add, isa.R3, isa.R2))
	k := 1 + g.r.IntN(40)
	s, w := g.size()
	if w > k {
		k = w
	}
	off := g.r.IntN(k - w + 1)
	if g.wrong() {
		off = k - w + 1
	}
	if g.wrong() {
		g.check(isa.R4, isa.R7, k) // checks the header's start, not the field
	} else {
		g.check(isa.R4, isa.R3, k)
	}
	g.emit(ldx(s, isa.R5, isa.R3, int16(off)))
}

// joinedOffsets: a header length that is one of two constants, as in
// Ethernet with an optional VLAN tag.
func (g *soundGen) joinedOffsets() {
	g.check(isa.R1, isa.R7, 1)
	g.emit(ldx(isa.SizeB, isa.R2, isa.R7, 0), movImm(isa.R3, 14),
		jmpImm(isa.ClassJMP, isa.JEq, isa.R2, int32(g.r.IntN(4))), movImm(isa.R3, 18))
	g.insns[len(g.insns)-2].Offset = 1
	g.emit(movReg(isa.R4, isa.R3), addImm(isa.R4, 4), movReg(isa.R5, isa.R7), aluReg(isa.ClassALU64, isa.Add, isa.R5, isa.R4))
	g.jumpOut(jmpReg(isa.ClassJMP, isa.JGT, isa.R5, isa.R8))
	g.emit(movReg(isa.R5, isa.R7), aluReg(isa.ClassALU64, isa.Add, isa.R5, isa.R3))
	s, w := g.size()
	if w > 4 {
		s, w = isa.SizeW, 4
	}
	off := g.r.IntN(4 - w + 1)
	if g.wrong() {
		off = 4 - w + 1
	}
	g.emit(ldx(s, isa.R1, isa.R5, int16(off)))
}

// mapLookup: a hash map lookup, its NULL check, and accesses to the value.
func (g *soundGen) mapLookup() {
	if g.wrong() {
		g.emit(st(isa.SizeW, isa.R10, -8, int32(hashKey(0)))) // half a key
	} else {
		g.emit(lddw(isa.R1, 0, int64(hashKey(g.r.IntN(hashEntries)))), stx(isa.SizeDW, isa.R10, isa.R1, -8))
	}
	g.emit(movReg(isa.R2, isa.R10), addImm(isa.R2, -8), lddw(isa.R1, isa.PseudoMapIndex, mHash), callHelper(1))
	if !g.wrong() {
		g.jumpOut(jmpImm(isa.ClassJMP, isa.JEq, isa.R0, 0))
	}
	s, w := g.size()
	off := g.r.IntN(hashValue - w + 1)
	if g.wrong() {
		off = hashValue - w + 1
	}
	g.emit(ldx(s, isa.R1, isa.R0, int16(off)), st(s, isa.R0, int16(g.r.IntN(hashValue-w+1)), 7))
}

// initStack writes the 64 bytes below r10-8 (one slot fewer if mutated).
func (g *soundGen) initStack() {
	n := 8
	if g.wrong() {
		n = 7
	}
	for i := range n {
		g.emit(st(isa.SizeDW, isa.R10, int16(-72+8*i), 0))
	}
}

// stackVar: a stack array indexed by a masked number.
func (g *soundGen) stackVar() {
	g.initStack()
	g.emit(ldx(isa.SizeW, isa.R1, isa.R6, 12))
	mask := int32(63)
	if g.wrong() {
		mask = 127
	}
	g.emit(aluImm(isa.ClassALU64, isa.And, isa.R1, mask), movReg(isa.R2, isa.R10), addImm(isa.R2, -72),
		aluReg(isa.ClassALU64, isa.Add, isa.R2, isa.R1), ldx(isa.SizeB, isa.R3, isa.R2, 0))
}

// loop: a bounded loop over a stack array.
func (g *soundGen) loop() {
	g.initStack()
	bound := int32(64)
	if g.wrong() {
		bound = 65
	}
	g.emit(movImm(isa.R1, 0))
	head := len(g.insns)
	g.emit(movReg(isa.R2, isa.R10), addImm(isa.R2, -72), aluReg(isa.ClassALU64, isa.Add, isa.R2, isa.R1),
		ldx(isa.SizeB, isa.R3, isa.R2, 0), addImm(isa.R1, 1))
	j := jmpImm(isa.ClassJMP, isa.JLT, isa.R1, bound)
	j.Offset = int16(head - len(g.insns) - 1)
	g.emit(j)
}

// ringbuf: a record reserved, written and submitted.
func (g *soundGen) ringbuf() {
	size := 8 * (1 + g.r.IntN(8))
	g.emit(lddw(isa.R1, isa.PseudoMapIndex, mRing), movImm(isa.R2, int32(size)), movImm(isa.R3, 0), callHelper(131))
	g.jumpOut(jmpImm(isa.ClassJMP, isa.JEq, isa.R0, 0))
	off := 8 * g.r.IntN(size/8)
	if g.wrong() {
		off = size
	}
	g.emit(st(isa.SizeDW, isa.R0, int16(off), 1))
	if g.wrong() {
		return // never submitted
	}
	g.emit(movReg(isa.R1, isa.R0), movImm(isa.R2, 0), callHelper(132))
}

// linked: a bound learned on a register applies to its copy.
func (g *soundGen) linked() {
	g.initStack()
	bound := int32(56)
	if g.wrong() {
		bound = 57
	}
	g.emit(ldx(isa.SizeW, isa.R1, isa.R6, 12), movReg(isa.R2, isa.R1))
	g.jumpOut(jmpImm(isa.ClassJMP, isa.JGT, isa.R1, bound))
	g.emit(movReg(isa.R3, isa.R10), addImm(isa.R3, -72), aluReg(isa.ClassALU64, isa.Add, isa.R3, isa.R2), ldx(isa.SizeDW, isa.R4, isa.R3, 0))
}

// spilled: a bound learned on a register applies to its spilled copy.
func (g *soundGen) spilled() {
	g.initStack()
	bound := int32(63)
	if g.wrong() {
		bound = 64
	}
	g.emit(ldx(isa.SizeW, isa.R1, isa.R6, 16), stx(isa.SizeDW, isa.R10, isa.R1, -80))
	g.jumpOut(jmpImm(isa.ClassJMP, isa.JGT, isa.R1, bound))
	g.emit(ldx(isa.SizeDW, isa.R2, isa.R10, -80), movReg(isa.R3, isa.R10), addImm(isa.R3, -72),
		aluReg(isa.ClassALU64, isa.Add, isa.R3, isa.R2), ldx(isa.SizeB, isa.R4, isa.R3, 0))
}

// global: global data, read and written; read-only data only read.
func (g *soundGen) global() {
	s, w := g.size()
	off := g.r.IntN(dataValue - w + 1)
	if g.wrong() {
		off = dataValue - w + 1
	}
	g.emit(lddw(isa.R1, isa.PseudoMapIndexValue, mData), st(s, isa.R1, int16(off), 3), ldx(s, isa.R2, isa.R1, int16(off)))
	g.emit(lddw(isa.R1, isa.PseudoMapIndexValue, mRodata), ldx(isa.SizeB, isa.R2, isa.R1, int16(g.r.IntN(rodataValue))))
	if g.wrong() {
		g.emit(st(isa.SizeB, isa.R1, 0, 1))
	}
}

// flag: a bounds check that sets an error code, tested later in 32 bits,
// as Cilium's inlined xdp_load_bytes does.
func (g *soundGen) flag() {
	k := 1 + g.r.IntN(40)
	s, w := g.size()
	if w > k {
		k = w
	}
	off := g.r.IntN(k - w + 1)
	if g.wrong() {
		off = k - w + 1
	}
	g.emit(movReg(isa.R4, isa.R7), addImm(isa.R4, int32(k)), movImm(isa.R3, -22))
	j := jmpReg(isa.ClassJMP, isa.JGT, isa.R4, isa.R8)
	j.Offset = 1
	g.emit(j, movImm(isa.R3, 0))
	test := isa.JNE
	if g.wrong() {
		test = isa.JEq // the wrong way round
	}
	g.jumpOut(jmpImm(isa.ClassJMP32, test, isa.R3, 0))
	g.emit(ldx(s, isa.R5, isa.R7, int16(off)))
}

// spilledPacket: a packet pointer spilled before its check and filled
// after it.
func (g *soundGen) spilledPacket() {
	g.check(isa.R1, isa.R7, 1)
	g.emit(ldx(isa.SizeB, isa.R2, isa.R7, 0), aluImm(isa.ClassALU64, isa.And, isa.R2, 31),
		movReg(isa.R3, isa.R7), aluReg(isa.ClassALU64, isa.Add, isa.R3, isa.R2), stx(isa.SizeDW, isa.R10, isa.R3, -88))
	k := 1 + g.r.IntN(16)
	s, w := g.size()
	if w > k {
		k = w
	}
	g.emit(movReg(isa.R4, isa.R3), addImm(isa.R4, int32(k)))
	op := isa.JGT
	if g.wrong() {
		op = isa.JLE // the check's failing branch goes on
	}
	g.jumpOut(jmpReg(isa.ClassJMP, op, isa.R4, isa.R8))
	g.emit(ldx(isa.SizeDW, isa.R5, isa.R10, -88), ldx(s, isa.R0, isa.R5, int16(g.r.IntN(k-w+1))))
}

// lengthDiff: the packet's length as data_end - (data + base), compared
// with a constant (signed or not), and an access the comparison proves
// (PREVAIL's correlated_branch.c), or one byte past it when mutated, or
// with the comparison the wrong way round.
func (g *soundGen) lengthDiff() {
	base := g.r.IntN(8)
	k := 1 + g.r.IntN(40)
	s, w := g.size()
	if w > base+k {
		k = w - base
	}
	off := g.r.IntN(base + k - w + 1)
	if g.wrong() {
		off = base + k - w + 1
	}
	g.emit(movReg(isa.R4, isa.R7), addImm(isa.R4, int32(base)), movReg(isa.R5, isa.R8),
		aluReg(isa.ClassALU64, isa.Sub, isa.R5, isa.R4))
	op := []isa.JumpOp{isa.JLT, isa.JSLT}[g.r.IntN(2)]
	if g.wrong() {
		op = isa.JGE
	}
	g.jumpOut(jmpImm(isa.ClassJMP, op, isa.R5, int32(k)))
	g.emit(ldx(s, isa.R0, isa.R7, int16(off)))
}

// behindChecked: a pointer with a variable part (data + the low bits of a
// packet byte + k), checked against data_end, and a read behind it, down
// to the packet's start (the checksum loop's p[-1]); mutated, one byte
// further down, before the packet.
func (g *soundGen) behindChecked() {
	g.check(isa.R1, isa.R7, 1)
	k := 1 + g.r.IntN(16)
	s, w := g.size()
	if w > k {
		k = w
	}
	back := w + g.r.IntN(k-w+1) // read [p-back, p-back+w), within [data, p)
	if g.wrong() {
		back = k + 1
	}
	g.emit(ldx(isa.SizeB, isa.R2, isa.R7, 0), aluImm(isa.ClassALU64, isa.And, isa.R2, 31),
		movReg(isa.R3, isa.R7), aluReg(isa.ClassALU64, isa.Add, isa.R3, isa.R2), addImm(isa.R3, int32(k)))
	g.jumpOut(jmpReg(isa.ClassJMP, isa.JGT, isa.R3, isa.R8))
	g.emit(ldx(s, isa.R0, isa.R3, int16(-back)))
}
