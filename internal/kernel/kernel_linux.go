package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// dataOutSlack is how many bytes DataOut may grow beyond the input: XDP can
// grow a frame by its tailroom (under a page) and prepend up to its headroom;
// skb helpers can grow more, so leave room for a full 64 KiB packet.
const dataOutSlack = 64 << 10

// ctxOutRoom is the least ctx_out buffer Run gives the kernel: more than
// any program type's context struct.
const ctxOutRoom = 4096

// Available reports whether this system can load and test-run eBPF
// programs: it lifts the memlock limit, loads a two-instruction socket
// filter and test-runs it once. The error wraps ErrUnavailable.
func Available() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("%w: remove memlock limit: %v", ErrUnavailable, err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		return fmt.Errorf("%w: load a socket filter: %v", ErrUnavailable, err)
	}
	defer prog.Close()
	if _, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, MinPacketLen)}); err != nil {
		return fmt.Errorf("%w: test-run a socket filter: %v", ErrUnavailable, err)
	}
	return nil
}

// Release returns the running kernel's release, as uname -r prints it
// (from /proc/sys/kernel/osrelease), or "unknown". Tests name it when they
// skip over a known difference between kernel versions.
func Release() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "unknown"
	}
	return string(bytes.TrimSpace(b))
}

// Collection is an object file loaded into the kernel: its maps and the
// programs that loaded. Close releases them.
type Collection struct {
	spec     *ebpf.CollectionSpec
	maps     map[string]*ebpf.Map
	progs    map[string]*ebpf.Program
	progErrs map[string]error
	progByID map[ebpf.ProgramID]string
	mapByID  map[ebpf.MapID]string
}

// Load reads the ELF object at path and loads its maps and the selected
// programs into the kernel. Maps are created first; each program is then
// loaded on its own against them, so that a program the kernel rejects (or
// of a type it cannot load here) does not keep the others out: its error is
// reported by ProgramErrors and by Run. Program arrays are filled from the
// object's static initializers with the programs that loaded, and opts.Maps
// is written last (frozen maps before loading).
//
// Load fails only if the object cannot be read, a selected program does not
// exist, a map cannot be created or a preload cannot be applied.
func Load(path string, opts LoadOptions) (*Collection, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("%w: remove memlock limit: %v", ErrUnavailable, err)
	}
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	names, err := selectPrograms(spec, opts.Programs)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}

	// The spec the maps are created from: no programs, no variables (so a
	// data section's Contents is used as is), no pinning, and program-array
	// initializers set aside until the programs exist.
	mspec := spec.Copy()
	mspec.Programs = map[string]*ebpf.ProgramSpec{}
	mspec.Variables = nil
	progSlots := map[string][]ebpf.MapKV{}
	for name, ms := range mspec.Maps {
		ms.Pinning = ebpf.PinNone
		if ms.Type == ebpf.ProgramArray {
			progSlots[name] = ms.Contents
			ms.Contents = nil
		}
	}
	late := map[string]MapState{}
	for name, st := range opts.Maps {
		ms, ok := mspec.Maps[name]
		if !ok {
			return nil, fmt.Errorf("load %s: preload map %q: %w", path, name, ErrUnknownMap)
		}
		if !frozenAtLoad(ms.Name) {
			late[name] = st
			continue
		}
		if err := preloadSpec(ms, st); err != nil {
			return nil, fmt.Errorf("load %s: preload map %q: %w", path, name, err)
		}
	}

	mcoll, err := ebpf.NewCollection(mspec)
	if err != nil {
		return nil, fmt.Errorf("load %s: create maps: %w", path, err)
	}
	c := &Collection{
		spec:     spec,
		maps:     mcoll.Maps,
		progs:    map[string]*ebpf.Program{},
		progErrs: map[string]error{},
		progByID: map[ebpf.ProgramID]string{},
		mapByID:  map[ebpf.MapID]string{},
	}
	for _, name := range names {
		prog, err := loadProgram(mspec, spec.Programs[name], c.maps)
		if err != nil {
			c.progErrs[name] = err
			continue
		}
		c.progs[name] = prog
	}
	c.indexIDs()
	for name, slots := range progSlots {
		for _, kv := range slots {
			target, ok := kv.Value.(string)
			if !ok {
				continue
			}
			prog := c.progs[target]
			if prog == nil {
				continue // not selected or not loaded: its slot stays empty
			}
			if err := c.maps[name].Put(kv.Key, prog); err != nil {
				c.Close()
				return nil, fmt.Errorf("load %s: map %q: slot %v: program %q: %w", path, name, kv.Key, target, err)
			}
		}
	}
	if err := c.LoadMaps(late); err != nil {
		c.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// frozenAtLoad reports whether cilium/ebpf freezes the named map after
// writing its initial contents (read-only data and .kconfig).
func frozenAtLoad(name string) bool {
	return strings.HasPrefix(name, ".rodata") || name == ".kconfig"
}

// selectPrograms returns the names of the programs to load, sorted.
func selectPrograms(spec *ebpf.CollectionSpec, want []string) ([]string, error) {
	if len(want) == 0 {
		names := make([]string, 0, len(spec.Programs))
		for name := range spec.Programs {
			names = append(names, name)
		}
		sort.Strings(names)
		return names, nil
	}
	names := make([]string, 0, len(want))
	for _, name := range want {
		if _, ok := spec.Programs[name]; !ok {
			return nil, fmt.Errorf("program %q: %w", name, ErrUnknownProgram)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// loadProgram loads one program against the already created maps.
func loadProgram(mspec *ebpf.CollectionSpec, ps *ebpf.ProgramSpec, maps map[string]*ebpf.Map) (*ebpf.Program, error) {
	if ps.Type == ebpf.UnspecifiedProgram {
		return nil, fmt.Errorf("section %q: program type is unspecified", ps.SectionName)
	}
	one := &ebpf.CollectionSpec{
		Maps:      mspec.Maps,
		Programs:  map[string]*ebpf.ProgramSpec{ps.Name: ps},
		Types:     mspec.Types,
		ByteOrder: mspec.ByteOrder,
	}
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: maps})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	prog := coll.DetachProgram(ps.Name)
	if prog == nil {
		return nil, fmt.Errorf("program %q missing after load", ps.Name)
	}
	return prog, nil
}

// preloadSpec writes st into the initial contents of a map the kernel
// freezes at load time. Only plain key/value entries are accepted.
func preloadSpec(ms *ebpf.MapSpec, st MapState) error {
	if err := checkShape(st, ms.Type.String(), ms.KeySize, ms.ValueSize, ms.MaxEntries); err != nil {
		return err
	}
	if st.Entries == nil {
		return nil
	}
	contents := slices.Clone(ms.Contents)
	for _, e := range st.Entries {
		if e.Values != nil || e.Program != "" || e.Map != "" {
			return fmt.Errorf("key %x: a frozen map takes plain values only", e.Key)
		}
		if err := checkEntrySizes(e, ms.KeySize, ms.ValueSize); err != nil {
			return err
		}
		key, val := slices.Clone(e.Key), slices.Clone(e.Value)
		replaced := false
		for i, kv := range contents {
			if kb, err := keyBytes(kv.Key, ms.KeySize); err == nil && bytes.Equal(kb, key) {
				contents[i] = ebpf.MapKV{Key: key, Value: val}
				replaced = true
			}
		}
		if !replaced {
			contents = append(contents, ebpf.MapKV{Key: key, Value: val})
		}
	}
	ms.Contents = contents
	return nil
}

// keyBytes returns the bytes of a MapSpec content key, which the ELF reader
// produces as uint32 for arrays and data sections, []byte otherwise.
func keyBytes(k any, size uint32) ([]byte, error) {
	switch k := k.(type) {
	case []byte:
		return k, nil
	case uint32:
		return binary.NativeEndian.AppendUint32(nil, k), nil
	}
	b, err := binary.Append(nil, binary.NativeEndian, k)
	if err != nil || uint32(len(b)) != size {
		return nil, fmt.Errorf("content key of type %T", k)
	}
	return b, nil
}

// Close releases the collection's maps and programs.
func (c *Collection) Close() {
	for _, m := range c.maps {
		m.Close()
	}
	for _, p := range c.progs {
		p.Close()
	}
	c.maps, c.progs = nil, nil
}

// Programs returns the names of the programs that loaded, sorted.
func (c *Collection) Programs() []string {
	names := make([]string, 0, len(c.progs))
	for name := range c.progs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ProgramType returns cilium/ebpf's name for a selected program's type
// ("XDP", "SchedCLS", "SocketFilter", ...), or "" if the object has no such
// program.
func (c *Collection) ProgramType(name string) string {
	if ps, ok := c.spec.Programs[name]; ok {
		return ps.Type.String()
	}
	return ""
}

// ProgramErrors returns, for each selected program the kernel did not
// load, why; nil if all loaded. Errors are *ProgramError, by program name.
func (c *Collection) ProgramErrors() []error {
	names := make([]string, 0, len(c.progErrs))
	for name := range c.progErrs {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		errs = append(errs, &ProgramError{Program: name, Err: c.progErrs[name]})
	}
	return errs
}

func (c *Collection) program(name string) (*ebpf.Program, error) {
	if p := c.progs[name]; p != nil {
		return p, nil
	}
	if err := c.progErrs[name]; err != nil {
		return nil, fmt.Errorf("program %q: %w: %w", name, ErrNotLoaded, err)
	}
	return nil, fmt.Errorf("program %q: %w", name, ErrUnknownProgram)
}

// needsPacket reports whether test-runs of the program type take a packet
// starting with an Ethernet header.
func needsPacket(t ebpf.ProgramType) bool {
	switch t {
	case ebpf.XDP, ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB,
		ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local, ebpf.FlowDissector:
		return true
	}
	return false
}

// Run test-runs a program once (or in.Repeat times) with BPF_PROG_TEST_RUN
// and returns what the kernel reports. DataOut is sized for any growth the
// program can make.
func (c *Collection) Run(program string, in RunInput) (RunResult, error) {
	prog, err := c.program(program)
	if err != nil {
		return RunResult{}, err
	}
	if needsPacket(prog.Type()) && len(in.Data) < MinPacketLen {
		return RunResult{}, fmt.Errorf("program %q: %d bytes: %w", program, len(in.Data), ErrShortPacket)
	}
	repeat := max(in.Repeat, 1)
	if uint64(repeat) > 1<<32-1 {
		return RunResult{}, fmt.Errorf("program %q: repeat %d too large", program, repeat)
	}
	var dataOut, ctxOut []byte
	if len(in.Data) > 0 {
		dataOut = make([]byte, len(in.Data)+dataOutSlack)
	}
	if len(in.Context) > 0 || in.ContextOut {
		// Room for the program type's whole struct, which the kernel
		// reports also for a shorter context (ENOSPC if it does not fit).
		ctxOut = make([]byte, max(len(in.Context), ctxOutRoom))
	}
	tr := testRun{
		progFD:  prog.FD(),
		data:    in.Data,
		dataOut: dataOut,
		ctx:     in.Context,
		ctxOut:  ctxOut,
		repeat:  uint32(repeat),
	}
	if err := tr.run(); err != nil {
		return RunResult{}, fmt.Errorf("program %q (%s): %w", program, prog.Type(), err)
	}
	res := RunResult{Retval: tr.retval, DataOut: []byte{}, ContextOut: nil, Duration: tr.duration}
	if dataOut != nil {
		res.DataOut = dataOut[:tr.dataSizeOut]
	}
	if ctxOut != nil {
		res.ContextOut = ctxOut[:tr.ctxSizeOut]
	}
	return res, nil
}

// Bench test-runs a program repeat times in one BPF_PROG_TEST_RUN and
// returns the kernel's mean time per run (which the kernel measures in whole
// nanoseconds). Map updates of all runs persist.
func (c *Collection) Bench(program string, in RunInput, repeat int) (time.Duration, error) {
	prog, err := c.program(program)
	if err != nil {
		return 0, err
	}
	if needsPacket(prog.Type()) && len(in.Data) < MinPacketLen {
		return 0, fmt.Errorf("program %q: %d bytes: %w", program, len(in.Data), ErrShortPacket)
	}
	if repeat < 1 || uint64(repeat) > 1<<32-1 {
		return 0, fmt.Errorf("program %q: repeat %d out of range", program, repeat)
	}
	tr := testRun{progFD: prog.FD(), data: in.Data, ctx: in.Context, repeat: uint32(repeat)}
	if err := tr.run(); err != nil {
		return 0, fmt.Errorf("program %q (%s): %w", program, prog.Type(), err)
	}
	return tr.duration, nil
}

var errNoRingbufPreload = errors.New("ring buffer records cannot be written from user space")

// checkShape checks the fields of st that are set against a map's shape.
func checkShape(st MapState, typ string, keySize, valueSize, maxEntries uint32) error {
	switch {
	case st.Type != "" && st.Type != typ:
		return fmt.Errorf("type %s, map is %s", st.Type, typ)
	case st.KeySize != 0 && st.KeySize != keySize:
		return fmt.Errorf("key_size %d, map has %d", st.KeySize, keySize)
	case st.ValueSize != 0 && st.ValueSize != valueSize:
		return fmt.Errorf("value_size %d, map has %d", st.ValueSize, valueSize)
	case st.MaxEntries != 0 && st.MaxEntries != maxEntries:
		return fmt.Errorf("max_entries %d, map has %d", st.MaxEntries, maxEntries)
	}
	return nil
}

func checkEntrySizes(e Entry, keySize, valueSize uint32) error {
	if uint32(len(e.Key)) != keySize {
		return fmt.Errorf("key %x: %d bytes, map keys have %d", e.Key, len(e.Key), keySize)
	}
	if e.Program != "" || e.Map != "" {
		return nil
	}
	if e.Values != nil {
		for i, v := range e.Values {
			if uint32(len(v)) != valueSize {
				return fmt.Errorf("key %x: cpu %d: %d bytes, map values have %d", e.Key, i, len(v), valueSize)
			}
		}
		return nil
	}
	if uint32(len(e.Value)) != valueSize {
		return fmt.Errorf("key %x: value of %d bytes, map values have %d", e.Key, len(e.Value), valueSize)
	}
	return nil
}

// LoadMaps writes map contents: for each named map, each entry of Entries is
// inserted or overwritten (other keys stay as they are); a program-array
// slot takes the named program of this collection, a map-of-maps slot the
// named map; per-CPU entries take one value per CPU (missing CPUs get
// zeros), or one value that every CPU gets. A queue or stack given ValuesInPopOrder is emptied and refilled so
// that pops return those values in order. Ring buffers cannot be written.
// Set shape fields (type, sizes) must match the map. A map or field that is
// absent is left as it is.
func (c *Collection) LoadMaps(states map[string]MapState) error {
	names := make([]string, 0, len(states))
	for name := range states {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.loadMap(name, states[name]); err != nil {
			return fmt.Errorf("map %q: %w", name, err)
		}
	}
	return nil
}

func (c *Collection) loadMap(name string, st MapState) error {
	m := c.maps[name]
	if m == nil {
		return ErrUnknownMap
	}
	typ := m.Type()
	if err := checkShape(st, typ.String(), m.KeySize(), m.ValueSize(), m.MaxEntries()); err != nil {
		return err
	}
	if len(st.Records) > 0 {
		return errNoRingbufPreload
	}
	for _, e := range st.Entries {
		if err := checkEntrySizes(e, m.KeySize(), m.ValueSize()); err != nil {
			return err
		}
		var value any
		switch {
		case e.Program != "":
			p := c.progs[e.Program]
			if p == nil {
				return fmt.Errorf("key %x: program %q is not loaded", e.Key, e.Program)
			}
			value = p
		case e.Map != "":
			inner := c.maps[e.Map]
			if inner == nil {
				return fmt.Errorf("key %x: map %q: %w", e.Key, e.Map, ErrUnknownMap)
			}
			value = inner
		case e.Values != nil:
			if !isPerCPU(typ) {
				return fmt.Errorf("key %x: per-CPU values for a %s map", e.Key, typ)
			}
			value = e.Values
		case isPerCPU(typ):
			// One value for every CPU, as bpftool map update does.
			n, err := ebpf.PossibleCPU()
			if err != nil {
				return fmt.Errorf("key %x: %w", e.Key, err)
			}
			value = slices.Repeat([][]byte{e.Value}, n)
		default:
			value = e.Value
		}
		if err := m.Put(e.Key, value); err != nil {
			return fmt.Errorf("key %x: %w", e.Key, err)
		}
	}
	if st.ValuesInPopOrder != nil {
		if typ != ebpf.Queue && typ != ebpf.Stack {
			return fmt.Errorf("values_in_pop_order for a %s map", typ)
		}
		if uint32(len(st.ValuesInPopOrder)) > m.MaxEntries() {
			return fmt.Errorf("%d values, map holds %d", len(st.ValuesInPopOrder), m.MaxEntries())
		}
		for i, v := range st.ValuesInPopOrder {
			if uint32(len(v)) != m.ValueSize() {
				return fmt.Errorf("value %d: %d bytes, map values have %d", i, len(v), m.ValueSize())
			}
		}
		if _, err := popAll(m); err != nil {
			return err
		}
		if err := pushInPopOrder(m, st.ValuesInPopOrder); err != nil {
			return err
		}
	}
	return nil
}

// popAll empties a queue or stack, returning its values in pop order.
func popAll(m *ebpf.Map) ([][]byte, error) {
	var out [][]byte
	for range m.MaxEntries() + 1 {
		v := make([]byte, m.ValueSize())
		err := m.LookupAndDelete(nil, &v)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("pop: %w", err)
		}
		out = append(out, v)
	}
	return out, fmt.Errorf("pop: more than max_entries (%d) values", m.MaxEntries())
}

// pushInPopOrder pushes values into an empty queue or stack so that pops
// return them in the given order.
func pushInPopOrder(m *ebpf.Map, values [][]byte) error {
	order := values
	if m.Type() == ebpf.Stack {
		order = slices.Clone(values)
		slices.Reverse(order)
	}
	for i, v := range order {
		if err := m.Update(nil, v, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("push value %d: %w", i, err)
		}
	}
	return nil
}

// DumpMaps returns the contents of every map, by name (global data by
// section name: ".data", ".rodata", ".bss"). Hash-like maps list their keys
// in key-byte order; array-like maps every index in order (program arrays
// and maps of maps only the filled slots, naming the program or map by its
// name in this collection, or "id:N" for an object outside it). Per-CPU maps
// give one value per possible CPU. Queues and stacks are emptied and then
// refilled in the same order, so they end as they were. Ring buffers are
// drained: their records are consumed, and a later dump shows only newer
// ones. A map whose contents cannot be read has Error set.
func (c *Collection) DumpMaps() (map[string]MapState, error) {
	out := make(map[string]MapState, len(c.maps))
	for name, m := range c.maps {
		st, err := c.dumpMap(m)
		if err != nil {
			st.Error = err.Error()
		}
		out[name] = st
	}
	return out, nil
}

func (c *Collection) dumpMap(m *ebpf.Map) (MapState, error) {
	typ := m.Type()
	st := MapState{
		Type:       typ.String(),
		KeySize:    m.KeySize(),
		ValueSize:  m.ValueSize(),
		MaxEntries: m.MaxEntries(),
	}
	switch typ {
	case ebpf.Queue, ebpf.Stack:
		vals, err := popAll(m)
		if perr := pushInPopOrder(m, vals); err == nil {
			err = perr
		}
		if err != nil {
			return st, err
		}
		st.ValuesInPopOrder = vals
		if st.ValuesInPopOrder == nil {
			st.ValuesInPopOrder = [][]byte{}
		}
		return st, nil
	case ebpf.RingBuf:
		recs, err := drainRingbuf(m)
		if err != nil {
			return st, err
		}
		st.Records = recs
		return st, nil
	case ebpf.PerfEventArray:
		// Its slots hold perf events, which user space cannot look up;
		// their samples are not map contents (nor in xebpf's maps files).
		return st, nil
	case ebpf.Array, ebpf.PerCPUArray:
		entries := make([]Entry, 0, min(m.MaxEntries(), 1<<16))
		for i := range m.MaxEntries() {
			key := binary.NativeEndian.AppendUint32(nil, i)
			e, ok, err := c.lookup(m, key)
			if err != nil {
				return st, fmt.Errorf("index %d: %w", i, err)
			}
			if ok {
				entries = append(entries, e)
			}
		}
		st.Entries = entries
		return st, nil
	}
	entries := []Entry{}
	var key []byte // nil: start from the first key
	limit := uint64(m.MaxEntries())*2 + 16
	for n := uint64(0); ; n++ {
		if n > limit {
			return st, fmt.Errorf("iteration did not end after %d keys", limit)
		}
		next := make([]byte, m.KeySize())
		var err error
		if key == nil {
			err = m.NextKey(nil, &next)
		} else {
			err = m.NextKey(key, &next)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("next key: %w", err)
		}
		key = next
		e, ok, err := c.lookup(m, key)
		if err != nil {
			return st, fmt.Errorf("key %x: %w", key, err)
		}
		if ok {
			entries = append(entries, e)
		}
	}
	st.Entries = entries
	st.Normalize()
	return st, nil
}

// lookup reads one entry; ok is false if the key holds nothing.
func (c *Collection) lookup(m *ebpf.Map, key []byte) (Entry, bool, error) {
	e := Entry{Key: slices.Clone(key)}
	typ := m.Type()
	if isPerCPU(typ) {
		var vals [][]byte
		err := m.Lookup(key, &vals)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return e, false, nil
		}
		if err != nil {
			return e, false, err
		}
		e.Values = vals
		return e, true, nil
	}
	raw, err := m.LookupBytes(key)
	if err != nil {
		return e, false, err
	}
	if raw == nil {
		return e, false, nil
	}
	switch {
	case typ == ebpf.ProgramArray && len(raw) == 4:
		id := ebpf.ProgramID(binary.NativeEndian.Uint32(raw))
		if name, ok := c.progByID[id]; ok {
			e.Program = name
		} else {
			e.Program = fmt.Sprintf("id:%d", id)
		}
	case (typ == ebpf.ArrayOfMaps || typ == ebpf.HashOfMaps) && len(raw) == 4:
		id := ebpf.MapID(binary.NativeEndian.Uint32(raw))
		if name, ok := c.mapByID[id]; ok {
			e.Map = name
		} else {
			e.Map = fmt.Sprintf("id:%d", id)
		}
	default:
		e.Value = raw
	}
	return e, true, nil
}

// isPerCPU reports whether maps of type t hold one value per possible CPU.
func isPerCPU(t ebpf.MapType) bool { return IsPerCPU(t.String()) }

// drainRingbuf reads every committed record of a ring buffer, consuming it.
func drainRingbuf(m *ebpf.Map) ([][]byte, error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("ring buffer reader: %w", err)
	}
	defer rd.Close()
	rd.SetDeadline(time.Now())
	recs := [][]byte{}
	for {
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return recs, nil
		}
		if err != nil {
			return recs, fmt.Errorf("ring buffer read: %w", err)
		}
		recs = append(recs, rec.RawSample)
	}
}

// specialStructs are the kernel-managed struct types that map lookups from
// user space report as zero, whatever their state.
var specialStructs = map[string]bool{
	"bpf_spin_lock": true, "bpf_res_spin_lock": true, "bpf_timer": true, "bpf_wq": true,
	"bpf_list_head": true, "bpf_list_node": true, "bpf_rb_root": true, "bpf_rb_node": true,
	"bpf_refcount": true, "bpf_task_work": true,
}

// ValueMasks returns, for each map whose value type (from BTF) holds a
// kernel-managed field (struct bpf_spin_lock, bpf_timer, ...) at its top
// level or in nested structs, the byte ranges of those fields: pass it as
// CompareOptions.ValueMasks.
func (c *Collection) ValueMasks() map[string][]ByteRange {
	out := map[string][]ByteRange{}
	for name, ms := range c.spec.Maps {
		if ms.Value == nil {
			continue
		}
		if r := specialRanges(ms.Value, 0, 0); len(r) > 0 {
			out[name] = r
		}
	}
	return out
}

// specialRanges walks a value type (to a bounded depth) for special fields.
func specialRanges(t btf.Type, base uint32, depth int) []ByteRange {
	if depth > 8 {
		return nil
	}
	var out []ByteRange
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		if specialStructs[t.Name] {
			return []ByteRange{{Off: base, Len: t.Size}}
		}
		for _, m := range t.Members {
			out = append(out, specialRanges(m.Type, base+uint32(m.Offset.Bytes()), depth+1)...)
		}
	case *btf.Union:
		for _, m := range t.Members {
			out = append(out, specialRanges(m.Type, base+uint32(m.Offset.Bytes()), depth+1)...)
		}
	}
	return out
}
