package xebpf

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// Errors with cilium/ebpf's names.
var (
	// ErrInvalidType is a type a Variable or map value cannot be accessed
	// as.
	ErrInvalidType = errors.New("invalid type")
	// ErrProgIncompatible is a program that cannot be loaded as asked.
	ErrProgIncompatible = errors.New("program is incompatible")
)

// PinType is a map's pinning mode (MapSpec.Pinning), as cilium/ebpf's.
type PinType = uint32

// Pinning modes.
const (
	PinNone   PinType = 0
	PinByName PinType = 1
)

// PossibleCPU returns the number of CPUs per-CPU maps hold a value for:
// the host's, as the runtime counts them for its per-CPU slots.
func PossibleCPU() (int, error) { return maps.NumCPU(), nil }

// MustPossibleCPU is PossibleCPU for callers that cannot handle an error.
func MustPossibleCPU() int { return maps.NumCPU() }

// LoadCollection parses the object at path and creates its collection.
func LoadCollection(path string) (*Collection, error) {
	spec, err := LoadCollectionSpec(path)
	if err != nil {
		return nil, err
	}
	return NewCollection(spec)
}

// NewMap creates a map of its own, outside any object, as cilium/ebpf's
// NewMap.
func NewMap(spec *MapSpec) (*Map, error) { return NewMapWithOptions(spec, MapOptions{}) }

// NewMapWithOptions creates a map of its own with options.
func NewMapWithOptions(spec *MapSpec, opts MapOptions) (*Map, error) {
	if spec == nil {
		return nil, errors.New("new map: nil spec")
	}
	name := spec.Name
	if name == "" {
		name = "map"
	}
	cs := &CollectionSpec{Maps: map[string]*MapSpec{name: spec}, MapOrder: []string{name}, Programs: map[string]*ProgramSpec{}}
	c, err := NewCollectionWithOptions(cs, CollectionOptions{Maps: opts})
	if err != nil {
		return nil, fmt.Errorf("new map: %w", err)
	}
	m := c.DetachMap(name)
	c.Close()
	return m, nil
}

// NewProgram prepares a program of its own, outside any object, as
// cilium/ebpf's NewProgram: the verifier checks it first. Its
// instructions may not refer to maps (a map reference is an index into
// an object's maps here, not a file descriptor): load the object with
// NewCollection instead.
func NewProgram(spec *ProgramSpec) (*Program, error) {
	return NewProgramWithOptions(spec, ProgramOptions{})
}

// NewProgramWithOptions is NewProgram with the verifier's log options.
func NewProgramWithOptions(spec *ProgramSpec, opts ProgramOptions) (*Program, error) {
	if spec == nil {
		return nil, errors.New("new program: nil spec")
	}
	for i, ins := range spec.Instructions {
		if ins.IsLDDW() && (ins.Src == isa.PseudoMapIndex || ins.Src == isa.PseudoMapIndexValue) {
			return nil, fmt.Errorf("new program %s: instruction %d refers to a map: %w (load the object with NewCollection)", spec.Name, i, ErrProgIncompatible)
		}
	}
	name := spec.Name
	if name == "" {
		name = "program"
	}
	cs := &CollectionSpec{Programs: map[string]*ProgramSpec{name: spec}, Maps: map[string]*MapSpec{}}
	c, err := NewCollectionWithOptions(cs, CollectionOptions{Programs: opts})
	if err != nil {
		return nil, fmt.Errorf("new program: %w", err)
	}
	p := c.DetachProgram(name)
	c.Close()
	return p, nil
}

// Clone returns a new handle on the same map, which the caller closes
// independently, as cilium/ebpf's Map.Clone.
func (m *Map) Clone() (*Map, error) {
	if err := m.enter(); err != nil {
		return nil, err
	}
	defer m.life.release()
	if !m.coll.life.acquireLive() {
		return nil, fmt.Errorf("map %s: %w", m.name, ErrClosed)
	}
	h := &Map{name: m.name, m: m.m, coll: m.coll}
	h.life.init(h.free)
	return h, nil
}

// Pin would pin the map at a path: xebpf has no pinning yet (it comes
// with the xebpf service).
func (m *Map) Pin(path string) error {
	return fmt.Errorf("map %s: pin %s: %w", m.name, path, ErrNotSupported)
}

// Unpin undoes Pin, which xebpf does not have.
func (m *Map) Unpin() error { return fmt.Errorf("map %s: unpin: %w", m.name, ErrNotSupported) }

// IsPinned reports whether the map is pinned: never, in xebpf.
func (m *Map) IsPinned() bool { return false }
