//go:build linux || darwin || freebsd || netbsd || openbsd

package xebpf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
	"github.com/xebpf/xebpf/verifier"
)

// FuzzHostilePrograms runs generated programs (see hostile_gen_test.go)
// that do random pointer arithmetic, spills, callbacks and helper calls
// against a collection whose every map has known contents, with memory
// no program may reach laid out between guard pages. After each run it
// checks that
//
//   - the run ended, with r0 or a typed error (a *api.Fault or one of
//     the runtime's error values), and did not crash the process;
//   - the maps are consistent: iterating finds each key once, every key
//     found by iterating is found by a lookup with the same value, the
//     keys are exactly those the run's successful updates and deletes
//     leave, and a value whose address the program never got is
//     unchanged unless a helper updated it;
//   - the map no program references, the read-only map, the program
//     array's slots, the ring buffer's positions (every record the
//     program reserved is released), the bpf_spin_locks, a map outside
//     the collection and a page between guard pages are unchanged;
//   - none of the secret bytes that memory no program may reach holds
//     appear in what the run leaves: the packet, the maps, ring-buffer
//     records, the trace output (a read that should have failed);
//   - no memory outside the Go heap leaked.
//
// The program is then run a second time on the same memory, with the maps
// restored to their contents before the first run: unless it used
// randomness, the ring buffer or changed the hash map's elements (which
// moves values), the second run must end as the first, byte for byte.
//
// The seeds in testdata/fuzz/FuzzHostilePrograms are random inputs chosen
// to call many helpers between them, and the inputs of the failures the
// fuzzer found.
func FuzzHostilePrograms(f *testing.F) {
	f.Fuzz(runHostile)
}

// hostileBudget bounds each run, callbacks and tail calls included.
const hostileBudget = 1 << 16

// hangLimit is how long one input may take before the fuzzer calls it a
// hang (a run has at most hostileBudget instructions).
const hangLimit = 60 * time.Second

// runHostile generates the programs of input, runs them and checks what
// the runs leave.
func runHostile(t *testing.T, input []byte) {
	ge, err := hostileGlobals()
	if err != nil {
		t.Fatal(err)
	}
	defer time.AfterFunc(hangLimit, func() {
		panic(fmt.Sprintf("hostile input did not finish in %v", hangLimit))
	}).Stop()

	g := newGen(input, uint64(uintptr(unsafe.Pointer(&ge.page[0]))))
	progs := [2][]isa.Instruction{g.program(), g.program()}
	live := platform.Live()
	w, err := newWorld(ge, progs)
	if errors.Is(err, verifier.ErrContextAccess) {
		// The generator does not keep the context in one register on
		// every path to a load through it: Linux's verifier refuses such
		// programs too (a mixed pointer), and so does the loader.
		t.Skipf("refused at load, as Linux refuses it: %v", err)
	}
	if err != nil {
		t.Fatalf("instantiating the generated programs: %v\n%s", err, listing(progs))
	}
	pkt := w.packet(g.pktLen)
	r0, out, err := w.run(pkt)
	if err != nil && !typedError(err) {
		t.Fatalf("run ended with an untyped error: %v\n%s", err, listing(progs))
	}
	if msg := w.check(out); msg != "" {
		t.Fatalf("after the run (r0 %d, err %v): %s\n%s", r0, err, msg, listing(progs))
	}
	if w.deterministic() {
		first := w.snapshot(r0, err, out)
		w.restore()
		r0, out, err = w.run(pkt)
		if second := w.snapshot(r0, err, out); second != first {
			t.Fatalf("second run differs:\nfirst:  %s\nsecond: %s\n%s", first, second, listing(progs))
		}
		if msg := w.check(out); msg != "" {
			t.Fatalf("after the second run (r0 %d, err %v): %s\n%s", r0, err, msg, listing(progs))
		}
	}
	if msg := w.checkCount(); msg != "" {
		t.Fatalf("%s\n%s", msg, listing(progs))
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if msg := ge.check(); msg != "" {
		t.Fatalf("after closing: %s\n%s", msg, listing(progs))
	}
	if n := platform.Live(); n != live {
		t.Fatalf("%d off-heap blocks live after closing the collection, %d before", n, live)
	}
}

// listing prints the generated programs.
func listing(progs [2][]isa.Instruction) string {
	var b strings.Builder
	for i, p := range progs {
		fmt.Fprintf(&b, "program %s:\n", [2]string{"main", "tail"}[i])
		pc := 0
		for _, ins := range p {
			fmt.Fprintf(&b, "%5d: %v\n", pc, ins)
			pc += ins.Slots()
		}
	}
	return b.String()
}

// typedError reports whether a run's error is one callers can classify:
// a fault, or one of the runtime's error values.
func typedError(err error) bool {
	var f *api.Fault
	if errors.As(err, &f) {
		return true
	}
	for _, e := range []error{helpers.ErrSpinLock, helpers.ErrBadMap, helpers.ErrWrongMapType, helpers.ErrReadOnlyMap, helpers.ErrBadContext,
		helpers.ErrBadRingbufMem, helpers.ErrCallbackNesting, helpers.ErrLeakedReservation, api.ErrBadPointer, xebpf.ErrHelperNotImplemented} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// hostileEnv is what every input shares: memory no program may reach.
type hostileEnv struct {
	mem   []byte // a guard page, the canary page, a guard page
	page  []byte // the canary page
	guard maps.Map
	keys  *platform.Memory // a key buffer for LookupAddr
}

var hostileGlobals = sync.OnceValues(func() (*hostileEnv, error) {
	ps := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*ps, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, err
	}
	if err := unix.Mprotect(mem[ps:2*ps], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return nil, err
	}
	ge := &hostileEnv{mem: mem, page: mem[ps : 2*ps]}
	for i := range ge.page {
		ge.page[i] = secret(7, i)
	}
	ge.guard, err = maps.New(&maps.Spec{Name: "guard", Type: maps.Hash, KeySize: hashKeySize, ValueSize: hashValue,
		MaxEntries: hashEntries, Flags: maps.FlagZeroSeed, SpinLockOffset: maps.NoSpinLock})
	if err != nil {
		return nil, err
	}
	for i := range hashInitial {
		if err := ge.guard.Update(u64(hashKey(i)), secrets(0x90+8*i, hashValue), maps.UpdateAny); err != nil {
			return nil, err
		}
	}
	if ge.keys, err = platform.Alloc(platform.PageSize); err != nil {
		return nil, err
	}
	return ge, nil
})

// secret returns byte i of the secret sequence from c. Memory no program
// may reach holds secrets: runs of bytes that each differ from the one
// before by 131, which nothing a program can legitimately reach holds,
// so that finding one in the run's outputs reveals a read that should
// have failed.
func secret(c, i int) byte { return byte(c + 131*i) }

// secrets returns n secret bytes from c.
func secrets(c, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = secret(c, i)
	}
	return b
}

// leak returns the offset of the first run of 8 secret bytes in b, -1 if
// none.
func leak(b []byte) int {
	run := 1
	for i := 1; i < len(b); i++ {
		if b[i]-b[i-1] == 131 {
			if run++; run == 8 {
				return i - 7
			}
		} else {
			run = 1
		}
	}
	return -1
}

// pattern returns n bytes counting up from base.
func pattern(base, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(base + i)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// valueAddr returns the address of key's value in m, 0 if absent.
func (ge *hostileEnv) valueAddr(m maps.Map, key []byte) uint64 {
	copy(ge.keys.Bytes(), key)
	return uint64(m.LookupAddr(ge.keys.Addr()))
}

// check reports changes to the canary page and the guard map.
func (ge *hostileEnv) check() string {
	for i, c := range ge.page {
		if c != secret(7, i) {
			return fmt.Sprintf("canary page byte %d changed: %#x", i, c)
		}
	}
	n := 0
	var msg string
	ge.guard.Iterate(func(e maps.Entry) bool {
		i := 0
		for i < hashInitial && !bytes.Equal(e.Key, u64(hashKey(i))) {
			i++
		}
		if i == hashInitial || !bytes.Equal(e.Value, secrets(0x90+8*i, hashValue)) {
			msg = fmt.Sprintf("guard map entry %x: %x", e.Key, e.Value)
			return false
		}
		n++
		return true
	})
	if msg == "" && n != hashInitial {
		msg = fmt.Sprintf("guard map has %d entries, want %d", n, hashInitial)
	}
	return msg
}

// rawBytes returns n bytes of off-heap memory at addr.
func rawBytes(addr uint64, n int) []byte {
	a := uintptr(addr)
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&a))), n)
}

// shadow is what a map must hold after a run.
type shadow struct {
	name    string
	m       maps.Map
	lockOff int // offset of the values' bpf_spin_lock, -1 if none
	// readOnly maps may not change, through pointers or helpers.
	readOnly bool
	// vals are the expected values by key.
	vals map[string][]byte
	// initial are the contents before the first run.
	initial map[string][]byte
	// wild is set when the program may have written every value
	// (bpf_for_each_map_elem hands out pointers to all of them).
	wild bool
	// global is set when the programs load pointers to the values
	// (global data: lddw src 6).
	global bool
}

func (s *shadow) set(key, val []byte) {
	v := bytes.Clone(val)
	if s.lockOff >= 0 {
		clear(v[s.lockOff : s.lockOff+4])
	}
	s.vals[string(key)] = v
}

// world is one collection of the generated programs and what its maps
// must hold.
type world struct {
	// executed is the instructions the last run executed.
	executed uint64
	ge       *hostileEnv
	coll     *xebpf.Collection
	runner   *xebpf.Runner
	maps     [numMaps]maps.Map
	shadows  map[maps.Map]*shadow
	// exposed are the addresses of the values the program got pointers
	// to in the current run.
	exposed map[uint64]bool
	// called are the helpers the program called.
	called map[int32]bool
	// moved is set when an update or delete changed the hash map's
	// elements (an update replaces the element).
	moved bool
	calls int // helper calls
	trace bytes.Buffer
	progs [progSlots]*interp.Program
}

// cloneValues copies a shadow's values.
func cloneValues(m map[string][]byte) map[string][]byte {
	c := make(map[string][]byte, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// arrayValueType describes the array's values: a struct with a
// bpf_spin_lock at arrayLockOff.
var arrayValueType = func() btf.Type {
	u32 := &btf.Int{Name: "u32", Size: 4}
	lock := &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}
	return &btf.Struct{Name: "value", Size: arrayValue, Members: []btf.Member{
		{Name: "a", Type: u32}, {Name: "b", Type: u32, Offset: 32},
		{Name: "lock", Type: lock, Offset: arrayLockOff * 8},
	}}
}()

// hostileSpec returns the collection of the two programs.
func hostileSpec(progs [2][]isa.Instruction) *xebpf.CollectionSpec {
	spec := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{}, Maps: map[string]*xebpf.MapSpec{}}
	for i, name := range [2]string{"main", "tail"} {
		spec.Programs[name] = &xebpf.ProgramSpec{Name: name, SectionName: "xdp", Type: elf.XDP, Instructions: progs[i], License: "GPL"}
	}
	ms := [numMaps]*xebpf.MapSpec{
		mArray:  {Type: elf.MapType(maps.Array), KeySize: 4, ValueSize: arrayValue, MaxEntries: arrayEntries, Value: arrayValueType},
		mCanary: {Type: elf.MapType(maps.Array), KeySize: 4, ValueSize: canaryValue, MaxEntries: canaryEntries},
		mData:   {Type: elf.MapType(maps.Array), KeySize: 4, ValueSize: dataValue, MaxEntries: 1},
		mHash:   {Type: elf.MapType(maps.Hash), KeySize: hashKeySize, ValueSize: hashValue, MaxEntries: hashEntries, Flags: maps.FlagZeroSeed},
		mProgs:  {Type: elf.MapType(maps.ProgramArray), KeySize: 4, ValueSize: 4, MaxEntries: progSlots},
		mRing:   {Type: elf.MapType(maps.RingBuf), MaxEntries: ringSize},
		mRodata: {Type: elf.MapType(maps.Array), KeySize: 4, ValueSize: rodataValue, MaxEntries: 1, Flags: maps.FlagRdonlyProg, ReadOnly: true},
	}
	for i := range arrayEntries {
		ms[mArray].Contents = append(ms[mArray].Contents, elf.MapKV{Key: u32(uint32(i)), Value: pattern(0xa0+16*i, arrayValue)})
	}
	for i := range canaryEntries {
		ms[mCanary].Contents = append(ms[mCanary].Contents, elf.MapKV{Key: u32(uint32(i)), Value: secrets(0x30*i+5, canaryValue)})
	}
	ms[mData].Contents = []elf.MapKV{{Key: u32(0), Value: pattern(0xd0, dataValue)}}
	ms[mRodata].Contents = []elf.MapKV{{Key: u32(0), Value: pattern(0x60, rodataValue)}}
	for i := range hashInitial {
		ms[mHash].Contents = append(ms[mHash].Contents, elf.MapKV{Key: u64(hashKey(i)), Value: pattern(0x50+8*i, hashValue)})
	}
	ms[mProgs].Contents = []elf.MapKV{
		{Key: u32(0), Ref: &elf.Ref{Kind: elf.RefProgram, Name: "main"}},
		{Key: u32(1), Ref: &elf.Ref{Kind: elf.RefProgram, Name: "tail"}},
	}
	for i, m := range ms {
		m.Name = hostileMapNames[i]
		spec.Maps[m.Name] = m
		spec.MapOrder = append(spec.MapOrder, m.Name)
	}
	return spec
}

// xdpHelpers are the helpers XDP programs may call.
var xdpHelpers = sync.OnceValue(func() map[int32]api.Helper {
	return helpers.Config(func(f helpers.Func) bool { return xebpf.KindOf(xebpf.XDP).LinuxHelpers(f.ID) })
})

// hostileHelperIDs are their ids, sorted.
var hostileHelperIDs = sync.OnceValue(func() []int32 {
	var ids []int32
	for id := range xdpHelpers() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
})

// newWorld instantiates the programs with helpers that record what the
// program does to the maps.
func newWorld(ge *hostileEnv, progs [2][]isa.Instruction) (*world, error) {
	w := &world{ge: ge, shadows: map[maps.Map]*shadow{}, exposed: map[uint64]bool{}, called: map[int32]bool{}}
	typ := *xebpf.KindOf(xebpf.XDP)
	typ.Helpers = map[int32]api.Helper{}
	for id, h := range xdpHelpers() {
		typ.Helpers[id] = w.wrap(id, h)
	}
	spec := hostileSpec(progs)
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{
		Types:             map[string]*xebpf.ProgramKind{"main": &typ, "tail": &typ},
		InstructionBudget: hostileBudget,
		Clock:             fixedClock(1e9),
		Trace:             &w.trace,
		Unverified:        xebpf.RunUnverifiedChecked, // hostile: checked mode must hold
		Checked:           true,                       // the verifier's oracle
	})
	if err != nil {
		return nil, err
	}
	w.coll = c
	for i, name := range hostileMapNames {
		w.maps[i] = c.Maps[name].Underlying()
	}
	w.progs[0], w.progs[1] = c.Programs["main"].Interp(), c.Programs["tail"].Interp()
	for _, i := range []int{mArray, mCanary, mData, mHash, mRodata} {
		ms := spec.Maps[hostileMapNames[i]]
		s := &shadow{name: ms.Name, m: w.maps[i], lockOff: -1, vals: map[string][]byte{},
			readOnly: i == mCanary || i == mRodata}
		if i == mArray {
			s.lockOff = arrayLockOff
		}
		for _, kv := range ms.Contents {
			s.set(kv.Key, kv.Value)
		}
		s.initial = cloneValues(s.vals)
		for _, p := range progs {
			for _, ins := range p {
				if ins.IsLDDW() && ins.Src == isa.PseudoMapIndexValue && int(uint32(ins.Constant)) == i {
					s.global = true
				}
			}
		}
		w.shadows[s.m] = s
	}
	if w.runner, err = c.Programs["main"].NewRunner(); err != nil {
		c.Close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() error {
	return errors.Join(w.runner.Close(), w.coll.Close())
}

// wrap returns helper h recording what it does to the maps.
func (w *world) wrap(id int32, h api.Helper) api.Helper {
	return func(c *api.HelperCall) (uint64, error) {
		w.called[id] = true
		w.calls++
		s := w.shadowOf(c, 0)
		switch id {
		case 1: // bpf_map_lookup_elem
			r0, err := h(c)
			if err == nil && r0 != 0 {
				w.exposed[r0] = true
			}
			return r0, err
		case 2: // bpf_map_update_elem
			var key, val []byte
			if s != nil {
				key, val = argCopy(c, 1, s.m.KeySize()), argCopy(c, 2, s.m.ValueSize())
			}
			r0, err := h(c)
			if s != nil && err == nil && r0 == 0 {
				w.moved = w.moved || s.m.Type() == maps.Hash
				if !s.readOnly {
					s.set(key, val)
				}
			}
			return r0, err
		case 3: // bpf_map_delete_elem
			var key []byte
			if s != nil {
				key = argCopy(c, 1, s.m.KeySize())
			}
			r0, err := h(c)
			if s != nil && err == nil && r0 == 0 {
				w.moved = w.moved || s.m.Type() == maps.Hash
				if !s.readOnly {
					delete(s.vals, string(key))
				}
			}
			return r0, err
		case 164: // bpf_for_each_map_elem
			if s != nil {
				s.wild = true
			}
		}
		return h(c)
	}
}

// shadowOf returns the shadow of the map argument i is a handle of, or
// nil.
func (w *world) shadowOf(c *api.HelperCall, i int) *shadow {
	if !c.ArgHandle(i) {
		return nil
	}
	kind, _, _, ok := c.ArgObject(i)
	if !ok {
		return nil
	}
	m, _ := kind.Owner.(maps.Map)
	return w.shadows[m]
}

// argCopy copies n bytes of program memory at argument i, nil if the
// program may not read them.
func argCopy(c *api.HelperCall, i, n int) []byte {
	b, err := c.ArgMemory(i, uint64(n), false)
	if err != nil {
		return nil
	}
	return bytes.Clone(b)
}

// packet returns a packet of n bytes holding, from bookOffset, the
// addresses of memory no program may reach directly: the canary page,
// values of maps the program has no pointer to, map keys, the ring
// buffer's data.
func (w *world) packet(n int) []byte {
	p := pattern(0, n)
	book := [bookEntries]uint64{
		uint64(uintptr(unsafe.Pointer(&w.ge.page[0]))),
		uint64(uintptr(unsafe.Pointer(&w.ge.page[len(w.ge.page)/2]))),
		w.ge.valueAddr(w.ge.guard, u64(hashKey(0))),
		w.ge.valueAddr(w.maps[mCanary], u32(0)),
		w.ge.valueAddr(w.maps[mHash], u64(hashKey(0))),
		w.ge.valueAddr(w.maps[mHash], u64(hashKey(1))) - hashKeySize, // its key
		w.ge.valueAddr(w.maps[mArray], u32(1)),
		uint64(w.maps[mRing].Regions()[0].Addr),
		w.ge.valueAddr(w.maps[mRodata], u32(0)),
		w.ge.valueAddr(w.maps[mCanary], u32(canaryEntries-1)) + canaryValue - 8,
	}
	for i, a := range book {
		if o := bookOffset + 8*i; o+8 <= n {
			binary.NativeEndian.PutUint64(p[o:], a)
		}
	}
	return p
}

// run runs the main program once. A packet may be shorter than an
// Ethernet header (RunAnyLength): the verifier assumes no length.
func (w *world) run(pkt []byte) (uint32, []byte, error) {
	clear(w.exposed)
	w.trace.Reset()
	for _, s := range w.shadows {
		s.wild = false
	}
	opts := &xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096)}
	r0, err := xebpf.RunAnyLength(w.runner, opts)
	w.executed = opts.Instructions
	return r0, opts.DataOut, err
}

// check returns what is wrong with the maps and the canaries after a run
// that left packet out, "" if nothing.
func (w *world) check(out []byte) string {
	if i := leak(out); i >= 0 {
		return fmt.Sprintf("secret bytes in the packet at %d: %x", i, out[i:i+8])
	}
	if i := leak(w.trace.Bytes()); i >= 0 {
		return fmt.Sprintf("secret bytes in the trace output at %d: %x", i, w.trace.Bytes()[i:i+8])
	}
	for _, i := range []int{mArray, mCanary, mData, mHash, mRodata} {
		if msg := w.checkShadow(w.shadows[w.maps[i]]); msg != "" {
			return msg
		}
	}
	for i := range arrayEntries {
		a := w.ge.valueAddr(w.maps[mArray], u32(uint32(i)))
		if l := binary.NativeEndian.Uint32(rawBytes(a+arrayLockOff, 4)); l != 0 {
			return fmt.Sprintf("the bpf_spin_lock of array value %d is %#x after the run", i, l)
		}
	}
	pa := w.maps[mProgs].(maps.ProgramArrayMap)
	for i, want := range w.progs {
		if got, _ := pa.Program(uint32(i)).(*interp.Program); got != want {
			return fmt.Sprintf("program array slot %d holds %p, want %p", i, got, want)
		}
	}
	rb := w.maps[mRing].(*maps.RingBufMap)
	for {
		rec, ok := rb.Next(nil)
		if !ok {
			break
		}
		if i := leak(rec); i >= 0 {
			return fmt.Sprintf("secret bytes in a ring-buffer record at %d: %x", i, rec)
		}
	}
	if n := rb.Query(maps.RBAvailData); n != 0 {
		return fmt.Sprintf("ring buffer: %d bytes left unconsumable (consumer at %d, producer at %d)",
			n, rb.Query(maps.RBConsPos), rb.Query(maps.RBProdPos))
	}
	return w.ge.check()
}

// checkShadow compares a map with its shadow.
func (w *world) checkShadow(s *shadow) string {
	seen := map[string]bool{}
	var msg string
	err := s.m.Iterate(func(e maps.Entry) bool {
		k := string(e.Key)
		want, ok := s.vals[k]
		v := make([]byte, len(e.Value))
		switch {
		case seen[k]:
			msg = fmt.Sprintf("map %s: key %x found twice", s.name, e.Key)
		case s.m != w.maps[mCanary] && leak(e.Value) >= 0:
			msg = fmt.Sprintf("map %s: secret bytes in the value of key %x: %x", s.name, e.Key, e.Value)
		case !ok:
			msg = fmt.Sprintf("map %s: unexpected key %x (value %x)", s.name, e.Key, e.Value)
		case s.m.Lookup(e.Key, v) != nil || !bytes.Equal(v, e.Value):
			msg = fmt.Sprintf("map %s: key %x iterates with value %x, lookup gives %x", s.name, e.Key, e.Value, v)
		case !bytes.Equal(e.Value, want) && (s.readOnly || !s.wild && !s.global && !w.exposed[w.ge.valueAddr(s.m, e.Key)]):
			msg = fmt.Sprintf("map %s: value of key %x is %x, want %x", s.name, e.Key, e.Value, want)
		}
		seen[k] = true
		return msg == ""
	})
	if err != nil {
		return fmt.Sprintf("map %s: iterate: %v", s.name, err)
	}
	if msg != "" {
		return msg
	}
	for k := range s.vals {
		if !seen[k] {
			return fmt.Sprintf("map %s: key %x missing (%d keys found)", s.name, k, len(seen))
		}
	}
	if len(seen) > s.m.MaxEntries() {
		return fmt.Sprintf("map %s: %d entries, max %d", s.name, len(seen), s.m.MaxEntries())
	}
	// NextKey walks the same keys.
	key := make([]byte, s.m.KeySize())
	n := 0
	for err := s.m.NextKey(nil, key); err == nil; err = s.m.NextKey(key, key) {
		if n++; n > len(seen) {
			return fmt.Sprintf("map %s: NextKey walks more than the %d keys", s.name, len(seen))
		}
	}
	if n != len(seen) {
		return fmt.Sprintf("map %s: NextKey walks %d keys, iterating %d", s.name, n, len(seen))
	}
	return ""
}

// checkCount checks the hash map's count of elements, which decides
// when it is full: it must take exactly as many new keys as it has room
// for.
func (w *world) checkCount() string {
	s := w.shadows[w.maps[mHash]]
	room := hashEntries - len(s.vals)
	v := make([]byte, hashValue)
	for i := range room + 1 {
		err := s.m.Update(u64(0xf000_0000_0000_0000+uint64(i)), v, maps.UpdateNoExist)
		switch {
		case i < room && err != nil:
			return fmt.Sprintf("map hash: adding key %d of the %d it has room for: %v", i+1, room, err)
		case i == room && !errors.Is(err, maps.ErrMapFull):
			return fmt.Sprintf("map hash: adding a key past max_entries: %v, want ErrMapFull", err)
		}
	}
	return ""
}

// deterministic reports whether a second run from the same state must
// end as the first.
func (w *world) deterministic() bool {
	for _, id := range []int32{7, 130, 131, 134} { // random numbers, ring buffer positions
		if w.called[id] {
			return false
		}
	}
	return !w.moved
}

// snapshot is what a run leaves: its result, the packet and the maps the
// program may write.
func (w *world) snapshot(r0 uint32, err error, out []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "r0 %d err %v packet %x", r0, err, out)
	for _, i := range []int{mArray, mData, mHash} {
		fmt.Fprintf(&b, " %s:", hostileMapNames[i])
		w.maps[i].Iterate(func(e maps.Entry) bool {
			fmt.Fprintf(&b, " %x=%x", e.Key, e.Value)
			return true
		})
	}
	return b.String()
}

// restore writes the maps' contents before the first run back in place,
// so that every value keeps its address.
func (w *world) restore() {
	for _, i := range []int{mArray, mData, mHash} {
		s := w.shadows[w.maps[i]]
		for k, v := range s.initial {
			a := w.ge.valueAddr(s.m, []byte(k))
			if a == 0 {
				continue // cannot happen: the run changed no keys
			}
			mem := rawBytes(a, len(v))
			if s.lockOff >= 0 {
				copy(mem[:s.lockOff], v[:s.lockOff])
				copy(mem[s.lockOff+4:], v[s.lockOff+4:])
			} else {
				copy(mem, v)
			}
		}
		s.vals = cloneValues(s.initial)
	}
}

// TestHostileWorldsAreCollected runs one generated program's whole
// lifecycle over and over and checks that the Go heap does not grow with
// it: a closed collection must be garbage. (A pooled run state's cleanup,
// reaching the map table, a program array, its programs and the host's
// helper closures, kept every closed collection alive until Close stopped
// it; FuzzHostilePrograms grew to 24 GB.)
func TestHostileWorldsAreCollected(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	input := make([]byte, 1500)
	for i := range input {
		input[i] = byte(rng.Uint32())
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for range 20 {
		runHostile(t, input)
	}
	before := heap()
	const n = 300
	for range n {
		runHostile(t, input)
	}
	if after := heap(); after > before+8<<20 {
		t.Fatalf("the heap grew by %d KiB over %d closed collections", (after-before)>>10, n)
	}
}
