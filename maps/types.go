// Package maps implements the eBPF map types with Linux semantics, usable
// both from Go code (byte-slice API) and from running eBPF programs
// (address-based API for the helpers, allocation-free).
//
// Keys and values live in off-heap memory obtained from internal/platform,
// so programs may hold raw pointers to values. Slots released while a
// program may still see them are reused only after every program run that
// started before the release has left the Epoch.
package maps

import "strconv"

// Type is a map type, numbered like Linux's enum bpf_map_type.
type Type uint32

// Map types, with the Linux numeric ids (BPF_MAP_TYPE_*). Names follow
// cilium/ebpf's ebpf.MapType.
const (
	UnspecifiedMap      Type = 0
	Hash                Type = 1
	Array               Type = 2
	ProgramArray        Type = 3
	PerfEventArray      Type = 4
	PerCPUHash          Type = 5
	PerCPUArray         Type = 6
	StackTrace          Type = 7
	CgroupArray         Type = 8
	LRUHash             Type = 9
	LRUCPUHash          Type = 10
	LPMTrie             Type = 11
	ArrayOfMaps         Type = 12
	HashOfMaps          Type = 13
	DevMap              Type = 14
	SockMap             Type = 15
	CPUMap              Type = 16
	XSKMap              Type = 17
	SockHash            Type = 18
	CGroupStorage       Type = 19
	ReusePortSockArray  Type = 20
	PerCPUCGroupStorage Type = 21
	Queue               Type = 22
	Stack               Type = 23
	SkStorage           Type = 24
	DevMapHash          Type = 25
	StructOpsMap        Type = 26
	RingBuf             Type = 27
	InodeStorage        Type = 28
	TaskStorage         Type = 29
	BloomFilter         Type = 30
	UserRingbuf         Type = 31
	CgroupStorage       Type = 32
	Arena               Type = 33
)

// CGroupArray is BPF_MAP_TYPE_CGROUP_ARRAY under cilium/ebpf's name,
// which String prints.
const CGroupArray = CgroupArray

// LRUPerCPUHash is BPF_MAP_TYPE_LRU_PERCPU_HASH; cilium/ebpf calls it
// LRUCPUHash and so does String.
const LRUPerCPUHash = LRUCPUHash

var typeNames = [...]string{
	"UnspecifiedMap", "Hash", "Array", "ProgramArray", "PerfEventArray",
	"PerCPUHash", "PerCPUArray", "StackTrace", "CGroupArray", "LRUHash",
	"LRUCPUHash", "LPMTrie", "ArrayOfMaps", "HashOfMaps", "DevMap", "SockMap",
	"CPUMap", "XSKMap", "SockHash", "CGroupStorage", "ReusePortSockArray",
	"PerCPUCGroupStorage", "Queue", "Stack", "SkStorage", "DevMapHash",
	"StructOpsMap", "RingBuf", "InodeStorage", "TaskStorage", "BloomFilter",
	"UserRingbuf", "CgroupStorage", "Arena",
}

// String returns the name cilium/ebpf prints for the type, or
// "MapType(n)" for an unknown id.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "MapType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// IsPerCPU reports whether the type keeps one value per CPU.
func (t Type) IsPerCPU() bool {
	return t == PerCPUHash || t == PerCPUArray || t == LRUCPUHash || t == PerCPUCGroupStorage
}

// Supported reports whether New can create maps of this type.
func (t Type) Supported() bool {
	switch t {
	case Hash, Array, ProgramArray, PerfEventArray, PerCPUHash, PerCPUArray,
		LRUHash, LRUCPUHash, LPMTrie, ArrayOfMaps, HashOfMaps, Queue, Stack, RingBuf,
		DevMap, DevMapHash, CPUMap, XSKMap, StackTrace, CgroupArray:
		return true
	}
	return false
}

// UpdateFlags are the flags of map updates (BPF_ANY, BPF_NOEXIST, ...).
type UpdateFlags uint64

// Update flags, with the Linux values.
const (
	UpdateAny     UpdateFlags = 0 // BPF_ANY: create or replace
	UpdateNoExist UpdateFlags = 1 // BPF_NOEXIST: create only
	UpdateExist   UpdateFlags = 2 // BPF_EXIST: replace only
	UpdateLock    UpdateFlags = 4 // BPF_F_LOCK: copy under the value's spin lock
)

// Map creation flags (Spec.Flags), with the Linux values.
const (
	FlagNoPrealloc   uint32 = 1 << 0  // BPF_F_NO_PREALLOC
	FlagNoCommonLRU  uint32 = 1 << 1  // BPF_F_NO_COMMON_LRU
	FlagNUMANode     uint32 = 1 << 2  // BPF_F_NUMA_NODE
	FlagRdonly       uint32 = 1 << 3  // BPF_F_RDONLY
	FlagWronly       uint32 = 1 << 4  // BPF_F_WRONLY
	FlagStackBuildID uint32 = 1 << 5  // BPF_F_STACK_BUILD_ID
	FlagZeroSeed     uint32 = 1 << 6  // BPF_F_ZERO_SEED
	FlagRdonlyProg   uint32 = 1 << 7  // BPF_F_RDONLY_PROG
	FlagWronlyProg   uint32 = 1 << 8  // BPF_F_WRONLY_PROG
	FlagClone        uint32 = 1 << 9  // BPF_F_CLONE
	FlagMmapable     uint32 = 1 << 10 // BPF_F_MMAPABLE
	FlagPreserveElem uint32 = 1 << 11 // BPF_F_PRESERVE_ELEMS
	FlagInnerMap     uint32 = 1 << 12 // BPF_F_INNER_MAP
)

// Ring buffer flags and query selectors, with the Linux values.
const (
	RBNoWakeup    uint64 = 1 << 0 // BPF_RB_NO_WAKEUP
	RBForceWakeup uint64 = 1 << 1 // BPF_RB_FORCE_WAKEUP

	RBAvailData uint64 = 0 // BPF_RB_AVAIL_DATA
	RBRingSize  uint64 = 1 // BPF_RB_RING_SIZE
	RBConsPos   uint64 = 2 // BPF_RB_CONS_POS
	RBProdPos   uint64 = 3 // BPF_RB_PROD_POS
)

// Region is a block of map memory that programs may read, and write
// unless ReadOnly is set.
type Region struct {
	Addr uintptr
	Size int
	// ReadOnly marks values programs may only read (DevMap, XSKMap).
	ReadOnly bool
}

// Contains reports whether [addr, addr+size) lies inside the region.
func (r Region) Contains(addr uintptr, size int) bool {
	return size >= 0 && addr >= r.Addr && addr-r.Addr <= uintptr(r.Size) &&
		uintptr(size) <= uintptr(r.Size)-(addr-r.Addr)
}
