package verifier

import (
	"math"
	"slices"
)

// stackSlots is the number of 8-byte slots of one frame's stack.
const stackSlots = 512 / 8

// slot is one 8-byte stack slot: which bytes are initialized, and the
// register spilled into it, if any, covering bytes [vo, vo+vw).
type slot struct {
	v      value
	init   uint8 // bit i: byte i is initialized
	vo, vw uint8
}

// frame is the stack of one call depth: slot i holds bytes
// [-512+8i, -512+8i+8) from the frame pointer. While the frame calls a
// function, saved holds its r6-r9.
type frame struct {
	slots [stackSlots]slot
	saved [4]value
}

// state is the abstract state at a program point: what every path that
// reaches it may have in the registers and on the stacks.
type state struct {
	regs   [11]value
	frames []*frame
	// owned has bit i set when frames[i] belongs to this state alone and
	// may be written in place.
	owned uint16
	// pmin is the number of bytes from the packet's start proven to be in
	// the packet (the range of packet pointers with id 0).
	pmin int64
	// mmin is the number of bytes from the packet metadata's start proven
	// to be before the packet's start.
	mmin int64
	// plen links the packet's length to scalars: the scalars with id
	// plen.id and offset k hold data_end - data - plen.off + k (the
	// difference of packet_end and a packet pointer), so that bounds a
	// branch learns on them bound the packet. Zero id: none.
	plen struct {
		id  uint64
		off int64
	}
	// refs are the ids of ring-buffer records reserved and not yet
	// submitted or discarded, sorted.
	refs []uint64
	// lock is 1 + the map whose bpf_spin_lock the program holds, 0 if none.
	lock int32
	// nextID is above every id in the state.
	nextID uint64
}

// clone returns a copy of s. The two share their frames until either
// writes one: neither owns them any more.
func (s *state) clone() *state {
	s.owned = 0
	c := *s
	c.frames = slices.Clone(s.frames)
	c.refs = slices.Clone(s.refs)
	return &c
}

// frame returns frame f for writing.
func (s *state) frameW(f int) *frame {
	if s.owned&(1<<f) == 0 {
		c := *s.frames[f]
		s.frames[f] = &c
		s.owned |= 1 << f
	}
	return s.frames[f]
}

func (s *state) newID() uint64 {
	s.nextID++
	return s.nextID
}

// each calls f on every value of the state (registers, then spilled
// slots), for reading.
func (s *state) each(f func(v *value)) {
	for i := range s.regs {
		f(&s.regs[i])
	}
	for _, fr := range s.frames {
		for i := range fr.saved {
			f(&fr.saved[i])
		}
		for i := range fr.slots {
			if fr.slots[i].v.kind != kindUninit {
				f(&fr.slots[i].v)
			}
		}
	}
}

// update calls f on every value of the state that matches, for writing.
func (s *state) update(match func(v *value) bool, f func(v *value)) {
	for i := range s.regs {
		if match(&s.regs[i]) {
			f(&s.regs[i])
		}
	}
	for fi, fr := range s.frames {
		var w *frame
		for i := range fr.saved {
			if match(&fr.saved[i]) {
				if w == nil {
					w = s.frameW(fi)
				}
				f(&w.saved[i])
			}
		}
		for i := range fr.slots {
			if fr.slots[i].v.kind != kindUninit && match(&fr.slots[i].v) {
				if w == nil {
					w = s.frameW(fi)
				}
				f(&w.slots[i].v)
			}
		}
	}
}

// kill makes every value that matches unusable: registers and saved
// registers become uninitialized, and matching spilled pointers become
// unreadable stack bytes.
func (s *state) kill(match func(v *value) bool) {
	for i := range s.regs {
		if match(&s.regs[i]) {
			s.regs[i] = uninit
		}
	}
	for fi, fr := range s.frames {
		var w *frame
		for i := range fr.saved {
			if match(&fr.saved[i]) {
				if w == nil {
					w = s.frameW(fi)
				}
				w.saved[i] = uninit
			}
		}
		for i := range fr.slots {
			if fr.slots[i].v.kind != kindUninit && match(&fr.slots[i].v) {
				if w == nil {
					w = s.frameW(fi)
				}
				killSpill(&w.slots[i])
			}
		}
	}
}

// equal reports whether a and b are the same state.
func (a *state) equal(b *state) bool {
	if a.regs != b.regs || a.pmin != b.pmin || a.mmin != b.mmin || a.plen != b.plen || a.lock != b.lock || !slices.Equal(a.refs, b.refs) || len(a.frames) != len(b.frames) {
		return false
	}
	for i := range a.frames {
		if a.frames[i] != b.frames[i] && *a.frames[i] != *b.frames[i] {
			return false
		}
	}
	return true
}

// renumber rewrites the ids of the state to 1, 2, ... in order of first
// appearance, so that states equal up to the naming of ids compare equal.
func (s *state) renumber() {
	var from, to [32]uint64
	n := 0
	var big map[uint64]uint64
	next := uint64(0)
	mapID := func(id uint64) uint64 {
		if id == 0 || id >= ghostBase {
			return id // ghost ids keep their names (terminate.go)
		}
		for i := range n {
			if from[i] == id {
				return to[i]
			}
		}
		if big != nil {
			if v, ok := big[id]; ok {
				return v
			}
		}
		next++
		if n < len(from) {
			from[n], to[n] = id, next
			n++
		} else {
			if big == nil {
				big = map[uint64]uint64{}
			}
			big[id] = next
		}
		return next
	}
	for i := range s.regs {
		s.regs[i].id = mapID(s.regs[i].id)
	}
	for fi, fr := range s.frames {
		var w *frame
		for i := range fr.saved {
			if fr.saved[i].id != 0 {
				if id := mapID(fr.saved[i].id); id != fr.saved[i].id {
					if w == nil {
						w = s.frameW(fi)
					}
					w.saved[i].id = id
				}
			}
		}
		for i := range fr.slots {
			if fr.slots[i].v.id != 0 {
				if id := mapID(fr.slots[i].v.id); id != fr.slots[i].v.id {
					if w == nil {
						w = s.frameW(fi)
					}
					w.slots[i].v.id = id
				}
			}
		}
	}
	for i, r := range s.refs {
		s.refs[i] = mapID(r)
	}
	if s.plen.id != 0 {
		s.plen.id = mapID(s.plen.id)
	}
	slices.Sort(s.refs)
	s.refs = slices.Compact(s.refs)
	s.nextID = next
}

// joiner joins two states, pairing their ids: the locations whose ids
// form the same pair hold equal (or equally based) values on both sides,
// and share an id in the join.
type joiner struct {
	sets  *mapSets
	s, o  *state
	out   *state
	pairs map[[4]uint64]uint64
	// leaked is the id of reservations nothing holds.
	leaked uint64
}

// Kinds of id pairs, so that the same pair of ids used for different
// relations gets different ids.
const (
	pairLinked uint64 = iota // scalars and packet pointers: base + offset
	pairNull
)

func (j *joiner) pair(kind, a, b uint64) uint64 {
	return j.pairDelta(kind, a, b, 0)
}

// pairDelta is the id in the join of values with ids a and b whose
// offsets from their bases differ by delta.
func (j *joiner) pairDelta(kind, a, b uint64, delta int64) uint64 {
	k := [4]uint64{kind, a, b, uint64(delta)}
	if v, ok := j.pairs[k]; ok {
		return v
	}
	if a == b && a >= ghostBase && delta == 0 {
		// A ghost id held at the same offset on both sides stays.
		j.pairs[k] = a
		return a
	}
	v := j.out.newID()
	j.pairs[k] = v
	return v
}

// join returns the join of s and o: a state holding every value either
// holds. Both must be at the same program point (same call depth).
func join(s, o *state, sets *mapSets) *state {
	out := &state{lock: max(s.lock, o.lock), pmin: min(s.pmin, o.pmin), mmin: min(s.mmin, o.mmin)}
	j := &joiner{sets: sets, s: s, o: o, out: out, pairs: map[[4]uint64]uint64{}}
	for i := range s.regs {
		out.regs[i] = j.value(s.regs[i], o.regs[i])
	}
	out.frames = make([]*frame, len(s.frames))
	for f := range s.frames {
		a, b := s.frames[f], o.frames[f]
		if a == b && s.nextID == 0 && o.nextID == 0 {
			out.frames[f] = a
			continue
		}
		fr := new(frame)
		for i := range fr.saved {
			fr.saved[i] = j.value(a.saved[i], b.saved[i])
		}
		for i := range fr.slots {
			x, y := &a.slots[i], &b.slots[i]
			z := &fr.slots[i]
			z.init = x.init & y.init
			if x.v.kind == kindUninit && y.v.kind == kindUninit {
				continue
			}
			if x.v.kind != kindUninit && y.v.kind != kindUninit && x.vo == y.vo && x.vw == y.vw {
				z.v = j.value(x.v, y.v)
				z.vo, z.vw = x.vo, x.vw
				if z.v.kind != kindMixed && z.v.kind != kindUninit {
					continue
				}
			}
			if j.sets != nil && j.sets.keepCtx && (maybeCtx(x.v) || maybeCtx(y.v)) {
				*z = slot{v: value{kind: kindMixed, aux: mixedCtx}, init: 0xff, vw: 8}
				continue
			}
			// No value survives; a pointer's bytes are not data.
			if x.v.kind.mayBePointer() || y.v.kind.mayBePointer() {
				z.init = 0
			}
			z.v, z.vo, z.vw = value{}, 0, 0
		}
		out.frames[f] = fr
		out.owned |= 1 << f
	}
	// A reservation outstanding on either path is outstanding in the
	// join, under the ids its holders got.
	out.refs = append(j.refsOf(s.refs, 1), j.refsOf(o.refs, 2)...)
	// The packet-length link survives if both sides link the same
	// packet offset to scalars the join keeps linked.
	if s.plen.id != 0 && o.plen.id != 0 && s.plen.off == o.plen.off {
		if id, ok := j.pairs[[4]uint64{pairLinked, s.plen.id, o.plen.id, 0}]; ok {
			out.plen.id, out.plen.off = id, s.plen.off
		}
	}
	out.renumber()
	return out
}

func (j *joiner) refsOf(refs []uint64, side int) []uint64 {
	var out []uint64
	for _, r := range refs {
		found := false
		for k, v := range j.pairs {
			if k[0] == pairNull && k[side] == r {
				out = append(out, v)
				found = true
			}
		}
		if !found {
			// Held by nothing: one id stands for every such reservation,
			// which can only end in a rejection at exit.
			if j.leaked == 0 {
				j.leaked = j.out.newID()
			}
			out = append(out, j.leaked)
		}
	}
	return out
}

// value joins two values at the same location.
func (j *joiner) value(a, b value) value {
	if a == b && a.id == 0 {
		return a
	}
	if a.kind == kindUninit || b.kind == kindUninit {
		return uninit
	}
	if a.kind == b.kind && a.aux != b.aux && (a.kind == kindMapHandle || a.kind == kindMapValue) && j.sets != nil {
		// Pointers to different maps: a pointer to either.
		b.aux = j.sets.union(a.aux, b.aux)
		a.aux = b.aux
	}
	if a.kind != b.kind || a.aux != b.aux && a.kind != kindScalar {
		// NULL joins a pointer that may be NULL.
		if p, ok := nullAndPointer(a, b); ok {
			p.null = true
			p.id = j.pair(pairNull, a.id, b.id)
			return p
		}
		if j.sets != nil && j.sets.keepCtx && (maybeCtx(a) || maybeCtx(b)) {
			return value{kind: kindMixed, aux: mixedCtx}
		}
		return value{kind: kindMixed}
	}
	var v value
	v.kind, v.aux = a.kind, a.aux
	v.null = a.null || b.null
	v.defPC = a.defPC
	switch a.kind {
	case kindScalar:
		v.joinNum(a, b)
		if a.id != 0 && b.id != 0 {
			// Values linked to one base on both sides stay linked: the
			// join's base is a's, and b's shifted by the difference.
			v.id = j.pairDelta(pairLinked, a.id, b.id, a.off-b.off)
			v.off = a.off
			v.rng = max(noRange, min(a.rng, b.rng-(b.off-a.off)))
		}
	case kindPacket:
		switch {
		case a.id == 0 && b.id == 0 && a.off == b.off:
			v.off = a.off
		case a.id != 0 && b.id != 0:
			// Pointers built on one base on both sides share the
			// join's base (a's, and b's shifted by delta).
			delta := b.off - a.off
			v.joinNum(a, shiftNum(b, delta))
			v.off = a.off
			v.id = j.pairDelta(pairLinked, a.id, b.id, -delta)
			v.rng = max(noRange, min(baseRange(a, j.s), baseRange(b, j.o)-delta))
		default:
			// Fold the constant offsets into the variable part, under
			// an id of its own whose base is the pointer itself.
			v.joinNum(shiftNum(a, a.off), shiftNum(b, b.off))
			v.id = j.out.newID()
			v.rng = max(noRange, min(baseRange(a, j.s)-a.off, baseRange(b, j.o)-b.off))
		}
	case kindPacketEnd:
	default:
		if a.off == b.off {
			v.off = a.off
			v.joinNum(a, b)
		} else {
			v.joinNum(shiftNum(a, a.off), shiftNum(b, b.off))
		}
		if a.id != 0 && b.id != 0 {
			// The NULL-check group, and for records the reservation
			// the pointer holds.
			v.id = j.pair(pairNull, a.id, b.id)
		}
	}
	return v
}

// noRange is the least range a value keeps: nothing proven in the
// packet. Ranges that shrink in a loop stop there, so the loop's states
// stop changing.
const noRange = math.MinInt32

// baseRange is how many bytes from packet pointer v's base (v minus its
// constant offset) are proven in the packet in state s.
func baseRange(v value, s *state) int64 {
	if v.id == 0 {
		return s.pmin
	}
	return v.rng
}

// shiftNum is v's variable part plus the constant c.
func shiftNum(v value, c int64) value {
	return addBounds(value{kind: kindScalar, smin: v.smin, smax: v.smax, umin: v.umin, umax: v.umax}, constant(uint64(c)))
}

// nullAndPointer: if one of a, b is the constant 0 and the other a
// pointer that a lookup may return, it returns the pointer.
func nullAndPointer(a, b value) (value, bool) {
	nullable := func(v value) bool {
		return (v.kind == kindMapValue || v.kind == kindRingbuf || v.kind == kindMapHandle) && v.off == 0 && v.smin == 0 && v.smax == 0
	}
	if a.kind == kindScalar && a.isConst() && a.umin == 0 && nullable(b) {
		return b, true
	}
	if b.kind == kindScalar && b.isConst() && b.umin == 0 && nullable(a) {
		return a, true
	}
	return value{}, false
}

// widen returns old widened by new (new includes old): bounds that grew
// jump to the next threshold, or to the limit.
func widen(old, cur *state, th *thresholds) *state {
	w := cur.clone()
	for i := range w.regs {
		widenValue(&w.regs[i], old.regs[i], th)
	}
	for f := range w.frames {
		if f >= len(old.frames) || w.frames[f] == old.frames[f] {
			continue
		}
		fw := w.frameW(f)
		for i := range fw.saved {
			widenValue(&fw.saved[i], old.frames[f].saved[i], th)
		}
		for i := range fw.slots {
			if fw.slots[i].v.kind != kindUninit {
				widenValue(&fw.slots[i].v, old.frames[f].slots[i].v, th)
			}
		}
	}
	if w.pmin < old.pmin {
		w.pmin = 0
	}
	if w.mmin < old.mmin {
		w.mmin = 0
	}
	return w
}

func widenValue(v *value, old value, th *thresholds) {
	if v.kind != old.kind || v.kind == kindUninit {
		return
	}
	if v.smin < old.smin {
		v.smin = th.below(v.smin)
	}
	if v.smax > old.smax {
		v.smax = th.above(v.smax)
	}
	if v.umin < old.umin {
		v.umin = uint64(max(0, th.below(int64(min(v.umin, math.MaxInt64)))))
	}
	if v.umax > old.umax {
		if v.umax > math.MaxInt64 {
			v.umax = math.MaxUint64
		} else if a := th.above(int64(v.umax)); a == math.MaxInt64 {
			v.umax = math.MaxUint64
		} else {
			v.umax = uint64(a)
		}
	}
	if (v.kind == kindPacket || v.kind == kindScalar) && v.rng < old.rng {
		v.rng = noRange
	}
	v.deduce()
}

// thresholds are the constants a program compares with, sorted: widening
// stops at them before going to infinity.
type thresholds struct{ c []int64 }

func (t *thresholds) above(x int64) int64 {
	i, _ := slices.BinarySearch(t.c, x)
	if i < len(t.c) {
		return t.c[i]
	}
	return math.MaxInt64
}

func (t *thresholds) below(x int64) int64 {
	i, found := slices.BinarySearch(t.c, x)
	if found {
		return t.c[i]
	}
	if i > 0 {
		return t.c[i-1]
	}
	return math.MinInt64
}
