package verifier

import (
	"bytes"
	"math"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// Linux helper ids the verifier treats specially.
const (
	helperMapLookup       = 1
	helperTailCall        = 12
	helperPerfEventOutput = 25
	helperGetStackID      = 27
	helperRedirectMap     = 51
	helperMapPush         = 87
	helperMapPop          = 88
	helperMapPeek         = 89
	helperSpinLock        = 93
	helperSpinUnlock      = 94
	helperRingbufOutput   = 130
	helperRingbufReserve  = 131
	helperRingbufSubmit   = 132
	helperRingbufDiscard  = 133
	helperRingbufQuery    = 134
	helperForEachMapElem  = 164
	helperLoop            = 181
	helperLookupPercpu    = 195
	// maxLoops is bpf_loop's limit on iterations (BPF_MAX_LOOPS).
	maxLoops = 1 << 23
	// maxHelperMem bounds the size of helper memory arguments.
	maxHelperMem = 1 << 29
)

// call runs a call instruction on st.
func (v *verifier) call(st *state, pc int, ins isa.Instruction, chain []*function) (bool, error) {
	switch ins.Src {
	case isa.CallLocal:
		t, _ := ins.JumpTarget(pc)
		if st.lock != 0 {
			return false, reject(pc, ins, "function call while holding a bpf_spin_lock")
		}
		return true, v.callFunction(st, pc, ins, v.funcs[t], chain, nil)
	case isa.CallHelper:
		return v.callHelper(st, pc, ins, chain)
	}
	return false, reject(pc, ins, "calls of kernel functions (kfuncs) are not supported")
}

// callFunction analyzes function f called from st with arguments r1-r5
// (or, for a callback, the registers in args), and leaves in st the state
// after it returns.
func (v *verifier) callFunction(st *state, pc int, ins isa.Instruction, f *function, chain []*function, args *[5]value) error {
	d := len(st.frames)
	if d >= maxDepth {
		return reject(pc, ins, "call chain deeper than %d frames", maxDepth)
	}
	callee := st.clone()
	caller := callee.frameW(d - 1)
	copy(caller.saved[:], st.regs[6:10])
	callee.frames = append(callee.frames, new(frame))
	callee.owned |= 1 << d
	if args != nil {
		copy(callee.regs[1:6], args[:])
	}
	callee.regs[0] = uninit
	for r := 6; r <= 9; r++ {
		callee.regs[r] = uninit
	}
	callee.regs[10] = pointer(kindStack, int32(d), 0)
	exit, err := v.analyze(f, callee, chain)
	if err != nil {
		return err
	}
	if args == nil {
		v.callBound[pc] = max(v.callBound[pc], v.lastBound)
	}
	if exit == nil {
		// No path returns: the caller does not go on.
		return reject(pc, ins, "the function at %d never returns", f.entry)
	}
	// Back in the caller: its frames as the callee left them, its
	// callee-saved registers, the callee's r0; pointers into the callee's
	// frame are dead.
	exit.frames = exit.frames[:d]
	exit.owned &= 1<<d - 1
	fr := exit.frameW(d - 1)
	r0 := exit.regs[0]
	var regs [11]value
	regs[0] = r0
	copy(regs[6:10], fr.saved[:])
	fr.saved = [4]value{}
	regs[10] = st.regs[10]
	exit.regs = regs
	exit.kill(func(x *value) bool { return x.kind == kindStack && int(x.aux) >= d })
	*st = *exit
	return nil
}

// callHelper checks a helper call against its prototype and applies its
// effects.
func (v *verifier) callHelper(st *state, pc int, ins isa.Instruction, chain []*function) (bool, error) {
	id := ins.Imm()
	var proto api.Prototype
	ok := false
	if v.cfg.Helper != nil {
		proto, ok = v.cfg.Helper(id)
	}
	if !ok {
		return false, reject(pc, ins, "helper %d is not available to this program type", id)
	}
	name := "bpf_" + proto.Name
	if st.lock != 0 && id != helperSpinUnlock {
		return false, reject(pc, ins, "%s called while holding a bpf_spin_lock", name)
	}
	var (
		m       int32 // the map argument (see mapSets)
		hasMap  bool
		args    [5]value
		release uint64 // reservation released
		cb      *function
	)
	for i := range proto.NumArgs() {
		r := isa.Register(i + 1)
		k := proto.Args[i]
		x := st.regs[r]
		args[i] = x
		if x.kind == kindUninit {
			return false, reject(pc, ins, "%s: argument r%d (%v) is not initialized", name, r, k)
		}
		if x.kind == kindMixed {
			return false, reject(pc, ins, "%s: argument r%d holds different kinds of values on different paths", name, r)
		}
		switch k {
		case api.ArgAnything:
		case api.ArgConstMapPtr:
			if x.kind != kindMapHandle || x.off != 0 || x.smin != 0 || x.smax != 0 {
				return false, reject(pc, ins, "%s: r%d must be a map: it is %v", name, r, x)
			}
			if x.null {
				return false, reject(pc, ins, "%s: r%d may be NULL: the inner map from the lookup at pc %d is not checked for NULL", name, r, x.defPC)
			}
			m, hasMap = x.aux, true
			if err := v.mapAllowed(pc, ins, id, name, m); err != nil {
				return false, err
			}
		case api.ArgMapKey, api.ArgMapValue, api.ArgUninitMapValue:
			if !hasMap {
				return false, reject(pc, ins, "%s: %v argument without a map", name, k)
			}
			// The largest key or value of the maps r1 may be.
			n := int64(0)
			for _, i := range v.sets.of(m) {
				if k == api.ArgMapKey {
					n = max(n, int64(v.maps[i].KeySize))
				} else {
					n = max(n, int64(v.maps[i].ValueSize))
				}
			}
			if err := v.helperMemory(st, pc, ins, r, x, n, n, k == api.ArgUninitMapValue); err != nil {
				return false, err
			}
		case api.ArgMem, api.ArgMemOrNull, api.ArgUninitMem, api.ArgUninitMemOrNull, api.ArgWritableMem, api.ArgWritableMemOrNull:
			sz := st.regs[r+1]
			if sz.kind != kindScalar {
				return false, reject(pc, ins, "%s: the size r%d of memory argument r%d must be a scalar: it is %v", name, r+1, r, sz)
			}
			if proto.Args[i+1] == api.ArgConstSize && sz.umin == 0 {
				return false, reject(pc, ins, "%s: the size r%d of memory argument r%d may be 0: %v", name, r+1, r, sz)
			}
			if sz.umax > maxHelperMem {
				return false, reject(pc, ins, "%s: the size r%d of memory argument r%d is unbounded: %v", name, r+1, r, sz)
			}
			nullable := k == api.ArgMemOrNull || k == api.ArgUninitMemOrNull || k == api.ArgWritableMemOrNull
			if nullable && x.kind == kindScalar && x.isConst() && x.umin == 0 {
				if sz.umax != 0 {
					return false, reject(pc, ins, "%s: NULL memory argument r%d with a size that may not be 0: %v", name, r, sz)
				}
				continue
			}
			write := k == api.ArgUninitMem || k == api.ArgUninitMemOrNull
			if k == api.ArgWritableMem || k == api.ArgWritableMemOrNull {
				// Read, then written: initialized and writable.
				if err := v.helperMemory(st, pc, ins, r, x, int64(sz.umin), int64(sz.umax), false); err != nil {
					return false, err
				}
				write = true
			}
			if err := v.helperMemory(st, pc, ins, r, x, int64(sz.umin), int64(sz.umax), write); err != nil {
				return false, err
			}
		case api.ArgPtrToLong, api.ArgPtrToInt, api.ArgFixedMem20, api.ArgFixedMem40:
			n := map[api.ArgKind]int64{api.ArgPtrToLong: 8, api.ArgPtrToInt: 4, api.ArgFixedMem20: 20, api.ArgFixedMem40: 40}[k]
			if k != api.ArgPtrToLong {
				if err := v.helperMemory(st, pc, ins, r, x, n, n, false); err != nil {
					return false, err
				}
			}
			if k == api.ArgPtrToLong || k == api.ArgPtrToInt {
				if err := v.helperMemory(st, pc, ins, r, x, n, n, true); err != nil {
					return false, err
				}
			}
		case api.ArgCtxOrNull:
			if x.kind == kindScalar && x.isConst() && x.umin == 0 {
				continue
			}
			if x.kind != kindCtx || x.off != 0 || x.smin != 0 || x.smax != 0 {
				return false, reject(pc, ins, "%s: r%d must be the context or NULL: it is %v", name, r, x)
			}
		case api.ArgMapValueOrNull:
			if x.kind == kindScalar && x.isConst() && x.umin == 0 {
				continue
			}
			if !hasMap {
				return false, reject(pc, ins, "%s: %v argument without a map", name, k)
			}
			n := int64(0)
			for _, i := range v.sets.of(m) {
				n = max(n, int64(v.maps[i].ValueSize))
			}
			if err := v.helperMemory(st, pc, ins, r, x, n, n, false); err != nil {
				return false, err
			}
		case api.ArgConstSize, api.ArgConstSizeOrZero:
			// Checked with its memory argument.
			if x.kind != kindScalar {
				return false, reject(pc, ins, "%s: size r%d must be a scalar: it is %v", name, r, x)
			}
		case api.ArgConstAllocSize:
			if !x.isConst() || x.umin == 0 || x.umin > maxHelperMem {
				return false, reject(pc, ins, "%s: size r%d must be a known positive constant: it is %v", name, r, x)
			}
		case api.ArgCtx:
			if x.kind != kindCtx || x.off != 0 || x.smin != 0 || x.smax != 0 {
				return false, reject(pc, ins, "%s: r%d must be the context: it is %v", name, r, x)
			}
		case api.ArgFunc:
			if x.kind != kindFunc {
				return false, reject(pc, ins, "%s: r%d must be a function: it is %v", name, r, x)
			}
			cb = v.funcs[int(x.aux)]
		case api.ArgStackOrNull:
			if x.kind == kindScalar && x.isConst() && x.umin == 0 {
				continue
			}
			if x.kind != kindStack {
				return false, reject(pc, ins, "%s: r%d must point to the stack or be NULL: it is %v", name, r, x)
			}
		case api.ArgSpinLock:
			if x.kind != kindMapValue || x.null {
				return false, reject(pc, ins, "%s: r%d must point to a map value's bpf_spin_lock: it is %v", name, r, x)
			}
			mm, one := v.single(x.aux)
			if !one || mm.SpinLock < 0 || x.smin != x.smax || x.off+x.smin != int64(mm.SpinLock) {
				return false, reject(pc, ins, "%s: r%d does not point to the bpf_spin_lock of map %s: it is %v", name, r, v.mapName(x.aux), x)
			}
			if id == helperSpinLock {
				if st.lock != 0 {
					return false, reject(pc, ins, "%s: already holding a bpf_spin_lock", name)
				}
				st.lock = x.aux + 1
			} else {
				if st.lock != x.aux+1 {
					return false, reject(pc, ins, "%s: not holding the bpf_spin_lock of map %s", name, v.mapName(x.aux))
				}
				st.lock = 0
			}
		case api.ArgRingbufMem:
			if x.kind != kindRingbuf || x.null || x.off != 0 || x.smin != 0 || x.smax != 0 {
				return false, reject(pc, ins, "%s: r%d must be a record from bpf_ringbuf_reserve, unchanged and checked for NULL: it is %v", name, r, x)
			}
			held := false
			for _, ref := range st.refs {
				held = held || ref == x.id
			}
			if !held || x.id == 0 {
				return false, reject(pc, ins, "%s: r%d was already submitted or discarded", name, r)
			}
			release = x.id
		case api.ArgConstStr:
			if err := v.constString(st, pc, ins, name, r, x); err != nil {
				return false, err
			}
		default:
			// Sockets, kernel (BTF) objects, timers and dynptrs: the
			// verifier does not model them yet.
			return false, reject(pc, ins, "%s: arguments of kind %v are not supported by the verifier yet", name, k)
		}
	}
	if cb != nil {
		if err := v.callback(st, pc, ins, id, name, cb, args, m, chain); err != nil {
			return false, err
		}
	}
	if release != 0 {
		st.kill(func(x *value) bool { return x.id == release && x.kind == kindRingbuf })
		st.dropRef(release)
	}
	if v.cfg.ChangesPacket != nil && v.cfg.ChangesPacket(id) {
		st.kill(func(x *value) bool {
			return x.kind == kindPacket || x.kind == kindPacketEnd || x.kind == kindPacketMeta
		})
		st.pmin, st.mmin, st.plen.id = 0, 0, 0
		st.update(func(x *value) bool { return x.kind == kindScalar && x.rng != 0 }, func(x *value) { x.rng = 0 })
	}
	v.clobber(st)
	switch proto.Ret {
	case api.RetVoid:
		// xebpf's helpers always set r0 (bpf_tail_call: the failed
		// call's result), so it is a scalar, as PREVAIL has it.
		st.regs[0] = unknown
	case api.RetMapValueOrNull:
		r0 := value{kind: kindMapValue, aux: m, null: true, id: st.newID(), defPC: int32(pc)}
		for k, i := range v.sets.of(m) {
			mm := v.maps[i]
			isMapOfMaps := mm.Type == maps.ArrayOfMaps || mm.Type == maps.HashOfMaps
			if k > 0 && isMapOfMaps != (r0.kind == kindMapHandle) {
				return false, reject(pc, ins, "%s: r1 may be a map of maps or another map: %s", name, v.mapName(m))
			}
			if !isMapOfMaps {
				continue
			}
			inner, ok := v.inner[mm.Inner]
			if !ok {
				return false, reject(pc, ins, "%s: map of maps %s has no inner map template", name, v.mapName(m))
			}
			if k == 0 {
				r0.kind, r0.aux = kindMapHandle, inner
			} else {
				r0.aux = v.sets.union(r0.aux, inner)
			}
		}
		st.regs[0] = r0
	case api.RetRingbufMemOrNull:
		size := args[1].umin
		r0 := value{kind: kindRingbuf, aux: int32(size), null: true, id: st.newID(), defPC: int32(pc)}
		st.refs = append(st.refs, r0.id)
		st.regs[0] = r0
	default:
		st.regs[0] = unknown
		if id == helperLoop || id == helperForEachMapElem {
			st.regs[0] = unsignedRange(0, maxLoops)
		}
	}
	return true, nil
}

// mapAllowed checks that helper id may take map m (Linux's
// check_map_func_compatibility, for the helpers whose map kind matters).
func (v *verifier) mapAllowed(pc int, ins isa.Instruction, id int32, name string, aux int32) error {
	for _, m := range v.sets.of(aux) {
		if err := v.mapAllowed1(pc, ins, id, name, m); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) mapAllowed1(pc int, ins isa.Instruction, id int32, name string, m int32) error {
	t := v.maps[m].Type
	ok := true
	switch id {
	case helperTailCall:
		ok = t == maps.ProgramArray
	case helperPerfEventOutput:
		ok = t == maps.PerfEventArray
	case helperGetStackID:
		ok = t == maps.StackTrace
	case helperRingbufOutput, helperRingbufReserve, helperRingbufQuery:
		ok = t == maps.RingBuf
	case helperRedirectMap:
		ok = t == maps.DevMap || t == maps.DevMapHash || t == maps.CPUMap || t == maps.XSKMap
	case helperMapPush:
		ok = t == maps.Queue || t == maps.Stack || t == maps.BloomFilter
	case helperMapPop, helperMapPeek:
		ok = t == maps.Queue || t == maps.Stack || t == maps.BloomFilter && id == helperMapPeek
	case 52, 53, 60: // sk_redirect_map, sock_map_update, msg_redirect_map
		ok = t == maps.SockMap
	case 70, 71, 72: // sock_hash_update, msg_redirect_hash, sk_redirect_hash
		ok = t == maps.SockHash
	case 82: // sk_select_reuseport
		ok = t == maps.ReusePortSockArray || t == maps.SockMap || t == maps.SockHash
	case 41, 55: // perf_event_read, perf_event_read_value
		ok = t == maps.PerfEventArray
	case 33, 37: // skb_under_cgroup, current_task_under_cgroup
		ok = t == maps.CgroupArray
	case 81: // get_local_storage
		ok = t == maps.CGroupStorage || t == maps.PerCPUCGroupStorage
	case 107, 108: // sk_storage_get, sk_storage_delete
		ok = t == maps.SkStorage
	case helperMapLookup, 2, 3, helperLookupPercpu, helperForEachMapElem:
		switch t {
		case maps.ProgramArray, maps.PerfEventArray, maps.RingBuf, maps.Queue, maps.Stack, maps.StackTrace, maps.CgroupArray, maps.BloomFilter:
			ok = false
		}
		if id == helperLookupPercpu {
			ok = t == maps.PerCPUArray || t == maps.PerCPUHash || t == maps.LRUCPUHash
		}
		if t == maps.ArrayOfMaps || t == maps.HashOfMaps {
			// Programs only look inner maps up: the host fills the
			// slots, which hold references on their maps.
			ok = id == helperMapLookup
		}
	}
	if !ok {
		return reject(pc, ins, "%s does not take map %s of type %v", name, v.mapName(m), t)
	}
	return nil
}

// constString checks that x points to a NUL-terminated string in a
// read-only map's known content.
func (v *verifier) constString(st *state, pc int, ins isa.Instruction, name string, r isa.Register, x value) error {
	if x.kind != kindMapValue || x.null || x.smin != x.smax {
		return reject(pc, ins, "%s: r%d must point to a constant string in a read-only map: it is %v", name, r, x)
	}
	m, one := v.single(x.aux)
	if !one || !m.ReadOnly {
		return reject(pc, ins, "%s: the string r%d points to is in map %s, which is not read-only", name, r, v.mapName(x.aux))
	}
	o := x.off + x.smin
	if o < 0 || o >= int64(m.ValueSize) {
		return reject(pc, ins, "%s: r%d points outside map %s: %v", name, r, v.mapName(x.aux), x)
	}
	if m.Data == nil || int64(len(m.Data)) < int64(m.ValueSize) || bytes.IndexByte(m.Data[o:m.ValueSize], 0) < 0 {
		return reject(pc, ins, "%s: no NUL terminator after offset %d in map %s", name, o, v.mapName(x.aux))
	}
	return nil
}

// callback analyzes a callback that helper id calls any number of times,
// until the caller's state it can change stops growing.
func (v *verifier) callback(st *state, pc int, ins isa.Instruction, id int32, name string, cb *function, args [5]value, m int32, chain []*function) error {
	var cbArgs [5]value
	switch id {
	case helperLoop:
		cbArgs[0] = unsignedRange(0, maxLoops-1)
		cbArgs[1] = args[2]
	case helperForEachMapElem:
		if m < 0 {
			return reject(pc, ins, "%s: r1 may be one of several maps: %s", name, v.mapName(m))
		}
		cbArgs[0] = pointer(kindMapHandle, m, 0)
		// The key is a read-only copy; the value is the map's.
		cbArgs[1] = pointer(kindMapValue, int32(v.keyMap(m)), 0)
		cbArgs[2] = pointer(kindMapValue, m, 0)
		cbArgs[3] = args[2]
	default:
		return reject(pc, ins, "%s: callbacks of this helper are not supported", name)
	}
	for i := range cbArgs {
		cbArgs[i].id = 0
	}
	// The caller's registers are saved by callFunction (r6-r9) or
	// clobbered by the call (r0-r5).
	// Each invocation runs at most the callback's bound; there are at
	// most nr_loops of them (bpf_loop) or max_entries (for_each).
	count := uint64(maxLoops)
	if id == helperLoop && args[0].kind == kindScalar {
		count = min(count, args[0].umax)
	} else {
		count = uint64(v.maps[m].MaxEntries)
	}
	var each uint64
	defer func() { v.callBound[pc] = max(v.callBound[pc], satMul(each, count)) }()
	cur := st.clone()
	cur.regs[0] = uninit
	v.clobber(cur)
	for round := 0; ; round++ {
		next := cur.clone()
		if err := v.callFunction(next, pc, ins, cb, chain, &cbArgs); err != nil {
			return err
		}
		each = max(each, v.lastBound)
		r0 := next.regs[0]
		if r0.kind != kindScalar {
			return reject(pc, ins, "%s: the callback at %d must return a scalar: r0 is %v", name, cb.entry, r0)
		}
		next.regs[0] = uninit
		j := join(cur, next, &v.sets)
		if round > widenAfter {
			j = widen(cur, j, &v.th)
			j.renumber()
		}
		if j.equal(cur) {
			break
		}
		cur = j
		if round > 64 {
			return reject(pc, ins, "too complex: the callback at %d did not stabilize", cb.entry)
		}
	}
	*st = *cur
	return nil
}

// keyMap returns the index of a read-only pseudo-map whose value is map
// m's key, for for_each_map_elem callbacks.
func (v *verifier) keyMap(m int32) int32 {
	k := &Map{Name: v.maps[m].Name + " key", Type: maps.Array, ValueSize: v.maps[m].KeySize, ReadOnly: true, SpinLock: -1}
	for i, x := range v.maps {
		if x.Name == k.Name && x.ReadOnly && x.ValueSize == k.ValueSize && x.Type == maps.Array {
			return int32(i)
		}
	}
	v.maps = append(v.maps, k)
	return int32(len(v.maps) - 1)
}

var _ = math.MaxInt64
