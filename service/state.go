package service

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// Durability (Daemon.OpenState). The state directory holds:
//
//	manifest.json     what is pinned: the objects to load again (by the
//	                  SHA-256 of their ELF bytes, with the load's type
//	                  override and uid), which of their programs and maps
//	                  are pinned where, the maps map create made, and the
//	                  pinned links (kind, target, program); written to a
//	                  temporary file, synced, renamed and the directory
//	                  synced, before the request that changed it is
//	                  answered
//	objects/SHA256    the ELF objects, content-addressed
//	maps/KEY.snap     a pinned map's snapshot (see mapstore.go)
//	maps/KEY.journal  the updates and deletes from Go since
//
// When a durable update is acknowledged:
//   - map update and map delete through the daemon: the journal record is
//     synced before the reply;
//   - updates a program makes in prog run: each pinned map the program
//     uses is snapshotted after the run, before the reply;
//   - updates programs make at hooks (links): at the periodic snapshot
//     (StateOptions.SnapshotEvery) and when the daemon closes.
//
// Only pinned maps, and the maps in the slots of pinned maps of maps
// (mapofmaps.go), keep their contents, and only data, device, CPU, queue
// and stack maps (see contentsKept; a queue's or a stack's pushes and pops
// through the daemon are journaled, programs' are kept at the snapshots
// after prog run and the periodic ones): an unpinned map that a pinned
// program uses comes back as the object defines it. Frozen maps
// come back from the object. A pinned link, or one a device holds (net
// attach), comes back when a LinkProvider of its kind is registered before
// OpenState; otherwise it is dropped, with a log line; the bridge ports
// come back before the links (statenet.go).

// StateOptions tunes OpenState.
type StateOptions struct {
	// SnapshotEvery is the interval of the snapshots of the pinned maps
	// that catch what programs at hooks write; 0 means one second, a
	// negative value none.
	SnapshotEvery time.Duration
}

// source is how a collection was made, to make it again.
type source struct {
	hash   string // objects/HASH (loaded objects)
	obj    []byte
	typ    string
	uid    uint32
	create *proto.MapCreateArgs // map create, Path and InnerMap cleared
	inner  *manTemplate         // map create's inner template of a map of maps
}

// durMap is a map's durability: it serializes the updates from Go and the
// snapshots.
type durMap struct {
	mu      sync.Mutex
	key     string // the files' name; "" until first durable
	durable bool
	seq     uint64 // the last journal record's
	j       *journal
	lastSum [32]byte // SHA-256 of the snapshot on disk; zero: none known

	slots  map[uint32]string // a program array's slots: program names (progarray.go); under state.mu
	slotMu sync.Mutex        // one change of the slots at a time (slotWrite)

	syncMu sync.Mutex    // one journal sync at a time
	synced atomic.Uint64 // the records up to this seq are on disk
}

// state keeps the pinned objects in a directory.
type state struct {
	dir  string
	t    *table
	logf func(format string, args ...any)

	saveMu sync.Mutex // one persist at a time
	last   []byte     // the manifest last written
	closed bool       // under saveMu

	mu      sync.Mutex // guards sources and maps; taken after t.mu
	sources map[*collObj]*source
	maps    map[*mapObj]*durMap

	stop, done chan struct{}
}

type manifest struct {
	Version int          `json:"version"`
	Objects []manObject  `json:"objects"`
	Created []manCreated `json:"created"`
	Links   []manLink    `json:"links"`
	Ports   []manPort    `json:"ports,omitempty"` // see statenet.go
}

type manObject struct {
	Hash  string    `json:"hash"`
	Type  string    `json:"type,omitempty"`
	UID   uint32    `json:"uid"`
	Progs []manProg `json:"progs"`
	Maps  []manMap  `json:"maps"`
}

type manProg struct {
	Name string   `json:"name"`
	Pins []string `json:"pins"`
}

type manMap struct {
	Name string   `json:"name"`
	Pins []string `json:"pins"`
	Key  string   `json:"key"`
	// Slots are a program array's programs (progarray.go).
	Slots []manSlot `json:"slots,omitempty"`
	// Inner are a map of maps' slots, kept when InnerKept (mapofmaps.go).
	Inner     []manInner `json:"inner,omitempty"`
	InnerKept bool       `json:"inner_kept,omitempty"`
}

type manCreated struct {
	Args proto.MapCreateArgs `json:"args"`
	Pins []string            `json:"pins"`
	Key  string              `json:"key"`
	// Template is a map of maps' inner template, Inner its slots, kept
	// when InnerKept (mapofmapscreate.go).
	Template  *manTemplate `json:"template,omitempty"`
	Inner     []manInner   `json:"inner,omitempty"`
	InnerKept bool         `json:"inner_kept,omitempty"`
}

type manLink struct {
	Kind   string   `json:"kind"`
	Target string   `json:"target"`
	Object int      `json:"object"` // index in Objects
	Prog   string   `json:"prog"`
	Pins   []string `json:"pins"`
	Dev    bool     `json:"dev,omitempty"` // held by its device (net attach)
}

const manifestName = "manifest.json"

// OpenState makes the daemon's pins durable in dir: it loads, pins, fills
// and attaches again what dir's manifest lists, and from then on keeps
// dir up to date (see the comment at the top of state.go for when an
// update is durable). Call it once, after RegisterLinkProvider and
// before Serve; opts may be nil. What cannot be restored (an object file
// gone, no provider for a link) is logged and left out; OpenState fails
// only when dir cannot be used.
func (d *Daemon) OpenState(dir string, opts *StateOptions) error {
	for _, sub := range []string{"", "objects", "maps"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}
	var man manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &man); err != nil {
			return fmt.Errorf("state directory: %s: %w", manifestName, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("state directory: %w", err)
	}
	st := &state{dir: dir, t: d.t, logf: d.logf, sources: map[*collObj]*source{}, maps: map[*mapObj]*durMap{}}
	d.t.mu.Lock()
	if d.t.st != nil {
		d.t.mu.Unlock()
		return errors.New("state directory: the daemon already has one")
	}
	d.t.st = st
	d.t.mu.Unlock()
	st.restore(&man)
	if len(man.Objects)+len(man.Created)+len(man.Links) > 0 {
		stt := d.Status()
		d.logf("xebpf daemon: state %s: restored %d pins (%d programs, %d maps, %d links)", dir, stt.Pins, stt.Programs, stt.Maps, stt.Links)
	}
	if err := st.persist(); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	every := time.Second
	if opts != nil && opts.SnapshotEvery != 0 {
		every = opts.SnapshotEvery
	}
	if every > 0 {
		st.stop, st.done = make(chan struct{}), make(chan struct{})
		go st.tick(every)
	}
	return nil
}

// tick snapshots the durable maps every interval.
func (st *state) tick(every time.Duration) {
	defer close(st.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-tk.C:
			if err := st.snapshotAll(); err != nil {
				st.logf("xebpf daemon: snapshot: %v", err)
			}
		}
	}
}

// close takes a last snapshot and stops keeping the state: the daemon is
// closing, and its unpins are not to be recorded.
func (st *state) close() error {
	if st == nil {
		return nil
	}
	if st.stop != nil {
		close(st.stop)
		<-st.done
		st.stop = nil
	}
	err := st.snapshotAll()
	st.saveMu.Lock()
	st.closed = true
	st.saveMu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, dm := range st.maps {
		dm.mu.Lock()
		if dm.j != nil {
			err = errors.Join(err, dm.j.close())
			dm.j = nil
		}
		dm.durable = false
		dm.mu.Unlock()
	}
	return err
}

// noteLoad records how co was loaded.
func (st *state) noteLoad(co *collObj, args *proto.LoadArgs, uid uint32) {
	if st == nil {
		return
	}
	sum := sha256.Sum256(args.Object)
	st.mu.Lock()
	st.sources[co] = &source{hash: hex.EncodeToString(sum[:]), obj: args.Object, typ: args.Type, uid: uid}
	st.mu.Unlock()
}

// noteCreate records the map create that made co, with the inner
// template tmpl of a map of maps.
func (st *state) noteCreate(co *collObj, a *proto.MapCreateArgs, tmpl *manTemplate) {
	if st == nil {
		return
	}
	c := *a
	c.Path = ""
	c.InnerMap = nil
	st.mu.Lock()
	st.sources[co] = &source{create: &c, inner: tmpl}
	st.mu.Unlock()
}

// dmFor returns m's durability record, making it.
func (st *state) dmFor(m *mapObj) *durMap {
	st.mu.Lock()
	defer st.mu.Unlock()
	dm := st.maps[m]
	if dm == nil {
		dm = &durMap{}
		st.maps[m] = dm
	}
	return dm
}

// mapWrite performs an update or delete from Go (apply) and, for a
// durable map, journals it: when mapWrite returns nil, the change is on
// disk.
func (st *state) mapWrite(m *mapObj, op byte, key, val []byte, apply func() error) error {
	if st == nil {
		return apply()
	}
	dm := st.dmFor(m)
	dm.mu.Lock()
	if err := apply(); err != nil {
		dm.mu.Unlock()
		return err
	}
	if !dm.durable {
		dm.mu.Unlock()
		return nil
	}
	dm.seq++
	seq := dm.seq
	if err := dm.j.write(jRecord{seq: seq, op: op, key: key, val: val}); err != nil {
		dm.mu.Unlock()
		return proto.Errorf(proto.CodeInternal, "map %s: the change is made but not durable: journal: %v", m.name, err)
	}
	if dm.j.size > journalLimit {
		// Bound the journal, and the replay at the next start.
		if err := st.snapshot(m, dm); err != nil {
			st.logf("xebpf daemon: state: %v", err)
		}
	}
	dm.mu.Unlock()
	if err := dm.syncTo(seq); err != nil {
		return proto.Errorf(proto.CodeInternal, "map %s: the change is made but not durable: journal: %v", m.name, err)
	}
	return nil
}

// syncTo returns once the journal records up to seq are on disk: one
// sync covers every record written before it (group commit), and a
// snapshot covers the records before it.
func (dm *durMap) syncTo(seq uint64) error {
	dm.syncMu.Lock()
	defer dm.syncMu.Unlock()
	if dm.synced.Load() >= seq {
		return nil
	}
	dm.mu.Lock()
	upto, j, durable := dm.seq, dm.j, dm.durable
	dm.mu.Unlock()
	if !durable {
		return nil // unpinned meanwhile: its contents are no longer kept
	}
	if err := j.sync(); err != nil {
		dm.mu.Lock()
		durable = dm.durable
		dm.mu.Unlock()
		if !durable {
			return nil
		}
		return err
	}
	dm.syncedTo(upto)
	return nil
}

// syncedTo records that the journal records up to seq are on disk.
func (dm *durMap) syncedTo(seq uint64) {
	for {
		old := dm.synced.Load()
		if old >= seq || dm.synced.CompareAndSwap(old, seq) {
			return
		}
	}
}

// journalLimit is the size of a map's journal at which a snapshot
// replaces it.
var journalLimit int64 = 4 << 20

// syncMaps snapshots the durable maps among ms (after a program ran).
func (st *state) syncMaps(ms []*mapObj) error {
	if st == nil {
		return nil
	}
	var errs []error
	for _, m := range ms {
		st.mu.Lock()
		dm := st.maps[m]
		st.mu.Unlock()
		if dm == nil {
			continue
		}
		dm.mu.Lock()
		if dm.durable {
			errs = append(errs, st.snapshot(m, dm))
		}
		dm.mu.Unlock()
	}
	return errors.Join(errs...)
}

// snapshotAll snapshots every durable map.
func (st *state) snapshotAll() error {
	t := st.t
	type pair struct {
		m  *mapObj
		dm *durMap
	}
	var ps []pair
	t.mu.Lock()
	st.mu.Lock()
	for m, dm := range st.maps {
		if t.maps[m.id] == m {
			m.refs++
			ps = append(ps, pair{m, dm})
		}
	}
	st.mu.Unlock()
	t.mu.Unlock()
	var errs []error
	for _, p := range ps {
		p.dm.mu.Lock()
		if p.dm.durable {
			errs = append(errs, st.snapshot(p.m, p.dm))
		}
		p.dm.mu.Unlock()
	}
	t.mu.Lock()
	for _, p := range ps {
		t.unref(p.m)
	}
	t.mu.Unlock()
	return errors.Join(errs...)
}

func (st *state) mapPath(key, ext string) string {
	return filepath.Join(st.dir, "maps", key+ext)
}

// snapshot writes m's entries and empties its journal. dm.mu is held and
// dm.j is open.
func (st *state) snapshot(m *mapObj, dm *durMap) error {
	entries, err := mapEntries(m.m)
	if err != nil {
		return fmt.Errorf("snapshot map %s: %w", m.name, err)
	}
	b := encodeSnapshot(dm.seq, entries)
	sum := sha256.Sum256(b)
	if dm.j.size == 0 && sum == dm.lastSum {
		dm.syncedTo(dm.seq)
		return nil // the snapshot on disk holds it all already
	}
	if err := writeFileAtomic(st.mapPath(dm.key, ".snap"), b); err != nil {
		return fmt.Errorf("snapshot map %s: %w", m.name, err)
	}
	dm.lastSum = sum
	dm.syncedTo(dm.seq)
	if err := dm.j.reset(); err != nil {
		return fmt.Errorf("snapshot map %s: journal: %w", m.name, err)
	}
	return nil
}

// contentsKept reports whether a pinned map's entries are kept: those of
// data maps (hash, array, per-CPU, LRU, LPM trie), of device and CPU
// maps (DevMap, DevMapHash, CPUMap: ifindexes and queue sizes, plain
// bytes that mean the same after a restart) and of queues and stacks
// (their values in pop order, see keyless), not frozen. Frozen maps come
// back from their object; a program array's slots come back from the
// manifest, by program name (progarray.go), and a map of maps' by inner
// map name or state key (mapofmaps.go); the others (ring buffers; maps of sockets,
// AF_XDP sockets, cgroups and other kernel objects) come back empty.
func contentsKept(m *xebpf.Map) bool {
	switch m.Type() {
	case xebpf.Hash, xebpf.Array, xebpf.PerCPUHash, xebpf.PerCPUArray, xebpf.LRUHash, xebpf.LRUCPUHash, xebpf.LPMTrie,
		xebpf.DevMap, xebpf.DevMapHash, xebpf.CPUMap:
		return m.KeySize() != 0 && !m.Frozen()
	case xebpf.Queue, xebpf.Stack:
		return !m.Frozen()
	}
	return false
}

// keyless reports whether m is a Queue or a Stack: its snapshot is its
// values in pop order, with empty keys.
func keyless(m *xebpf.Map) bool {
	return (m.Type() == xebpf.Queue || m.Type() == xebpf.Stack) && m.KeySize() == 0
}

// mapEntries reads every entry of m (none when its contents are not kept).
func mapEntries(m *xebpf.Map) ([]snapEntry, error) {
	if !contentsKept(m) {
		return nil, nil
	}
	var out []snapEntry
	if keyless(m) {
		// Iterate copies the values under the map's lock, in pop order,
		// without popping them.
		for _, v := range m.All() {
			out = append(out, snapEntry{key: []byte{}, val: v})
		}
		return out, nil
	}
	seen := map[string]bool{}
	var key any
	for n := uint32(0); n <= m.MaxEntries(); n++ {
		next, err := m.NextKeyBytes(key)
		if err != nil {
			return nil, err
		}
		if next == nil {
			break
		}
		key = next
		if seen[string(next)] {
			continue
		}
		seen[string(next)] = true
		val, err := m.LookupBytes(next)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out = append(out, snapEntry{key: next, val: val})
		}
	}
	return out, nil
}

// keyBytes is the size of the random names of maps' files.
const keyBytes = 12

// isHexName reports whether s is the lowercase hex of n bytes: a name the
// daemon made, safe to join to its directory.
func isHexName(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newKey returns a fresh name for a map's files.
func newKey() string {
	var b [keyBytes]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// persist writes the manifest of what is pinned now, starts keeping the
// maps newly pinned (a first snapshot) and stops keeping the unpinned
// ones, then removes the files nothing refers to.
func (t *table) persist() error {
	if t.st == nil {
		return nil
	}
	return t.st.persist()
}

func (st *state) persist() error {
	st.saveMu.Lock()
	defer st.saveMu.Unlock()
	if st.closed {
		return nil
	}
	t := st.t
	ports := st.portsNow()
	type durable struct {
		m  *mapObj
		dm *durMap
	}
	var (
		man     = manifest{Version: 1, Objects: []manObject{}, Created: []manCreated{}, Links: []manLink{}, Ports: ports}
		keep    []durable
		objects = map[string][]byte{}
	)
	t.mu.Lock()
	st.mu.Lock()
	for co := range st.sources {
		if _, live := t.colls[co]; !live {
			delete(st.sources, co)
		}
	}
	for m, dm := range st.maps {
		if t.maps[m.id] != m && !dm.durable {
			delete(st.maps, m)
		}
	}
	objIndex := map[*collObj]int{}
	object := func(co *collObj) (int, bool) {
		src := st.sources[co]
		if src == nil || src.create != nil {
			return 0, false
		}
		if i, ok := objIndex[co]; ok {
			return i, true
		}
		objIndex[co] = len(man.Objects)
		man.Objects = append(man.Objects, manObject{Hash: src.hash, Type: src.typ, UID: src.uid, Progs: []manProg{}, Maps: []manMap{}})
		objects[src.hash] = src.obj
		return objIndex[co], true
	}
	linked := map[*progObj]bool{}
	devHeld := t.devHeld()
	for _, l := range t.links {
		if (len(l.pins) > 0 || devHeld[l]) && l.prog != nil {
			linked[l.prog] = true
		}
	}
	for _, p := range sortedByID(t.progs) {
		if len(p.pins) == 0 && !linked[p] {
			continue
		}
		if i, ok := object(p.coll); ok {
			man.Objects[i].Progs = append(man.Objects[i].Progs, manProg{Name: p.name, Pins: append([]string{}, p.pins...)})
		} else {
			st.logf("xebpf daemon: state: program %s: not loaded through the daemon; it will not survive a restart", p.name)
		}
	}
	// The maps in the slots of pinned maps of maps are kept as if pinned
	// (without pins): they come back, with their contents, in the slots.
	slotHeld := map[*mapObj]bool{}
	for m, ins := range t.inner {
		if len(m.pins) > 0 {
			for _, in := range ins {
				slotHeld[in] = true
			}
		}
	}
	// The state keys first: the slots of maps of maps name the maps of
	// other objects, and those map create made, by their keys.
	keys := map[*mapObj]string{}
	for _, m := range sortedByID(t.maps) {
		if (len(m.pins) == 0 && !slotHeld[m]) || st.sources[m.coll] == nil {
			continue
		}
		dm := st.maps[m]
		if dm == nil {
			dm = &durMap{}
			st.maps[m] = dm
		}
		if dm.key == "" {
			dm.key = newKey()
		}
		keys[m] = dm.key
	}
	for _, m := range sortedByID(t.maps) {
		if len(m.pins) == 0 && !slotHeld[m] {
			continue
		}
		src := st.sources[m.coll]
		if src == nil {
			st.logf("xebpf daemon: state: map %s: not made through the daemon; it will not survive a restart", m.name)
			continue
		}
		dm := st.maps[m]
		if src.create != nil {
			mc := manCreated{Args: *src.create, Pins: append([]string{}, m.pins...), Key: dm.key, Template: src.inner}
			mc.Inner, mc.InnerKept = t.innerList(m, keys)
			man.Created = append(man.Created, mc)
		} else {
			i, _ := object(m.coll)
			mm := manMap{Name: m.name, Pins: append([]string{}, m.pins...), Key: dm.key, Slots: dm.slotList()}
			mm.Inner, mm.InnerKept = t.innerList(m, keys)
			man.Objects[i].Maps = append(man.Objects[i].Maps, mm)
		}
		m.refs++
		keep = append(keep, durable{m, dm})
	}
	for _, l := range sortedByID(t.links) {
		if (len(l.pins) == 0 && !devHeld[l]) || l.prog == nil {
			continue
		}
		if i, ok := objIndex[l.prog.coll]; ok {
			man.Links = append(man.Links, manLink{Kind: l.kind, Target: l.target, Object: i, Prog: l.prog.name, Pins: append([]string{}, l.pins...), Dev: devHeld[l]})
		}
	}
	var drop []*durMap
	kept := map[*durMap]bool{}
	for _, k := range keep {
		kept[k.dm] = true
	}
	for _, dm := range st.maps {
		if !kept[dm] {
			drop = append(drop, dm)
		}
	}
	st.mu.Unlock()
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		for _, k := range keep {
			t.unref(k.m)
		}
		t.mu.Unlock()
	}()

	for hash, b := range objects {
		p := filepath.Join(st.dir, "objects", hash)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := writeFileAtomic(p, b); err != nil {
			return fmt.Errorf("save object: %w", err)
		}
	}
	for _, k := range keep {
		if err := st.startKeeping(k.m, k.dm); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(&man, "", "\t")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if string(b) != string(st.last) {
		if err := writeFileAtomic(filepath.Join(st.dir, manifestName), b); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		st.last = b
	}
	for _, dm := range drop {
		dm.mu.Lock()
		if dm.durable {
			dm.durable = false
			dm.j.close()
			dm.j = nil
		}
		dm.mu.Unlock()
	}
	return st.removeStale(&man)
}

// startKeeping makes m durable: a first snapshot, then a journal.
func (st *state) startKeeping(m *mapObj, dm *durMap) error {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.durable {
		return nil
	}
	j, _, err := openJournal(st.mapPath(dm.key, ".journal"))
	if err != nil {
		return fmt.Errorf("map %s: journal: %w", m.name, err)
	}
	dm.j = j
	dm.lastSum = [32]byte{}
	if err := st.snapshot(m, dm); err != nil {
		j.close()
		dm.j = nil
		return err
	}
	dm.durable = true
	return nil
}

// removeStale removes the files of objects and maps man does not name.
func (st *state) removeStale(man *manifest) error {
	want := map[string]bool{}
	for _, o := range man.Objects {
		want[filepath.Join("objects", o.Hash)] = true
		for _, m := range o.Maps {
			want[filepath.Join("maps", m.Key+".snap")] = true
			want[filepath.Join("maps", m.Key+".journal")] = true
		}
	}
	for _, c := range man.Created {
		want[filepath.Join("maps", c.Key+".snap")] = true
		want[filepath.Join("maps", c.Key+".journal")] = true
	}
	var errs []error
	for _, sub := range []string{"objects", "maps"} {
		des, err := os.ReadDir(filepath.Join(st.dir, sub))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, de := range des {
			rel := filepath.Join(sub, de.Name())
			if !want[rel] {
				if err := os.Remove(filepath.Join(st.dir, rel)); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// restore loads, pins, fills and attaches what man lists.
func (st *state) restore(man *manifest) {
	t := st.t
	var held []any
	hold := func(o any) { held = append(held, o) }
	progs := map[int]map[string]*progObj{}
	// The maps of maps' slots are filled last, once every map they may
	// hold (of any object, or made by map create) is back: refs are
	// those maps by state key.
	refs := map[string]*mapObj{}
	type innerFill struct {
		m     *mapObj
		slots []manInner
		ms    map[string]*mapObj
	}
	var fills []innerFill
	pin := func(o any, p string) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if err := t.pin(o, p); err != nil {
			st.logf("xebpf daemon: state: pin %s: %v", p, err)
		}
	}
	for i, o := range man.Objects {
		var b []byte
		err := fmt.Errorf("not a SHA-256 name: %w", errCorrupt)
		if isHexName(o.Hash, sha256.Size) {
			b, err = os.ReadFile(filepath.Join(st.dir, "objects", o.Hash))
		}
		if err == nil {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != o.Hash {
				err = fmt.Errorf("content does not match its name: %w", errCorrupt)
			}
		}
		if err != nil {
			st.logf("xebpf daemon: state: object %s: %v; its programs and maps are lost", o.Hash, err)
			continue
		}
		n := len(held)
		if _, err := t.loadObject(&proto.LoadArgs{Object: b, Type: o.Type}, o.UID, hold); err != nil {
			st.logf("xebpf daemon: state: object %s: %v; its programs and maps are lost", o.Hash, err)
			continue
		}
		ps, ms := map[string]*progObj{}, map[string]*mapObj{}
		for _, x := range held[n:] {
			switch x := x.(type) {
			case *progObj:
				ps[x.name] = x
			case *mapObj:
				ms[x.name] = x
			}
		}
		progs[i] = ps
		for _, mm := range o.Maps {
			m := ms[mm.Name]
			if m == nil {
				st.logf("xebpf daemon: state: object %s has no map %s", o.Hash, mm.Name)
				continue
			}
			st.restoreMap(m, mm.Key)
			refs[mm.Key] = m
			st.restoreSlots(m, mm.Slots, ps)
			if mm.InnerKept {
				fills = append(fills, innerFill{m, mm.Inner, ms})
			}
			for _, p := range mm.Pins {
				pin(m, p)
			}
		}
		for _, mp := range o.Progs {
			p := ps[mp.Name]
			if p == nil {
				st.logf("xebpf daemon: state: object %s has no program %s", o.Hash, mp.Name)
				continue
			}
			for _, path := range mp.Pins {
				pin(p, path)
			}
		}
	}
	for _, c := range man.Created {
		// A map without pins is in a slot of a pinned map of maps.
		args := c.Args
		what := "map " + args.Name
		if len(c.Pins) > 0 {
			args.Path = c.Pins[0]
			what = "map " + c.Pins[0]
		}
		n := len(held)
		var err error
		if len(c.Pins) > 0 {
			_, err = t.mapCreateWith(&args, c.Template, hold)
		} else {
			err = t.mapMake(&args, c.Template, hold)
		}
		if err != nil {
			st.logf("xebpf daemon: state: %s: %v", what, err)
			continue
		}
		m := held[n].(*mapObj)
		st.restoreMap(m, c.Key)
		refs[c.Key] = m
		for _, p := range c.Pins[min(1, len(c.Pins)):] {
			pin(m, p)
		}
		if c.InnerKept {
			fills = append(fills, innerFill{m, c.Inner, nil})
		}
	}
	for _, f := range fills {
		st.restoreInner(f.m, f.slots, f.ms, refs)
		t.mu.Lock()
		t.holdInner(f.m)
		t.mu.Unlock()
	}
	st.restorePorts(man.Ports)
	for _, ml := range man.Links {
		t.mu.Lock()
		prov := t.providers[ml.Kind]
		t.mu.Unlock()
		p := progs[ml.Object][ml.Prog]
		switch {
		case prov == nil:
			st.logf("xebpf daemon: state: link %s %s: no %q hooks in this daemon; the link is dropped", ml.Kind, ml.Target, ml.Kind)
			continue
		case p == nil:
			st.logf("xebpf daemon: state: link %s %s: its program %s is lost; the link is dropped", ml.Kind, ml.Target, ml.Prog)
			continue
		}
		l, err := prov.Attach(p.p, &p.stats, ml.Target)
		if err != nil {
			st.logf("xebpf daemon: state: link %s %s: attach: %v; the link is dropped", ml.Kind, ml.Target, err)
			continue
		}
		t.mu.Lock()
		t.lastLink++
		lo := &linkObj{id: t.lastLink, refs: 1, kind: ml.Kind, target: ml.Target, prog: p, l: l}
		p.refs++
		t.links[lo.id] = lo
		if ml.Dev && !t.holdByDevice(lo) {
			st.logf("xebpf daemon: state: link %s %s: the device runs another program; the link is not held by it", ml.Kind, ml.Target)
		}
		t.mu.Unlock()
		hold(lo)
		for _, path := range ml.Pins {
			pin(lo, path)
		}
	}
	t.mu.Lock()
	for _, o := range held {
		t.unref(o)
	}
	t.mu.Unlock()
}

// restoreMap fills m from its snapshot and journal and makes it durable
// under key, with a fresh snapshot.
func (st *state) restoreMap(m *mapObj, key string) {
	dm := st.dmFor(m)
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if !isHexName(key, keyBytes) {
		// A name newKey did not make (a damaged or forged manifest)
		// must not lead the daemon's files out of its directory.
		st.logf("xebpf daemon: state: map %s: file name %q is not one of the daemon's; its contents are lost", m.name, key)
		key = newKey()
	}
	dm.key = key
	if !contentsKept(m.m) {
		st.keepRestored(m, dm)
		return
	}
	var seq uint64
	var entries []snapEntry
	b, err := os.ReadFile(st.mapPath(key, ".snap"))
	if err == nil {
		seq, entries, err = decodeSnapshot(b)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		st.logf("xebpf daemon: state: map %s: %v; its journal alone is replayed", m.name, err)
	}
	j, recs, err := openJournal(st.mapPath(key, ".journal"))
	if err != nil {
		st.logf("xebpf daemon: state: map %s: journal: %v", m.name, err)
	}
	// Start from an empty map: the object's initial entries were
	// replaced by what the snapshot holds.
	clearMap(m.m)
	if keyless(m.m) && m.m.Type() == xebpf.Stack {
		// The snapshot holds the top first: push it last.
		slices.Reverse(entries)
	}
	for _, e := range entries {
		if err := m.m.Update(e.key, e.val, xebpf.UpdateAny); err != nil {
			st.logf("xebpf daemon: state: map %s: restore entry %x: %v", m.name, e.key, err)
		}
	}
	// A push that found the queue full dropped its oldest value only with
	// BPF_EXIST (and failed otherwise, unjournaled): replayed with it,
	// each push does what it did.
	pushFlags := xebpf.UpdateAny
	if keyless(m.m) {
		pushFlags = xebpf.UpdateExist
	}
	for _, r := range recs {
		if r.seq <= seq {
			continue
		}
		seq = r.seq
		switch r.op {
		case jUpdate:
			err = m.m.Update(r.key, r.val, pushFlags)
		case jDelete:
			err = m.m.Delete(r.key)
			if errors.Is(err, xebpf.ErrKeyNotExist) {
				err = nil
			}
		case jPop:
			err = m.m.LookupAndDelete(nil, make([]byte, m.m.ValueSize()))
			if errors.Is(err, xebpf.ErrKeyNotExist) {
				err = nil // popped empty by a program since the snapshot
			}
		default:
			err = fmt.Errorf("unknown journal operation %d", r.op)
		}
		if err != nil {
			st.logf("xebpf daemon: state: map %s: replay record %d: %v", m.name, r.seq, err)
		}
	}
	dm.seq = seq
	if j != nil {
		j.close()
	}
	st.keepRestored(m, dm)
}

// clearMap empties m: deletes its entries, or pops a queue's or a
// stack's values. Arrays cannot delete: their entries are all overwritten
// by the restore.
func clearMap(m *xebpf.Map) {
	if keyless(m) {
		v := make([]byte, m.ValueSize())
		for range m.MaxEntries() {
			if m.LookupAndDelete(nil, v) != nil {
				return
			}
		}
		return
	}
	if old, err := mapEntries(m); err == nil {
		for _, e := range old {
			m.Delete(e.key)
		}
	}
}

// keepRestored makes a restored map durable with a fresh snapshot (which
// also empties the journal). dm.mu is held.
func (st *state) keepRestored(m *mapObj, dm *durMap) {
	j, _, err := openJournal(st.mapPath(dm.key, ".journal"))
	if err != nil {
		st.logf("xebpf daemon: state: map %s: journal: %v", m.name, err)
		return
	}
	dm.j = j
	dm.lastSum = [32]byte{}
	if err := st.snapshot(m, dm); err != nil {
		st.logf("xebpf daemon: state: map %s: %v", m.name, err)
		j.close()
		dm.j = nil
		return
	}
	dm.durable = true
}

// sortedByID returns a table's objects in id order.
func sortedByID[T interface{ objID() uint32 }](objs map[uint32]T) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].objID() < out[j].objID() })
	return out
}

func (p *progObj) objID() uint32 { return p.id }
func (m *mapObj) objID() uint32  { return m.id }
func (l *linkObj) objID() uint32 { return l.id }

// mutates reports whether a successful op may change what is pinned.
func mutates(op string) bool {
	switch op {
	case proto.OpProgLoad, proto.OpProgPin, proto.OpMapPin, proto.OpMapCreate, proto.OpUnpin,
		proto.OpLinkAttach, proto.OpLinkPin, proto.OpLinkDetach, proto.OpRelease:
		return true
	}
	return netMutates(op)
}
