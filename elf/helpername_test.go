package elf

import "testing"

func TestHelperNames(t *testing.T) {
	for _, tc := range []struct {
		id   int32
		name string
		ok   bool
	}{{1, "map_lookup_elem", true}, {12, "tail_call", true}, {209, "user_ringbuf_drain", true}, {0, "", false}, {PoisonHelper, "", false}} {
		name, ok := HelperName(tc.id)
		if name != tc.name || ok != tc.ok {
			t.Errorf("HelperName(%d) = %q, %v; want %q, %v", tc.id, name, ok, tc.name, tc.ok)
		}
	}
	// Every id has one name.
	if len(helperNames()) != len(helperIDs) {
		t.Errorf("%d names for %d ids", len(helperNames()), len(helperIDs))
	}
}
