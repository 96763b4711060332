package perf_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/perf"
)

// buildObject compiles testdata/NAME.c with clang-19 into a temporary
// directory, or skips the test when clang-19 is not installed.
func buildObject(t testing.TB, name string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed: cannot build testdata/" + name + ".c")
	}
	obj := filepath.Join(t.TempDir(), name+".o")
	cmd := exec.Command(clang, "-O2", "-g", "-target", "bpf", "-I", filepath.Join("..", "include"),
		"-c", filepath.Join("testdata", name+".c"), "-o", obj)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	return obj
}

// load loads testdata/perf.c into a new collection, closed with the test.
func load(t *testing.T) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(buildObject(t, "perf"))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

func newReader(t *testing.T, coll *ebpf.Collection, size int, opts perf.ReaderOptions) *perf.Reader {
	t.Helper()
	rd, err := perf.NewReaderWithOptions(coll.Maps["events"], size, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return rd
}

// packet returns a 128-byte packet whose first byte is the sample size
// and whose next bytes are head, the others numbered.
func packet(size byte, head ...byte) []byte {
	p := make([]byte, 128)
	for i := range p {
		p[i] = byte(i)
	}
	p[0] = size
	copy(p[1:], head)
	return p
}

const xdpPass, xdpDrop = 2, 1

// run runs the output program on cpu and returns its verdict.
func run(t testing.TB, coll *ebpf.Collection, pkt []byte, cpu uint32) uint32 {
	t.Helper()
	ret, err := coll.Programs["output"].Run(&ebpf.RunOptions{Data: pkt, CPU: cpu})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return ret
}

func readWithin(t *testing.T, rd *perf.Reader) perf.Record {
	t.Helper()
	rd.SetDeadline(time.Now().Add(5 * time.Second))
	defer rd.SetDeadline(time.Time{})
	rec, err := rd.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rec
}

// TestSamples checks that samples keep their exact size and come from
// the buffer of the CPU the program ran on.
func TestSamples(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 4096, perf.ReaderOptions{})
	if got := rd.BufferSize(); got != os.Getpagesize() {
		t.Fatalf("BufferSize = %d, want a page (%d)", got, os.Getpagesize())
	}
	cpus := uint32(coll.Maps["events"].MaxEntries())
	for i, n := range []byte{1, 3, 4, 5, 8, 12, 13, 100, 127} {
		cpu := uint32(i) % cpus
		pkt := packet(n)
		if ret := run(t, coll, pkt, cpu); ret != xdpPass {
			t.Fatalf("sample of %d bytes: verdict %d", n, ret)
		}
		rec := readWithin(t, rd)
		if !bytes.Equal(rec.RawSample, pkt[:n]) || rec.CPU != int(cpu) || rec.LostSamples != 0 || rec.Remaining != 0 {
			t.Fatalf("sample of %d bytes on CPU %d: %+v", n, cpu, rec)
		}
	}
}

// TestLostSamples fills a one-page buffer: samples of 100 bytes take 112
// bytes, as in Linux, so 36 fit; the 4 lost are reported before the next
// sample that fits.
func TestLostSamples(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 1, perf.ReaderOptions{})
	fit := (rd.BufferSize() - 1) / 112
	for i := range fit + 4 {
		want := uint32(xdpPass)
		if i >= fit {
			want = xdpDrop
		}
		if ret := run(t, coll, packet(100, byte(i)), 0); ret != want {
			t.Fatalf("sample %d: verdict %d, want %d", i, ret, want)
		}
	}
	for i := range fit {
		rec := readWithin(t, rd)
		if len(rec.RawSample) != 100 || rec.RawSample[1] != byte(i) || rec.Remaining != (fit-1-i)*112 {
			t.Fatalf("sample %d: % x, remaining %d", i, rec.RawSample[:2], rec.Remaining)
		}
	}
	if ret := run(t, coll, packet(100, 0xee), 0); ret != xdpPass {
		t.Fatalf("sample after reading: verdict %d", ret)
	}
	if rec := readWithin(t, rd); rec.LostSamples != 4 || len(rec.RawSample) != 0 || rec.CPU != 0 {
		t.Fatalf("record after the lost ones: %+v, want 4 lost samples", rec)
	}
	if rec := readWithin(t, rd); rec.LostSamples != 0 || len(rec.RawSample) != 100 || rec.RawSample[1] != 0xee {
		t.Fatalf("sample after the report: %+v", rec)
	}
}

func TestDeadline(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 4096, perf.ReaderOptions{Watermark: 1000})
	rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read without samples = %v, want os.ErrDeadlineExceeded", err)
	}
	// Below the watermark: no wake-up, the deadline returns the samples.
	run(t, coll, packet(8, 1), 0)
	run(t, coll, packet(8, 2), 0)
	rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
	for i := range 2 {
		rec, err := rd.Read()
		if err != nil || len(rec.RawSample) != 8 || rec.RawSample[1] != byte(i+1) {
			t.Fatalf("Read = %+v, %v", rec, err)
		}
	}
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the samples = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestCloseAndFlushUnblockRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*perf.Reader) error
		want []error
	}{
		{"Close", (*perf.Reader).Close, []error{perf.ErrClosed, os.ErrClosed}},
		{"Flush", (*perf.Reader).Flush, []error{perf.ErrFlushed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coll := load(t)
			rd := newReader(t, coll, 4096, perf.ReaderOptions{})
			done := make(chan error)
			go func() {
				_, err := rd.Read()
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("Read without samples returned %v", err)
			case <-time.After(30 * time.Millisecond):
			}
			if err := tc.stop(rd); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				for _, want := range tc.want {
					if !errors.Is(err, want) {
						t.Fatalf("Read = %v, want %v", err, want)
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not end the blocked Read", tc.name)
			}
		})
	}
}

// TestPauseResumeClose checks that outputs fail while the reader is
// paused and after it is closed, and work again after Resume.
func TestPauseResumeClose(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 4096, perf.ReaderOptions{})
	if err := rd.Pause(); err != nil {
		t.Fatal(err)
	}
	if ret := run(t, coll, packet(4), 0); ret != xdpDrop {
		t.Fatalf("output while paused: verdict %d, want the failure's", ret)
	}
	if err := rd.Resume(); err != nil {
		t.Fatal(err)
	}
	if ret := run(t, coll, packet(4, 9), 0); ret != xdpPass {
		t.Fatalf("output after Resume: verdict %d", ret)
	}
	if rec := readWithin(t, rd); rec.RawSample[1] != 9 {
		t.Fatalf("read %x", rec.RawSample)
	}
	rd.Close()
	if ret := run(t, coll, packet(4), 0); ret != xdpDrop {
		t.Fatalf("output after Close: verdict %d, want the failure's", ret)
	}
	if _, err := rd.Read(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
}

func TestOverwritable(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 1, perf.ReaderOptions{Overwritable: true})
	if _, err := rd.Read(); err == nil {
		t.Fatal("Read of an overwritable reader not paused succeeded")
	}
	for i := range 100 { // 112 bytes each: the buffer keeps the newest
		if ret := run(t, coll, packet(100, byte(i)), 0); ret != xdpPass {
			t.Fatalf("overwriting output %d: verdict %d", i, ret)
		}
	}
	if err := rd.Pause(); err != nil {
		t.Fatal(err)
	}
	rd.SetDeadline(time.Now())
	fit := rd.BufferSize() / 112
	for i := range fit {
		rec, err := rd.Read()
		if err != nil || rec.RawSample[1] != byte(99-i) || rec.Remaining >= 0 {
			t.Fatalf("record %d: %+v, %v; want sample %d, negative Remaining", i, rec, err, 99-i)
		}
	}
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the kept samples = %v", err)
	}
}

func TestNewReaderRefuses(t *testing.T) {
	coll := load(t)
	events := coll.Maps["events"]
	_, err := perf.NewReader(coll.Maps["counts"], 4096)
	if err == nil || !strings.Contains(err.Error(), `"counts"`) || !strings.Contains(err.Error(), "Array") {
		t.Fatalf("NewReader(Array map counts) = %v, want an error naming the map and its type", err)
	}
	for _, tc := range []struct {
		name string
		m    *ebpf.Map
		size int
		opts perf.ReaderOptions
	}{
		{"nil map", nil, 4096, perf.ReaderOptions{}},
		{"no buffer", events, 0, perf.ReaderOptions{}},
		{"both wake-up settings", events, 4096, perf.ReaderOptions{WakeupEvents: 1, Watermark: 1}},
		{"watermark not below the buffer", events, 4096, perf.ReaderOptions{Watermark: 4096}},
		{"huge buffer", events, 1 << 30, perf.ReaderOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rd, err := perf.NewReaderWithOptions(tc.m, tc.size, tc.opts); err == nil {
				rd.Close()
				t.Fatal("NewReaderWithOptions succeeded")
			}
		})
	}
}

// TestWakeupEvents checks that the reader sleeps until a buffer received
// WakeupEvents samples.
func TestWakeupEvents(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll, 4096, perf.ReaderOptions{WakeupEvents: 3})
	got := make(chan perf.Record, 3)
	go func() {
		for range 3 {
			rec, err := rd.Read()
			if err != nil {
				return
			}
			got <- rec
		}
	}()
	for i := range 3 {
		select {
		case rec := <-got:
			t.Fatalf("woken after %d samples: %+v", i, rec)
		case <-time.After(20 * time.Millisecond):
		}
		run(t, coll, packet(4, byte(i)), 0)
	}
	for i := range 3 {
		select {
		case rec := <-got:
			if rec.RawSample[1] != byte(i) {
				t.Fatalf("sample %d: %x", i, rec.RawSample)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("not woken by the third sample")
		}
	}
}

// TestConcurrentProducers runs the program from several goroutines while
// one reader reads: every sample arrives once, in order per producer
// within each CPU's buffer, and none is lost with a large enough buffer.
func TestConcurrentProducers(t *testing.T) {
	coll := load(t)
	const producers, each = 4, 200
	rd := newReader(t, coll, producers*each*24, perf.ReaderOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prog := coll.Programs["output"]
			for i := range each {
				ret, err := prog.Run(&ebpf.RunOptions{Data: packet(4, byte(p), byte(i)), CPU: uint32(p)})
				if err == nil && ret != xdpPass {
					err = errors.New("sample lost")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	seen := make([][]bool, producers)
	for p := range seen {
		seen[p] = make([]bool, each)
	}
	var rec perf.Record
	rd.SetDeadline(time.Now().Add(30 * time.Second))
	for n := range producers * each {
		if err := rd.ReadInto(&rec); err != nil {
			t.Fatalf("after %d samples: %v", n, err)
		}
		s := rec.RawSample
		if rec.LostSamples != 0 || len(s) != 4 || int(s[1]) >= producers || int(s[2]) >= each || seen[s[1]][s[2]] {
			t.Fatalf("record %d: %+v", n, rec)
		}
		seen[s[1]][s[2]] = true
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
