package xebpf

import (
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/maps"
)

// MapType is a Linux BPF_MAP_TYPE_* id, as cilium/ebpf's MapType.
type MapType = elf.MapType

// Map types, with cilium/ebpf's names and Linux's numbers.
const (
	UnspecifiedMap      = elf.MapTypeUnspec
	Hash                = elf.MapTypeHash
	Array               = elf.MapTypeArray
	ProgramArray        = elf.MapTypeProgArray
	PerfEventArray      = elf.MapTypePerfEventArray
	PerCPUHash          = elf.MapTypePerCPUHash
	PerCPUArray         = elf.MapTypePerCPUArray
	StackTrace          = elf.MapTypeStackTrace
	CGroupArray         = elf.MapTypeCGroupArray
	LRUHash             = elf.MapTypeLRUHash
	LRUCPUHash          = elf.MapTypeLRUPerCPUHash
	LPMTrie             = elf.MapTypeLPMTrie
	ArrayOfMaps         = elf.MapTypeArrayOfMaps
	HashOfMaps          = elf.MapTypeHashOfMaps
	DevMap              = elf.MapTypeDevMap
	SockMap             = elf.MapTypeSockMap
	CPUMap              = elf.MapTypeCPUMap
	XSKMap              = elf.MapTypeXSKMap
	SockHash            = elf.MapTypeSockHash
	CGroupStorage       = elf.MapTypeCGroupStorage
	ReusePortSockArray  = elf.MapTypeReusePortSockArray
	PerCPUCGroupStorage = elf.MapTypePerCPUCGroupStorage
	Queue               = elf.MapTypeQueue
	Stack               = elf.MapTypeStack
	SkStorage           = elf.MapTypeSkStorage
	DevMapHash          = elf.MapTypeDevMapHash
	StructOpsMap        = elf.MapTypeStructOps
	RingBuf             = elf.MapTypeRingBuf
	InodeStorage        = elf.MapTypeInodeStorage
	TaskStorage         = elf.MapTypeTaskStorage
	BloomFilter         = elf.MapTypeBloomFilter
	UserRingbuf         = elf.MapTypeUserRingBuf
	CgroupStorage       = elf.MapTypeCgrpStorage
	Arena               = elf.MapTypeArena
)

// MapUpdateFlags are the flags of Map.Update, as cilium/ebpf's.
type MapUpdateFlags = maps.UpdateFlags

// Update flags.
const (
	// UpdateAny creates or replaces the element.
	UpdateAny = maps.UpdateAny
	// UpdateNoExist creates it only if it does not exist.
	UpdateNoExist = maps.UpdateNoExist
	// UpdateExist replaces it only if it exists.
	UpdateExist = maps.UpdateExist
	// UpdateLock updates the value under its bpf_spin_lock.
	UpdateLock = maps.UpdateLock
)

// Errors of map operations: the same values package maps returns, so that
// errors.Is matches either.
var (
	ErrKeyNotExist = maps.ErrKeyNotExist
	ErrKeyExist    = maps.ErrKeyExist
)
