package service_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// TestConcurrentClients: clients load, pin, run, dump, unpin and hang up
// at once (run it with -race); in the end nothing is left and the memory
// is returned.
func TestConcurrentClients(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	_, sock := startDaemon(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				c, err := client.Dial(sock)
				if err != nil {
					errs <- err
					return
				}
				dir := fmt.Sprintf("/sys/fs/bpf/w%d/%d", w, i)
				res, err := c.Load(&proto.LoadArgs{Object: obj, PinAllDir: dir, PinMapsDir: dir + "/maps"})
				if err != nil {
					errs <- err
					c.Close()
					return
				}
				id := res.Programs[0].ID
				if _, err := c.Run(&proto.RunArgs{Ref: proto.Ref{ID: id}, Data: make([]byte, 40+i)}); err != nil {
					errs <- err
				}
				if _, err := c.DumpMap(proto.Ref{Pinned: dir + "/maps/counts"}); err != nil {
					errs <- err
				}
				if _, err := c.Programs(proto.Ref{}); err != nil {
					errs <- err
				}
				if i%2 == 0 { // the others stay until the end
					for _, p := range []string{"/xdp_count", "/xdp_drop", "/maps/counts", "/maps/totals"} {
						if err := c.Unpin(dir + p); err != nil {
							errs <- err
						}
					}
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := dial(t, sock)
	// The daemon releases a session's handles when it sees the
	// connection close, after the client's Close returned.
	st := waitStatus(t, c, func(st proto.StatusResult) bool { return st.Programs == 8*2*2 && st.Handles == 0 })
	if st.Pins != 8*2*4 {
		t.Errorf("status %+v, want the 32 programs and 64 pins of the pinned loads", st)
	}
	for w := range 8 {
		for _, i := range []int{1, 3} {
			for _, p := range []string{"/xdp_count", "/xdp_drop", "/maps/counts", "/maps/totals"} {
				if err := c.Unpin(fmt.Sprintf("/sys/fs/bpf/w%d/%d%s", w, i, p)); err != nil {
					t.Error(err)
				}
			}
		}
	}
	st = waitStatus(t, c, func(st proto.StatusResult) bool {
		if st.UnreturnedBytes != 0 {
			runtime.GC()
		}
		return st.UnreturnedBytes == 0 && st.Programs == 0
	})
	if st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v", st)
	}
}

// TestCloseReleases checks that Client.Close returns only once the
// daemon has released what the session held: a command that exits after
// Close leaves nothing unpinned behind, with no wait.
func TestCloseReleases(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	_, sock := startDaemon(t)
	other := dial(t, sock)
	for i := range 20 {
		c := dial(t, sock)
		if _, err := c.Load(&proto.LoadArgs{Object: obj}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if st := status(t, other); st.Programs != 0 || st.Maps != 0 {
			t.Fatalf("round %d: right after Close: %+v, want nothing left", i, st)
		}
	}
}
