package service_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// TestStateProgArraySlots: clients fill and empty a pinned program
// array's slot concurrently (map update with a program, map delete, map
// update with bytes, which the daemon cannot name); after each storm a
// crash copy of the state, restored, runs the tail call as the daemon
// did (the slot's record follows the map), and an unpinned program
// array's slots are not kept.
func TestStateProgArraySlots(t *testing.T) {
	obj := buildObject(t, "xdp_tail")
	dir := t.TempDir()
	_, sock := startDaemon(t, withState(t, dir, nil, nil, -1))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinAllDir: "/sys/fs/bpf/tail", PinMapsDir: "/sys/fs/bpf/m"}); err != nil {
		t.Fatal(err)
	}
	jmp, entry := proto.Ref{Pinned: "/sys/fs/bpf/m/jmp"}, proto.Ref{Pinned: "/sys/fs/bpf/tail/xdp_entry"}
	slot0 := []byte{0, 0, 0, 0}
	retval := func(sock string) uint32 {
		t.Helper()
		r, err := dial(t, sock).Run(&proto.RunArgs{Ref: entry, Data: make([]byte, 60)})
		if err != nil {
			t.Fatal(err)
		}
		return r.Retval
	}
	seen := map[uint32]bool{}
	for round := range 12 {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cw := dial(t, sock)
				for i := range 10 {
					switch (w + i + round) % 3 {
					case 0:
						if err := cw.UpdateProg(jmp, slot0, proto.Ref{Pinned: "/sys/fs/bpf/tail/xdp_drop"}); err != nil {
							t.Error(err)
						}
					case 1:
						if err := cw.Delete(jmp, slot0); err != nil && !errors.Is(err, proto.ErrNotFound) {
							t.Error(err)
						}
					case 2:
						// A program array's value in bytes names no
						// program of the daemon: refused, and the slot
						// keeps what it had.
						if err := cw.Update(jmp, slot0, []byte{9, 9, 9, 9}, 0); err == nil {
							t.Error("map update of a program array with bytes: no error")
						}
					}
				}
			}()
		}
		wg.Wait()
		want := retval(sock)
		seen[want] = true
		_, sock2 := startDaemon(t, withState(t, crashCopy(t, dir), nil, nil, -1))
		if got := retval(sock2); got != want {
			t.Fatalf("round %d: the restored daemon's tail call returns %d, the daemon's %d", round, got, want)
		}
	}
	if !seen[1] || !seen[2] {
		t.Logf("the storms ended with return values %v only", seen)
	}

	// Unpinned, the program array is not kept: its slot comes back empty.
	if err := c.UpdateProg(jmp, slot0, proto.Ref{Pinned: "/sys/fs/bpf/tail/xdp_drop"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Unpin("/sys/fs/bpf/m/jmp"); err != nil {
		t.Fatal(err)
	}
	if got := retval(sock); got != 1 {
		t.Fatalf("after unpinning the program array: return value %d, want 1 (the program still uses it)", got)
	}
	_, sock3 := startDaemon(t, withState(t, crashCopy(t, dir), nil, nil, -1))
	if got := retval(sock3); got != 2 {
		t.Errorf("the unpinned program array after a crash: return value %d, want 2 (empty)", got)
	}
}
