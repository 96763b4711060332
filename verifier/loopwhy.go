package verifier

import (
	"fmt"
	"math"

	"github.com/xebpf/xebpf/isa"
)

// Reasons for a loop not proven to end. When every proof has failed, the
// loop's first iteration is run once more from the head's state narrowed
// to the values its scalars enter the loop with, each named by a ghost
// id. What that run shows about the scalars its exit tests compare (how
// far a way back moves them, the value an == exit waits for) names the
// near miss: the reason says only what the run established, and nothing
// when it matches no known near miss.

// exitTest is a conditional jump of a loop, one of whose edges leaves
// it, as the first iteration reaches it.
type exitTest struct {
	pc    int
	ins   isa.Instruction
	s     *state // the state at the jump
	eqOut bool   // the edge taken when the operands are equal leaves the loop
}

// loopWhy returns the specific reason the loop at h is not proven to
// end, or "" if its first iteration shows none.
func (v *verifier) loopWhy(f *function, h *block, body map[*block]bool, in [][]*state, chain []*function) string {
	if body == nil || len(in[h.rpo]) == 0 {
		return ""
	}
	entries, err := v.entryStates(f, h, body, in, chain)
	if err != nil || len(entries) == 0 {
		return ""
	}
	start := in[h.rpo][0].clone()
	locs := ghostLocations(start)
	elo := make([]uint64, len(locs))
	ehi := make([]uint64, len(locs))
	known := make([]bool, len(locs))
	for i, l := range locs {
		lo, hi, ok := entryRange(l, entries)
		if !ok {
			continue
		}
		x, _ := l.at(start)
		if n := meet(x, unsignedRange(lo, hi)); !n.empty() {
			narrow(start, l, n)
			elo[i], ehi[i], known[i] = lo, hi, true
		}
	}
	// The first iteration.
	sin := make([][]*state, len(f.blocks))
	sin[h.rpo] = []*state{start}
	var backs []*state
	err = v.fixpoint(f, sin, h.rpo, chain, nil, func(s *block, o *state) bool {
		if s == h {
			backs = append(backs, o)
		}
		return s != h && body[s]
	})
	if err != nil || len(backs) == 0 {
		return ""
	}
	// The moves of each location on the ways back: up and down are the
	// least step up and down, 0 if none; linked if every way back has it.
	up := make([]uint64, len(locs))
	down := make([]uint64, len(locs))
	linked := make([]bool, len(locs))
	for i, l := range locs {
		g, _ := l.at(start)
		linked[i] = true
		for _, bs := range backs {
			x, ok := l.at(bs)
			if !ok || x.kind != kindScalar || x.id != g.id {
				linked[i] = false
				break
			}
			switch d := x.off - g.off; {
			case d > 0 && (up[i] == 0 || uint64(d) < up[i]):
				up[i] = uint64(d)
			case d < 0 && (down[i] == 0 || uint64(-d) < down[i]):
				down[i] = uint64(-d)
			}
		}
	}
	// The location whose head value x is held by the scalar y, and y's
	// offset from x.
	ghostOf := func(y value) (int, int64) {
		if y.kind != kindScalar || y.id < ghostBase {
			return -1, 0
		}
		for i, l := range locs {
			if g, _ := l.at(start); g.id == y.id {
				return i, y.off - g.off
			}
		}
		return -1, 0
	}
	tests := v.exitTests(f, body, sin, chain)
	for _, t := range tests {
		for _, r := range []isa.Register{t.ins.Dst, t.ins.Src} {
			if r == t.ins.Src && t.ins.OpCode.Source() != isa.SourceReg {
				continue
			}
			i, _ := ghostOf(t.s.regs[r])
			if i >= 0 && linked[i] && up[i] > 0 && down[i] > 0 {
				return fmt.Sprintf("%s, which the exit test at pc %d compares, goes up by %d on one way back to the loop's head and down by %d on another, in the first iteration", locs[i], t.pc, up[i], down[i])
			}
		}
	}
	for _, t := range tests {
		op := t.ins.OpCode
		if op.Source() == isa.SourceReg {
			if why := boundMoves(t, locs, backs, start, linked, up, down, ghostOf); why != "" {
				return why
			}
			continue
		}
		jop := op.JumpOp()
		if (jop != isa.JEq && jop != isa.JNE) || !t.eqOut {
			continue
		}
		i, o := ghostOf(t.s.regs[t.ins.Dst])
		if i < 0 || !linked[i] || (up[i] > 0) == (down[i] > 0) || !known[i] {
			continue
		}
		mask := uint64(math.MaxUint64)
		c := uint64(t.ins.Constant)
		if op.Class() == isa.ClassJMP32 {
			mask = math.MaxUint32
			c = uint64(uint32(c))
		}
		if ehi[i] > mask {
			continue
		}
		l := locs[i]
		target := (c - uint64(o)) & mask // the head value the exit waits for
		step := up[i]
		if down[i] > 0 {
			step = down[i]
		}
		// The exit named by its constant when the test's offset from the
		// head's value keeps the residue, else by the head's value.
		exit := fmt.Sprintf("the exit at pc %d needs r%d == %d", t.pc, t.ins.Dst, c)
		if o != 0 || locs[i].reg != int(t.ins.Dst) {
			sign, mag := "+", o
			if o < 0 {
				sign, mag = "-", -o
			}
			exit += fmt.Sprintf(", r%d being %s %s %d there", t.ins.Dst, l, sign, mag)
		}
		noWrap := o >= 0 && c >= uint64(o) || o < 0 && target >= c
		if !noWrap || uint64(max(o, -o))%step != 0 {
			exit = fmt.Sprintf("the exit at pc %d needs %d at the loop's head", t.pc, target)
		}
		moves := fmt.Sprintf("the first iteration %s %d on every way back", map[bool]string{true: "adds", false: "subtracts"}[up[i] > 0], step)
		if elo[i] != ehi[i] {
			past := up[i] > 0 && ehi[i] > target || down[i] > 0 && elo[i] < target
			if past && elo[i] <= target && target <= ehi[i] {
				return fmt.Sprintf("%s enters the loop anywhere in [%d, %d], so it can start past its exit (%s), and %s", l, elo[i], ehi[i], exit, moves)
			}
			return fmt.Sprintf("%s enters the loop with a value not known exactly (in [%d, %d]), %s, and %s: the analysis cannot show it meets its exit", l, elo[i], ehi[i], exit, moves)
		}
		e := elo[i]
		if up[i] > 0 && e > target || down[i] > 0 && e < target {
			return fmt.Sprintf("%s starts at %d, past its exit (%s), and %s: moving so, it reaches the exit only by wrapping around", l, e, exit, moves)
		}
		dist := target - e
		if down[i] > 0 {
			dist = e - target
		}
		if dist%step != 0 && allSteps(l, start, backs, step) {
			return fmt.Sprintf("%s starts at %d and %s, but %s, which is not %d %s a multiple of %d", l, e, moves, exit, e, map[bool]string{true: "plus", false: "minus"}[up[i] > 0], step)
		}
	}
	return ""
}

// allSteps reports whether every way back moves the value at l by step
// exactly (up or down).
func allSteps(l location, start *state, backs []*state, step uint64) bool {
	g, _ := l.at(start)
	for _, bs := range backs {
		x, _ := l.at(bs)
		d := x.off - g.off
		if d < 0 {
			d = -d
		}
		if uint64(d) != step {
			return false
		}
	}
	return true
}

// boundMoves is the reason for a loop whose exit test compares a moving
// counter with a register not shown to keep its value, or "".
func boundMoves(t exitTest, locs []location, backs []*state, start *state, linked []bool, up, down []uint64, ghostOf func(value) (int, int64)) string {
	a, b := t.ins.Dst, t.ins.Src
	for range 2 {
		i, _ := ghostOf(t.s.regs[a])
		if i >= 0 && linked[i] && (up[i] > 0) != (down[i] > 0) {
			y := t.s.regs[b]
			j, off := ghostOf(y)
			switch {
			case j == i:
				return fmt.Sprintf("the value %s is compared with at pc %d (r%d) moves with it", locs[i], t.pc, b)
			case j < 0:
				return fmt.Sprintf("the value %s is compared with at pc %d (r%d) is not shown to be the same on every iteration", locs[i], t.pc, b)
			case off != 0 || !linked[j] || up[j] > 0 || down[j] > 0:
				return fmt.Sprintf("the value %s is compared with at pc %d (r%d) is not shown to be the same on every iteration", locs[i], t.pc, b)
			}
		}
		a, b = b, a
	}
	return ""
}

// exitTests returns the loop's conditional jumps with an edge out of it,
// with the states the first iteration reaches them in (sin).
func (v *verifier) exitTests(f *function, body map[*block]bool, sin [][]*state, chain []*function) []exitTest {
	var out []exitTest
	for _, b := range f.blocks {
		if !body[b] || len(b.succ) != 2 {
			continue
		}
		ins := v.insns[b.end-1]
		op := ins.OpCode
		if !op.Class().IsJump() || !op.JumpOp().IsConditional() {
			continue
		}
		fallOut, jumpOut := !body[b.succ[0]], !body[b.succ[1]]
		if fallOut == jumpOut {
			continue
		}
		for _, st := range sin[b.rpo] {
			s := st.clone()
			if b.end-1 > b.start {
				outs, _, err := v.block(&block{start: b.start, end: b.end - 1}, s, chain)
				if err != nil || len(outs) != 1 || outs[0] == nil {
					continue
				}
				s = outs[0]
			}
			eqOut := jumpOut
			if op.JumpOp() == isa.JNE {
				eqOut = fallOut
			}
			out = append(out, exitTest{pc: v.slotOf[b.end-1], ins: ins, s: s, eqOut: eqOut})
		}
	}
	return out
}
