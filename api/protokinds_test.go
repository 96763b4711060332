package api

import "testing"

// TestKindNames checks that every argument and return kind has a name.
func TestKindNames(t *testing.T) {
	if n, last := len(argNames), int(ArgFixedMem40); n != last+1 {
		t.Errorf("%d argument kind names for %d kinds", n, last+1)
	}
	if n, last := len(retNames), int(RetDynptrMemOrNull); n != last+1 {
		t.Errorf("%d return kind names for %d kinds", n, last+1)
	}
	seen := map[string]bool{}
	for k := ArgNone; k <= ArgFixedMem40; k++ {
		if s := k.String(); seen[s] {
			t.Errorf("argument kind name %q repeated", s)
		} else {
			seen[s] = true
		}
	}
	seen = map[string]bool{}
	for k := RetInteger; k <= RetDynptrMemOrNull; k++ {
		if s := k.String(); seen[s] {
			t.Errorf("return kind name %q repeated", s)
		} else {
			seen[s] = true
		}
	}
	if ArgConstStr != 18 || RetRingbufMemOrNull != 3 {
		t.Errorf("existing kind values moved: ArgConstStr %d, RetRingbufMemOrNull %d", ArgConstStr, RetRingbufMemOrNull)
	}
}
