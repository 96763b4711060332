package xebpf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/maps"
)

func loadExample(t testing.TB, opts xebpf.CollectionOptions) (*xebpf.Collection, []byte) {
	t.Helper()
	c := mustCollection(t, "examples/xdpfilter/xdpfilter.o", opts)
	pkt, err := os.ReadFile("examples/xdpfilter/packet.bin")
	if err != nil {
		t.Fatal(err)
	}
	return c, pkt
}

func stat(t testing.TB, c *xebpf.Collection, i uint32) uint64 {
	t.Helper()
	var v uint64
	if err := c.Maps["stats"].Lookup(i, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestXDPFilter(t *testing.T) {
	c, pkt := loadExample(t, xebpf.CollectionOptions{})
	prog := c.Programs["xdp_filter"]
	if prog.Type() != xebpf.XDP {
		t.Fatalf("type %s, want xdp", prog.Kind().Name)
	}
	opts := &xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096)}
	ret, err := prog.Run(opts)
	if err != nil || ret != xebpf.XDPPass {
		t.Fatalf("unlisted source: got %d, %v; want XDP_PASS", ret, err)
	}
	if !bytes.Equal(opts.DataOut, pkt) {
		t.Fatalf("data_out differs from the input")
	}
	src := [4]byte{10, 0, 0, 66}
	if err := c.Maps["blocklist"].Update(src, uint64(0), maps.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if ret, err := prog.Run(&xebpf.RunOptions{Data: pkt}); err != nil || ret != xebpf.XDPDrop {
			t.Fatalf("blocked source: got %d, %v; want XDP_DROP", ret, err)
		}
	}
	var dropped uint64
	if err := c.Maps["blocklist"].Lookup(src, &dropped); err != nil || dropped != 3 {
		t.Fatalf("blocklist counter %d, %v; want 3", dropped, err)
	}
	raw := make([]byte, 8)
	if err := c.Maps["blocklist"].LookupInto(src[:], raw); err != nil || binary.NativeEndian.Uint64(raw) != 3 {
		t.Fatalf("LookupBytes: %x, %v", raw, err)
	}
	if err := c.Maps["blocklist"].LookupInto(src[:2], raw); err == nil {
		t.Fatal("LookupBytes with a 2-byte key: no error")
	}
	if err := c.Maps["blocklist"].Lookup([4]byte{1, 2, 3, 4}, &dropped); !errors.Is(err, maps.ErrKeyNotExist) {
		t.Fatalf("absent key: %v, want ErrKeyNotExist", err)
	}
	if p, d := stat(t, c, 0), stat(t, c, 1); p != 1 || d != 3 {
		t.Fatalf("stats pass=%d drop=%d, want 1 and 3", p, d)
	}
	// A frame that is not IPv4.
	arp := append([]byte(nil), pkt...)
	arp[12], arp[13] = 0x08, 0x06
	if ret, err := prog.Run(&xebpf.RunOptions{Data: arp}); err != nil || ret != xebpf.XDPPass || stat(t, c, 2) != 1 {
		t.Fatalf("ARP frame: got %d, %v, not-ipv4 count %d", ret, err, stat(t, c, 2))
	}
}

func TestRunErrors(t *testing.T) {
	c, pkt := loadExample(t, xebpf.CollectionOptions{})
	prog := c.Programs["xdp_filter"]
	if _, err := prog.Run(&xebpf.RunOptions{Data: pkt[:13]}); !errors.Is(err, xebpf.ErrShortPacket) {
		t.Errorf("13-byte packet: got %v, want ErrShortPacket", err)
	}
	if _, err := prog.Run(&xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 10)}); !errors.Is(err, xebpf.ErrDataOutTooSmall) {
		t.Errorf("small DataOut: got %v, want ErrDataOutTooSmall", err)
	}
	// As bpf_ctx_init: bytes past the struct must be zero.
	long := make([]byte, 25)
	long[24] = 1
	if _, err := prog.Run(&xebpf.RunOptions{Data: pkt, Context: long}); !errors.Is(err, xebpf.ErrContextTooLarge) {
		t.Errorf("25-byte xdp_md: got %v, want ErrContextTooLarge", err)
	}
	if err := c.Maps["stats"].Update(uint64(1), uint64(1), 0); err == nil {
		t.Errorf("8-byte key on a 4-byte-key map: no error")
	}
}

func TestRunIsAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, fast := range []bool{false, true} {
		c, pkt := loadExample(t, xebpf.CollectionOptions{Checked: !fast})
		prog := c.Programs["xdp_filter"]
		opts := &xebpf.RunOptions{Data: pkt}
		prog.Run(opts)
		if n := testing.AllocsPerRun(200, func() { prog.Run(opts) }); n != 0 {
			t.Errorf("fast=%v: %v allocations per run, want 0", fast, n)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	c, pkt := loadExample(t, xebpf.CollectionOptions{})
	prog := c.Programs["xdp_filter"]
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				if ret, err := prog.Run(&xebpf.RunOptions{Data: pkt}); err != nil || ret != xebpf.XDPPass {
					t.Errorf("got %d, %v", ret, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := stat(t, c, 0); n != 1000 {
		t.Fatalf("pass count %d after 1000 concurrent runs, want 1000 (atomic adds lost?)", n)
	}
}

func TestRepeat(t *testing.T) {
	c, pkt := loadExample(t, xebpf.CollectionOptions{})
	opts := &xebpf.RunOptions{Data: pkt, Repeat: 100}
	ret, err := c.Programs["xdp_filter"].Run(opts)
	if dur := opts.Duration; err != nil || ret != xebpf.XDPPass || dur <= 0 {
		t.Fatalf("got %d, %v, %v", ret, dur, err)
	}
	if n := stat(t, c, 0); n != 100 {
		t.Fatalf("pass count %d, want 100", n)
	}
}

func TestTaskAndClockReachHelpers(t *testing.T) {
	obj := buildC(t, "task", `#include "xebpf/bpf.h"
static __u64 (*get_pid_tgid)(void) = (void *)14;
SEC("raw")
int who(void *ctx)
{
	return (int)(get_pid_tgid() >> 32) + (int)(bpf_ktime_get_ns() & 0xff);
}
char LICENSE[] SEC("license") = "GPL";
`)
	c := mustCollection(t, obj, xebpf.CollectionOptions{Clock: fixedClock(7)})
	ret, err := c.Programs["who"].Run(&xebpf.RunOptions{Task: &helpers.Task{PID: 11, TGID: 1000}})
	if err != nil || ret != 1007 {
		t.Fatalf("got %d, %v; want tgid 1000 + clock 7", ret, err)
	}
}

type fixedClock uint64

func (c fixedClock) Monotonic() uint64 { return uint64(c) }
func (c fixedClock) Boot() uint64      { return uint64(c) }
func (c fixedClock) Coarse() uint64    { return uint64(c) }
func (c fixedClock) Jiffies() uint64   { return uint64(c) }
func (c fixedClock) TAI() uint64       { return uint64(c) }

func TestRunner(t *testing.T) {
	c, pkt := loadExample(t, xebpf.CollectionOptions{})
	prog := c.Programs["xdp_filter"]
	r, err := prog.NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	opts := &xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 128)}
	if ret, err := r.Run(opts); err != nil || ret != xebpf.XDPPass || len(opts.DataOut) != len(pkt) {
		t.Fatalf("got %d, %v, %d bytes out", ret, err, len(opts.DataOut))
	}
	if err := c.Maps["blocklist"].Update([4]byte{10, 0, 0, 66}, uint64(0), 0); err != nil {
		t.Fatal(err)
	}
	if ret, err := r.Run(&xebpf.RunOptions{Data: pkt}); err != nil || ret != xebpf.XDPDrop {
		t.Fatalf("after blocking: got %d, %v", ret, err)
	}
	if _, err := r.Run(&xebpf.RunOptions{Data: pkt[:10]}); !errors.Is(err, xebpf.ErrShortPacket) {
		t.Fatalf("short packet: %v", err)
	}
	if !raceEnabled {
		run := &xebpf.RunOptions{Data: pkt}
		if n := testing.AllocsPerRun(200, func() { r.Run(run) }); n != 0 {
			t.Errorf("%v allocations per run, want 0", n)
		}
	}
	// One runner per goroutine: runners of one program run concurrently.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := prog.NewRunner()
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			for range 100 {
				if ret, err := r.Run(&xebpf.RunOptions{Data: pkt}); err != nil || ret != xebpf.XDPDrop {
					t.Errorf("got %d, %v", ret, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r.Close()
	if _, err := r.Run(&xebpf.RunOptions{Data: pkt}); !errors.Is(err, xebpf.ErrClosed) {
		t.Errorf("run of a closed runner: %v, want ErrClosed", err)
	}
}

func TestUnimplementedHelperIsNamed(t *testing.T) {
	obj := buildC(t, "unimpl", `#include "xebpf/bpf.h"
static long (*sock_map_update)(void *ctx, void *map, void *key, __u64 flags) = (void *)53;
SEC("raw")
int f(void *ctx)
{
	return sock_map_update(ctx, 0, 0, 0);
}
char LICENSE[] SEC("license") = "GPL";
`)
	c := mustCollection(t, obj, xebpf.CollectionOptions{})
	_, err := c.Programs["f"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
	if !errors.Is(err, xebpf.ErrHelperNotImplemented) || !strings.Contains(err.Error(), "bpf_sock_map_update (53)") {
		t.Fatalf("got %v", err)
	}
}

// TestFaultReleasesSpinLock: a run that faults inside a bpf_spin_lock
// critical section must not leave the lock taken for the next run.
func TestFaultReleasesSpinLock(t *testing.T) {
	obj := buildC(t, "lockfault", `#include "xebpf/bpf.h"
struct val { struct bpf_spin_lock lock; __u32 n; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct val);
	__uint(max_entries, 1);
} locked SEC(".maps");

SEC("raw")
int f(unsigned char *ctx)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&locked, &k);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n += ctx[0]; /* faults when the context is empty */
	bpf_spin_unlock(&v->lock);
	return v->n;
}
char LICENSE[] SEC("license") = "GPL";
`)
	c := mustCollection(t, obj, xebpf.CollectionOptions{})
	p := c.Programs["f"]
	if _, err := p.Run(&xebpf.RunOptions{}); err == nil {
		t.Fatal("the read of an empty context did not fault")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if ret, err := p.Run(&xebpf.RunOptions{Context: []byte{5}}); err != nil || ret != 5 {
			t.Errorf("got %d, %v; want 5", ret, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the next run hangs on the lock the faulting run left taken")
	}
}

// TestCloseFreesEverything: a closed collection leaves no off-heap memory
// behind, whatever its programs ran (off-heap memory does not make the
// garbage collector run, so nothing may wait for it).
func TestCloseFreesEverything(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec("examples/xdpfilter/xdpfilter.o")
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := os.ReadFile("examples/xdpfilter/packet.bin")
	if err != nil {
		t.Fatal(err)
	}
	before := platform.Live()
	for range 200 {
		c, err := xebpf.NewCollection(spec)
		if err != nil {
			t.Fatal(err)
		}
		p := c.Programs["xdp_filter"]
		if _, err := p.Run(&xebpf.RunOptions{Data: pkt}); err != nil {
			t.Fatal(err)
		}
		r, err := p.NewRunner()
		if err != nil {
			t.Fatal(err)
		}
		r.Run(&xebpf.RunOptions{Data: pkt})
		r.Close()
		c.Close()
	}
	checkFreed(t, before)
	if _, err := func() (uint32, error) {
		c, _ := xebpf.NewCollection(spec)
		p := c.Programs["xdp_filter"]
		c.Close()
		return p.Run(&xebpf.RunOptions{Data: pkt})
	}(); !errors.Is(err, xebpf.ErrClosed) {
		t.Fatalf("run after Close: %v, want ErrClosed", err)
	}
}
