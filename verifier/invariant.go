package verifier

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/xebpf/xebpf/isa"
)

// Guessed loop invariants. Widening may lose a counter's bounds at a
// loop's head (it jumps past the bound a comparison with a register or
// an != test would give), and the counter's increment then wraps in the
// analysis, which loses the ghost link the termination proof needs. For
// such a loop the verifier guesses bounds on the head's scalars, from
// the values the loop compares with, and congruences (x = r mod m, for a
// counter that starts at constants of residue r and moves by multiples
// of m), and keeps the guesses that hold: each entry into the loop
// satisfies them, and every way back to the head from a head state that
// satisfies all of them satisfies them again (Houdini: drop the guesses
// that fail, run again, until none fails). The head's fixpoint state,
// narrowed by what is left, then holds at every iteration's start, and
// the ghost sweep from it bounds the iterations as in terminate.go.
//
// A congruence lets a range end at the last value of the counter's
// class before an != exit: with i = 0 mod 8 and i <= 11992 at the head,
// i + 8 is at most 12000, and the i != 12000 test that continues the
// loop leaves at most 11999, so at most 11992 in i's class.

// maxInvariantRounds bounds the sweeps of one loop's guessing.
const maxInvariantRounds = 10

// guess is what the verifier guesses about one location at a loop's
// head: the upper bounds left (ascending; the first is the one in
// force), the lower bounds left (descending), and a congruence x = r
// (mod m) if m > 0.
type guess struct {
	ub, lb    []uint64
	m, r      uint64
	congTried bool
}

// String names the location for messages.
func (l location) String() string {
	switch {
	case l.reg >= 0:
		return fmt.Sprintf("r%d", l.reg)
	case l.slot >= 0:
		return fmt.Sprintf("the stack slot at fp%d of frame %d", -512+8*l.slot, l.frame)
	default:
		return fmt.Sprintf("r%d saved by frame %d", 6+l.saved, l.frame)
	}
}

// set writes x at l in s.
func (l location) set(s *state, x value) {
	switch {
	case l.reg >= 0:
		s.regs[l.reg] = x
	case l.slot >= 0:
		s.frameW(l.frame).slots[l.slot].v = x
	default:
		s.frameW(l.frame).saved[l.saved] = x
	}
}

// narrow gives the scalar at l the bounds of x, and the scalars linked
// to it the bounds that follow (as setScalar does for a register).
func narrow(s *state, l location, x value) {
	old, _ := l.at(s)
	x.kind, x.id, x.off, x.rng = kindScalar, old.id, old.off, old.rng
	l.set(s, x)
	if old.id == 0 {
		return
	}
	boundLinked(s, old, x)
}

// alignUp is the least x >= lo with x = r (mod m), and whether there is
// one below 2^64.
func alignUp(lo, m, r uint64) (uint64, bool) {
	k := (r + m - lo%m) % m
	x := lo + k
	return x, x >= lo
}

// alignDown is the greatest x <= hi with x = r (mod m), and whether there
// is one.
func alignDown(hi, m, r uint64) (uint64, bool) {
	k := (hi%m + m - r) % m
	return hi - k, hi >= k
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// preds returns the predecessors of h in f.
func preds(f *function, h *block) []*block {
	var out []*block
	for _, b := range f.blocks {
		if slices.Contains(b.succ, h) {
			out = append(out, b)
		}
	}
	return out
}

// entryStates returns the states on the edges into the loop at h from
// outside it, from the function's fixpoint states in.
func (v *verifier) entryStates(f *function, h *block, body map[*block]bool, in [][]*state, chain []*function) ([]*state, error) {
	var out []*state
	for _, p := range preds(f, h) {
		if body[p] {
			continue
		}
		for _, st := range in[p.rpo] {
			outs, _, err := v.block(p, st.clone(), chain)
			if err != nil {
				return nil, err
			}
			for k, s := range p.succ {
				if s == h && k < len(outs) && outs[k] != nil {
					out = append(out, outs[k])
				}
			}
		}
	}
	return out, nil
}

// compareBounds returns the values next to those the loop's conditional
// jumps compare with: constants c (c-1, c, c+1), and the bounds of the
// registers compared, at the jumps, in the function's fixpoint states.
func (v *verifier) compareBounds(f *function, body map[*block]bool, in [][]*state, chain []*function) ([]uint64, error) {
	var out []uint64
	near := func(c uint64) {
		out = append(out, c)
		if c > 0 {
			out = append(out, c-1)
		}
		if c < math.MaxUint64 {
			out = append(out, c+1)
		}
	}
	for _, b := range f.blocks {
		if !body[b] {
			continue
		}
		ins := v.insns[b.end-1]
		op := ins.OpCode
		if !op.Class().IsJump() || !op.JumpOp().IsConditional() {
			continue
		}
		if op.Source() == isa.SourceImm {
			c := uint64(ins.Constant)
			if op.Class() == isa.ClassJMP32 {
				c = uint64(uint32(c))
			}
			near(c)
			continue
		}
		for _, st := range in[b.rpo] {
			s := st.clone()
			if b.end-1 > b.start {
				outs, _, err := v.block(&block{start: b.start, end: b.end - 1}, s, chain)
				if err != nil {
					return nil, err
				}
				if len(outs) != 1 || outs[0] == nil {
					continue
				}
				s = outs[0]
			}
			for _, r := range []isa.Register{ins.Dst, ins.Src} {
				if x := s.regs[r]; x.kind == kindScalar {
					near(x.umin)
					near(x.umax)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// invariantIterations bounds the iterations of the loop at h from
// guessed invariants, unbounded if none that holds bounds them.
func (v *verifier) invariantIterations(f *function, h *block, body map[*block]bool, in [][]*state, chain []*function) (uint64, error) {
	fail := func(err error) (uint64, error) {
		if errors.Is(err, ErrTooComplex) {
			return unbounded, err
		}
		return unbounded, nil
	}
	entries, err := v.entryStates(f, h, body, in, chain)
	if err != nil || len(entries) == 0 {
		return fail(err)
	}
	cands, err := v.compareBounds(f, body, in, chain)
	if err != nil || len(cands) == 0 {
		return fail(err)
	}
	head := in[h.rpo][0]
	locs := ghostLocations(head.clone())
	guesses := make([]*guess, len(locs))
	any := false
	for i, l := range locs {
		x, _ := l.at(head)
		if x.isConst() {
			continue
		}
		elo, ehi, ok := entryRange(l, entries)
		if !ok {
			continue
		}
		g := &guess{}
		// The entry's bounds, for a counter that only moves away from
		// them, then the values the loop compares with.
		if ehi < x.umax {
			g.ub = append(g.ub, ehi)
		}
		if elo > x.umin {
			g.lb = append(g.lb, elo)
		}
		for _, c := range cands {
			if c >= ehi && c < x.umax {
				g.ub = append(g.ub, c)
			}
			if c <= elo && c > x.umin {
				g.lb = append(g.lb, c)
			}
		}
		slices.Sort(g.ub)
		g.ub = slices.Compact(g.ub)
		slices.Sort(g.lb)
		g.lb = slices.Compact(g.lb)
		slices.Reverse(g.lb)
		if len(g.ub) > 0 || len(g.lb) > 0 {
			guesses[i], any = g, true
		}
	}
	if !any {
		return unbounded, nil
	}
	if err := v.probeCongruences(f, h, body, head, locs, guesses, entries, chain); err != nil {
		return fail(err)
	}
	for range maxInvariantRounds {
		// The head's state narrowed by the guesses.
		start := head.clone()
		ghostLocations(start)
		for i, g := range guesses {
			if g == nil {
				continue
			}
			x, _ := locs[i].at(start)
			n := x
			if len(g.lb) > 0 {
				n = meet(n, unsignedRange(g.lb[0], math.MaxUint64))
			}
			if len(g.ub) > 0 {
				n = meet(n, unsignedRange(0, g.ub[0]))
			}
			if g.m > 0 {
				lo, ok1 := alignUp(n.umin, g.m, g.r)
				hi, ok2 := alignDown(n.umax, g.m, g.r)
				if !ok1 || !ok2 {
					return unbounded, nil
				}
				n.umin, n.umax = lo, hi
				n.deduce()
			}
			if n.empty() {
				return unbounded, nil // the guesses exclude every entry
			}
			narrow(start, locs[i], n)
		}
		backs, err := v.sweep(f, h, body, start, chain)
		if err != nil {
			return fail(err)
		}
		changed := false
		for i, g := range guesses {
			if g == nil {
				continue
			}
			s, _ := locs[i].at(start)
			// The congruence holds if every way back adds a multiple of
			// m to the head's value.
			m := uint64(0)
			linked := true
			for _, bs := range backs {
				x, ok := locs[i].at(bs)
				if !ok || x.kind != kindScalar || x.id != s.id {
					linked = false
					break
				}
				d := x.off - s.off
				if d < 0 {
					d = -d
				}
				m = gcd(m, uint64(d))
			}
			if g.m > 0 && (!linked || m%g.m != 0) {
				g.m, changed = 0, true
			}
			if g.m == 0 && !g.congTried && linked && m > 1 {
				g.congTried = true
				if r, ok := residue(locs[i], entries, m); ok {
					// Try the bounds again with the congruence.
					g.m, g.r, changed = m, r, true
					continue
				}
			}
			for _, bs := range backs {
				x, ok := locs[i].at(bs)
				if !ok || x.kind != kindScalar {
					g.ub, g.lb, changed = nil, nil, true
					break
				}
				lo, hi := x.umin, x.umax
				if g.m > 0 {
					a, ok1 := alignUp(lo, g.m, g.r)
					b, ok2 := alignDown(hi, g.m, g.r)
					if !ok1 || !ok2 || a > b {
						continue // no value of the class: this way back is impossible
					}
					lo, hi = a, b
				}
				k := 0
				for k < len(g.ub) && g.ub[k] < hi {
					k++
				}
				j := 0
				for j < len(g.lb) && g.lb[j] > lo {
					j++
				}
				if k > 0 || j > 0 {
					g.ub, g.lb, changed = g.ub[k:], g.lb[j:], true
				}
			}
		}
		if !changed {
			// Every guess holds: start holds at every iteration's start.
			it, _ := progress(locs, start, backs)
			return it, nil
		}
	}
	return unbounded, nil
}

// probeCongruences guesses the congruences of counters that enter the
// loop as constants: a sweep from the head's state with each such
// location at its entry constants shows what a way back adds to it
// while its increments cannot wrap. The rounds then check the guesses.
func (v *verifier) probeCongruences(f *function, h *block, body map[*block]bool, head *state, locs []location, guesses []*guess, entries []*state, chain []*function) error {
	start := head.clone()
	ghostLocations(start)
	probed := false
	for i, g := range guesses {
		if g == nil {
			continue
		}
		lo, hi := uint64(math.MaxUint64), uint64(0)
		for _, e := range entries {
			x, _ := locs[i].at(e)
			if !x.isConst() {
				lo, hi = 1, 0
				break
			}
			lo, hi = min(lo, x.umin), max(hi, x.umax)
		}
		if lo > hi {
			continue
		}
		x, _ := locs[i].at(start)
		if n := meet(x, unsignedRange(lo, hi)); !n.empty() {
			narrow(start, locs[i], n)
			probed = true
		}
	}
	if !probed {
		return nil
	}
	backs, err := v.sweep(f, h, body, start, chain)
	if err != nil {
		if errors.Is(err, ErrTooComplex) {
			return err
		}
		return nil
	}
	for i, g := range guesses {
		if g == nil {
			continue
		}
		s, _ := locs[i].at(start)
		m := uint64(0)
		for _, bs := range backs {
			x, ok := locs[i].at(bs)
			if !ok || x.kind != kindScalar || x.id != s.id {
				m = 0
				break
			}
			d := x.off - s.off
			if d < 0 {
				d = -d
			}
			m = gcd(m, uint64(d))
		}
		if m > 1 {
			if r, ok := residue(locs[i], entries, m); ok {
				g.m, g.r, g.congTried = m, r, true
			}
		}
	}
	return nil
}

// residue returns r if the value at l on every entry is a constant of
// residue r modulo m.
func residue(l location, entries []*state, m uint64) (uint64, bool) {
	r := uint64(0)
	for k, e := range entries {
		x, ok := l.at(e)
		if !ok || !x.isConst() {
			return 0, false
		}
		if k == 0 {
			r = x.umin % m
		} else if x.umin%m != r {
			return 0, false
		}
	}
	return r, len(entries) > 0
}

// loopExits reports whether some path may leave the loop: an edge out of
// its body, an exit or the end of a path inside it, in the function's
// fixpoint states.
func (v *verifier) loopExits(f *function, body map[*block]bool, in [][]*state, chain []*function) bool {
	for _, b := range f.blocks {
		if !body[b] {
			continue
		}
		for _, st := range in[b.rpo] {
			outs, ex, err := v.block(b, st.clone(), chain)
			if err != nil || ex != nil || outs == nil {
				return true
			}
			for k, o := range outs {
				if o != nil && !body[b.succ[k]] {
					return true
				}
			}
		}
	}
	return false
}

// unproven is the rejection of the loop at head h, not proven to end for
// the reason why, at its last back edge.
func (v *verifier) unproven(f *function, h *block, body map[*block]bool, in [][]*state, chain []*function, why string) error {
	var latch *block
	for _, b := range f.blocks {
		if slices.Contains(b.succ, h) && b.rpo >= h.rpo && (latch == nil || b.start > latch.start) {
			latch = b
		}
	}
	if latch == nil {
		latch = h
	}
	pc, ins := v.slotOf[latch.end-1], v.insns[latch.end-1]
	hpc := v.slotOf[h.start]
	if body != nil {
		log := v.cfg.Log
		v.cfg.Log = nil
		exits := v.loopExits(f, body, in, chain)
		v.cfg.Log = log
		if !exits {
			return reject(pc, ins, "infinite loop at pc %d: no path leaves it", hpc)
		}
	}
	return reject(pc, ins, "loop at pc %d is not proven to end: %s (checked mode can run it unverified, under an instruction budget)", hpc, why)
}

// entryRange returns the unsigned bounds of what l holds in the states
// entries, which enter a loop; false unless it holds a scalar in each.
func entryRange(l location, entries []*state) (lo, hi uint64, ok bool) {
	lo = math.MaxUint64
	for _, e := range entries {
		y, ok := l.at(e)
		if !ok || y.kind != kindScalar {
			return 0, 0, false
		}
		lo, hi = min(lo, y.umin), max(hi, y.umax)
	}
	return lo, hi, lo <= hi
}
