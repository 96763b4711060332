package verifier

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/xebpf/xebpf/isa"
)

// verifier is one verification in progress.
type verifier struct {
	cfg      *Config
	insns    []isa.Instruction // by index
	at       []int32           // slot -> instruction index, -1 inside an lddw
	slotOf   []int             // instruction index -> slot
	funcs    map[int]*function // by entry slot
	th       thresholds
	steps    int
	maxSteps int
	deadline time.Time
	blocks   int
	loops    bool
	maps     []*Map // cfg.Maps, then inner-map templates
	inner    map[*Map]int32
	sets     mapSets
	// ctxBase maps the loads and stores through the context (by
	// instruction index) to their base's context offset; notCtx are the
	// other loads and stores.
	ctxBase map[int]int64
	notCtx  map[int]bool
	// callBound bounds, by call slot, the instructions a call executes
	// (the callee's, every callback invocation's); lastBound is the
	// bound of the function analyze analyzed last.
	callBound map[int]uint64
	lastBound uint64
	// permissive, if set, makes the analysis go on past failed checks,
	// recording the first of each instruction (by slot) here; fatal is
	// the failure that ends it anyway (permissive.go).
	permissive map[int]*Error
	fatal      *Error
}

// function is a function of the program: its entry and its basic blocks.
type function struct {
	entry  int // slot
	blocks []*block
	byPC   map[int]*block
	exits  bool
}

// block is a basic block: instructions [start, end) by index.
type block struct {
	start, end int
	succ       []*block // fall-through first
	rpo        int
	head       bool // target of a back edge: widened
}

func reject(pc int, ins isa.Instruction, format string, args ...any) *Error {
	return &Error{PC: pc, Insn: ins, Reason: fmt.Sprintf(format, args...), Kind: ErrRejected}
}

func newVerifier(insns []isa.Instruction, cfg *Config) (*verifier, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if len(insns) == 0 {
		return nil, &Error{PC: -1, Reason: "empty program", Kind: ErrRejected}
	}
	for i, ins := range insns {
		if err := ins.Validate(); err != nil {
			return nil, &Error{PC: -1, Reason: fmt.Sprintf("instruction %d: %v", i, err), Kind: ErrRejected}
		}
	}
	if err := isa.CheckProgram(insns); err != nil {
		return nil, &Error{PC: -1, Reason: err.Error(), Kind: ErrRejected}
	}
	v := &verifier{cfg: cfg, insns: insns, funcs: map[int]*function{}, maxSteps: cfg.MaxSteps,
		ctxBase: map[int]int64{}, notCtx: map[int]bool{}, callBound: map[int]uint64{}}
	if v.maxSteps == 0 {
		v.maxSteps = DefaultMaxSteps
	}
	if cfg.Timeout > 0 {
		v.deadline = time.Now().Add(cfg.Timeout)
	}
	v.maps = slices.Clone(cfg.Maps)
	v.inner = map[*Map]int32{}
	for _, m := range cfg.Maps {
		if m != nil && m.Inner != nil {
			if _, ok := v.inner[m.Inner]; !ok {
				v.inner[m.Inner] = int32(len(v.maps))
				v.maps = append(v.maps, m.Inner)
			}
		}
	}
	pc := 0
	for i, ins := range insns {
		v.slotOf = append(v.slotOf, pc)
		v.at = append(v.at, int32(i))
		if ins.IsLDDW() {
			v.at = append(v.at, -1)
		}
		pc += ins.Slots()
	}
	v.slotOf = append(v.slotOf, pc)
	// Function entries: 0, local call targets, code addresses.
	entries := []int{0}
	cs := map[int]bool{}
	for i, ins := range insns {
		var lo, hi int64
		if ins.OpCode.Class().IsJump() && ins.OpCode.JumpOp().IsConditional() && ins.OpCode.Source() == isa.SourceImm {
			lo, hi = ins.Constant, ins.Constant
			cs[int(lo-1)], cs[int(lo)], cs[int(hi+1)] = true, true, true
		}
		if t, ok := ins.JumpTarget(v.slotOf[i]); ok && (ins.OpCode == isa.OpCall || ins.IsLDDW()) {
			entries = append(entries, t)
		}
	}
	for c := range cs {
		v.th.c = append(v.th.c, int64(c))
	}
	slices.Sort(v.th.c)
	slices.Sort(entries)
	entries = slices.Compact(entries)
	for k, e := range entries {
		end := pc
		if k+1 < len(entries) {
			end = entries[k+1]
		}
		f, err := v.buildFunction(e, end)
		if err != nil {
			return nil, err
		}
		v.funcs[e] = f
	}
	return v, nil
}

// buildFunction splits the function at slots [entry, end) into blocks,
// ordered in reverse post-order, and marks loop heads.
func (v *verifier) buildFunction(entry, end int) (*function, error) {
	first, last := int(v.at[entry]), int(v.at[end-1])
	if last < 0 {
		last = int(v.at[end-2])
	}
	last++
	leader := map[int]bool{first: true}
	for i := first; i < last; i++ {
		ins := v.insns[i]
		op := ins.OpCode
		if !op.Class().IsJump() || op == isa.OpCall || op == isa.OpCallX {
			continue
		}
		if op == isa.OpExit {
			leader[i+1] = true
			continue
		}
		t, _ := ins.JumpTarget(v.slotOf[i])
		if t < entry || t >= end {
			return nil, reject(v.slotOf[i], ins, "jump to %d leaves the function at %d", t, entry)
		}
		leader[int(v.at[t])] = true
		leader[i+1] = true
	}
	f := &function{entry: entry, byPC: map[int]*block{}}
	starts := make([]int, 0, len(leader))
	for s := range leader {
		if s < last {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	byIdx := map[int]*block{}
	var all []*block
	for k, s := range starts {
		e := last
		if k+1 < len(starts) {
			e = starts[k+1]
		}
		b := &block{start: s, end: e}
		byIdx[s] = b
		all = append(all, b)
	}
	for _, b := range all {
		lastIns := v.insns[b.end-1]
		op := lastIns.OpCode
		isJump := op.Class().IsJump() && op != isa.OpCall && op != isa.OpCallX
		switch {
		case op == isa.OpExit:
			f.exits = true
		case isJump && (op == isa.OpJA || op == isa.OpJA32):
			t, _ := lastIns.JumpTarget(v.slotOf[b.end-1])
			b.succ = []*block{byIdx[int(v.at[t])]}
		case isJump:
			t, _ := lastIns.JumpTarget(v.slotOf[b.end-1])
			if b.end >= last {
				return nil, reject(v.slotOf[b.end-1], lastIns, "the function at %d can fall off its end", entry)
			}
			b.succ = []*block{byIdx[b.end], byIdx[int(v.at[t])]}
		default:
			if b.end >= last {
				return nil, reject(v.slotOf[b.end-1], lastIns, "the function at %d falls off its end", entry)
			}
			b.succ = []*block{byIdx[b.end]}
		}
	}
	// Depth-first order from the entry: post-order, back edges.
	const (
		white = iota
		grey
		black
	)
	color := map[*block]int{}
	var post []*block
	type item struct {
		b    *block
		next int
	}
	stack := []item{{all[0], 0}}
	color[all[0]] = grey
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(top.b.succ) {
			s := top.b.succ[top.next]
			top.next++
			switch color[s] {
			case white:
				color[s] = grey
				stack = append(stack, item{s, 0})
			case grey:
				s.head = true
				v.loops = true
			}
			continue
		}
		color[top.b] = black
		post = append(post, top.b)
		stack = stack[:len(stack)-1]
	}
	slices.Reverse(post)
	for i, b := range post {
		b.rpo = i
		f.byPC[b.start] = b
	}
	f.blocks = post
	v.blocks += len(post)
	return f, nil
}

// run verifies the program from its entry.
func (v *verifier) run() error {
	st := &state{frames: []*frame{new(frame)}, owned: 1}
	st.regs[1] = pointer(kindCtx, 0, 0)
	st.regs[10] = pointer(kindStack, 0, 0)
	exit, err := v.analyze(v.funcs[0], st, nil)
	if err != nil {
		return v.withLine(err)
	}
	if exit == nil {
		return &Error{PC: -1, Reason: "no path of the program reaches an exit: it never terminates", Kind: ErrRejected}
	}
	return nil
}

func (v *verifier) withLine(err error) error {
	if e, ok := err.(*Error); ok && e.Line == nil && e.PC >= 0 && v.cfg.LineInfo != nil {
		if l, ok := v.cfg.LineInfo(e.PC); ok {
			e.Line = &l
		}
	}
	return err
}

// maxDepth is the deepest call chain, as interp.MaxCallDepth.
const maxDepth = 8

// widenAfter is how many times a loop head's state may grow before it is
// widened.
const widenAfter = 2

// analyze computes the fixpoint of function f from state entry (whose
// deepest frame is f's) and returns the join of the states at its exits,
// nil if no path exits. chain lists the functions being analyzed.
func (v *verifier) analyze(f *function, entry *state, chain []*function) (*state, error) {
	if slices.Contains(chain, f) {
		return nil, reject(f.entry, v.insns[v.at[f.entry]], "recursive call of the function at %d", f.entry)
	}
	if len(chain) >= maxDepth {
		return nil, reject(f.entry, v.insns[v.at[f.entry]], "call chain deeper than %d", maxDepth)
	}
	chain = append(chain, f)
	n := len(f.blocks)
	// in[i] are the states at block i's entry not known to hold each
	// other: up to maxDisjuncts of them, so that a join does not lose what
	// tells two paths apart (a flag set with a bounds check, a length
	// set with the bytes it covers). Loop heads keep one state, widened.
	in := make([][]*state, n)
	entry.renumber()
	in[0] = []*state{entry}
	var exit *state
	err := v.fixpoint(f, in, 0, chain, func(ex *state) {
		if exit == nil {
			exit = ex
		} else {
			exit = join(exit, ex, &v.sets)
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	bound := uint64(unbounded)
	if v.permissive == nil { // the permissive analysis wants no bounds
		var err error
		if bound, err = v.bound(f, in, chain); err != nil {
			return nil, err
		}
	}
	v.lastBound = bound
	return exit, nil
}

// fixpoint runs f's blocks from the states in in, lowest block first from
// block next, until no block has a state it has not run: exit gets the
// states at exit instructions, and follow (nil: every one) picks the
// successor states added to in.
func (v *verifier) fixpoint(f *function, in [][]*state, next int, chain []*function, exit func(*state), follow func(s *block, o *state) bool) error {
	n := len(f.blocks)
	done := make([]int, n) // in[i][:done[i]] have been run
	visits := make([]int, n)
	for {
		for next < n && done[next] == len(in[next]) {
			next++
		}
		if next == n {
			return nil
		}
		b := f.blocks[next]
		st := in[next][done[next]].clone()
		done[next]++
		outs, ex, err := v.block(b, st, chain)
		if err != nil {
			return err
		}
		if ex != nil && exit != nil {
			exit(ex)
		}
		for k, o := range outs {
			s := b.succ[k]
			if o == nil || follow != nil && !follow(s, o) {
				continue
			}
			if v.add(s, o, in, done, visits) && s.rpo < next {
				next = s.rpo
			}
		}
	}
}

// maxDisjuncts is how many states a block that is not a loop head keeps
// before joining them.
const maxDisjuncts = 16

// add adds state o at the entry of block s and reports whether s has new
// states to run.
func (v *verifier) add(s *block, o *state, in [][]*state, done, visits []int) bool {
	i := s.rpo
	o.renumber()
	if len(in[i]) == 0 {
		in[i] = append(in[i], o)
		return true
	}
	if s.head {
		old := in[i][0]
		j := join(old, o, &v.sets)
		if j.equal(old) {
			return false
		}
		visits[i]++
		if visits[i] > widenAfter {
			j = widen(old, j, &v.th)
			j.renumber()
			if j.equal(old) {
				return false
			}
		}
		in[i] = []*state{j}
		done[i] = 0
		return true
	}
	for _, x := range in[i] {
		if x.equal(o) || join(x, o, &v.sets).equal(x) {
			return false // nothing new
		}
	}
	// A state alike in what tells paths apart (the kinds of the registers
	// and their constants) joins the state it is alike to.
	sig := o.signature()
	for k, x := range in[i] {
		if x.signature() != sig {
			continue
		}
		j := join(x, o, &v.sets)
		in[i] = append(in[i][:k:k], in[i][k+1:]...)
		if k < done[i] {
			done[i]--
		}
		in[i] = append(in[i], j)
		return true
	}
	if len(in[i]) < maxDisjuncts {
		in[i] = append(in[i], o)
		return true
	}
	j := o
	for _, x := range in[i] {
		j = join(j, x, &v.sets)
	}
	in[i] = []*state{j}
	done[i] = 0
	return true
}

// heapSample is the metric heapBytes reads.
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapBytes returns the bytes of the process's live and unswept heap
// objects.
func heapBytes() uint64 {
	s := slices.Clone(heapSample)
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// block runs block b from state st. It returns the states for b's
// successors (nil where a branch cannot be taken) and the state at the
// exit if the block ends in one.
func (v *verifier) block(b *block, st *state, chain []*function) ([]*state, *state, error) {
	for i := b.start; i < b.end; i++ {
		v.steps++
		if v.steps > v.maxSteps {
			return nil, nil, &Error{PC: v.slotOf[i], Insn: v.insns[i], Reason: fmt.Sprintf("too complex: more than %d instructions processed", v.maxSteps), Kind: ErrTooComplex}
		}
		if v.steps&0xfff == 0 && !v.deadline.IsZero() && time.Now().After(v.deadline) {
			return nil, nil, &Error{PC: v.slotOf[i], Insn: v.insns[i], Reason: fmt.Sprintf("too complex: verification took longer than %v", v.cfg.Timeout), Kind: ErrTooComplex}
		}
		if v.steps&0x3ff == 0 && v.cfg.MemoryLimit > 0 && heapBytes() > v.cfg.MemoryLimit {
			return nil, nil, &Error{PC: v.slotOf[i], Insn: v.insns[i], Reason: fmt.Sprintf("too complex: verification needs more than its %d MiB of memory", v.cfg.MemoryLimit>>20), Kind: ErrTooComplex}
		}
		pc := v.slotOf[i]
		ins := v.insns[i]
		if v.cfg.Log != nil && v.cfg.LogLevel > 0 {
			fmt.Fprintf(v.cfg.Log, "%d: %v\t; %s\n", pc, ins, st.describe())
		}
		if i+1 < b.end && zeroExtends(ins, v.insns[i+1]) {
			if r := st.regs[ins.Dst]; r.kind == kindScalar && r.smin >= 0 && r.umax <= math.MaxUint32 {
				// r <<= 32; r >>= 32 (clang's zero extension of a u32)
				// leaves a value below 2^32 as it is, and linked to its
				// copies: a loop's u32 counter tested through it keeps
				// its bounds.
				v.steps++
				i++
				continue
			}
		}
		op := ins.OpCode
		var pre *state // permissive: the state to havoc if ins fails
		if v.permissive != nil {
			pre = st.clone()
		}
		switch {
		case op == isa.OpExit:
			if err := v.exit(st, pc, ins, len(chain) == 1); err != nil {
				if err = v.survive(pc, err); err != nil {
					return nil, nil, err
				}
				st.regs[0] = ctxOrUnknown(st.regs[0])
			}
			return nil, st, nil
		case op == isa.OpJA || op == isa.OpJA32:
			return []*state{st}, nil, nil
		case op.Class().IsJump() && op.JumpOp().IsConditional():
			taken, fall, err := v.branch(st, pc, ins)
			if err != nil {
				if err = v.survive(pc, err); err != nil {
					return nil, nil, err
				}
				return []*state{pre, pre.clone()}, nil, nil
			}
			return []*state{fall, taken}, nil, nil
		default:
			ok, err := v.step(st, pc, ins, chain)
			if err != nil {
				if err = v.survive(pc, err); err != nil {
					return nil, nil, err
				}
				st, ok = v.havoc(pre, ins), true
			}
			if !ok {
				return nil, nil, nil // the path ends here (a tail call that cannot fail)
			}
		}
	}
	return []*state{st}, nil, nil
}

// zeroExtends reports whether a, b are "r <<= 32; r >>= 32" on one
// register: a zero extension of its low 32 bits.
func zeroExtends(a, b isa.Instruction) bool {
	lsh := isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.SourceImm) | isa.OpCode(isa.LSh)
	rsh := isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.SourceImm) | isa.OpCode(isa.RSh)
	return a.OpCode == lsh && b.OpCode == rsh && a.Dst == b.Dst && a.Constant == 32 && b.Constant == 32 && a.Offset == 0 && b.Offset == 0
}

// exit checks the state at an exit instruction.
func (v *verifier) exit(st *state, pc int, ins isa.Instruction, main bool) error {
	r0 := st.regs[0]
	if r0.kind == kindUninit {
		return reject(pc, ins, "r0 is not initialized at exit")
	}
	if !main {
		if r0.kind == kindStack && int(r0.aux) == len(st.frames)-1 {
			return reject(pc, ins, "returns a pointer to its own stack: r0 is %v", r0)
		}
		return nil
	}
	if r0.kind != kindScalar {
		return reject(pc, ins, "leaks a pointer as the return value: r0 is %v", r0)
	}
	if rr := v.cfg.Returns; rr != nil {
		if lo, hi := r0.low32(); lo < uint64(rr[0]) || hi > uint64(rr[1]) {
			return reject(pc, ins, "may return a value outside [%d, %d], the values of this program type: r0 is %v", rr[0], rr[1], r0)
		}
	}
	if st.lock != 0 {
		return reject(pc, ins, "exits holding the bpf_spin_lock of map %s", v.mapName(st.lock-1))
	}
	if len(st.refs) > 0 {
		return reject(pc, ins, "exits with a ring-buffer record neither submitted nor discarded")
	}
	return nil
}

// signature sums up what most often tells paths apart: each register's
// kind, whether a pointer may be NULL, and the value of constants.
func (s *state) signature() string {
	var b [11 * 10]byte
	for i, r := range s.regs {
		b[i*10] = byte(r.kind)
		if r.null {
			b[i*10+1] = 1
		}
		if r.kind == kindScalar && r.isConst() {
			b[i*10+1] = 2
			binary.LittleEndian.PutUint64(b[i*10+2:], r.umin)
		}
	}
	return string(b[:])
}

// describe prints the state's initialized registers.
func (s *state) describe() string {
	var b strings.Builder
	for i, r := range s.regs {
		if r.kind == kindUninit {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "r%d=%v", i, r)
		if r.id != 0 {
			fmt.Fprintf(&b, "#%d", r.id)
		}
	}
	if len(s.frames) > 0 {
		fr := s.frames[len(s.frames)-1]
		for i := len(fr.slots) - 1; i >= 0; i-- {
			sl := &fr.slots[i]
			if sl.v.kind == kindUninit {
				continue
			}
			fmt.Fprintf(&b, " fp%d=%v", -512+8*i+int(sl.vo), sl.v)
			if sl.v.id != 0 {
				fmt.Fprintf(&b, "#%d", sl.v.id)
			}
		}
	}
	if s.pmin > 0 {
		fmt.Fprintf(&b, " packet>=%d", s.pmin)
	}
	return b.String()
}

var _ = math.MaxInt64
