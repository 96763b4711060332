package elf

import (
	"encoding/binary"
	"sort"

	"github.com/cilium/ebpf/btf"
	"github.com/xebpf/xebpf/isa"
)

// CollectionSpec is everything an eBPF ELF object declares: programs, maps
// and type information. It is deterministic: it depends only on the bytes of
// the object, never on the host.
type CollectionSpec struct {
	// Programs by name. A name is the program's function symbol, or its
	// section name when the section has no function symbols.
	Programs map[string]*ProgramSpec
	// Maps by name: the map's symbol for legacy and BTF maps, the section
	// name for global data (".data", ".rodata.str1.1", ".bss"), and
	// ".kconfig" for resolved extern variables.
	Maps map[string]*MapSpec
	// MapOrder lists the names of Maps sorted; an lddw with Src
	// isa.PseudoMapIndex or isa.PseudoMapIndexValue refers to map
	// MapOrder[imm].
	MapOrder []string
	// Variables are the global variables of the data sections, by name;
	// NewCollection writes their values into the sections' maps.
	Variables map[string]*VariableSpec
	// ByteOrder is the object's byte order (the loader takes
	// little-endian objects only).
	ByteOrder binary.ByteOrder
	// Types is the object's BTF, nil when it has none or when it could not
	// be parsed (Warnings then says why).
	Types *btf.Spec
	// License is the contents of the "license" section.
	License string
	// KernelVersion is the contents of the legacy "version" section, or 0.
	KernelVersion uint32
	// Warnings lists what was ignored or degraded while loading, such as BTF
	// that could not be parsed.
	Warnings []string
}

// MapIndex returns the index of the named map in MapOrder.
func (cs *CollectionSpec) MapIndex(name string) (int, bool) {
	i := sort.SearchStrings(cs.MapOrder, name)
	if i < len(cs.MapOrder) && cs.MapOrder[i] == name {
		return i, true
	}
	return 0, false
}

// ProgramSpec is one program: its entry function with every subprogram and
// callback it reaches linked after it.
type ProgramSpec struct {
	// Name is the entry function's symbol name.
	Name string
	// SectionName is the ELF section the entry function lives in.
	SectionName string
	// Type is the program type the section name implies, Unspec when the
	// section follows no known convention.
	Type ProgramType
	// AttachType is the attach type the section implies, or AttachNone.
	AttachType AttachType
	// AttachTo is the attach target written after the section prefix,
	// such as "sys_execve" for "kprobe/sys_execve".
	AttachTo string
	// Instructions are the relocated, linked instructions. Jumps, calls and
	// code addresses count in 8-byte slots, an lddw taking two.
	Instructions []isa.Instruction
	// License is the object's license.
	License string
	// KernelVersion is the object's legacy "version" section, or 0.
	KernelVersion uint32
	// Functions lists each function linked into the program with the slot
	// it starts at; the first is the entry function at slot 0.
	Functions []Function
	// SourceFile is the source file of the entry function, from BTF line
	// info, or "" when the object has none.
	SourceFile string

	// Unresolved lists instructions whose reference could not be resolved
	// and that were poisoned instead (see PoisonHelper).
	Unresolved []Unresolved

	lines []lineEntry // sorted by slot
}

// Unresolved is an instruction left with a poisoned reference.
type Unresolved struct {
	Slot   int    // slot of the instruction in ProgramSpec.Instructions
	Symbol string // the symbol it referred to
	Reason string
}

// Function is a function linked into a program.
type Function struct {
	Name    string
	Section string
	Slot    int // first slot of the function in ProgramSpec.Instructions
}

// SourceLine is where an instruction comes from in the source.
type SourceLine struct {
	File   string
	Line   int
	Column int
	Text   string // the source line, as clang recorded it in BTF
}

type lineEntry struct {
	slot int
	line SourceLine
}

// Slots returns the number of 8-byte instruction slots of the program.
func (p *ProgramSpec) Slots() int {
	n := 0
	for _, ins := range p.Instructions {
		n += ins.Slots()
	}
	return n
}

// LineInfo returns the source line of the instruction at slot pc, from the
// object's BTF line info; ok is false when there is none for it.
func (p *ProgramSpec) LineInfo(pc int) (line SourceLine, ok bool) {
	i := sort.Search(len(p.lines), func(i int) bool { return p.lines[i].slot > pc }) - 1
	if i < 0 {
		return SourceLine{}, false
	}
	e := p.lines[i]
	// A line record covers instructions up to the next record, but not
	// across the start of another function.
	fs := p.functionStart(pc)
	if e.slot < fs {
		return SourceLine{}, false
	}
	return e.line, true
}

// functionStart returns the first slot of the function containing pc.
func (p *ProgramSpec) functionStart(pc int) int {
	start := 0
	for _, f := range p.Functions {
		if f.Slot <= pc && f.Slot > start {
			start = f.Slot
		}
	}
	return start
}

// MapSpec is a map the object declares.
type MapSpec struct {
	Name string
	// Section is the ELF section that defines the map.
	Section string
	// Type is a Linux BPF_MAP_TYPE_* id; see MapTypeName.
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// Pinning is the pinning mode: libbpf's LIBBPF_PIN_BY_NAME (1) for BTF
	// maps, iproute2's PIN_OBJECT_NS (1) or PIN_GLOBAL_NS (2) for its maps.
	Pinning uint32
	// InnerMap describes the values of a map-in-map.
	InnerMap *MapSpec
	// Contents are the initial entries: the section bytes of a global data
	// map, the initial slots of a map-in-map or program array. A Value
	// shorter than ValueSize is padded with zeros: the value of a .bss map
	// is empty.
	Contents []MapKV
	// ReadOnly is set for .rodata maps, which programs must not write.
	ReadOnly bool
	// Key and Value are the BTF types of key and value, when known.
	Key, Value btf.Type
	// Legacy holds the fields of a legacy struct bpf_map_def or iproute2
	// struct bpf_elf_map beyond the first five, nil for other maps.
	Legacy *LegacyMapFields
	// MapExtra is the map_extra field of a BTF map (bloom filter hashes).
	MapExtra uint64
	// NumaNode is the NUMA node of a BTF or legacy map.
	NumaNode uint32
}

// LegacyMapFields are the fields after map_flags in the legacy map
// definitions the object used.
type LegacyMapFields struct {
	// DefSize is the size in bytes of one definition in the section.
	DefSize int
	// Iproute2 is true when the definition is iproute2's struct
	// bpf_elf_map (36 bytes: id, pinning, inner_id, inner_idx follow).
	Iproute2 bool
	// InnerMapIdx is bpf_map_def's inner_map_idx or bpf_elf_map's inner_idx.
	InnerMapIdx uint32
	// ID and InnerID are bpf_elf_map's id and inner_id.
	ID, InnerID uint32
	// Extra are the bytes of the definition past the known fields.
	Extra []byte
}

// MapKV is one initial map entry. Key and Value are the raw bytes; when Ref
// is set, the value is a map or program the runtime must put in the slot
// (a map-in-map or program array entry), and Value is empty.
type MapKV struct {
	Key   []byte
	Value []byte
	Ref   *Ref
}

// Ref names a map or program.
type Ref struct {
	Kind RefKind
	Name string
}

// RefKind says what a Ref names.
type RefKind uint8

// Ref kinds.
const (
	RefMap RefKind = iota + 1
	RefProgram
)

func (k RefKind) String() string {
	switch k {
	case RefMap:
		return "map"
	case RefProgram:
		return "program"
	}
	return "unknown"
}

// Copy returns a copy of the map spec that shares no contents with it.
func (ms *MapSpec) Copy() *MapSpec {
	if ms == nil {
		return nil
	}
	c := *ms
	c.Contents = make([]MapKV, len(ms.Contents))
	for i, kv := range ms.Contents {
		kv.Key = append([]byte(nil), kv.Key...)
		kv.Value = append([]byte(nil), kv.Value...)
		c.Contents[i] = kv
	}
	c.InnerMap = ms.InnerMap.Copy()
	return &c
}

// Copy returns a copy of the program spec that shares no instructions
// with it.
func (ps *ProgramSpec) Copy() *ProgramSpec {
	if ps == nil {
		return nil
	}
	c := *ps
	c.Instructions = append([]isa.Instruction(nil), ps.Instructions...)
	c.Functions = append([]Function(nil), ps.Functions...)
	return &c
}
