package verifier

import (
	"errors"
	"fmt"
	stdmaps "maps"
	"slices"
	"time"

	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
)

// The permissive analysis: the verifier's abstract interpretation run on a
// program it may reject, for the facts context rewriting needs. An
// instruction that fails a check is recorded and its effects are
// havocked soundly (what it may write becomes unknown, or "maybe the
// context" where it may have copied the context), and the analysis goes
// on. Only a context access that cannot be rewritten stops it: its base is
// the context on some paths and not on others (or at different offsets),
// as Linux and the rewriting of verified programs refuse.

// ErrContextAccess is a context access of an analyzed program that cannot
// be rewritten: a base that may or may not be the context, or an access
// the context's layout refuses.
var ErrContextAccess = errors.New("context access cannot be rewritten")

// mixedCtx is the aux of a kindMixed value that may be the context (only
// permissive analyses set it).
const mixedCtx = 1

// maybeCtx reports whether x may hold the context.
func maybeCtx(x value) bool {
	return x.kind == kindCtx || x.kind == kindMixed && x.aux == mixedCtx
}

// ctxOrUnknown is what an instruction that failed a check leaves in a
// register it writes from inputs: maybe the context if one of them may
// be, else an unknown scalar.
func ctxOrUnknown(in ...value) value {
	for _, x := range in {
		if maybeCtx(x) {
			return value{kind: kindMixed, aux: mixedCtx}
		}
	}
	return unknown
}

// Facts are what a permissive analysis found of a program: the loads and
// stores through its context with the context offset of their base, and
// the checks its instructions failed.
type Facts struct {
	ctxBase    map[int]int64
	rejections []*Error
	stats      Stats
}

// Analyze runs the verifier's analysis on insns in the environment cfg
// describes without stopping at a failed check, for a program the
// verifier rejects (or is not asked to verify) whose context accesses
// must still be rewritten. It returns an *Error of kind ErrContextAccess
// for an access through a base that is the context on some paths only,
// ErrTooComplex past cfg's limits, ErrRejected for a program whose
// structure the analysis cannot follow (a jump out of its function).
func Analyze(insns []isa.Instruction, cfg *Config) (*Facts, error) {
	start := time.Now()
	v, err := newVerifier(insns, cfg)
	if err != nil {
		return nil, err
	}
	v.permissive = map[int]*Error{}
	v.sets.keepCtx = true
	st := &state{frames: []*frame{new(frame)}, owned: 1}
	st.regs[1] = pointer(kindCtx, 0, 0)
	st.regs[10] = pointer(kindStack, 0, 0)
	if _, err := v.analyze(v.funcs[0], st, nil); err != nil {
		var e *Error
		if v.fatal != nil {
			e = v.fatal
			e.Kind = ErrContextAccess
		} else if !errors.As(err, &e) {
			return nil, err
		}
		e.Stats = Stats{Instructions: len(insns), Steps: v.steps, Blocks: v.blocks, Duration: time.Since(start)}
		return nil, v.withLine(e)
	}
	f := &Facts{ctxBase: v.ctxBase}
	for _, e := range v.permissive {
		f.rejections = append(f.rejections, e)
	}
	slices.SortFunc(f.rejections, func(a, b *Error) int { return a.PC - b.PC })
	f.stats = Stats{Instructions: len(insns), Steps: v.steps, Blocks: v.blocks, Duration: time.Since(start)}
	return f, nil
}

// ContextAccesses returns the loads and stores through the context, by
// instruction index, with the offset into the context of their base, as
// Program.ContextAccesses.
func (f *Facts) ContextAccesses() map[int]int64 { return stdmaps.Clone(f.ctxBase) }

// Rejections returns the checks the program failed: the first failure of
// each instruction, in program order. A verified program has none.
func (f *Facts) Rejections() []*Error { return slices.Clone(f.rejections) }

// Stats returns the analysis' statistics.
func (f *Facts) Stats() Stats { return f.stats }

// RewriteContext returns insns (the analyzed program, or it with its map
// references resolved: the same instructions by index) with every context
// access rewritten for layout's in-memory form, as Program.Lower rewrites
// a verified program's. An access the layout refuses is an *Error of kind
// ErrContextAccess. insns is not modified.
func (f *Facts) RewriteContext(insns []isa.Instruction, layout *ctxaccess.Layout) ([]isa.Instruction, error) {
	out := slices.Clone(insns)
	if layout == nil || len(layout.Fields) == 0 {
		return out, nil
	}
	pc := 0
	for i, ins := range insns {
		if k, ok := f.ctxBase[i]; ok {
			r, err := layout.RewriteAccess(ins, int(k))
			if err != nil {
				return nil, &Error{PC: pc, Insn: ins, Reason: err.Error(), Kind: ErrContextAccess}
			}
			out[i] = r
		}
		pc += ins.Slots()
	}
	for i := range f.ctxBase {
		if i >= len(insns) {
			return nil, fmt.Errorf("rewrite context: access at instruction %d of a %d-instruction program", i, len(insns))
		}
	}
	return out, nil
}

// fail marks err, a context access that cannot be rewritten, as ending a
// permissive analysis, and returns it.
func (v *verifier) fail(err *Error) *Error {
	if v.permissive != nil && v.fatal == nil {
		v.fatal = err
	}
	return err
}

// permissiveAccess notes every access of a permissive analysis before the
// checks that could refuse it, and refuses one through a base that may or
// may not be the context.
func (v *verifier) permissiveAccess(pc int, ins isa.Instruction, r isa.Register, base value) error {
	if err := v.noteAccess(pc, ins, base); err != nil {
		return err
	}
	if base.kind == kindMixed && base.aux == mixedCtx {
		return v.fail(reject(pc, ins, "r%d may be the context and may be another value: it is the context on some paths only, or came through an instruction that failed a check", r))
	}
	if base.kind == kindCtx && (base.smin != 0 || base.smax != 0) {
		// Paths that reach it at different offsets, joined.
		return v.fail(reject(pc, ins, "r%d is the context on some paths at another offset than on others, or at a variable offset", r))
	}
	return nil
}

// survive decides what a permissive analysis does with err, a failed
// check of the instruction at pc: nil if it goes on (err is recorded), err
// if the analysis ends (a fatal context access, a limit).
func (v *verifier) survive(pc int, err error) error {
	if v.permissive == nil || v.fatal != nil {
		return err
	}
	e, ok := err.(*Error)
	if !ok || e.Kind != ErrRejected {
		return err
	}
	if _, seen := v.permissive[pc]; !seen {
		v.permissive[pc] = e
	}
	return nil
}

// havoc returns pre, the state before ins, with what ins may have written
// when it failed a check made unknown: a failed instruction still runs
// (checked mode stops it only on a fault).
func (v *verifier) havoc(pre *state, ins isa.Instruction) *state {
	st := pre
	op := ins.OpCode
	switch c := op.Class(); {
	case c.IsALU():
		if ins.Dst != isa.R10 {
			in := []value{st.regs[ins.Dst]}
			if op.Source() == isa.SourceReg {
				in = append(in, st.regs[ins.Src])
			}
			st.regs[ins.Dst] = ctxOrUnknown(in...)
		}
	case op == isa.OpLDDW:
		st.regs[ins.Dst] = unknown
	case c == isa.ClassLDX:
		if ins.Dst != isa.R10 {
			st.regs[ins.Dst] = v.havocLoad(st, st.regs[ins.Src], ins)
		}
	case c == isa.ClassST || c == isa.ClassSTX:
		x := unknown
		if c == isa.ClassSTX {
			x = st.regs[ins.Src]
		}
		loaded := v.havocLoad(st, st.regs[ins.Dst], ins)
		v.havocStore(st, st.regs[ins.Dst], ins, x)
		if op.Mode() == isa.ModeAtomic {
			imm := int32(ins.Constant)
			if imm&isa.AtomicFetch != 0 || imm == isa.AtomicXchg {
				st.regs[ins.Src] = loaded
			}
			if imm == isa.AtomicCmpXchg {
				st.regs[0] = loaded
			}
		}
	case c == isa.ClassLD: // legacy packet loads
		st.regs[0] = unknown
		for r := 1; r <= 5; r++ {
			st.regs[r] = ctxOrUnknown(st.regs[r])
		}
	case op == isa.OpCall:
		// The callee or helper may write the stacks its arguments point
		// into, return any of them, and leave anything in r1-r5. A
		// helper writes data: the context spilled there stays (a helper
		// that copies it elsewhere launders it into a number, as a map
		// value does); a function may spill anything.
		for r := 1; r <= 5; r++ {
			if x := st.regs[r]; x.kind == kindStack && x.aux >= 0 && int(x.aux) < len(st.frames) {
				if ins.Src == isa.CallLocal {
					v.havocFrame(st, int(x.aux), 0, stackSlots, false)
				} else {
					v.havocData(st, int(x.aux))
				}
			}
		}
		r0 := unknown
		if ins.Src == isa.CallLocal {
			r0 = ctxOrUnknown(st.regs[1:6]...)
		}
		for r := 1; r <= 5; r++ {
			st.regs[r] = ctxOrUnknown(st.regs[r])
		}
		st.regs[0] = r0
	}
	return st
}

// stackRange returns the frame and slots [lo, hi) an access of ins through
// base may touch, if base is a pointer into a stack.
func stackRange(st *state, base value, ins isa.Instruction) (f, lo, hi int, ok bool) {
	if base.kind != kindStack || int(base.aux) >= len(st.frames) || base.aux < 0 {
		return 0, 0, 0, false
	}
	size := int64(ins.OpCode.Size().Bytes())
	a := base.off + base.smin + int64(ins.Offset) + 512
	b := base.off + base.smax + int64(ins.Offset) + size + 512
	if base.smin != base.smax || wideOffset(base) || a < 0 || b > 512 || a >= b {
		return int(base.aux), 0, stackSlots, true
	}
	return int(base.aux), int(a / 8), int((b + 7) / 8), true
}

// havocLoad is what a failed load of ins through base may read: maybe the
// context if it reads stack slots that may hold it.
func (v *verifier) havocLoad(st *state, base value, ins isa.Instruction) value {
	f, lo, hi, ok := stackRange(st, base, ins)
	if !ok {
		return unknown
	}
	for _, sl := range st.frames[f].slots[lo:hi] {
		if maybeCtx(sl.v) {
			return value{kind: kindMixed, aux: mixedCtx}
		}
	}
	return unknown
}

// havocStore applies a failed store of x by ins through base: the stack
// slots it may write hold unknown bytes, or maybe the context.
func (v *verifier) havocStore(st *state, base value, ins isa.Instruction, x value) {
	if f, lo, hi, ok := stackRange(st, base, ins); ok {
		v.havocFrame(st, f, lo, hi, maybeCtx(x))
	}
}

// havocFrame makes slots [lo, hi) of frame f readable unknown bytes, or
// maybe the context where they may have held it or ctx is set.
func (v *verifier) havocFrame(st *state, f, lo, hi int, ctx bool) {
	fr := st.frameW(f)
	for i := lo; i < hi; i++ {
		sl := &fr.slots[i]
		if ctx || maybeCtx(sl.v) {
			*sl = slot{v: value{kind: kindMixed, aux: mixedCtx}, init: 0xff, vw: 8}
		} else {
			*sl = slot{init: 0xff}
		}
	}
}

// havocData makes the slots of frame f that do not hold what may be the
// context readable unknown bytes: what a helper may have written there.
func (v *verifier) havocData(st *state, f int) {
	fr := st.frameW(f)
	for i := range fr.slots {
		if sl := &fr.slots[i]; !maybeCtx(sl.v) {
			*sl = slot{init: 0xff}
		}
	}
}
