package elf

import "sync"

// helperNames maps Linux helper ids to their names, built from helperIDs
// on first use.
var helperNames = sync.OnceValue(func() map[int32]string {
	m := make(map[int32]string, len(helperIDs))
	for name, id := range helperIDs {
		m[id] = name
	}
	return m
})

// HelperName returns the name of the Linux helper with the given id,
// without the bpf_ prefix ("map_lookup_elem" for 1), and whether Linux
// has such a helper.
func HelperName(id int32) (string, bool) {
	name, ok := helperNames()[id]
	return name, ok
}
