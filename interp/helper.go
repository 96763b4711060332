package interp

import (
	"fmt"

	"github.com/xebpf/xebpf/api"
)

// A machine is the api.Runtime of the helper calls made on it: the
// methods below are what api.HelperCall's methods reach of the run in
// progress. m.call holds the call's arguments and tags; m.p and m.depth
// are the calling program and frame.
var _ api.Runtime = (*machine)(nil)

// Call runs the function at code address fn of the calling program, for
// api.HelperCall.CallWith.
func (m *machine) Call(fn uint64, args [5]uint64, tags [5]api.Tag) (uint64, error) {
	p, depth := m.p, m.depth
	pc, ok := p.localTarget(fn)
	if !ok {
		return 0, &api.Fault{Reason: api.ErrBadCallTarget, Addr: fn}
	}
	if depth+1 >= api.MaxCallDepth {
		return 0, &api.Fault{Reason: api.ErrCallDepth}
	}
	checked := m.call.Checked()
	if checked {
		for _, t := range tags {
			if int(t) >= len(m.objs.list) {
				return 0, fmt.Errorf("callback argument: %w: tag %d", api.ErrBadPointer, t)
			}
		}
	}
	// The nested run makes its own helper calls on this machine: save
	// and restore the call in progress.
	saved := m.call
	env := m.call.Env()
	var r0 uint64
	var err error
	if p.mode == Fast {
		r0, err = p.runFast(m, env, &args, &tags, pc, depth+1)
	} else {
		r0, err = p.runChecked(m, env, &args, &tags, pc, depth+1)
		m.objs.list[StackTag+api.Tag(depth+1)].disable()
		// A callback without jumps never meets the loop's budget check:
		// check at its return, so a helper calling it over and over
		// stops at the budget.
		if err == nil && m.executed > p.budget {
			err = p.fault(api.ErrBudgetExceeded, pc)
		}
	}
	m.call, m.p, m.depth = saved, p, depth
	return r0, err
}

// Object returns the object of tag t, for api.HelperCall.ArgObject,
// ArgHandle and Alive.
func (m *machine) Object(t api.Tag) (kind *api.Region, addr, size uint64, ok bool) {
	if t == api.NoTag || int(t) >= len(m.objs.list) {
		return nil, 0, 0, false
	}
	o := &m.objs.list[t]
	if o.dead || o.region == nil {
		return nil, 0, 0, false
	}
	return o.region, o.lo, o.size, true
}

// CheckArg checks a helper's access through an argument tagged t, for
// api.HelperCall.ArgMemory.
func (m *machine) CheckArg(t api.Tag, addr, size uint64, write bool) error {
	if !m.objectAllows(t, addr, size, write) {
		return m.memoryFault(t, addr, size, write)
	}
	return nil
}

// CheckMemory checks a helper's access to memory it found in program
// memory, for api.HelperCall.Memory.
func (m *machine) CheckMemory(addr, size uint64, write bool) error {
	if !m.allowed(addr, size, write) {
		return m.memoryFault(api.NoTag, addr, size, write)
	}
	return nil
}

// objectAllows reports whether [addr, addr+size) lies in the object of tag
// t, is writable if write is set, and avoids its reserved spans. Contexts
// with fields allow helpers no direct access.
func (m *machine) objectAllows(t api.Tag, addr, size uint64, write bool) bool {
	if int(t) >= len(m.objs.list) {
		return false
	}
	o := &m.objs.list[t]
	if !o.contains(addr, size) || o.region == nil || o.region.Fields != nil || o.region.Handle || write && !o.region.Writable {
		return false
	}
	if o.region.TouchesReserved(addr-o.lo, size) {
		return false
	}
	if write {
		m.wroteRange(t, addr, size)
	}
	return true
}

// allowed reports whether some object of the run allows the access.
func (m *machine) allowed(addr, size uint64, write bool) bool {
	for t := range m.objs.list {
		if o := &m.objs.list[t]; o.contains(addr, size) && m.objectAllows(api.Tag(t), addr, size, write) {
			return true
		}
	}
	return false
}

func (m *machine) memoryFault(t api.Tag, addr, size uint64, write bool) *api.Fault {
	f := m.p.objectFault(m, 0, t, addr, size, write, api.ErrBadHelperMemory)
	f.PC, f.Insn = 0, m.p.InsnAt(-1)
	return f
}

// Probe reports whether [addr, addr+size) is memory of the run, for
// api.HelperCall.Probe.
func (m *machine) Probe(addr, size uint64) bool {
	if m.call.Checked() {
		return m.allowed(addr, size, false)
	}
	// Fast mode has no object table: only the current stack is known to
	// be the run's.
	top := m.top
	if span := uint64(m.depth+1) * api.StackSize; addr >= top-span && size <= span && addr-(top-span) <= span-size {
		return true
	}
	env := m.call.Env()
	for i := range env.Regions {
		if r := &env.Regions[i]; !r.Handle && r.Fields == nil && addr >= r.Addr && size <= r.Size && addr-r.Addr <= r.Size-size {
			return true
		}
	}
	return false
}

// AddObject registers an object a helper hands out, for
// api.HelperCall.Object.
func (m *machine) AddObject(kind *api.Region, addr, size uint64) (api.Tag, error) {
	return m.add(kind, addr, size)
}

// Kill ends the object of tag t, for api.HelperCall.Kill. Stack frames
// and NoTag cannot be killed.
func (m *machine) Kill(t api.Tag) {
	if t >= firstRegionTag && int(t) < len(m.objs.list) {
		m.objs.list[t].kill()
	}
}

// MoveRegion moves region i of the run's Env and gives it a new tag, for
// api.HelperCall.MoveRegion in checked mode.
func (m *machine) MoveRegion(i int, addr, size uint64) error {
	return m.moveRegion(m.call.Env(), i, addr, size)
}
