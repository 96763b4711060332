package interp

// HelperCall is what a helper sees of the run that called it. It is valid
// only during the helper call.
type HelperCall struct {
	// Args are r1-r5 at the call.
	Args [5]uint64

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
// r1-r5, in a new frame below the current one, and returns its r0.
func (c *HelperCall) Call(fn uint64, args [5]uint64) (uint64, error) {
	p := c.p
	pc, ok := p.localTarget(fn)
	if !ok {
		return 0, &Fault{Reason: ErrBadCallTarget, Addr: fn}
	}
	if c.depth+1 >= MaxCallDepth {
		return 0, &Fault{Reason: ErrCallDepth}
	}
	// The nested run reuses this HelperCall for its own helper calls:
	// save and restore what it holds.
	saved := *c
	var r0 uint64
	var err error
	if p.mode == Fast {
		r0, err = p.runFast(c.m, c.env, &args, pc, c.depth+1)
	} else {
		r0, err = p.runChecked(c.m, c.env, &args, pc, c.depth+1)
	}
	*c = saved
	return r0, err
}

// Env returns the run's environment (its Context, regions and packet).
func (c *HelperCall) Env() *Env { return c.env }

// Stop ends the program after the helper returns, with the helper's return
// value as r0.
func (c *HelperCall) Stop() { c.stop = true }

// Memory returns size bytes of program memory at addr. In checked mode the
// range must lie in the current stack or in a region of the run (writable,
// if write is set); otherwise it returns ErrBadHelperMemory.
func (c *HelperCall) Memory(addr, size uint64, write bool) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if c.checked && !c.allowed(addr, size, write) {
		return nil, &Fault{Reason: ErrBadHelperMemory, Addr: addr, Size: int(size), Write: write,
			Regions: append([]Region{c.m.stackRegion(c.depth)}, c.env.Regions...)}
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

func (c *HelperCall) allowed(addr, size uint64, write bool) bool {
	// The stack frames in use: [top - (depth+1)*StackSize, top).
	top := c.m.top
	if span := uint64(c.depth+1) * StackSize; addr >= top-span && size <= span && addr-(top-span) <= span-size {
		return true
	}
	return c.env.inRegions(addr, size, write)
}

// Probe returns size bytes of program memory at addr if the range lies in
// the current stack or in a readable region of the run, whatever the mode,
// and false otherwise. It is for helpers whose pointer arguments no
// verifier checks, such as bpf_probe_read, which must fail softly instead
// of faulting.
func (c *HelperCall) Probe(addr, size uint64) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	if !c.allowed(addr, size, false) {
		return nil, false
	}
	return bytesAt(addr, size), true
}
