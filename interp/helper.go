package interp

import "fmt"

// HelperCall is what a helper sees of the run that called it. It is valid
// only during the helper call.
//
// In checked mode every argument register carries the tag of the object it
// points into (see the package documentation); a helper reads and writes
// program memory only through ArgMemory (or Memory, for addresses that are
// not arguments), accepts map pointers only as handles (ArgHandle), and
// registers every pointer it hands to the program (Object, Return). In
// fast mode the program is trusted and these checks pass.
type HelperCall struct {
	// Args are r1-r5 at the call.
	Args [5]uint64

	argTags [5]Tag
	retTag  Tag
	m       *machine
	p       *Program
	env     *Env
	checked bool
	depth   int
	stop    bool
	tail    *Program
	tailCtx uint64
}

// TailCall makes the run continue, once the helper returns, with program
// next, r1 = ctx and a fresh stack, as bpf_tail_call does. The current
// program does not resume. A run may chain at most MaxTailCalls programs;
// next must expect the same environment as the current program.
func (c *HelperCall) TailCall(next *Program, ctx uint64) {
	c.tail, c.tailCtx, c.stop = next, ctx, true
}

// Call runs the program's function at code address fn (a value the program
// obtained from lddw src 4, such as a bpf_loop callback) with args in
// r1-r5, in a new frame below the current one, and returns its r0. The
// arguments are scalars in checked mode; CallWith passes pointers.
func (c *HelperCall) Call(fn uint64, args [5]uint64) (uint64, error) {
	return c.CallWith(fn, args, [5]Tag{})
}

// CallWith is Call with the tags of the arguments: NoTag for scalars, a
// tag from ArgTag or Object for pointers. The callee shares the run's
// instruction budget.
func (c *HelperCall) CallWith(fn uint64, args [5]uint64, tags [5]Tag) (uint64, error) {
	p := c.p
	pc, ok := p.localTarget(fn)
	if !ok {
		return 0, &Fault{Reason: ErrBadCallTarget, Addr: fn}
	}
	if c.depth+1 >= MaxCallDepth {
		return 0, &Fault{Reason: ErrCallDepth}
	}
	if c.checked {
		for _, t := range tags {
			if int(t) >= len(c.m.objs.list) {
				return 0, fmt.Errorf("callback argument: %w: tag %d", ErrBadPointer, t)
			}
		}
	}
	// The nested run reuses this HelperCall for its own helper calls:
	// save and restore what it holds.
	saved := *c
	var r0 uint64
	var err error
	if p.mode == Fast {
		r0, err = p.runFast(c.m, c.env, &args, &tags, pc, c.depth+1)
	} else {
		r0, err = p.runChecked(c.m, c.env, &args, &tags, pc, c.depth+1)
		c.m.objs.list[StackTag+Tag(c.depth+1)].disable()
		// A callback without jumps never meets the loop's budget check:
		// check at its return, so a helper calling it over and over
		// stops at the budget.
		if err == nil && c.m.executed > p.budget {
			err = p.fault(ErrBudgetExceeded, pc)
		}
	}
	*c = saved
	return r0, err
}

// Env returns the run's environment (its Context, regions and packet).
func (c *HelperCall) Env() *Env { return c.env }

// Checked reports whether the run is in checked mode.
func (c *HelperCall) Checked() bool { return c.checked }

// Stop ends the program after the helper returns, with the helper's return
// value as r0.
func (c *HelperCall) Stop() { c.stop = true }

// ArgTag returns the tag of argument i (0-4); NoTag in fast mode.
func (c *HelperCall) ArgTag(i int) Tag {
	if uint(i) >= 5 {
		return NoTag
	}
	return c.argTags[i]
}

// ArgObject returns the object argument i points into, in checked mode:
// its kind (the Region given to Object, Env.Regions or Config.Pointers,
// whose own Addr and Size may differ) and its place. It reports false for
// scalars, dead objects and fast mode.
func (c *HelperCall) ArgObject(i int) (kind *Region, addr, size uint64, ok bool) {
	if !c.checked || uint(i) >= 5 {
		return nil, 0, 0, false
	}
	o := &c.m.objs.list[c.argTags[i]]
	if c.argTags[i] == NoTag || o.dead || o.region == nil {
		return nil, 0, 0, false
	}
	return o.region, o.lo, o.size, true
}

// ArgHandle reports whether argument i is a handle (a map pointer) the
// program loaded or a helper returned, unchanged. Fast mode trusts it.
func (c *HelperCall) ArgHandle(i int) bool {
	if !c.checked {
		return true
	}
	if uint(i) >= 5 {
		return false
	}
	o := &c.m.objs.list[c.argTags[i]]
	return c.argTags[i] != NoTag && !o.dead && o.region != nil && o.region.Handle && o.lo == c.Args[i]
}

// ArgMemory returns size bytes of program memory at argument i. In checked
// mode they must lie inside the object argument i points into, writable if
// write is set, and touch none of its reserved spans; otherwise it returns
// a *Fault with ErrBadHelperMemory.
func (c *HelperCall) ArgMemory(i int, size uint64, write bool) ([]byte, error) {
	if uint(i) >= 5 {
		return nil, fmt.Errorf("argument %d: %w", i+1, ErrBadPointer)
	}
	addr := c.Args[i]
	if size == 0 {
		return nil, nil
	}
	if c.checked && !c.objectAllows(c.argTags[i], addr, size, write) {
		return nil, c.memoryFault(c.argTags[i], addr, size, write)
	}
	return bytesAt(addr, size), nil
}

// Memory returns size bytes of program memory at addr, for addresses a
// helper finds in program memory rather than in an argument register (a
// format string's %s argument). In checked mode the range must lie in one
// object of the run (writable, if write is set); otherwise it returns a
// *Fault with ErrBadHelperMemory.
func (c *HelperCall) Memory(addr, size uint64, write bool) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if c.checked && !c.allowed(addr, size, write) {
		return nil, c.memoryFault(NoTag, addr, size, write)
	}
	return bytesAt(addr, size), nil
}

// CString returns the NUL-terminated string at addr, reading at most max
// bytes, with the same checks as Memory.
func (c *HelperCall) CString(addr uint64, max int) ([]byte, error) {
	for n := uint64(0); n < uint64(max); n++ {
		b, err := c.Memory(addr+n, 1, false)
		if err != nil {
			return nil, err
		}
		if b[0] == 0 {
			return bytesAt(addr, n), nil
		}
	}
	return bytesAt(addr, uint64(max)), nil
}

// objectAllows reports whether [addr, addr+size) lies in the object of tag
// t, is writable if write is set, and avoids its reserved spans. Contexts
// with fields allow helpers no direct access.
func (c *HelperCall) objectAllows(t Tag, addr, size uint64, write bool) bool {
	if int(t) >= len(c.m.objs.list) {
		return false
	}
	o := &c.m.objs.list[t]
	if !o.contains(addr, size) || o.region == nil || o.region.Fields != nil || o.region.Handle || write && !o.region.Writable {
		return false
	}
	if o.region.touchesReserved(addr-o.lo, size) {
		return false
	}
	if write {
		c.m.wroteRange(t, addr, size)
	}
	return true
}

// allowed reports whether some object of the run allows the access.
func (c *HelperCall) allowed(addr, size uint64, write bool) bool {
	for t := range c.m.objs.list {
		if o := &c.m.objs.list[t]; o.contains(addr, size) && c.objectAllows(Tag(t), addr, size, write) {
			return true
		}
	}
	return false
}

func (c *HelperCall) memoryFault(t Tag, addr, size uint64, write bool) *Fault {
	f := c.p.objectFault(c.m, 0, t, addr, size, write, ErrBadHelperMemory)
	f.PC, f.Insn = 0, c.p.insnAt(-1)
	return f
}

// Probe returns size bytes of program memory at addr if the range lies in
// an object of the run, whatever the mode, and false otherwise. It is for
// helpers whose pointer arguments no verifier checks, such as
// bpf_probe_read, which must fail softly instead of faulting.
func (c *HelperCall) Probe(addr, size uint64) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	if !c.checked {
		// Fast mode has no object table: only the current stack is
		// known to be the run's.
		top := c.m.top
		if span := uint64(c.depth+1) * StackSize; addr >= top-span && size <= span && addr-(top-span) <= span-size {
			return bytesAt(addr, size), true
		}
		for i := range c.env.Regions {
			if r := &c.env.Regions[i]; !r.Handle && r.Fields == nil && addr >= r.Addr && size <= r.Size && addr-r.Addr <= r.Size-size {
				return bytesAt(addr, size), true
			}
		}
		return nil, false
	}
	if !c.allowed(addr, size, false) {
		return nil, false
	}
	return bytesAt(addr, size), true
}

// Object registers the object [addr, addr+size) of kind r (whose Addr and
// Size are ignored; r must outlive the run) and returns its tag, for a
// pointer the helper hands to the program: a return value (Return) or a
// callback argument (CallWith). A handle (r.Handle) has size 0. In fast
// mode it returns NoTag.
func (c *HelperCall) Object(r *Region, addr, size uint64) (Tag, error) {
	if !c.checked {
		return NoTag, nil
	}
	if r.Handle {
		size = 0
	}
	return c.m.add(r, addr, size)
}

// Return makes r0 carry tag t after the helper returns (NoTag: a scalar,
// the default).
func (c *HelperCall) Return(t Tag) { c.retTag = t }

// Kill ends the object of tag t: every pointer into it faults from now on
// (a submitted ring-buffer record). Stack frames and NoTag cannot be
// killed.
func (c *HelperCall) Kill(t Tag) {
	if c.checked && t >= firstRegionTag && int(t) < len(c.m.objs.list) {
		c.m.objs.list[t].kill()
	}
}

// Alive reports whether tag t names a live object.
func (c *HelperCall) Alive(t Tag) bool {
	if !c.checked {
		return true
	}
	return t != NoTag && int(t) < len(c.m.objs.list) && !c.m.objs.list[t].dead
}

// MoveRegion moves region i of the run's Env to [addr, addr+size), as a
// helper that moves the packet does: in checked mode pointers into the
// region's old place fault from now on, as Linux's verifier invalidates
// packet pointers after such a helper; context fields pointing into the
// region load pointers to its new place. It is Env.MoveRegion.
func (c *HelperCall) MoveRegion(i int, addr, size uint64) error {
	return c.env.MoveRegion(i, addr, size)
}

// MoveRegion moves region i to [addr, addr+size). During a run (from a
// helper) it does what HelperCall.MoveRegion says; outside one it only
// changes the region.
func (env *Env) MoveRegion(i int, addr, size uint64) error {
	if env.m == nil || !env.m.call.checked {
		if i < 0 || i >= len(env.Regions) {
			return fmt.Errorf("move region %d: the run has %d regions", i, len(env.Regions))
		}
		env.Regions[i].Addr, env.Regions[i].Size = addr, size
		return nil
	}
	return env.m.moveRegion(env, i, addr, size)
}
