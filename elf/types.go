package elf

import "fmt"

// ProgramType is a Linux BPF_PROG_TYPE_* id: the kind of hook a program is
// written for, which decides its context and the helpers it may call.
type ProgramType uint32

// Program types, numbered as Linux's enum bpf_prog_type.
const (
	Unspec ProgramType = iota
	SocketFilter
	Kprobe
	SchedCLS
	SchedACT
	TracePoint
	XDP
	PerfEvent
	CGroupSKB
	CGroupSock
	LWTIn
	LWTOut
	LWTXmit
	SockOps
	SkSKB
	CGroupDevice
	SkMsg
	RawTracepoint
	CGroupSockAddr
	LWTSeg6Local
	LircMode2
	SkReuseport
	FlowDissector
	CGroupSysctl
	RawTracepointWritable
	CGroupSockopt
	Tracing
	StructOps
	Extension
	LSM
	SkLookup
	Syscall
	Netfilter
)

var progTypeNames = [...]string{
	"Unspec", "SocketFilter", "Kprobe", "SchedCLS", "SchedACT", "TracePoint", "XDP",
	"PerfEvent", "CGroupSKB", "CGroupSock", "LWTIn", "LWTOut", "LWTXmit", "SockOps",
	"SkSKB", "CGroupDevice", "SkMsg", "RawTracepoint", "CGroupSockAddr", "LWTSeg6Local",
	"LircMode2", "SkReuseport", "FlowDissector", "CGroupSysctl", "RawTracepointWritable",
	"CGroupSockopt", "Tracing", "StructOps", "Extension", "LSM", "SkLookup", "Syscall",
	"Netfilter",
}

func (t ProgramType) String() string {
	if int(t) < len(progTypeNames) {
		return progTypeNames[t]
	}
	return fmt.Sprintf("ProgramType(%d)", uint32(t))
}

// MapType is a Linux BPF_MAP_TYPE_* id, as cilium/ebpf's MapType.
type MapType uint32

// String returns cilium/ebpf's name of the type.
func (t MapType) String() string { return MapTypeName(uint32(t)) }

// Linux BPF_MAP_TYPE_* ids, as stored in MapSpec.Type.
const (
	MapTypeUnspec              MapType = 0
	MapTypeHash                MapType = 1
	MapTypeArray               MapType = 2
	MapTypeProgArray           MapType = 3
	MapTypePerfEventArray      MapType = 4
	MapTypePerCPUHash          MapType = 5
	MapTypePerCPUArray         MapType = 6
	MapTypeStackTrace          MapType = 7
	MapTypeCGroupArray         MapType = 8
	MapTypeLRUHash             MapType = 9
	MapTypeLRUPerCPUHash       MapType = 10
	MapTypeLPMTrie             MapType = 11
	MapTypeArrayOfMaps         MapType = 12
	MapTypeHashOfMaps          MapType = 13
	MapTypeDevMap              MapType = 14
	MapTypeSockMap             MapType = 15
	MapTypeCPUMap              MapType = 16
	MapTypeXSKMap              MapType = 17
	MapTypeSockHash            MapType = 18
	MapTypeCGroupStorage       MapType = 19
	MapTypeReusePortSockArray  MapType = 20
	MapTypePerCPUCGroupStorage MapType = 21
	MapTypeQueue               MapType = 22
	MapTypeStack               MapType = 23
	MapTypeSkStorage           MapType = 24
	MapTypeDevMapHash          MapType = 25
	MapTypeStructOps           MapType = 26
	MapTypeRingBuf             MapType = 27
	MapTypeInodeStorage        MapType = 28
	MapTypeTaskStorage         MapType = 29
	MapTypeBloomFilter         MapType = 30
	MapTypeUserRingBuf         MapType = 31
	MapTypeCgrpStorage         MapType = 32
	MapTypeArena               MapType = 33
)

var mapTypeNames = [...]string{
	"Unspec", "Hash", "Array", "ProgramArray", "PerfEventArray", "PerCPUHash",
	"PerCPUArray", "StackTrace", "CGroupArray", "LRUHash", "LRUCPUHash", "LPMTrie",
	"ArrayOfMaps", "HashOfMaps", "DevMap", "SockMap", "CPUMap", "XSKMap", "SockHash",
	"CGroupStorage", "ReusePortSockArray", "PerCPUCGroupStorage", "Queue", "Stack",
	"SkStorage", "DevMapHash", "StructOpsMap", "RingBuf", "InodeStorage", "TaskStorage",
	"BloomFilter", "UserRingbuf", "CgroupStorage", "Arena",
}

// MapTypeName returns the name of a Linux BPF_MAP_TYPE_* id, or
// "MapType(N)" for ids it does not know.
func MapTypeName(t uint32) string {
	if int(t) < len(mapTypeNames) {
		return mapTypeNames[t]
	}
	return fmt.Sprintf("MapType(%d)", t)
}

// AttachType is a Linux BPF_* attach type id (enum bpf_attach_type) that
// some program types need in addition to the program type.
type AttachType uint32

// Attach types, numbered as Linux's enum bpf_attach_type. AttachNone means
// the section implies none.
const (
	AttachCGroupInetIngress          AttachType = 0
	AttachCGroupInetEgress           AttachType = 1
	AttachCGroupInetSockCreate       AttachType = 2
	AttachCGroupSockOps              AttachType = 3
	AttachSkSKBStreamParser          AttachType = 4
	AttachSkSKBStreamVerdict         AttachType = 5
	AttachCGroupDevice               AttachType = 6
	AttachSkMsgVerdict               AttachType = 7
	AttachCGroupInet4Bind            AttachType = 8
	AttachCGroupInet6Bind            AttachType = 9
	AttachCGroupInet4Connect         AttachType = 10
	AttachCGroupInet6Connect         AttachType = 11
	AttachCGroupInet4PostBind        AttachType = 12
	AttachCGroupInet6PostBind        AttachType = 13
	AttachCGroupUDP4Sendmsg          AttachType = 14
	AttachCGroupUDP6Sendmsg          AttachType = 15
	AttachLircMode2                  AttachType = 16
	AttachFlowDissector              AttachType = 17
	AttachCGroupSysctl               AttachType = 18
	AttachCGroupUDP4Recvmsg          AttachType = 19
	AttachCGroupUDP6Recvmsg          AttachType = 20
	AttachCGroupGetsockopt           AttachType = 21
	AttachCGroupSetsockopt           AttachType = 22
	AttachTraceRawTp                 AttachType = 23
	AttachTraceFEntry                AttachType = 24
	AttachTraceFExit                 AttachType = 25
	AttachModifyReturn               AttachType = 26
	AttachLSMMac                     AttachType = 27
	AttachTraceIter                  AttachType = 28
	AttachCGroupInet4GetPeername     AttachType = 29
	AttachCGroupInet6GetPeername     AttachType = 30
	AttachCGroupInet4GetSockname     AttachType = 31
	AttachCGroupInet6GetSockname     AttachType = 32
	AttachXDPDevMap                  AttachType = 33
	AttachCGroupInetSockRelease      AttachType = 34
	AttachXDPCPUMap                  AttachType = 35
	AttachSkLookup                   AttachType = 36
	AttachXDP                        AttachType = 37
	AttachSkSKBVerdict               AttachType = 38
	AttachSkReuseportSelect          AttachType = 39
	AttachSkReuseportSelectOrMigrate AttachType = 40
	AttachPerfEvent                  AttachType = 41
	AttachTraceKprobeMulti           AttachType = 42
	AttachLSMCgroup                  AttachType = 43
	AttachStructOps                  AttachType = 44
	AttachNetfilter                  AttachType = 45
	AttachTCXIngress                 AttachType = 46
	AttachTCXEgress                  AttachType = 47
	AttachTraceUprobeMulti           AttachType = 48
	AttachCGroupUnixConnect          AttachType = 49
	AttachCGroupUnixSendmsg          AttachType = 50
	AttachCGroupUnixRecvmsg          AttachType = 51
	AttachCGroupUnixGetpeername      AttachType = 52
	AttachCGroupUnixGetsockname      AttachType = 53
	AttachNetkitPrimary              AttachType = 54
	AttachNetkitPeer                 AttachType = 55
	AttachTraceKprobeSession         AttachType = 56
	AttachTraceUprobeSession         AttachType = 57

	AttachNone AttachType = 0xffffffff
)
