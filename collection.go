package xebpf

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// ProgramSpec is one program of a CollectionSpec.
type ProgramSpec = elf.ProgramSpec

// MapSpec is one map of a CollectionSpec.
type MapSpec = elf.MapSpec

// UnverifiedPolicy is what happens to programs the verifier rejects.
type UnverifiedPolicy uint8

// Policies for programs the verifier rejects.
const (
	// RefuseUnverified refuses to load them.
	RefuseUnverified UnverifiedPolicy = iota
	// RunUnverifiedChecked loads them in checked mode.
	RunUnverifiedChecked
)

// CollectionOptions configures NewCollectionWithOptions. Maps, Programs
// and MapReplacements are cilium/ebpf's; the rest are xebpf's.
type CollectionOptions struct {
	// Maps configures the maps. Pinning by path needs xebpf's service,
	// which keeps maps alive between processes: a map of the object that
	// asks to be pinned by name fails the load while MapOptions.PinPath is
	// set (with ErrNotSupported), and is an ordinary map without it.
	Maps MapOptions
	// Programs configures the verifier's log.
	Programs ProgramOptions
	// MapReplacements are maps (of other collections) used instead of
	// creating the maps of those names: their type, key and value sizes,
	// entries and flags must match the spec's. The collection keeps the
	// replacements usable until it is freed, also when their own
	// collection is closed.
	MapReplacements map[string]*Map

	// Types overrides the program type of programs by name; the default
	// comes from the program's type (KindOf).
	Types map[string]*ProgramKind
	// Arch is the architecture whose struct pt_regs kprobe and perf_event
	// programs get; ArchUnknown means the object's (ObjectArch), else the
	// host's.
	Arch Arch
	// Trace receives bpf_trace_printk output; nil discards it.
	Trace io.Writer
	// Unverified says what happens to a program the verifier rejects:
	// RefuseUnverified (the default) fails NewCollectionWithOptions with
	// the verifier's *verifier.Error; RunUnverifiedChecked loads it to run
	// in checked mode, whose run-time checks stop whatever it does wrong.
	Unverified UnverifiedPolicy
	// Checked runs every program in checked mode, also those the verifier
	// accepted (which otherwise run without per-access checks when it
	// proves what they need): for tests that use checked mode as the
	// verifier's oracle, and for debugging.
	Checked bool
	// VerifierLog, if set, receives the verifier's trace at
	// VerifierLogLevel (1: the state before every instruction).
	VerifierLog      io.Writer
	VerifierLogLevel int
	// VerifierIsolation, if set, verifies each program in a child
	// process with time and memory limits; the analysis that finds the
	// context accesses of a program run unverified (RunUnverifiedChecked,
	// UnsafeFastMode) runs there too.
	VerifierIsolation *Isolation
	// UnsafeFastMode skips the verifier and runs every program without
	// per-access checks: the caller vouches that the programs are correct.
	// A wrong program then corrupts or crashes the process.
	UnsafeFastMode bool
	// InstructionBudget bounds the instructions of one checked run; 0 means
	// interp.DefaultInstructionBudget.
	InstructionBudget uint64
	// Probe answers bpf_probe_read* for memory outside the run (nil: only
	// the run's own memory is readable, other reads fail with -EFAULT).
	Probe helpers.ProbeReader
	// Clock answers the time helpers (nil: the system's clocks).
	Clock helpers.Clock
	// MemoryLimit bounds the memory the collection allocates, in bytes:
	// its maps (with their per-CPU values and ring buffers), the tables
	// the runtime keeps for them, and the run states (stack, frame,
	// context, helper state) of runs and Runners. A map that would take
	// the collection past it fails NewCollectionWithOptions with a
	// *MemoryLimitError naming the map, before it is allocated; a run
	// that needs a new run state past it fails the same way. 0 means
	// DefaultMemoryLimit.
	MemoryLimit int64
}

// Collection is an instantiated CollectionSpec: live maps and runnable
// programs.
type Collection struct {
	Programs map[string]*Program
	Maps     map[string]*Map
	// Variables are the global variables of the object's data sections.
	Variables map[string]*Variable

	// life counts the open handle and the Programs and Maps not yet
	// freed: the maps, the map table and the scratch block are freed
	// with the collection, after the last run of its programs and the
	// last of their Runners.
	life lifetime
	// keep counts the references on the collection's memory: one held
	// by life until it is freed, and one per slot of a map of maps of
	// another collection that holds one of this one's maps (mapofmaps.go).
	// When life is freed, the collection's maps of maps drop the
	// references their slots hold; when keep is freed, the maps and the
	// rest of the memory are.
	keep  lifetime
	progs []*Program // the programs and maps Close closes, whatever
	maps  []*Map     // callers do with Programs and Maps

	opts    CollectionOptions
	mem     *memAccount
	fixed   int64      // what mem was charged for the maps and the map table, returned by free
	byIndex []maps.Map // by CollectionSpec.MapOrder index
	table   *helpers.MapTable
	scratch *platform.Memory // staging for keys the collection passes by address
	epoch   *maps.Epoch
	cpus    *cpuSlots

	// arrayType is the program type of each program array's programs:
	// Linux allows one type per array (the type of the programs that
	// tail-call through it and of those it holds).
	arrayType map[maps.Map]*ProgramKind
	arrayMu   sync.Mutex // guards arrayType once created (Map.Update)
	// borrowed are the maps of other collections used in place of this
	// one's (MapReplacements), with the collection each belongs to: this
	// one holds a reference on it until it is freed.
	borrowed   map[maps.Map]*Collection
	helperSets map[*ProgramKind]map[int32]api.Helper // built by helperSet
	ctxFields  map[*Context]*api.Fields              // built by contextFields
}

// NewCollection instantiates spec with default options.
func NewCollection(spec *CollectionSpec) (*Collection, error) {
	return NewCollectionWithOptions(spec, CollectionOptions{})
}

// NewCollectionWithOptions creates the maps of spec, fills their initial
// contents, and prepares every program to run.
func NewCollectionWithOptions(spec *CollectionSpec, opts CollectionOptions) (_ *Collection, err error) {
	c := &Collection{
		Programs: map[string]*Program{},
		Maps:     map[string]*Map{},
		opts:     opts,
		epoch:    maps.DefaultEpoch(),
		cpus:     processCPUs(),
	}
	c.life.init(c.free)
	c.keep.init(c.freeMemory)
	switch {
	case opts.MemoryLimit == 0:
		c.mem = &memAccount{limit: DefaultMemoryLimit}
	case opts.MemoryLimit < 0:
		return nil, fmt.Errorf("CollectionOptions.MemoryLimit %d is negative", opts.MemoryLimit)
	default:
		c.mem = &memAccount{limit: opts.MemoryLimit}
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	tableSize := len(spec.MapOrder) + foreignInnerMaps
	tableCharge := pages(tableSize*helpers.DescriptorSize) + platform.PageSize
	if err := c.mem.charge("create map table", tableCharge); err != nil {
		return nil, err
	}
	c.fixed += tableCharge
	if c.table, err = helpers.NewMapTable(tableSize); err != nil {
		return nil, err
	}
	if c.scratch, err = platform.Alloc(platform.PageSize); err != nil {
		return nil, err
	}
	for name := range opts.MapReplacements {
		if spec.Maps[name] == nil {
			return nil, fmt.Errorf("map replacement %s: %w", name, ErrNotFound)
		}
	}
	c.byIndex = make([]maps.Map, len(spec.MapOrder))
	for i, name := range spec.MapOrder {
		ms := spec.Maps[name]
		if ms.Pinning != 0 && opts.Maps.PinPath != "" {
			return nil, fmt.Errorf("map %s: pinning under %s: %w (pinning comes with the xebpf service)", name, opts.Maps.PinPath, ErrNotSupported)
		}
		var m maps.Map
		if r := opts.MapReplacements[name]; r != nil {
			m, err = c.borrowMap(name, ms, r)
		} else {
			m, err = c.newMap(name, ms)
		}
		if err != nil {
			return nil, err
		}
		c.byIndex[i] = m
		c.Maps[name] = c.newMapHandle(name, m)
		c.maps = append(c.maps, c.Maps[name])
		if _, err := c.table.Add(m); err != nil {
			return nil, fmt.Errorf("map %s: %w", name, err)
		}
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	// Verify every program first: tail calls join programs of one mode,
	// so the collection runs fast only if every program may.
	verdicts := map[string]verdict{}
	for _, name := range names {
		ps := spec.Programs[name]
		typ := opts.Types[name]
		if typ == nil {
			typ = kindIn(spec, ps, opts.Arch)
		}
		v := c.verify(spec, name, ps, typ)
		verdicts[name] = v
		if v.err != nil || v.prog == nil || !fastEligible(v.prog, ps, typ, c.opts.InstructionBudget) {
			c.opts.Checked = true
		}
	}
	for _, name := range names {
		ps := spec.Programs[name]
		typ := opts.Types[name]
		if typ == nil {
			typ = kindIn(spec, ps, opts.Arch)
		}
		p, err := c.newProgram(name, ps, typ, verdicts[name])
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		c.Programs[name] = p
		c.progs = append(c.progs, p)
	}
	// Program arrays take the type of the programs that use them.
	c.arrayType = map[maps.Map]*ProgramKind{}
	for _, name := range names {
		p := c.Programs[name]
		for _, ins := range p.spec.Instructions {
			if !ins.IsLDDW() || ins.Src != isa.PseudoMapIndex || int(uint32(ins.Constant)) >= len(c.byIndex) {
				continue
			}
			if m := c.byIndex[uint32(ins.Constant)]; m.Spec().Type == maps.ProgramArray {
				if err := c.ownArray(m, p); err != nil {
					return nil, err
				}
			}
		}
	}
	// Initial contents last: program arrays refer to programs. Read-only
	// maps (.rodata, .kconfig) are then frozen, as libbpf freezes them.
	for i, name := range spec.MapOrder {
		if c.borrowed[c.byIndex[i]] != nil {
			continue // a replacement is used as it is, as in cilium/ebpf
		}
		if err := c.fill(spec, c.byIndex[i], spec.Maps[name]); err != nil {
			return nil, fmt.Errorf("map %s: initial contents: %w", name, err)
		}
		if spec.Maps[name].ReadOnly {
			if err := c.byIndex[i].Freeze(); err != nil {
				return nil, fmt.Errorf("map %s: freeze: %w", name, err)
			}
		}
	}
	if err := c.newVariables(spec); err != nil {
		return nil, err
	}
	return c, nil
}

// MemoryUsed returns the memory the collection has allocated and not yet
// freed, the figure CollectionOptions.MemoryLimit bounds: its maps (as
// estimated before they are created) and tables, and the run states of
// its programs and Runners.
func (c *Collection) MemoryUsed() int64 { return c.mem.used.Load() }

// ErrUnresolved is returned by NewCollection for a program with references
// the loader could not resolve: an unknown extern function or a CO-RE
// relocation against a type or field xebpf's context types lack.
var ErrUnresolved = elf.ErrUnresolved

// unresolvedError lists a program's unresolved references.
func unresolvedError(ps *ProgramSpec) error {
	var b strings.Builder
	for i, u := range ps.Unresolved {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "insn %d: %s: %s", u.Slot, u.Symbol, u.Reason)
		if l, ok := ps.LineInfo(u.Slot); ok {
			fmt.Fprintf(&b, " (%s:%d)", l.File, l.Line)
		}
	}
	return fmt.Errorf("%w: %s", ErrUnresolved, b.String())
}

// builtinKind returns the built-in kind of programs of type t.
func builtinKind(t ProgramType) *ProgramKind {
	switch t {
	case XDP:
		return xdpKind
	case SocketFilter, CGroupSKB:
		return socketFilterKind
	case SchedCLS, SchedACT:
		return schedCLSKind
	case CGroupSockAddr:
		return sockAddrAnyKind
	}
	if k := tracingKind(t, HostArch()); k != nil {
		return k
	}
	return rawKind
}

// KindOf returns the kind xebpf gives programs of type t: its context,
// helpers and return values. Kprobe and perf_event programs get the host's
// struct pt_regs (KprobeKind gives another architecture's);
// CGroupSockAddr programs a struct bpf_sock_addr with the fields of both
// families' hooks (SockAddrKind gives one hook's); types without
// a kind of their own get raw memory as their context. The result is a copy the caller may change, to
// derive a kind of its own.
func KindOf(t ProgramType) *ProgramKind { return builtinKind(t).clone() }

// borrowMap checks that map r of another collection may replace the map
// of spec ms, and takes a reference on r's collection for this one's life.
func (c *Collection) borrowMap(name string, ms *MapSpec, r *Map) (maps.Map, error) {
	want, got := mapsSpec(ms), r.m.Spec()
	if want.Type != got.Type || want.KeySize != got.KeySize || want.ValueSize != got.ValueSize ||
		want.MaxEntries != got.MaxEntries || want.Flags != got.Flags {
		return nil, fmt.Errorf("map replacement %s: %s map %s (key %d, value %d, %d entries, flags %#x) does not match the spec's %s (key %d, value %d, %d entries, flags %#x): %w",
			name, got.Type, r.name, got.KeySize, got.ValueSize, got.MaxEntries, got.Flags,
			want.Type, want.KeySize, want.ValueSize, want.MaxEntries, want.Flags, ErrMapIncompatible)
	}
	if !r.coll.life.acquireLive() {
		return nil, fmt.Errorf("map replacement %s: map %s: %w", name, r.name, ErrClosed)
	}
	if c.borrowed == nil {
		c.borrowed = map[maps.Map]*Collection{}
	}
	if prev := c.borrowed[r.m]; prev != nil {
		prev.life.release() // the same map replaces two: one reference
	}
	c.borrowed[r.m] = r.coll
	return r.m, nil
}

// ErrMapIncompatible is a map replacement that differs from the spec it
// replaces.
var ErrMapIncompatible = errors.New("map incompatible")

// newMap creates the map of a spec, within the collection's memory limit.
func (c *Collection) newMap(name string, ms *MapSpec) (maps.Map, error) {
	s := mapsSpec(ms)
	need, err := maps.MemoryNeeded(s)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", name, err)
	}
	if err := c.mem.charge(fmt.Sprintf("create map %q", name), int64(need)); err != nil {
		return nil, err
	}
	// The collection's limit replaces the per-map one.
	m, err := maps.New(s, maps.WithMaxMemory(c.mem.limit))
	if err != nil {
		c.mem.uncharge(int64(need))
		return nil, fmt.Errorf("map %s: %w", name, err)
	}
	c.fixed += int64(need)
	return m, nil
}

func mapsSpec(ms *MapSpec) *maps.Spec {
	s := &maps.Spec{
		Name: ms.Name, Type: maps.Type(ms.Type), KeySize: ms.KeySize, ValueSize: ms.ValueSize,
		MaxEntries: ms.MaxEntries, Flags: ms.Flags, SpinLockOffset: maps.NoSpinLock,
	}
	switch s.Type {
	case maps.RingBuf:
		// libbpf ignores the key and value types a BTF definition gives a
		// ring buffer (they only document the record type).
		s.KeySize, s.ValueSize = 0, 0
	case maps.PerfEventArray:
		// A perf event array holds 4-byte event fds, whatever record type
		// a BTF definition names (as libbpf and cilium/ebpf treat it).
		s.KeySize, s.ValueSize = 4, 4
	case maps.ArrayOfMaps, maps.HashOfMaps:
		// BTF map-in-map definitions (__array(values, ...)) give no value
		// size: the value is a 4-byte map fd.
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
	}
	if off, ok := spinLockOffset(ms.Value); ok {
		s.SpinLockOffset, s.HasSpinLock = off, true
	}
	if ms.InnerMap != nil {
		s.InnerMap = mapsSpec(ms.InnerMap)
	}
	return s
}

// spinLockOffset finds a struct bpf_spin_lock member in a value type.
func spinLockOffset(t btf.Type) (int, bool) {
	st, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return 0, false
	}
	for _, m := range st.Members {
		if s, ok := btf.UnderlyingType(m.Type).(*btf.Struct); ok && s.Name == "bpf_spin_lock" {
			return int(m.Offset.Bytes()), true
		}
	}
	return 0, false
}

// ErrProgramArrayType is a program array asked to join programs of
// different types, which Linux refuses.
var ErrProgramArrayType = errors.New("program array holds programs of one type")

// ownArray records that program p uses or fills program array m, whose
// programs must all have p's type.
func (c *Collection) ownArray(m maps.Map, p *Program) error {
	owner := c.arrayType[m]
	if owner == nil {
		c.arrayType[m] = p.typ
		return nil
	}
	if owner != p.typ && owner.Name != p.typ.Name {
		return fmt.Errorf("program %s (%s) in program array %s of %s programs: %w", p.name, p.typ.Name, m.Spec().Name, owner.Name, ErrProgramArrayType)
	}
	return nil
}

// fill writes a map's initial contents.
func (c *Collection) fill(spec *CollectionSpec, m maps.Map, ms *MapSpec) error {
	for _, kv := range ms.Contents {
		switch {
		case kv.Ref == nil:
			// Shorter than the value (.bss: empty) means zero-padded.
			v := dataWithVariables(spec, ms, kv.Value)
			if n := m.ValueSize(); len(v) < n {
				v = append(v[:len(v):len(v)], make([]byte, n-len(v))...)
			}
			if err := m.Update(kv.Key, v, maps.UpdateAny); err != nil {
				return err
			}
		case kv.Ref.Kind == elf.RefProgram:
			pa, ok := m.(maps.ProgramArrayMap)
			p := c.Programs[kv.Ref.Name]
			if !ok || p == nil || len(kv.Key) != 4 {
				return fmt.Errorf("slot refers to program %q", kv.Ref.Name)
			}
			if err := c.ownArray(m, p); err != nil {
				return err
			}
			if err := pa.SetProgram(nativeUint32(kv.Key), p.prog); err != nil {
				return err
			}
		case kv.Ref.Kind == elf.RefMap:
			mm, ok := m.(maps.MapOfMaps)
			inner := c.Maps[kv.Ref.Name]
			if !ok || inner == nil {
				return fmt.Errorf("slot refers to map %q", kv.Ref.Name)
			}
			if err := mm.SetMap(kv.Key, inner.m, maps.UpdateAny); err != nil {
				return err
			}
		}
	}
	return nil
}

func nativeUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// resolveMaps replaces the loader's map references (lddw with src 5 or 6)
// by constants: the map's address in the map table, or the address of a
// global-data value. It returns, by instruction index, the object each
// such constant points into, for checked runs: the map's handle, or the
// global-data value (read-only for .rodata and other BPF_F_RDONLY_PROG
// maps).
func (c *Collection) resolveMaps(insns []isa.Instruction) ([]isa.Instruction, map[int]api.Region, error) {
	out := append([]isa.Instruction(nil), insns...)
	ptrs := map[int]api.Region{}
	pc := 0
	for i, ins := range out {
		if ins.IsLDDW() && ins.Src != isa.PseudoImm64 && ins.Src != isa.PseudoFunc {
			idx := int(uint32(ins.Constant))
			if ins.Src != isa.PseudoMapIndex && ins.Src != isa.PseudoMapIndexValue {
				return nil, nil, fmt.Errorf("insn %d: lddw src %d: only map references by index are supported", pc, ins.Src)
			}
			if idx >= len(c.byIndex) {
				return nil, nil, fmt.Errorf("insn %d: reference to map %d of %d", pc, idx, len(c.byIndex))
			}
			m := c.byIndex[idx]
			var v uint64
			if ins.Src == isa.PseudoMapIndex {
				a, kind, ok := c.table.Handle(m)
				if !ok {
					return nil, nil, fmt.Errorf("insn %d: map %s is not in the map table", pc, m.Spec().Name)
				}
				v = a
				h := *kind
				h.Addr = a
				ptrs[i] = h
			} else {
				off := uint64(uint32(uint64(ins.Constant) >> 32))
				clear(c.scratch.Bytes()[:8]) // key 0
				base := m.LookupAddr(c.scratch.Addr())
				if base == 0 || off >= uint64(m.ValueSize()) {
					return nil, nil, fmt.Errorf("insn %d: value offset %d of map %s (value size %d)", pc, off, m.Spec().Name, m.ValueSize())
				}
				v = uint64(base) + off
				kind := *c.table.ValueKind(m)
				kind.Addr, kind.Size = uint64(base), uint64(m.ValueSize())
				ptrs[i] = kind
			}
			out[i] = isa.Instruction{OpCode: isa.OpLDDW, Dst: ins.Dst, Constant: int64(v)}
		}
		pc += ins.Slots()
	}
	return out, ptrs, nil
}

// Close closes the collection's programs and maps, like cilium/ebpf's
// Collection.Close: later runs (also those of the programs' Runners) and
// map operations return ErrClosed. Close does not wait for the runs and
// map operations in progress: they finish, and the last one to end frees
// the memory of the programs and maps (Close frees it at once when none
// is in progress). Runners still open keep that memory until they are
// closed, and so do the slots of other collections' maps of maps that
// hold maps of this one, until they no longer hold them (the memory is
// then freed once the runs that may have looked them up have ended). Close is safe to call concurrently with runs, and more than
// once.
func (c *Collection) Close() error {
	var errs []error
	for _, p := range c.progs {
		errs = append(errs, p.Close())
	}
	for _, m := range c.maps {
		errs = append(errs, m.Close())
	}
	_, err := c.life.close()
	return errors.Join(append(errs, err)...)
}

// DetachProgram removes the named program from the collection and
// returns it (nil if there is none): closing the collection no longer
// closes it, and the caller closes it.
func (c *Collection) DetachProgram(name string) *Program {
	p := c.Programs[name]
	if p == nil {
		return nil
	}
	delete(c.Programs, name)
	for i, q := range c.progs {
		if q == p {
			c.progs = append(c.progs[:i], c.progs[i+1:]...)
			break
		}
	}
	return p
}

// DetachMap removes the named map from the collection and returns it (nil
// if there is none): closing the collection no longer closes it, and the
// caller closes it.
func (c *Collection) DetachMap(name string) *Map {
	m := c.Maps[name]
	if m == nil {
		return nil
	}
	delete(c.Maps, name)
	for i, q := range c.maps {
		if q == m {
			c.maps = append(c.maps[:i], c.maps[i+1:]...)
			break
		}
	}
	return m
}

// free runs once the collection is closed and its programs and maps
// are freed, when nothing can run its programs or reach its maps of
// maps any more: the maps of maps drop their slots' references on
// other collections' maps, and the memory is freed unless slots of other
// collections' maps of maps still hold maps of this one.
func (c *Collection) free() error {
	var errs []error
	for _, m := range c.byIndex {
		if m != nil && c.borrowed[m] == nil && (m.Type() == maps.ArrayOfMaps || m.Type() == maps.HashOfMaps) {
			errs = append(errs, m.Close())
		}
	}
	// The maps of other collections its programs used: a slot that holds
	// one holds its owner's memory (setMap).
	for _, lender := range c.borrowed {
		errs = append(errs, lender.life.release())
	}
	_, err := c.keep.close()
	return errors.Join(append(errs, err)...)
}

// freeMemory releases the maps and all the collection's memory, once it
// is freed (free) and no slot of another collection holds its maps.
func (c *Collection) freeMemory() error {
	var errs []error
	for _, m := range c.byIndex {
		if m != nil && c.borrowed[m] == nil {
			errs = append(errs, m.Close())
		}
	}
	if c.table != nil {
		errs = append(errs, c.table.Close())
	}
	if c.scratch != nil {
		errs = append(errs, c.scratch.Free())
	}
	c.mem.uncharge(c.fixed)
	c.fixed = 0
	return errors.Join(errs...)
}
