// Package service is xebpf's daemon: it keeps programs and maps alive
// between processes, in a table of objects with ids, names and pins in a
// bpffs-like namespace, and serves them to clients over a local socket
// (see the proto package for the protocol and the client package for the
// Go client).
//
// Objects are reference-counted as in Linux and eBPF for Windows: a
// program or map lives while a pin, a client session's handle or (for a
// map) a program that uses it holds it. When the last reference goes, the
// object's id is gone and, once every object of its ELF object is gone,
// the memory of the collection is returned.
//
// With a state directory (Daemon.OpenState), what is pinned survives the
// daemon, a kill included: see state.go for the files and for when an
// update is durable.
package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/service/proto"
)

// PinRoot is the root of the daemon's pin namespace: pin paths look like
// bpffs paths.
const PinRoot = "/sys/fs/bpf"

// RunStats counts a program's runs, as the kernel's run_cnt and
// run_time_ns: the daemon's test runs, and the runs of hooks that attach
// the program.
type RunStats struct {
	cnt, ns atomic.Uint64
}

// Record adds runs runs that took total in all.
func (s *RunStats) Record(runs uint64, total time.Duration) {
	s.cnt.Add(runs)
	if total > 0 {
		s.ns.Add(uint64(total))
	}
}

// Count returns the runs and their total duration in nanoseconds.
func (s *RunStats) Count() (runs, ns uint64) { return s.cnt.Load(), s.ns.Load() }

// collObj is a loaded collection: its memory is returned when every
// program and map taken from it is gone.
type collObj struct {
	c    *xebpf.Collection
	live int // daemon objects of the collection not yet freed
}

// progObj is a program in the table.
type progObj struct {
	id       uint32
	refs     int
	pins     []string
	coll     *collObj
	p        *xebpf.Program
	name     string
	tag      string
	gpl      bool
	loadedAt time.Time
	uid      uint32
	xlated   int
	maps     []*mapObj // the maps the program uses: it holds each
	stats    RunStats
}

// mapObj is a map in the table.
type mapObj struct {
	id   uint32
	refs int
	pins []string
	coll *collObj
	m    *xebpf.Map
	name string
}

// table is the daemon's objects. Its mutex guards everything but the
// xebpf objects themselves, which are safe for concurrent use: operations
// take a reference under the lock and run outside it.
type table struct {
	mu        sync.Mutex
	lastProg  uint32
	lastMap   uint32
	progs     map[uint32]*progObj
	maps      map[uint32]*mapObj
	pins      map[string]any // *progObj, *mapObj or *linkObj
	colls     map[*collObj]struct{}
	lastLink  uint32
	links     map[uint32]*linkObj
	providers map[string]LinkProvider // by kind
	devs      map[string]*linkObj     // links held by their device (netdev.go)
	st        *state                  // nil: nothing is durable (OpenState)
	// freed are the collections whose objects are all gone, until their
	// MemoryUsed is 0 (run states freed by a cleanup after a GC return
	// their memory a little later).
	freed map[*collObj]struct{}
	// inner are the maps the slots of each map of maps hold, each with
	// a reference (mapofmaps.go).
	inner map[*mapObj][]*mapObj
}

func newTable() *table {
	return &table{
		progs:     map[uint32]*progObj{},
		maps:      map[uint32]*mapObj{},
		pins:      map[string]any{},
		colls:     map[*collObj]struct{}{},
		freed:     map[*collObj]struct{}{},
		links:     map[uint32]*linkObj{},
		providers: map[string]LinkProvider{},
	}
}

// unrefProg drops a reference; the last frees the program and its
// references on maps. t.mu is held.
func (t *table) unrefProg(p *progObj) error {
	p.refs--
	if p.refs > 0 {
		return nil
	}
	delete(t.progs, p.id)
	err := p.p.Close()
	for _, m := range p.maps {
		err = errors.Join(err, t.unrefMap(m))
	}
	t.collDone(p.coll)
	return err
}

// unrefMap drops a reference; the last frees the map. t.mu is held.
func (t *table) unrefMap(m *mapObj) error {
	m.refs--
	if m.refs > 0 {
		return nil
	}
	delete(t.maps, m.id)
	err := m.m.Close()
	err = errors.Join(err, t.dropInner(m))
	t.collDone(m.coll)
	return err
}

// collDone counts one object of the collection freed.
func (t *table) collDone(c *collObj) {
	c.live--
	if c.live == 0 {
		delete(t.colls, c)
		t.freed[c] = struct{}{}
	}
}

// unref drops a reference on a *progObj, *mapObj or *linkObj. t.mu is
// held.
func (t *table) unref(o any) error {
	switch o := o.(type) {
	case *progObj:
		return t.unrefProg(o)
	case *mapObj:
		return t.unrefMap(o)
	case *linkObj:
		return t.unrefLink(o)
	}
	return nil
}

// checkPinPath checks that p is a clean path under PinRoot.
func checkPinPath(p string) error {
	if len(p) > 4096 {
		return proto.Errorf(proto.CodeInvalid, "pin path of %d bytes: at most 4096", len(p))
	}
	if !strings.HasPrefix(p, PinRoot+"/") || path.Clean(p) != p || p == PinRoot+"/" {
		return proto.Errorf(proto.CodeInvalid, "pin path %q: must be a clean path under %s/", p, PinRoot)
	}
	for _, c := range strings.Split(p, "/") {
		if strings.ContainsAny(c, "\x00") {
			return proto.Errorf(proto.CodeInvalid, "pin path %q: NUL byte", p)
		}
	}
	return nil
}

// pin pins o at p. t.mu is held.
func (t *table) pin(o any, p string) error {
	if err := checkPinPath(p); err != nil {
		return err
	}
	if _, ok := t.pins[p]; ok {
		return proto.Errorf(proto.CodeExist, "pin %s: file exists", p)
	}
	for q := range t.pins {
		if strings.HasPrefix(q, p+"/") {
			return proto.Errorf(proto.CodeExist, "pin %s: is a directory holding %s", p, q)
		}
		if strings.HasPrefix(p, q+"/") {
			return proto.Errorf(proto.CodeInvalid, "pin %s: %s is a pinned object, not a directory", p, q)
		}
	}
	t.pins[p] = o
	switch o := o.(type) {
	case *progObj:
		o.refs++
		o.pins = insertSorted(o.pins, p)
	case *mapObj:
		o.refs++
		o.pins = insertSorted(o.pins, p)
	case *linkObj:
		o.refs++
		o.pins = insertSorted(o.pins, p)
	}
	return nil
}

// checkFree fails if a pin exists at one of paths, so that a load that
// could not pin costs nothing (pin checks again when it pins).
func (t *table) checkFree(paths []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range paths {
		if _, ok := t.pins[p]; ok {
			return proto.Errorf(proto.CodeExist, "load object: pin %s: file exists", p)
		}
	}
	return nil
}

// unpin removes the pin at p. t.mu is held.
func (t *table) unpin(p string) error {
	o, ok := t.pins[p]
	if !ok {
		for q := range t.pins {
			if strings.HasPrefix(q, p+"/") {
				return proto.Errorf(proto.CodeInvalid, "unpin %s: is a directory; unpin the pins in it", p)
			}
		}
		return proto.Errorf(proto.CodeNotFound, "unpin %s: no such pin", p)
	}
	delete(t.pins, p)
	switch o := o.(type) {
	case *progObj:
		o.pins = removeString(o.pins, p)
	case *mapObj:
		o.pins = removeString(o.pins, p)
	case *linkObj:
		o.pins = removeString(o.pins, p)
	}
	return t.unref(o)
}

func insertSorted(s []string, v string) []string {
	i := sort.SearchStrings(s, v)
	return append(s[:i], append([]string{v}, s[i:]...)...)
}

func removeString(s []string, v string) []string {
	for i, x := range s {
		if x == v {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

// findProgs returns the programs ref names, in id order: all of them for
// the zero Ref. t.mu is held.
func (t *table) findProgs(ref proto.Ref) ([]*progObj, error) {
	var out []*progObj
	switch {
	case ref.ID != 0:
		p := t.progs[ref.ID]
		if p == nil {
			return nil, proto.Errorf(proto.CodeNotFound, "program id %d: no such program", ref.ID)
		}
		return []*progObj{p}, nil
	case ref.Pinned != "":
		p, ok := t.pins[ref.Pinned].(*progObj)
		if !ok {
			if _, isMap := t.pins[ref.Pinned]; isMap {
				return nil, proto.Errorf(proto.CodeInvalid, "%s is a map, not a program", ref.Pinned)
			}
			return nil, proto.Errorf(proto.CodeNotFound, "pinned %s: no such program", ref.Pinned)
		}
		return []*progObj{p}, nil
	}
	for _, p := range t.progs {
		if ref.Name == "" || p.name == ref.Name {
			out = append(out, p)
		}
	}
	if ref.Name != "" && len(out) == 0 {
		return nil, proto.Errorf(proto.CodeNotFound, "program name %s: no such program", ref.Name)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// findMaps is findProgs for maps.
func (t *table) findMaps(ref proto.Ref) ([]*mapObj, error) {
	var out []*mapObj
	switch {
	case ref.ID != 0:
		m := t.maps[ref.ID]
		if m == nil {
			return nil, proto.Errorf(proto.CodeNotFound, "map id %d: no such map", ref.ID)
		}
		return []*mapObj{m}, nil
	case ref.Pinned != "":
		m, ok := t.pins[ref.Pinned].(*mapObj)
		if !ok {
			if _, isProg := t.pins[ref.Pinned]; isProg {
				return nil, proto.Errorf(proto.CodeInvalid, "%s is a program, not a map", ref.Pinned)
			}
			return nil, proto.Errorf(proto.CodeNotFound, "pinned %s: no such map", ref.Pinned)
		}
		return []*mapObj{m}, nil
	}
	for _, m := range t.maps {
		if ref.Name == "" || m.name == ref.Name {
			out = append(out, m)
		}
	}
	if ref.Name != "" && len(out) == 0 {
		return nil, proto.Errorf(proto.CodeNotFound, "map name %s: no such map", ref.Name)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// oneProg resolves ref to a single program and takes a reference on it
// for the caller, who drops it with t.release.
func (t *table) oneProg(ref proto.Ref) (*progObj, error) {
	if !ref.Valid() {
		return nil, proto.Errorf(proto.CodeInvalid, "name a program by id, pinned path or name")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ps, err := t.findProgs(ref)
	if err != nil {
		return nil, err
	}
	if len(ps) > 1 {
		return nil, proto.Errorf(proto.CodeAmbiguous, "program %s: %d programs match; name one by id", ref, len(ps))
	}
	ps[0].refs++
	return ps[0], nil
}

// oneMap is oneProg for maps.
func (t *table) oneMap(ref proto.Ref) (*mapObj, error) {
	if !ref.Valid() {
		return nil, proto.Errorf(proto.CodeInvalid, "name a map by id, pinned path or name")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ms, err := t.findMaps(ref)
	if err != nil {
		return nil, err
	}
	if len(ms) > 1 {
		return nil, proto.Errorf(proto.CodeAmbiguous, "map %s: %d maps match; name one by id", ref, len(ms))
	}
	ms[0].refs++
	return ms[0], nil
}

// release drops a reference oneProg or oneMap took.
func (t *table) release(o any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unref(o)
}

// progInfo describes p. t.mu is held.
func (p *progObj) info() proto.ProgInfo {
	runs, ns := p.stats.Count()
	ids := make([]uint32, 0, len(p.maps))
	for _, m := range p.maps {
		ids = append(ids, m.id)
	}
	return proto.ProgInfo{
		ID: p.id, Type: progTypeOf(p.p), Name: p.name, Tag: p.tag,
		GPLCompatible: p.gpl, RunTimeNs: ns, RunCnt: runs, LoadedAt: p.loadedAt.Unix(),
		UID: p.uid, BytesXlated: uint32(p.xlated), MapIDs: ids,
		Pinned: append([]string{}, p.pins...),
	}
}

// info describes m. t.mu is held.
func (m *mapObj) info() proto.MapInfo {
	return proto.MapInfo{
		ID: m.id, Type: MapTypeName(m.m.Type()), Name: m.name, Flags: m.m.Flags(),
		BytesKey: m.m.KeySize(), BytesValue: m.m.ValueSize(), MaxEntries: m.m.MaxEntries(),
		Frozen: m.m.Frozen(), Pinned: append([]string{}, m.pins...),
		PerCPU: m.m.Underlying().Type().IsPerCPU(),
	}
}

// progTag computes Linux's program tag (bpf_prog_calc_tag): the first 8
// bytes of the SHA-256 of the instructions as a loader hands them to the
// kernel — map references by file descriptor — with the map references'
// immediates zeroed. (Linux before 6.18 hashed with SHA-1.)
func progTag(insns []isa.Instruction) string {
	var b []byte
	for _, ins := range insns {
		if ins.IsLDDW() {
			switch ins.Src {
			case isa.PseudoMapIndex, isa.PseudoMapFD:
				ins.Src, ins.Constant = isa.PseudoMapFD, 0
			case isa.PseudoMapIndexValue, isa.PseudoMapValue:
				ins.Src, ins.Constant = isa.PseudoMapValue, 0
			}
		}
		b = ins.AppendBinary(b)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// usedMaps returns the names of the maps the program's instructions
// refer to, in spec.MapOrder order.
func usedMaps(spec *xebpf.CollectionSpec, ps *xebpf.ProgramSpec) []string {
	seen := map[int]bool{}
	for _, ins := range ps.Instructions {
		if ins.IsLDDW() && (ins.Src == isa.PseudoMapIndex || ins.Src == isa.PseudoMapIndexValue) {
			if idx := int(uint32(ins.Constant)); idx < len(spec.MapOrder) {
				seen[idx] = true
			}
		}
	}
	var names []string
	for i, n := range spec.MapOrder {
		if seen[i] {
			names = append(names, n)
		}
	}
	return names
}

// gplCompatible reports whether Linux takes the license as GPL-compatible.
func gplCompatible(license string) bool {
	switch license {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}

// loadObject instantiates an ELF object and puts its programs and maps in
// the table, held by owner (the session) and by the pins args asks for.
// Loading and pinning succeed or fail together.
func (t *table) loadObject(args *proto.LoadArgs, uid uint32, hold func(any)) (*proto.LoadResult, error) {
	spec, err := xebpf.LoadCollectionSpecFromReader(bytes.NewReader(args.Object))
	if err != nil {
		return nil, proto.Errorf(proto.CodeInvalid, "load object: %v", err)
	}
	var types map[string]*xebpf.ProgramKind
	if k := parseProgKind(args.Type); k != nil {
		types = map[string]*xebpf.ProgramKind{}
		for n := range spec.Programs {
			types[n] = k
		}
	} else if args.Type != "" {
		pt, ok := ParseProgType(args.Type)
		if !ok {
			return nil, proto.Errorf(proto.CodeInvalid, "load object: unknown program type %q", args.Type)
		}
		for _, ps := range spec.Programs {
			ps.Type = pt
		}
	}
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	if args.PinFirst != "" && len(names) == 0 {
		return nil, proto.Errorf(proto.CodeInvalid, "load object: it has no programs to pin")
	}
	// Check the pin paths before loading, so that a load that cannot pin
	// costs nothing.
	var paths []string
	if args.PinFirst != "" {
		paths = append(paths, args.PinFirst)
	}
	for _, n := range names {
		if args.PinAllDir != "" {
			paths = append(paths, args.PinAllDir+"/"+n)
		}
	}
	for _, n := range spec.MapOrder {
		if args.PinMapsDir != "" {
			paths = append(paths, args.PinMapsDir+"/"+n)
		}
	}
	for _, p := range paths {
		if err := checkPinPath(p); err != nil {
			return nil, err
		}
	}
	if err := t.checkFree(paths); err != nil {
		return nil, err
	}
	coll, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Types: types})
	if err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "load object: %v", err)
	}
	co := &collObj{c: coll}
	t.st.noteLoad(co, args, uid)
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	// Free nothing twice: every program and map is detached before the
	// collection is closed, and then owned by its table entry.
	byName := map[string]*mapObj{}
	res := &proto.LoadResult{}
	var created []any
	for _, n := range spec.MapOrder {
		m := coll.DetachMap(n)
		if m == nil {
			continue
		}
		t.lastMap++
		mo := &mapObj{id: t.lastMap, refs: 1, coll: co, m: m, name: n}
		co.live++
		t.maps[mo.id] = mo
		byName[n] = mo
		created = append(created, mo)
	}
	for _, mo := range byName {
		t.holdInner(mo) // the slots the object fills
	}
	for _, n := range names {
		p := coll.DetachProgram(n)
		if p == nil {
			continue
		}
		ps := spec.Programs[n]
		t.lastProg++
		po := &progObj{id: t.lastProg, refs: 1, coll: co, p: p, name: n, tag: progTag(ps.Instructions),
			gpl: gplCompatible(spec.License), loadedAt: now, uid: uid, xlated: 8 * slots(p.Instructions())}
		for _, mn := range usedMaps(spec, ps) {
			if mo := byName[mn]; mo != nil {
				mo.refs++
				po.maps = append(po.maps, mo)
			}
		}
		co.live++
		t.progs[po.id] = po
		created = append(created, po)
	}
	coll.Close()
	if co.live > 0 {
		t.colls[co] = struct{}{}
	}
	var pinErr error
	pin := func(o any, p string) {
		if pinErr == nil && p != "" {
			pinErr = t.pin(o, p)
		}
	}
	for _, o := range created {
		switch o := o.(type) {
		case *progObj:
			if args.PinFirst != "" && o.name == names[0] {
				pin(o, args.PinFirst)
			}
			if args.PinAllDir != "" {
				pin(o, args.PinAllDir+"/"+o.name)
			}
		case *mapObj:
			if args.PinMapsDir != "" {
				pin(o, args.PinMapsDir+"/"+o.name)
			}
		}
	}
	if pinErr != nil {
		for _, o := range created {
			var pins []string
			switch o := o.(type) {
			case *progObj:
				pins = o.pins
			case *mapObj:
				pins = o.pins
			}
			for _, p := range append([]string(nil), pins...) {
				t.unpin(p)
			}
		}
		for _, o := range created {
			t.unref(o)
		}
		return nil, fmt.Errorf("load object: %w", pinErr)
	}
	for _, o := range created {
		switch o := o.(type) {
		case *progObj:
			res.Programs = append(res.Programs, o.info())
		case *mapObj:
			res.Maps = append(res.Maps, o.info())
		}
		hold(o)
	}
	return res, nil
}

// slots counts the 8-byte slots of insns.
func slots(insns []isa.Instruction) int {
	n := 0
	for _, ins := range insns {
		n += ins.Slots()
	}
	return n
}
