package platform

import "weak"

// AppendWeak appends a weak pointer to v to list, first dropping the
// pointers whose values the collector has freed whenever the list's length
// is a power of two. Owners of off-heap memory keep such lists to free
// everything at Close: off-heap memory does not make the collector run, so
// waiting for cleanups could let it pile up.
func AppendWeak[T any](list []weak.Pointer[T], v *T) []weak.Pointer[T] {
	if n := len(list); n > 0 && n&(n-1) == 0 {
		live := list[:0]
		for _, w := range list {
			if w.Value() != nil {
				live = append(live, w)
			}
		}
		list = live
	}
	return append(list, weak.Make(v))
}
