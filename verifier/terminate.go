package verifier

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/xebpf/xebpf/isa"
)

// Termination. After a function's analysis has reached its fixpoint, each
// loop is run once more from the state at its head, with every scalar of
// that state named by a ghost id: ids at or above ghostBase, which
// renumbering and joins keep (a join keeps a ghost id only where both
// sides hold it at the same offset). A location that holds its own ghost
// id at the end of every iteration, at an offset d >= 1 (or <= -1) from
// the head's, grew (shrank) by at least |d| exactly: links survive only
// additions that do not wrap. Its bounds at the head hold at every
// iteration's start, so the loop runs at most span/|d| + 1 times. The
// counts bound how many instructions a call of the function executes,
// loops, calls and callbacks included. A loop without such a location is
// tried with guessed invariants (invariant.go), then unrolled; a loop
// still not proven to end rejects the program, naming it.

// ghostBase is the first ghost id.
const ghostBase = uint64(1) << 62

// unbounded is the instruction bound of a function not proven to end.
const unbounded = math.MaxUint64

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return unbounded
	}
	return s
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return unbounded
	}
	return lo
}

// location is a place of a state that holds a value: a register, a stack
// slot's spilled value or a saved register, of frame f.
type location struct {
	reg, frame, slot, saved int // reg >= 0; else slot >= 0 or saved >= 0 in frame
}

// at returns the value at l in s, and whether s has it.
func (l location) at(s *state) (value, bool) {
	switch {
	case l.reg >= 0:
		return s.regs[l.reg], true
	case l.frame >= len(s.frames):
		return value{}, false
	case l.slot >= 0:
		sl := s.frames[l.frame].slots[l.slot]
		return sl.v, true
	default:
		return s.frames[l.frame].saved[l.saved], true
	}
}

// ghostLocations gives every scalar of s a ghost id: linked scalars share
// theirs, each unlinked one gets its own. It returns the locations of
// the scalars.
func ghostLocations(s *state) []location {
	var locs []location
	fresh := ghostBase + 1<<40
	name := func(v *value) {
		if v.kind != kindScalar {
			return
		}
		if v.id == 0 {
			v.id, v.off = fresh, 0
			fresh++
		} else if v.id < ghostBase {
			v.id += ghostBase
		}
	}
	for i := range s.regs {
		if s.regs[i].kind == kindScalar {
			name(&s.regs[i])
			locs = append(locs, location{reg: i, slot: -1, saved: -1})
		}
	}
	for f := range s.frames {
		w := s.frameW(f)
		for i := range w.slots {
			if w.slots[i].v.kind == kindScalar {
				name(&w.slots[i].v)
				locs = append(locs, location{reg: -1, frame: f, slot: i, saved: -1})
			}
		}
		for i := range w.saved {
			if w.saved[i].kind == kindScalar {
				name(&w.saved[i])
				locs = append(locs, location{reg: -1, frame: f, slot: -1, saved: i})
			}
		}
	}
	return locs
}

// loopBody returns the blocks of the natural loop of head h in f (h
// included), or nil if the loop is not natural: a block of it is entered
// from outside other than through h.
func loopBody(f *function, h *block) map[*block]bool {
	preds := map[*block][]*block{}
	for _, b := range f.blocks {
		for _, s := range b.succ {
			preds[s] = append(preds[s], b)
		}
	}
	body := map[*block]bool{h: true}
	var work []*block
	for _, p := range preds[h] {
		if p.rpo >= h.rpo && !body[p] {
			body[p] = true
			work = append(work, p)
		}
	}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		for _, p := range preds[b] {
			if p.rpo < h.rpo {
				// Only the head dominates its natural loop's blocks,
				// which come after it in reverse post-order.
				return nil
			}
			if !body[p] {
				body[p] = true
				work = append(work, p)
			}
		}
	}
	for b := range body {
		if b == h {
			continue
		}
		for _, p := range preds[b] {
			if !body[p] {
				return nil
			}
		}
	}
	return body
}

// sweep runs the body of the loop at h once from start, whose scalars
// hold ghost ids: it returns the states that come back to h.
func (v *verifier) sweep(f *function, h *block, body map[*block]bool, start *state, chain []*function) ([]*state, error) {
	in := make([][]*state, len(f.blocks))
	in[h.rpo] = []*state{start}
	var backs []*state
	err := v.fixpoint(f, in, h.rpo, chain, nil, func(s *block, o *state) bool {
		if s == h {
			backs = append(backs, o)
		}
		return s != h && body[s]
	})
	return backs, err
}

// progress bounds the iterations of a loop from the ghost-named state
// start at its head and the states backs that come back to it: a
// location whose ghost moves by at least step (all up, or all down) on
// every way back stays within its bounds at start, so the loop runs at
// most span/step + 1 times. It returns unbounded if no location does,
// and the best location that moves (mover, -1 if none).
func progress(locs []location, start *state, backs []*state) (best uint64, mover int) {
	best, mover = unbounded, -1
	if len(backs) == 0 {
		return 0, -1 // the body never comes back to the head
	}
	for i, l := range locs {
		g, _ := l.at(start)
		up, down := true, true
		step := uint64(math.MaxUint64)
		for _, bs := range backs {
			x, ok := l.at(bs)
			if !ok || x.kind != kindScalar || x.id != g.id {
				up, down = false, false
				break
			}
			d := x.off - g.off
			up, down = up && d >= 1, down && d <= -1
			if d < 0 {
				d = -d
			}
			step = min(step, uint64(d))
		}
		if !up && !down {
			continue
		}
		if mover < 0 {
			mover = i
		}
		// The head's value stays within its bounds, signed and unsigned,
		// and moves by at least step each iteration.
		span := min(uint64(g.smax)-uint64(g.smin), g.umax-g.umin)
		if span == math.MaxUint64 {
			continue
		}
		if it := span/step + 1; it < best {
			best, mover = it, i
		}
	}
	return best, mover
}

// loopIterations bounds the iterations of the loop at head h, whose
// fixpoint state is in[h.rpo][0]. If it finds no bound it returns
// unbounded and why.
func (v *verifier) loopIterations(f *function, h *block, body map[*block]bool, in [][]*state, chain []*function) (uint64, string, error) {
	if body == nil {
		return unbounded, "a block of it is entered other than through its head", nil
	}
	head := in[h.rpo][0]
	start := head.clone()
	locs := ghostLocations(start)
	if len(locs) == 0 {
		return unbounded, "no counter moves toward its exit on every iteration (it has no scalar)", nil
	}
	// The sweeps print no trace.
	log := v.cfg.Log
	v.cfg.Log = nil
	defer func() { v.cfg.Log = log }()

	backs, err := v.sweep(f, h, body, start, chain)
	if errors.Is(err, ErrTooComplex) {
		return unbounded, "", err
	}
	if err != nil {
		return unbounded, "no counter moves toward its exit on every iteration", nil
	}
	best, mover := progress(locs, start, backs)
	if best != unbounded {
		return best, "", nil
	}
	// Bounds that no widening found: invariants guessed from the loop's
	// comparisons and checked (invariant.go).
	best, err = v.invariantIterations(f, h, body, in, chain)
	if err != nil || best != unbounded {
		return best, "", err
	}
	// Iterations the analysis unrolls until no way back is left.
	if best, err = v.unrolledIterations(f, h, body, head, chain); err != nil || best != unbounded {
		return best, "", err
	}
	// What the first iteration shows about the loop's exit tests
	// (loopwhy.go).
	if why := v.loopWhy(f, h, body, in, chain); why != "" {
		return unbounded, why, nil
	}
	if mover >= 0 {
		l := locs[mover]
		g, _ := l.at(start)
		return unbounded, fmt.Sprintf("%s moves every iteration, but no bound on it holds at the loop's head (%v)", l, value{kind: kindScalar, smin: g.smin, smax: g.smax, umin: g.umin, umax: g.umax}), nil
	}
	return unbounded, "no counter moves toward its exit on every iteration", nil
}

// maxUnroll bounds the iterations unrolledIterations runs.
const maxUnroll = 64

// unrolledIterations runs the loop's body from the head's fixpoint state
// again and again, from the states that come back (joined), until none
// does: if none comes back after k runs, no run of the loop iterates more
// than k times, since the k-th run's states hold every state the loop
// can be in at the start of its k-th iteration. It catches loops that
// shrink a value by other than a constant (sum = (sum & 0xffff) + (sum >>
// 16) until sum < 0x10000). It returns unbounded if states still come
// back after maxUnroll runs.
func (v *verifier) unrolledIterations(f *function, h *block, body map[*block]bool, head *state, chain []*function) (uint64, error) {
	cur := head.clone()
	for k := uint64(1); k <= maxUnroll; k++ {
		backs, err := v.sweep(f, h, body, cur, chain)
		if err != nil {
			if errors.Is(err, ErrTooComplex) {
				return unbounded, err
			}
			return unbounded, nil
		}
		if len(backs) == 0 {
			return k, nil
		}
		next := backs[0]
		for _, b := range backs[1:] {
			next = join(next, b, &v.sets)
		}
		next.renumber()
		if next.equal(cur) {
			return unbounded, nil // the same state comes back: no progress
		}
		cur = next
	}
	return unbounded, nil
}

// functionBound bounds the instructions one call of f executes, given the
// states its blocks were reached with (in) and its loops' iteration
// bounds.
func (v *verifier) functionBound(f *function, in [][]*state, iters map[*block]uint64, bodies map[*block]map[*block]bool) uint64 {
	total := uint64(0)
	for _, b := range f.blocks {
		if len(in[b.rpo]) == 0 {
			continue // never reached
		}
		mult := uint64(1)
		for h, it := range iters {
			if bodies[h][b] {
				mult = satMul(mult, satAdd(it, 1))
			}
		}
		cost := uint64(b.end - b.start)
		for i := b.start; i < b.end; i++ {
			if ins := v.insns[i]; ins.OpCode == isa.OpCall {
				cost = satAdd(cost, v.callBound[v.slotOf[i]])
			}
		}
		total = satAdd(total, satMul(mult, cost))
	}
	return total
}

// bound computes, after f's analysis, the iterations of each of its loops
// and the instructions a call of it executes. A loop it cannot prove to
// end rejects the program.
func (v *verifier) bound(f *function, in [][]*state, chain []*function) (uint64, error) {
	iters := map[*block]uint64{}
	bodies := map[*block]map[*block]bool{}
	for _, h := range f.blocks {
		if !h.head || len(in[h.rpo]) == 0 {
			continue
		}
		body := loopBody(f, h)
		bodies[h] = body
		it, why, err := v.loopIterations(f, h, body, in, chain)
		if err != nil {
			return unbounded, err
		}
		if it == unbounded {
			return unbounded, v.unproven(f, h, body, in, chain, why)
		}
		iters[h] = it
	}
	return v.functionBound(f, in, iters, bodies), nil
}
