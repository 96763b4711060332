package ringbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	cringbuf "github.com/cilium/ebpf/ringbuf"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/ringbuf"
)

// TestKernelDifferential loads testdata/ringbuf.c into the kernel with
// cilium/ebpf and into xebpf, runs the same programs on the same packets
// on both (BPF_PROG_TEST_RUN in the kernel), and reads both rings with
// their own package: verdicts, AvailableBytes, and every record's bytes
// and Remaining must agree, up to and past the point where the ring is
// full. It skips where the kernel cannot load and test-run programs.
func TestKernelDifferential(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("no kernel to compare with: %v", err)
	}
	obj := buildObject(t, "ringbuf")
	kspec, err := cebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	kcoll, err := cebpf.NewCollection(kspec)
	if err != nil {
		t.Fatalf("kernel: %v", err)
	}
	defer kcoll.Close()
	krd, err := cringbuf.NewReader(kcoll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	defer krd.Close()
	xspec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	xcoll, err := ebpf.NewCollection(xspec)
	if err != nil {
		t.Fatal(err)
	}
	defer xcoll.Close()
	xrd, err := ringbuf.NewReader(xcoll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	defer xrd.Close()
	if krd.BufferSize() != xrd.BufferSize() {
		t.Fatalf("BufferSize: kernel %d, xebpf %d", krd.BufferSize(), xrd.BufferSize())
	}

	type run struct {
		prog string
		pkt  []byte
	}
	var runs []run
	runs = append(runs, run{"reserve5", packet()}, run{"discard", packet()})
	for _, n := range []byte{0, 1, 5, 7, 8, 9, 31} {
		runs = append(runs, run{"output", packet(n, 0)})
	}
	runs = append(runs, run{"output", packet(6, 1)}) // BPF_RB_NO_WAKEUP
	// Then fill the ring: 16-byte records (8 of header) until both drop.
	for i := range 4096 / 16 {
		runs = append(runs, run{"output", packet(8, 0, byte(i))})
	}
	for i, r := range runs {
		kret, err := kcoll.Programs[r.prog].Run(&cebpf.RunOptions{Data: r.pkt})
		if err != nil {
			t.Fatalf("kernel run %d (%s): %v", i, r.prog, err)
		}
		xret, err := xcoll.Programs[r.prog].Run(&ebpf.RunOptions{Data: r.pkt})
		if err != nil {
			t.Fatalf("xebpf run %d (%s): %v", i, r.prog, err)
		}
		if kret != xret {
			t.Fatalf("run %d (%s, %x): verdict kernel %d, xebpf %d", i, r.prog, r.pkt[:2], kret, xret)
		}
		if k, x := krd.AvailableBytes(), xrd.AvailableBytes(); k != x {
			t.Fatalf("after run %d (%s): AvailableBytes kernel %d, xebpf %d", i, r.prog, k, x)
		}
	}
	krd.SetDeadline(time.Now())
	xrd.SetDeadline(time.Now())
	for i := 0; ; i++ {
		krec, kerr := krd.Read()
		xrec, xerr := xrd.Read()
		if (kerr == nil) != (xerr == nil) {
			t.Fatalf("record %d: error kernel %v, xebpf %v", i, kerr, xerr)
		}
		if kerr != nil {
			if !errors.Is(kerr, os.ErrDeadlineExceeded) || !errors.Is(xerr, os.ErrDeadlineExceeded) {
				t.Fatalf("after %d records: kernel %v, xebpf %v", i, kerr, xerr)
			}
			if i < 200 {
				t.Fatalf("only %d records", i)
			}
			break
		}
		if !bytes.Equal(krec.RawSample, xrec.RawSample) || krec.Remaining != xrec.Remaining {
			t.Fatalf("record %d: kernel %s, xebpf %s", i, show(krec.RawSample, krec.Remaining), show(xrec.RawSample, xrec.Remaining))
		}
	}
}

func show(b []byte, remaining int) string {
	return fmt.Sprintf("%x (%d bytes, remaining %d)", b, len(b), remaining)
}
