package perf_test

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	cperf "github.com/cilium/ebpf/perf"
	"golang.org/x/sys/unix"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/perf"
)

// pinCPU binds the calling goroutine's thread to its first allowed CPU
// until t ends, so that every kernel test run outputs to the same buffer,
// and returns that CPU.
func pinCPU(t *testing.T) int {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		t.Skipf("cannot pin to a CPU: %v", err)
	}
	cpu := -1
	for i := range 1024 {
		if old.IsSet(i) {
			cpu = i
			break
		}
	}
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		t.Skipf("cannot pin to a CPU: %v", err)
	}
	t.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
	return cpu
}

// TestKernelDifferential loads testdata/perf.c into the kernel with
// cilium/ebpf and into xebpf, runs the program on the same packets on
// both (BPF_PROG_TEST_RUN in the kernel, on one CPU), past the point where
// the one-page buffer is full, and reads both with their own package:
// verdicts, BufferSize, and every record's CPU, lost count, Remaining and
// sample must agree, the kernel's sample being xebpf's followed by the
// padding Linux adds (up to 7 bytes). It skips where the kernel cannot
// load and test-run programs.
func TestKernelDifferential(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skipf("no kernel to compare with: %v", err)
	}
	obj := buildObject(t, "perf")
	cpu := pinCPU(t)
	kspec, err := cebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	kcoll, err := cebpf.NewCollection(kspec)
	if err != nil {
		t.Fatalf("kernel: %v", err)
	}
	defer kcoll.Close()
	krd, err := cperf.NewReader(kcoll.Maps["events"], 1)
	if err != nil {
		t.Fatal(err)
	}
	defer krd.Close()
	xcoll := load(t)
	if cpu >= int(xcoll.Maps["events"].MaxEntries()) {
		t.Skipf("pinned to CPU %d, past xebpf's %d CPU slots", cpu, xcoll.Maps["events"].MaxEntries())
	}
	xrd := newReader(t, xcoll, 1, perf.ReaderOptions{})
	if krd.BufferSize() != xrd.BufferSize() {
		t.Fatalf("BufferSize: kernel %d, xebpf %d", krd.BufferSize(), xrd.BufferSize())
	}

	// Samples of every padding, then 100-byte ones (112 bytes in the
	// buffer) while they fit, then one whose record is exactly the space
	// left, which Linux loses (it keeps a byte free), then more lost ones.
	record := func(n int) int { return 8 + (n+4+7)&^7 }
	var pkts [][]byte
	used := 0
	for _, n := range []byte{0, 1, 3, 4, 5, 8, 12, 13, 100, 127} {
		pkts = append(pkts, packet(n))
		used += record(int(n))
	}
	for i := 0; used+record(100) < krd.BufferSize(); i++ {
		pkts = append(pkts, packet(100, byte(i)))
		used += record(100)
	}
	exact := -1
	for n := 0; n < 128; n++ {
		if record(n) == krd.BufferSize()-used {
			exact = n
		}
	}
	if exact < 0 {
		t.Fatalf("no sample fills the %d bytes left", krd.BufferSize()-used)
	}
	pkts = append(pkts, packet(byte(exact)))
	for i := range 3 {
		pkts = append(pkts, packet(100, byte(i)))
	}
	runBoth := func(pkts [][]byte) {
		t.Helper()
		for i, p := range pkts {
			kret, err := kcoll.Programs["output"].Run(&cebpf.RunOptions{Data: p})
			if err != nil {
				t.Fatalf("kernel run %d: %v", i, err)
			}
			xret, err := xcoll.Programs["output"].Run(&ebpf.RunOptions{Data: p, CPU: uint32(cpu)})
			if err != nil {
				t.Fatalf("xebpf run %d: %v", i, err)
			}
			if kret != xret {
				t.Fatalf("run %d (sample of %d bytes): verdict kernel %d, xebpf %d", i, p[0], kret, xret)
			}
		}
	}
	readBoth := func() int {
		t.Helper()
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
				return i
			}
			n := len(xrec.RawSample)
			padded := (n+4+7)&^7 - 4
			if krec.CPU != xrec.CPU || krec.LostSamples != xrec.LostSamples || krec.Remaining != xrec.Remaining ||
				(xrec.LostSamples == 0 && (len(krec.RawSample) != padded || !bytes.Equal(krec.RawSample[:n], xrec.RawSample))) {
				t.Fatalf("record %d:\nkernel %+v\nxebpf  %+v", i, krec, xrec)
			}
		}
	}
	runBoth(pkts)
	if n := readBoth(); n < 30 {
		t.Fatalf("only %d records", n)
	}
	// The lost samples are reported before the next sample that fits.
	runBoth([][]byte{packet(20, 0xee)})
	if n := readBoth(); n != 2 {
		t.Fatalf("%d records after the lost ones, want the report and the sample", n)
	}
}
