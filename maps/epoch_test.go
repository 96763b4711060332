package maps

import "testing"

func TestArenaReclaimsOnlyAfterReadersExit(t *testing.T) {
	ep := new(Epoch)
	a, err := newArena(2, 8, ep)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	s0, s1 := a.alloc(), a.alloc()
	if s0 < 0 || s1 < 0 || a.alloc() != -1 {
		t.Fatal("a 2-slot arena did not hand out exactly 2 slots")
	}
	r1 := ep.Enter()
	a.release(s0)
	if got := a.alloc(); got != -1 {
		t.Fatalf("slot %d reused while a reader that may hold it is inside", got)
	}
	r2 := ep.Enter() // enters after the release: cannot see s0
	ep.Exit(r1)
	if got := a.alloc(); got != s0 {
		t.Fatalf("alloc = %d after the only reader that could see slot %d exited", got, s0)
	}
	a.release(s1) // r2 is still inside and may hold s1
	if got := a.alloc(); got != -1 {
		t.Fatalf("slot %d reused under reader r2", got)
	}
	r3 := ep.Enter()
	ep.Exit(r2)
	ep.Exit(r3)
	if got := a.alloc(); got != s1 {
		t.Fatalf("alloc = %d after all readers exited, want %d", got, s1)
	}
}

func TestEpochEnterExitAllocationFree(t *testing.T) {
	ep := new(Epoch)
	checkNoAllocs(t, "Epoch.Enter/Exit", func() { ep.Exit(ep.Enter()) })
}
