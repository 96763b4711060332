package interp

import (
	"fmt"
	"unsafe"

	"github.com/xebpf/xebpf/api"
)

// Tags every checked run has besides api.NoTag (the scalar's).
const (
	// StackTag is the tag of the stack frame at depth 0; the frame at
	// depth d has StackTag+d.
	StackTag api.Tag = 1
	// firstRegionTag is the tag of Env.Regions[0] at the start of a run.
	firstRegionTag api.Tag = StackTag + api.MaxCallDepth
)

// MaxObjects bounds the objects one checked run may hold (the stack, the
// regions, the program's static objects and every distinct pointer helpers
// return: a run that looks up or walks over a million distinct map values
// reaches it). Reaching it ends the run with api.ErrTooManyObjects. A table
// that grew large is dropped when its run ends.
const MaxObjects = 1 << 20

// object is one entry of a run's object table. rsize and wsize are the
// sizes the inline checks use for reads and writes: the object's size, or
// 0 when every access must take the slow path (read-only objects for
// writes; contexts with fields, objects with reserved spans, handles and
// dead objects for both).
type object struct {
	lo           uint64
	rsize, wsize uint64
	size         uint64
	region       *api.Region // what the object is (its Addr and Size aside)
	dead         bool
}

// canRead reports whether n bytes at addr may be read without the slow
// path.
func (o *object) canRead(addr, n uint64) bool {
	d := addr - o.lo
	return d < o.rsize && o.rsize-d >= n
}

// canWrite reports whether n bytes at addr may be written without the
// slow path.
func (o *object) canWrite(addr, n uint64) bool {
	d := addr - o.lo
	return d < o.wsize && o.wsize-d >= n
}

// contains reports whether [addr, addr+n) lies in the object.
func (o *object) contains(addr, n uint64) bool {
	d := addr - o.lo
	return !o.dead && d <= o.size && o.size-d >= n
}

// set makes o the object [lo, lo+size) of kind r.
func (o *object) set(r *api.Region, lo, size uint64) {
	*o = object{lo: lo, size: size, region: r}
	if r.Handle {
		o.size = 0
		return
	}
	if r.Fields == nil && len(r.Reserved) == 0 {
		o.rsize = size
		if r.Writable {
			o.wsize = size
		}
	}
}

func (o *object) kill() {
	o.rsize, o.wsize, o.dead = 0, 0, true
}

// objects is a run's object table and the tags of its stack slots.
type objects struct {
	list []object
	// regionTag is the current tag of each region of Env.Regions: a
	// region that moves (the packet) gets a new tag, which kills the
	// pointers into its old place.
	regionTag []api.Tag
	// staticBase is the tag of the program's first static object.
	staticBase api.Tag
	// recent caches, by address, objects helpers registered, to reuse a
	// tag when a helper returns the same object again.
	recent     [64]api.Tag
	recentUsed bool
	// stack is the stack object's region.
	stack api.Region
}

const (
	slotCount = api.MaxCallDepth * api.StackSize / 8
	slotMask  = slotCount - 1
)

// begin resets the table for a run of p in env: the stack, env's regions
// and p's static objects, and returns the tags of the arguments.
func (m *machine) begin(p *Program, env *api.Env) [5]api.Tag {
	o := &m.objs
	if len(o.list) < int(firstRegionTag) {
		// First run on this machine: the scalar's object and one object
		// per frame, which later runs keep.
		o.stack = api.Region{Name: "stack frame", Writable: true}
		o.list = append(o.list[:0], object{})
		for d := range api.MaxCallDepth {
			o.list = append(o.list, object{})
			o.list[StackTag+api.Tag(d)].set(&o.stack, m.top-uint64(d+1)*api.StackSize, 0)
		}
	} else {
		for d := 0; d <= m.deepest; d++ { // the frames the last run entered
			o.list[StackTag+api.Tag(d)].disable()
		}
	}
	o.list = o.list[:firstRegionTag]
	o.regionTag = o.regionTag[:0]
	for i := range env.Regions {
		o.regionTag = append(o.regionTag, api.Tag(len(o.list)))
		o.list = append(o.list, object{})
		r := &env.Regions[i]
		o.list[len(o.list)-1].set(r, r.Addr, r.Size)
	}
	o.addStatic(p)
	if o.recentUsed {
		clear(o.recent[:])
		o.recentUsed = false
	}
	// A run never sees another run's stack: clear the frames the last
	// checked run on this machine used, and their slot tags.
	if m.deepest >= 0 {
		n := uint64(m.deepest+1) * api.StackSize
		clear(bytesAt(m.top-n, n))
		clear(m.slots[slotCount-n/8:])
		m.deepest = -1
	}
	var tags [5]api.Tag
	for k, a := range env.Args {
		if a != 0 {
			tags[k] = o.regionOf(env, a)
		}
	}
	return tags
}

// regionOf returns the tag of the region of env whose memory a points
// into (or one past its end), or NoTag.
func (o *objects) regionOf(env *api.Env, a uint64) api.Tag {
	for i := range env.Regions {
		if r := &env.Regions[i]; !r.Handle && a >= r.Addr && a-r.Addr < r.Size {
			return o.regionTag[i]
		}
	}
	for i := range env.Regions {
		if r := &env.Regions[i]; !r.Handle && r.Addr != 0 && a == r.Addr+r.Size {
			return o.regionTag[i]
		}
	}
	return api.NoTag
}

// enterFrame makes frame depth accessible, for a run starting there.
func (m *machine) enterFrame(depth int) {
	m.objs.list[StackTag+api.Tag(depth)].enable()
	if depth > m.deepest {
		m.deepest = depth
	}
}

// enable makes a frame object accessible: its frame is in use.
func (o *object) enable() { o.rsize, o.wsize, o.size = api.StackSize, api.StackSize, api.StackSize }

// disable makes a frame object inaccessible: its function returned.
func (o *object) disable() { o.rsize, o.wsize, o.size = 0, 0, 0 }

// stackBase is the lowest address of the deepest frame.
func (m *machine) stackBase() uint64 { return m.top - api.MaxCallDepth*api.StackSize }

// addStatic appends p's static objects.
func (o *objects) addStatic(p *Program) {
	o.staticBase = api.Tag(len(o.list))
	for i := range p.static {
		r := &p.static[i]
		o.list = append(o.list, object{})
		o.list[len(o.list)-1].set(r, r.Addr, r.Size)
	}
}

// wroteRange records a store of n bytes at addr through tag t, for
// stores of any length (helpers writing program memory).
func (m *machine) wroteRange(t api.Tag, addr, n uint64) {
	if t-StackTag >= api.MaxCallDepth || n == 0 {
		return
	}
	b := m.stackBase()
	for s := (addr - b) >> 3; s <= (addr+n-1-b)>>3 && s < slotCount; s++ {
		m.slots[s] = api.NoTag
	}
}

// add appends the object [lo, lo+size) of kind r and returns its tag; a
// live object with the same place and kind is reused.
func (m *machine) add(r *api.Region, lo, size uint64) (api.Tag, error) {
	o := &m.objs
	h := (lo>>3 ^ lo>>11) & uint64(len(o.recent)-1)
	if t := o.recent[h]; t != api.NoTag && int(t) < len(o.list) {
		if x := &o.list[t]; !x.dead && x.lo == lo && x.size == size && x.region == r {
			return t, nil
		}
	}
	if len(o.list) >= MaxObjects {
		return api.NoTag, &api.Fault{Reason: api.ErrTooManyObjects}
	}
	t := api.Tag(len(o.list))
	o.list = append(o.list, object{})
	o.list[t].set(r, lo, size)
	o.recent[h], o.recentUsed = t, true
	return t, nil
}

// end drops the run's references to regions and objects, so that a
// pooled machine keeps nothing of its last run alive.
func (m *machine) end() {
	o := &m.objs
	if len(o.list) <= int(firstRegionTag) {
		return
	}
	clear(o.list[firstRegionTag:])
	o.list = o.list[:firstRegionTag]
	if cap(o.list) > 1<<12 { // a run with many objects: do not keep its table
		o.list = nil
	}
}

// tailCall resets the table for next, which continues the run: the
// dynamic objects of the previous program go, the regions get their
// first tags back (at their current place), next's static objects come
// in, and the stack's slot tags are cleared.
func (m *machine) tailCall(next *Program, env *api.Env, ctx uint64) api.Tag {
	o := &m.objs
	o.list = o.list[:firstRegionTag+api.Tag(len(env.Regions))]
	for d := range api.MaxCallDepth {
		o.list[StackTag+api.Tag(d)].disable()
	}
	for i := range env.Regions {
		o.regionTag[i] = firstRegionTag + api.Tag(i)
		r := &env.Regions[i]
		o.list[o.regionTag[i]].set(r, r.Addr, r.Size)
	}
	o.addStatic(next)
	clear(o.recent[:])
	o.recentUsed = false
	clear(m.slots[:])
	return o.regionOf(env, ctx)
}

// moveRegion moves region i of env to [addr, addr+size) and gives it a new
// tag, so that pointers into its old place fault.
func (m *machine) moveRegion(env *api.Env, i int, addr, size uint64) error {
	if i < 0 || i >= len(env.Regions) {
		return fmt.Errorf("move region %d: the run has %d regions", i, len(env.Regions))
	}
	r := &env.Regions[i]
	r.Addr, r.Size = addr, size
	o := &m.objs
	if len(o.list) >= MaxObjects {
		return &api.Fault{Reason: api.ErrTooManyObjects}
	}
	if i < len(o.regionTag) {
		o.list[o.regionTag[i]].kill()
		o.regionTag[i] = api.Tag(len(o.list))
		o.list = append(o.list, object{})
		o.list[len(o.list)-1].set(r, addr, size)
	}
	return nil
}

// slowAccess performs, or refuses, a memory access the inline checks did
// not allow: context fields, reserved spans, read-only objects and every
// out-of-bounds access. It returns the loaded value and its tag.
func (p *Program) slowAccess(m *machine, pc int, t api.Tag, addr, n uint64, write bool, store func(addr uint64)) (uint64, api.Tag, *api.Fault) {
	o := &m.objs.list[t]
	if o.contains(addr, n) {
		r := o.region
		off := addr - o.lo
		switch {
		case r.Fields != nil:
			f, ok := r.Fields.Access(off, n, write)
			if !ok {
				return 0, 0, p.objectFault(m, pc, t, addr, n, write, api.ErrBadContextAccess)
			}
			if write {
				store(addr)
				return 0, 0, nil
			}
			v := loadN(addr, n)
			if f.Points >= 0 && f.Points < len(m.objs.regionTag) {
				return v, m.objs.regionTag[f.Points], nil
			}
			return v, api.NoTag, nil
		case write && !r.Writable:
			return 0, 0, p.objectFault(m, pc, t, addr, n, write, api.ErrReadOnly)
		default:
			if r.TouchesReserved(off, n) {
				return 0, 0, p.objectFault(m, pc, t, addr, n, write, api.ErrReservedField)
			}
			if write {
				store(addr)
				return 0, 0, nil
			}
			return loadN(addr, n), api.NoTag, nil
		}
	}
	return 0, 0, p.objectFault(m, pc, t, addr, n, write, api.ErrOutOfBounds)
}

func loadN(addr, n uint64) uint64 {
	switch n {
	case 1:
		return load8(addr)
	case 2:
		return load16(addr)
	case 4:
		return load32(addr)
	}
	return load64(addr)
}

// objectFault builds the fault of an access through tag t.
func (p *Program) objectFault(m *machine, pc int, t api.Tag, addr, n uint64, write bool, reason *api.Reason) *api.Fault {
	f := p.fault(reason, pc)
	f.Addr, f.Size, f.Write = addr, int(n), write
	o := &m.objs.list[t]
	switch {
	case t == api.NoTag:
		f.Object = "a scalar (not a pointer)"
	case o.dead:
		f.Object = fmt.Sprintf("%s (no longer valid)", o.region.Name)
		f.Regions = []api.Region{*o.region}
	case o.region.Handle:
		f.Object = fmt.Sprintf("%s (a handle, not memory)", o.region.Name)
	default:
		r := *o.region
		r.Addr, r.Size = o.lo, o.size
		f.Object = r.Name
		f.Regions = []api.Region{r}
	}
	return f
}

// codeIndex returns the slot of in within p's code.
func (p *Program) codeIndex(in *insn) int {
	return int((uintptr(unsafe.Pointer(in)) - uintptr(unsafe.Pointer(&p.code[0]))) / unsafe.Sizeof(insn{}))
}
