package verifier

import (
	"strings"
	"testing"

	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/maps"
)

// TestMapOfMapsLookupOnly: programs may look inner maps up in a map of
// maps, and pass a map of maps to no other map helper (update, delete,
// for_each_map_elem), as Linux's check_map_func_compatibility allows.
func TestMapOfMapsLookupOnly(t *testing.T) {
	inner := &Map{Name: "inner", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4, SpinLock: -1}
	for _, typ := range []maps.Type{maps.ArrayOfMaps, maps.HashOfMaps} {
		for _, tc := range []struct {
			name, call, reject string
		}{
			{"lookup", "call 1", ""},
			{"update", "mov %r3, %r2\nmov %r4, 0\ncall 2", `does not take map "outer"`},
			{"delete", "call 3", `does not take map "outer"`},
		} {
			t.Run(typ.String()+" "+tc.name, func(t *testing.T) {
				cfg := testConfig()
				cfg.Maps = append(cfg.Maps, &Map{Name: "outer", Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 4, SpinLock: -1, Inner: inner})
				src := `
	stdw [%r10-8], 0
	mov %r2, %r10
	add %r2, -8
	lddw %r1, map_idx 4
	` + tc.call + `
	mov %r0, 0
	exit`
				insns, err := asm.Assemble("test.s", []byte(src))
				if err != nil {
					t.Fatal(err)
				}
				_, err = Verify(insns, cfg)
				switch {
				case tc.reject == "" && err != nil:
					t.Fatalf("rejected: %v", err)
				case tc.reject != "" && (err == nil || !strings.Contains(err.Error(), tc.reject)):
					t.Fatalf("got %v; want a rejection with %q", err, tc.reject)
				}
			})
		}
	}
}
