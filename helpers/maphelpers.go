package helpers

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/maps"
)

// mapArg resolves the map pointer in argument register i. An unknown
// pointer is an error that ends the run: Linux's verifier only lets
// programs pass map pointers it loaded, so this is a fault in every mode
// rather than an -EINVAL a program could observe.
func mapArg(c *api.HelperCall, i int) (*Run, maps.Map, error) {
	r, err := runOf(c)
	if err != nil {
		return nil, nil, err
	}
	m, ok := r.Maps.Map(c.Args[i])
	if !ok || !c.ArgHandle(i) {
		// In checked mode a map pointer must be the very handle the
		// program loaded or a lookup returned, not a computed address.
		return nil, nil, fmt.Errorf("arg %d: %w: %#x", i+1, ErrBadMap, c.Args[i])
	}
	return r, m, nil
}

// progAccess reports whether a program may pass maps of type t to the
// generic element helpers (lookup, or update and delete), as the kernel's
// check_map_func_compatibility allows: DevMap, DevMapHash, XSKMap and
// maps of maps only to lookups, CPUMap, StackTrace, CgroupArray and
// ProgramArray to none of them (their own helpers use them; the host
// alone fills program arrays and maps of maps).
func progAccess(t maps.Type, update bool) bool {
	switch t {
	case maps.DevMap, maps.DevMapHash, maps.XSKMap, maps.ArrayOfMaps, maps.HashOfMaps:
		return !update
	case maps.CPUMap, maps.StackTrace, maps.CgroupArray, maps.ProgramArray:
		return false
	}
	return true
}

func wrongType(name string, m maps.Map) error {
	return fmt.Errorf("%s on %v map %q: %w", name, m.Type(), m.Spec().Name, ErrWrongMapType)
}

// changeable returns an error for a helper that changes the elements of
// the map in argument i when it is read-only for programs
// (BPF_F_RDONLY_PROG): Linux's verifier refuses update, delete, push and
// pop on such maps ("write into map forbidden").
func changeable(c *api.HelperCall, r *Run, i int, name string, m maps.Map) error {
	if r.Maps.kindsOf(c.Args[i]).readOnly {
		return fmt.Errorf("%s on map %q: %w", name, m.Spec().Name, ErrReadOnlyMap)
	}
	return nil
}

// bpf_map_lookup_elem: the value's address for the run's CPU, or 0. For
// maps of maps it returns the inner map's pointer, registering the inner
// map in the table on first use (0 if the table is full).
func mapLookupElem(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if !progAccess(m.Type(), false) {
		return 0, wrongType("map_lookup_elem", m)
	}
	return lookup(c, r, m, r.CPU)
}

func lookup(c *api.HelperCall, r *Run, m maps.Map, cpu int) (uint64, error) {
	key := c.Args[1]
	if _, err := c.ArgMemory(1, uint64(m.KeySize()), false); err != nil {
		return 0, err
	}
	if mm, ok := m.(maps.MapOfMaps); ok && (m.Type() == maps.ArrayOfMaps || m.Type() == maps.HashOfMaps) {
		inner := mm.LookupInner(uintptr(key))
		if inner == nil {
			return 0, nil
		}
		if _, err := r.Maps.Add(inner); err != nil {
			return 0, nil
		}
		a, kind, _ := r.Maps.Handle(inner)
		return a, returnObject(c, kind, a, 0)
	}
	v := uint64(m.LookupAddrCPU(cpu, uintptr(key)))
	if v == 0 {
		return 0, nil
	}
	return v, returnObject(c, &r.Maps.kindsOf(c.Args[0]).value, v, uint64(m.ValueSize()))
}

// returnObject makes r0 a pointer to the object [addr, addr+size) of kind
// k, in checked mode.
func returnObject(c *api.HelperCall, k *api.Region, addr, size uint64) error {
	t, err := c.Object(k, addr, size)
	if err != nil {
		return err
	}
	c.Return(t)
	return nil
}

// bpf_map_lookup_percpu_elem: the value of CPU cpu of a per-CPU map, or
// 0 when cpu is out of range.
func mapLookupPercpuElem(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if !m.Type().IsPerCPU() {
		return 0, wrongType("map_lookup_percpu_elem", m)
	}
	cpu := uint32(c.Args[2])
	if cpu >= uint32(maps.NumCPU()) {
		return 0, nil
	}
	return lookup(c, r, m, int(cpu))
}

// bpf_map_update_elem: per-CPU maps update the run's CPU only, as in Linux.
func mapUpdateElem(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if !progAccess(m.Type(), true) {
		return 0, wrongType("map_update_elem", m)
	}
	if err := changeable(c, r, 0, "map_update_elem", m); err != nil {
		return 0, err
	}
	key, val := c.Args[1], c.Args[2]
	if _, err := c.ArgMemory(1, uint64(m.KeySize()), false); err != nil {
		return 0, err
	}
	if _, err := c.ArgMemory(2, uint64(m.ValueSize()), false); err != nil {
		return 0, err
	}
	return uint64(m.UpdateAddrCPU(r.CPU, uintptr(key), uintptr(val), c.Args[3])), nil
}

// bpf_map_delete_elem.
func mapDeleteElem(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if !progAccess(m.Type(), true) {
		return 0, wrongType("map_delete_elem", m)
	}
	if err := changeable(c, r, 0, "map_delete_elem", m); err != nil {
		return 0, err
	}
	key := c.Args[1]
	if _, err := c.ArgMemory(1, uint64(m.KeySize()), false); err != nil {
		return 0, err
	}
	return uint64(m.DeleteAddr(uintptr(key))), nil
}

// bpf_map_push_elem.
func mapPushElem(c *api.HelperCall) (uint64, error) {
	return valueOp(c, "map_push_elem", false, func(m maps.Map, val uintptr) int64 { return m.PushAddr(val, c.Args[2]) })
}

// bpf_map_pop_elem.
func mapPopElem(c *api.HelperCall) (uint64, error) {
	return valueOp(c, "map_pop_elem", true, maps.Map.PopAddr)
}

// bpf_map_peek_elem.
func mapPeekElem(c *api.HelperCall) (uint64, error) {
	return valueOp(c, "", true, maps.Map.PeekAddr)
}

// valueOp runs op on the map in r1 with the value buffer in r2 (of the
// map's value size; written to if write is set), for the queue and stack
// helpers. A helper with a name changes the map.
func valueOp(c *api.HelperCall, name string, write bool, op func(m maps.Map, val uintptr) int64) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if name != "" {
		if err := changeable(c, r, 0, name, m); err != nil {
			return 0, err
		}
	}
	val := c.Args[1]
	if _, err := c.ArgMemory(1, uint64(m.ValueSize()), write); err != nil {
		return 0, err
	}
	return uint64(op(m, uintptr(val))), nil
}

// forEachTypes are the map types with a map_for_each_callback in Linux.
func forEachType(t maps.Type) bool {
	switch t {
	case maps.Array, maps.PerCPUArray, maps.Hash, maps.PerCPUHash, maps.LRUHash, maps.LRUCPUHash:
		return true
	}
	return false
}

// bpf_for_each_map_elem(map, callback, ctx, flags) calls
// callback(map, &key, &value, ctx) for each element until it returns
// non-zero, and returns the number of calls. The key is copied into the
// Run's scratch region (one slot per nesting level); the value pointer is
// the element's value for the run's CPU.
//
// Elements are walked with the map's NextKey order, the successor being
// fetched before the callback runs so that deleting the current element
// is safe. Linux walks buckets directly; deleting an element other than
// the current one may here restart the walk (NextKey of a deleted key
// yields the first key), so the walk is capped at 2*max_entries+1 steps.
func forEachMapElem(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 0)
	if err != nil {
		return 0, err
	}
	if !forEachType(m.Type()) {
		return 0, wrongType("for_each_map_elem", m)
	}
	mapPtr, fn, ctx := c.Args[0], c.Args[1], c.Args[2]
	kinds := r.Maps.kindsOf(mapPtr)
	if c.Args[3] != 0 {
		return errno(eINVAL), nil
	}
	if r.scratchB == nil {
		return 0, errors.New("for_each_map_elem: Run has no scratch memory (use NewRun)")
	}
	if r.nesting >= maxNesting {
		return 0, ErrCallbackNesting
	}
	ks := m.KeySize()
	slot := r.scratchB[r.nesting*2*keySlotSize:]
	cur, next := slot[:ks:ks], slot[keySlotSize:keySlotSize+ks:keySlotSize+ks]
	r.nesting++
	defer func() { r.nesting-- }()

	n := uint64(0)
	err = m.NextKey(nil, cur)
	for steps := 2*m.MaxEntries() + 1; err == nil && steps > 0; steps-- {
		errNext := m.NextKey(cur, next)
		if v := m.LookupAddrCPU(r.CPU, uintptr(addrOf(cur))); v != 0 {
			n++
			kt, err := c.Object(&kinds.key, addrOf(cur), uint64(ks))
			if err != nil {
				return 0, err
			}
			vt, err := c.Object(&kinds.value, uint64(v), uint64(m.ValueSize()))
			if err != nil {
				return 0, err
			}
			ret, cerr := c.CallWith(fn, [5]uint64{mapPtr, addrOf(cur), uint64(v), ctx},
				[5]api.Tag{c.ArgTag(0), kt, vt, c.ArgTag(2)})
			if cerr != nil {
				return 0, cerr
			}
			if ret != 0 {
				break
			}
		}
		if errNext != nil {
			break
		}
		copy(cur, next)
	}
	return n, nil
}

// bpfMaxLoops is BPF_MAX_LOOPS.
const bpfMaxLoops = 1 << 23

// bpf_loop(nr, callback, ctx, flags) calls callback(i, ctx) for i from 0
// until nr or until it returns non-zero, and returns the number of calls.
func loop(c *api.HelperCall) (uint64, error) {
	nr, fn, ctx, flags := uint32(c.Args[0]), c.Args[1], c.Args[2], c.Args[3]
	if flags != 0 {
		return errno(eINVAL), nil
	}
	if nr > bpfMaxLoops {
		return errno(e2BIG), nil
	}
	for i := uint32(0); i < nr; i++ {
		ret, err := c.CallWith(fn, [5]uint64{uint64(i), ctx}, [5]api.Tag{api.NoTag, c.ArgTag(2)})
		if err != nil {
			return 0, err
		}
		if ret != 0 {
			return uint64(i) + 1, nil
		}
	}
	return uint64(nr), nil
}

// maxTailCalls is MAX_TAIL_CALL_CNT.
const maxTailCalls = 33

// bpf_tail_call(ctx, prog_array, index): on success the program does not
// resume. On failure the program continues as in Linux; r0, undefined in
// Linux, is -E2BIG (index out of range), -EBUSY (33 tail calls made
// already) or -ENOENT (empty slot). Like the kernel, an attempt on an
// empty slot counts toward the limit.
func tailCall(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 1)
	if err != nil {
		return 0, err
	}
	// The context argument must be the run's context, as Linux's
	// ARG_PTR_TO_CTX: the next program starts with it in r1.
	if c.Checked() && (c.Args[0] != c.Env().Args[0] || !c.Alive(c.ArgTag(0))) {
		return 0, fmt.Errorf("tail_call: %w: %#x", ErrBadContext, c.Args[0])
	}
	pa, ok := m.(maps.ProgramArrayMap)
	if !ok || m.Type() != maps.ProgramArray {
		return 0, wrongType("tail_call", m)
	}
	idx := uint32(c.Args[2])
	if idx >= uint32(m.MaxEntries()) {
		return errno(e2BIG), nil
	}
	if r.tailCalls >= maxTailCalls {
		return errno(maps.EBUSY), nil
	}
	r.tailCalls++
	next := pa.Program(idx)
	if next == nil {
		return errno(eNOENT), nil
	}
	c.TailCall(next, c.Args[0])
	return 0, nil
}

// bpf_spin_lock. As Linux's verifier requires, the argument must point at
// the struct bpf_spin_lock of a map value (checked mode: the value object
// of a map whose BTF value type has one, at exactly its offset), and a run
// holds at most one lock: taking a second one, releasing one not held,
// calling another helper while holding one (see Set) or exiting with one
// held ends the run with ErrSpinLock, and the lock is released.
func spinLock(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	a := c.Args[0]
	if err := lockArg(c); err != nil {
		return 0, err
	}
	if r.lock != 0 {
		return 0, fmt.Errorf("%w: lock at %#x taken while holding %#x", ErrSpinLock, a, r.lock)
	}
	maps.SpinLock(uintptr(a))
	r.lock = uintptr(a)
	return 0, nil
}

// lockArg checks that argument 1 is a map value's bpf_spin_lock.
func lockArg(c *api.HelperCall) error {
	a := c.Args[0]
	if a%4 != 0 {
		return fmt.Errorf("%w: lock at %#x is misaligned", ErrSpinLock, a)
	}
	if !c.Checked() {
		return nil
	}
	r, err := runOf(c)
	if err != nil {
		return err
	}
	kind, lo, _, ok := c.ArgObject(0)
	m, isMap := maps.Map(nil), false
	if ok {
		m, isMap = kind.Owner.(maps.Map)
	}
	if !isMap || kind != &r.Maps.kinds(m).value {
		return fmt.Errorf("%w: %#x does not point into a map value", ErrSpinLock, a)
	}
	if s := m.Spec(); !s.HasSpinLock || a != lo+uint64(s.SpinLockOffset) {
		return fmt.Errorf("%w: %#x is not the bpf_spin_lock of a value of map %q", ErrSpinLock, a, s.Name)
	}
	return nil
}

// bpf_spin_unlock.
func spinUnlock(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	a := c.Args[0]
	if r.lock == 0 || uintptr(a) != r.lock {
		return 0, fmt.Errorf("%w: unlock of %#x, holding %#x", ErrSpinLock, a, r.lock)
	}
	if err := lockArg(c); err != nil {
		return 0, err
	}
	maps.SpinUnlock(r.lock)
	r.lock = 0
	return 0, nil
}

func ringArg(c *api.HelperCall, name string) (*maps.RingBufMap, error) {
	_, m, err := mapArg(c, 0)
	if err != nil {
		return nil, err
	}
	rb, ok := m.(*maps.RingBufMap)
	if !ok {
		return nil, wrongType(name, m)
	}
	return rb, nil
}

// bpf_ringbuf_output.
func ringbufOutput(c *api.HelperCall) (uint64, error) {
	rb, err := ringArg(c, "ringbuf_output")
	if err != nil {
		return 0, err
	}
	data, size := c.Args[1], c.Args[2]
	if _, err := c.ArgMemory(1, size, false); err != nil {
		return 0, err
	}
	return uint64(rb.Output(uintptr(data), size, c.Args[3])), nil
}

// bpf_ringbuf_reserve: the record's address or 0.
func ringbufReserve(c *api.HelperCall) (uint64, error) {
	rb, err := ringArg(c, "ringbuf_reserve")
	if err != nil {
		return 0, err
	}
	rec := uint64(rb.Reserve(c.Args[1], c.Args[2]))
	if rec == 0 {
		return 0, nil
	}
	r, _ := runOf(c)
	r.reserved = append(r.reserved, reservation{rb, rec})
	return rec, returnObject(c, &r.Maps.kindsOf(c.Args[0]).record, rec, c.Args[1])
}

// ringRecord returns the ring buffer of the record in argument 1: in
// checked mode the very pointer bpf_ringbuf_reserve returned, to a record
// not yet submitted or discarded. The record's object dies: it is
// submitted or discarded once.
func ringRecord(c *api.HelperCall) (*maps.RingBufMap, error) {
	r, err := runOf(c)
	if err != nil {
		return nil, err
	}
	a := c.Args[0]
	if c.Checked() {
		kind, lo, _, ok := c.ArgObject(0)
		var rb *maps.RingBufMap
		if ok {
			rb, _ = kind.Owner.(*maps.RingBufMap)
		}
		if rb == nil || lo != a || kind != &r.Maps.kinds(rb).record {
			return nil, fmt.Errorf("%w: %#x", ErrBadRingbufMem, a)
		}
		c.Kill(c.ArgTag(0))
		r.released(a)
		return rb, nil
	}
	rb := r.Maps.ringFor(a)
	if rb == nil {
		return nil, fmt.Errorf("%w: %#x", ErrBadRingbufMem, a)
	}
	r.released(a)
	return rb, nil
}

// bpf_ringbuf_submit.
func ringbufSubmit(c *api.HelperCall) (uint64, error) {
	rb, err := ringRecord(c)
	if err != nil {
		return 0, err
	}
	rb.Submit(uintptr(c.Args[0]), c.Args[1])
	return 0, nil
}

// bpf_ringbuf_discard.
func ringbufDiscard(c *api.HelperCall) (uint64, error) {
	rb, err := ringRecord(c)
	if err != nil {
		return 0, err
	}
	rb.Discard(uintptr(c.Args[0]), c.Args[1])
	return 0, nil
}

// bpf_ringbuf_query.
func ringbufQuery(c *api.HelperCall) (uint64, error) {
	rb, err := ringArg(c, "ringbuf_query")
	if err != nil {
		return 0, err
	}
	return rb.Query(c.Args[1]), nil
}

// bpf_perf_event_output(ctx, map, flags, data, size): appends a sample
// to the buffer of the index in flags' low 32 bits (BPF_F_CURRENT_CPU: the
// run's CPU), through maps.PerfEventArrayMap.Output. Appending packet
// bytes (BPF_F_CTXLEN_MASK) is not supported: the sample holds data only.
func perfEventOutput(c *api.HelperCall) (uint64, error) {
	r, m, err := mapArg(c, 1)
	if err != nil {
		return 0, err
	}
	pm, ok := m.(*maps.PerfEventArrayMap)
	if !ok {
		return 0, wrongType("perf_event_output", m)
	}
	flags, data, size := c.Args[2], c.Args[3], c.Args[4]
	if _, err := c.ArgMemory(3, size, false); err != nil {
		return 0, err
	}
	return uint64(pm.Output(r.CPU, flags, uintptr(data), size)), nil
}
