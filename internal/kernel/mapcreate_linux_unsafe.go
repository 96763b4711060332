//go:build linux

package kernel

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// mapCreateAttr is the BPF_MAP_CREATE member of union bpf_attr, up to
// map_extra.
type mapCreateAttr struct {
	mapType, keySize, valueSize, maxEntries, mapFlags, innerMapFD, numaNode uint32
	mapName                                                                 [16]byte
	mapIfindex, btfFD, btfKeyTypeID, btfValueTypeID, btfVmlinuxValueTypeID  uint32
	mapExtra                                                                uint64
}

// bpfMapCreate is BPF_MAP_CREATE of enum bpf_cmd.
const bpfMapCreate = 0

// newDeclaredMap creates a map as libbpf does, with max_entries as
// declared: for CPU maps and perf event arrays cilium/ebpf would clamp it
// to the number of possible CPUs, which the kernel does not require (it
// only caps it at NR_CPUS) and libbpf and xebpf do not do. It takes no BTF
// and no inner map.
func newDeclaredMap(ms *ebpf.MapSpec) (*ebpf.Map, error) {
	attr := mapCreateAttr{
		mapType: uint32(ms.Type), keySize: ms.KeySize, valueSize: ms.ValueSize,
		maxEntries: ms.MaxEntries, mapFlags: ms.Flags, numaNode: ms.NumaNode, mapExtra: ms.MapExtra,
	}
	copy(attr.mapName[:15], ms.Name)
	fd, _, errno := unix.Syscall(unix.SYS_BPF, bpfMapCreate, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return nil, fmt.Errorf("create %s: %w", ms.Type, errno)
	}
	m, err := ebpf.NewMapFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
		return nil, err
	}
	for _, kv := range ms.Contents {
		if err := m.Put(kv.Key, kv.Value); err != nil {
			m.Close()
			return nil, fmt.Errorf("key %x: %w", kv.Key, err)
		}
	}
	return m, nil
}
