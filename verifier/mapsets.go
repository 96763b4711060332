package verifier

import (
	"fmt"

	"github.com/xebpf/xebpf/maps"
	"slices"
	"strings"
)

// mapSets interns the sets of maps a map pointer may refer to when paths
// that loaded different maps join. A map pointer's aux is the map's index
// when it is one map, or -1-i for union set i.
type mapSets struct {
	unions [][]int32
	// keepCtx: joins keep what may be the context (a permissive
	// analysis, permissive.go): a value of different kinds that may be
	// it, and such a spilled value, which otherwise is unreadable.
	keepCtx bool
}

// of returns the maps of aux.
func (u *mapSets) of(aux int32) []int32 {
	if aux >= 0 {
		return []int32{aux}
	}
	return u.unions[-1-aux]
}

// union returns the aux of the maps of a and b.
func (u *mapSets) union(a, b int32) int32 {
	if a == b {
		return a
	}
	s := append(slices.Clone(u.of(a)), u.of(b)...)
	slices.Sort(s)
	s = slices.Compact(s)
	for i, x := range u.unions {
		if slices.Equal(x, s) {
			return int32(-1 - i)
		}
	}
	u.unions = append(u.unions, s)
	return int32(-len(u.unions))
}

// mapName names the maps of aux.
func (v *verifier) mapName(aux int32) string {
	var names []string
	for _, m := range v.sets.of(aux) {
		if m < 0 || int(m) >= len(v.maps) || v.maps[m] == nil || v.maps[m].Name == "" {
			names = append(names, fmt.Sprintf("#%d", m))
		} else {
			names = append(names, fmt.Sprintf("%q", v.maps[m].Name))
		}
	}
	return strings.Join(names, " or ")
}

// single returns the one map of aux, or false if aux is a set of several.
func (v *verifier) single(aux int32) (*Map, bool) {
	if aux < 0 {
		return nil, false
	}
	return v.maps[aux], true
}

// valueBounds returns, over the maps of aux, the smallest value size,
// whether any is read-only, and the spin locks.
func (v *verifier) valueBounds(aux int32) (size int64, readOnly bool, locks []int) {
	size = -1
	for _, i := range v.sets.of(aux) {
		m := v.maps[i]
		if size < 0 || int64(m.ValueSize) < size {
			size = int64(m.ValueSize)
		}
		// Values of maps of devices, sockets and CPUs hold kernel
		// references: programs only read them (BPF_F_RDONLY_PROG).
		switch m.Type {
		case maps.DevMap, maps.DevMapHash, maps.CPUMap, maps.XSKMap, maps.SockMap, maps.SockHash, maps.ReusePortSockArray:
			readOnly = true
		}
		readOnly = readOnly || m.ReadOnly
		if m.SpinLock >= 0 {
			locks = append(locks, m.SpinLock)
		}
	}
	return size, readOnly, locks
}
