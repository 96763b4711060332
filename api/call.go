package api

import "fmt"

// Helper implements one helper function. It returns r0, or an error that
// ends the run.
type Helper func(c *HelperCall) (uint64, error)

// HelperCall is what a helper sees of the run that called it. It is valid
// only during the helper call.
//
// In checked mode every argument register carries the tag of the object it
// points into (see package interp's documentation); a helper reads and
// writes program memory only through ArgMemory (or Memory, for addresses
// that are not arguments), accepts map pointers only as handles
// (ArgHandle), and registers every pointer it hands to the program
// (Object, Return). In fast mode the program is trusted and these checks
// pass.
//
// The arguments, their tags and what the helper asks of the run (Stop,
// Return, TailCall) live here, so that the common calls of fast mode and
// the tag reads of checked mode cost no indirection; what needs the run's
// object table, its stack or its program goes through the Runtime that
// made the call.
type HelperCall struct {
	// Args are r1-r5 at the call.
	Args [5]uint64

	tags    [5]Tag
	ret     Tag
	checked bool
	stop    bool
	env     *Env
	rt      Runtime
	tail    Program
	tailCtx uint64
}

// Runtime is the runtime's side of a HelperCall: the part of the run in
// progress that HelperCall's methods reach and a helper does not, the
// object table of checked mode above all. Package interp implements it;
// helpers call HelperCall's methods instead, which check the mode and the
// argument numbers first.
type Runtime interface {
	// Call runs the program's function at code address fn with args in
	// r1-r5, tagged tags in checked mode, below the current frame, and
	// returns its r0 (HelperCall.CallWith).
	Call(fn uint64, args [5]uint64, tags [5]Tag) (uint64, error)
	// Object returns the kind and place of the object of tag t, and
	// false for NoTag, a tag the run did not make and a dead object.
	Object(t Tag) (kind *Region, addr, size uint64, ok bool)
	// CheckArg returns nil if [addr, addr+size) lies in the object of
	// tag t, is writable if write is set and touches none of its
	// reserved spans, and a *Fault with ErrBadHelperMemory otherwise.
	CheckArg(t Tag, addr, size uint64, write bool) error
	// CheckMemory is CheckArg against whichever object of the run holds
	// the range.
	CheckMemory(addr, size uint64, write bool) error
	// Probe reports whether [addr, addr+size) is memory of the run, in
	// either mode (HelperCall.Probe).
	Probe(addr, size uint64) bool
	// AddObject registers the object [addr, addr+size) of kind kind and
	// returns its tag (HelperCall.Object).
	AddObject(kind *Region, addr, size uint64) (Tag, error)
	// Kill ends the object of tag t (HelperCall.Kill).
	Kill(t Tag)
	// MoveRegion moves region i of the run's Env in checked mode
	// (HelperCall.MoveRegion).
	MoveRegion(i int, addr, size uint64) error
}

// TailCall makes the run continue, once the helper returns, with program
// next, r1 = ctx and a fresh stack, as bpf_tail_call does. The current
// program does not resume. A run may chain at most interp.MaxTailCalls
// programs; next must be a program of the runtime making the call (for
// interp, a *interp.Program compiled for the same mode) and expect the
// same environment as the current program, or the run ends with
// ErrBadCallTarget.
func (c *HelperCall) TailCall(next Program, ctx uint64) {
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
	return c.rt.Call(fn, args, tags)
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
	return c.tags[i]
}

// ArgObject returns the object argument i points into, in checked mode:
// its kind (the Region given to Object, Env.Regions or interp's
// Config.Pointers, whose own Addr and Size may differ) and its place. It
// reports false for scalars, dead objects and fast mode.
func (c *HelperCall) ArgObject(i int) (kind *Region, addr, size uint64, ok bool) {
	if !c.checked || uint(i) >= 5 {
		return nil, 0, 0, false
	}
	return c.rt.Object(c.tags[i])
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
	r, lo, _, ok := c.rt.Object(c.tags[i])
	return ok && r.Handle && lo == c.Args[i]
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
	if c.checked {
		if err := c.rt.CheckArg(c.tags[i], addr, size, write); err != nil {
			return nil, err
		}
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
	if c.checked {
		if err := c.rt.CheckMemory(addr, size, write); err != nil {
			return nil, err
		}
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

// Probe returns size bytes of program memory at addr if the range lies in
// an object of the run, whatever the mode, and false otherwise. It is for
// helpers whose pointer arguments no verifier checks, such as
// bpf_probe_read, which must fail softly instead of faulting.
func (c *HelperCall) Probe(addr, size uint64) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	if !c.rt.Probe(addr, size) {
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
	return c.rt.AddObject(r, addr, size)
}

// Return makes r0 carry tag t after the helper returns (NoTag: a scalar,
// the default).
func (c *HelperCall) Return(t Tag) { c.ret = t }

// Kill ends the object of tag t: every pointer into it faults from now on
// (a submitted ring-buffer record). Stack frames and NoTag cannot be
// killed.
func (c *HelperCall) Kill(t Tag) {
	if c.checked {
		c.rt.Kill(t)
	}
}

// Alive reports whether tag t names a live object.
func (c *HelperCall) Alive(t Tag) bool {
	if !c.checked {
		return true
	}
	_, _, _, ok := c.rt.Object(t)
	return ok
}

// MoveRegion moves region i of the run's Env to [addr, addr+size), as a
// helper that moves the packet does: in checked mode pointers into the
// region's old place fault from now on, as Linux's verifier invalidates
// packet pointers after such a helper; context fields pointing into the
// region load pointers to its new place.
func (c *HelperCall) MoveRegion(i int, addr, size uint64) error {
	if c.checked {
		return c.rt.MoveRegion(i, addr, size)
	}
	if i < 0 || i >= len(c.env.Regions) {
		return fmt.Errorf("move region %d: the run has %d regions", i, len(c.env.Regions))
	}
	c.env.Regions[i].Addr, c.env.Regions[i].Size = addr, size
	return nil
}

// Caller is a runtime's side of the HelperCall it hands its helpers: it
// readies the call, makes it, and reads what the helper asked of the run.
// A runtime keeps one per machine, Init'ed with itself; helpers never see
// it. Copying a Caller saves the call's state (a runtime running a
// callback from inside a helper saves and restores it around the nested
// run).
type Caller struct {
	call HelperCall
}

// Init makes the calls reach rt.
func (k *Caller) Init(rt Runtime) { k.call.rt = rt }

// Enter readies the calls of a run in env, checked or not.
func (k *Caller) Enter(env *Env, checked bool) {
	k.call.env, k.call.checked = env, checked
}

// Call calls h from the run entered last with r1-r5 = args tagged tags,
// and returns its r0 and error. Stopped and ReturnTag tell the rest.
func (k *Caller) Call(h Helper, args [5]uint64, tags [5]Tag) (uint64, error) {
	c := &k.call
	c.Args, c.tags, c.stop, c.ret = args, tags, false, NoTag
	return h(c)
}

// CallFast calls h from the fast run entered last with r1-r5 = args, and
// returns its r0, whether it stopped the program, and its error. It leaves
// the tags alone: a fast run has none.
func (k *Caller) CallFast(h Helper, args [5]uint64) (uint64, bool, error) {
	c := &k.call
	c.Args, c.stop = args, false
	r0, err := h(c)
	return r0, c.stop, err
}

// Env returns the environment of the run entered last.
func (k *Caller) Env() *Env { return k.call.env }

// Checked reports whether the run entered last is checked.
func (k *Caller) Checked() bool { return k.call.checked }

// Stopped reports whether the last helper called ended the program (Stop
// or TailCall).
func (k *Caller) Stopped() bool { return k.call.stop }

// ReturnTag returns the tag the last helper gave r0 (Return), which the
// runtime must check is one of the run's.
func (k *Caller) ReturnTag() Tag { return k.call.ret }

// TailCall returns the program a helper asked the run to continue with
// and its r1, or nil.
func (k *Caller) TailCall() (next Program, ctx uint64) { return k.call.tail, k.call.tailCtx }

// ClearTailCall forgets the tail call asked for.
func (k *Caller) ClearTailCall() { k.call.tail = nil }

// End drops the references of the last run (its Env and tail call), so
// that a pooled machine keeps nothing of it alive.
func (k *Caller) End() { k.call.env, k.call.tail = nil, nil }
