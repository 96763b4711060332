package ringbuf_test

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
	"github.com/xebpf/xebpf/ringbuf"
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

// load loads testdata/ringbuf.c into a new collection, closed with the
// test.
func load(t *testing.T) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(buildObject(t, "ringbuf"))
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

func newReader(t *testing.T, coll *ebpf.Collection) *ringbuf.Reader {
	t.Helper()
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return rd
}

// packet returns a 64-byte packet starting with head, its other bytes
// numbered.
func packet(head ...byte) []byte {
	p := make([]byte, 64)
	for i := range p {
		p[i] = byte(0x40 + i)
	}
	copy(p, head)
	return p
}

// run runs prog on pkt and checks its verdict.
func run(t testing.TB, coll *ebpf.Collection, prog string, pkt []byte, want uint32) {
	t.Helper()
	ret, err := coll.Programs[prog].Run(&ebpf.RunOptions{Data: pkt})
	if err != nil {
		t.Fatalf("run %s: %v", prog, err)
	}
	if ret != want {
		t.Fatalf("run %s: verdict %d, want %d", prog, ret, want)
	}
}

const xdpPass, xdpDrop = 2, 1

// readWithin reads a record, failing the test if none comes within 5 s.
func readWithin(t *testing.T, rd *ringbuf.Reader) ringbuf.Record {
	t.Helper()
	rd.SetDeadline(time.Now().Add(5 * time.Second))
	defer rd.SetDeadline(time.Time{})
	rec, err := rd.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rec
}

// TestRecordSizes checks that a record has exactly the size reserved or
// output, and that Remaining and AvailableBytes count the records with
// their 8-byte headers and padding.
func TestRecordSizes(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	if rd.BufferSize() != 4096 {
		t.Fatalf("BufferSize = %d, want 4096", rd.BufferSize())
	}
	type rec struct {
		prog string
		pkt  []byte
		want []byte
	}
	var recs []rec
	p := packet()
	recs = append(recs, rec{"reserve5", p, p[:5]})
	for _, n := range []byte{0, 1, 5, 7, 8, 9, 31} {
		p := packet(n, 0)
		recs = append(recs, rec{"output", p, p[:n]})
	}
	total := 0
	for _, r := range recs {
		run(t, coll, r.prog, r.pkt, xdpPass)
		total += 8 + (len(r.want)+7)&^7
	}
	if got := rd.AvailableBytes(); got != total {
		t.Fatalf("AvailableBytes = %d, want %d", got, total)
	}
	var got ringbuf.Record
	for i, r := range recs {
		if err := rd.ReadInto(&got); err != nil {
			t.Fatal(err)
		}
		total -= 8 + (len(r.want)+7)&^7
		if !bytes.Equal(got.RawSample, r.want) || len(got.RawSample) != len(r.want) || got.Remaining != total {
			t.Fatalf("record %d (%s of %d bytes): %x, remaining %d; want %x, remaining %d",
				i, r.prog, len(r.want), got.RawSample, got.Remaining, r.want, total)
		}
	}
}

// TestOrderAndDiscard checks that records come in the order they were
// submitted and that discarded ones are skipped.
func TestOrderAndDiscard(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	for i := range 50 {
		if i%10 == 0 {
			run(t, coll, "discard", packet(), xdpPass)
		}
		run(t, coll, "output", packet(3, 0, byte(i)), xdpPass)
	}
	for i := range 50 {
		if i%10 == 0 {
			if got := readWithin(t, rd); string(got.RawSample) != "xyz" {
				t.Fatalf("before record %d: %q, want the discard program's xyz", i, got.RawSample)
			}
		}
		if got := readWithin(t, rd); !bytes.Equal(got.RawSample, []byte{3, 0, byte(i)}) {
			t.Fatalf("record %d: %x", i, got.RawSample)
		}
	}
}

// TestDeadline checks that a read past its deadline returns the records
// in the ring, then an error matching os.ErrDeadlineExceeded, also for
// records submitted without a wake-up.
func TestDeadline(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read of an empty ring = %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("Read returned after %v, before its deadline", d)
	}
	run(t, coll, "output", packet(2, 1 /* BPF_RB_NO_WAKEUP */), xdpPass)
	run(t, coll, "output", packet(4, 1), xdpPass)
	rd.SetDeadline(time.Now().Add(-time.Second))
	for _, n := range []int{2, 4} {
		rec, err := rd.Read()
		if err != nil || len(rec.RawSample) != n {
			t.Fatalf("Read = %x, %v; want a record of %d bytes", rec.RawSample, err, n)
		}
	}
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the records = %v, want os.ErrDeadlineExceeded", err)
	}
}

// TestCloseAndFlushUnblockRead checks that Close and Flush end a Read
// blocked on an empty ring.
func TestCloseAndFlushUnblockRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*ringbuf.Reader) error
		want []error
	}{
		{"Close", (*ringbuf.Reader).Close, []error{ringbuf.ErrClosed, os.ErrClosed}},
		{"Flush", (*ringbuf.Reader).Flush, []error{ringbuf.ErrFlushed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coll := load(t)
			rd := newReader(t, coll)
			done := make(chan error)
			go func() {
				_, err := rd.Read()
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("Read of an empty ring returned %v", err)
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

func TestClosedReader(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	run(t, coll, "reserve5", packet(), xdpPass)
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Read(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close = %v, want os.ErrClosed", err)
	}
	if err := rd.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestMapAndCollectionClose checks that closing the map handle leaves the
// reader working, as in cilium/ebpf, and that closing the collection,
// which frees the ring, ends reads with ErrClosed.
func TestMapAndCollectionClose(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	run(t, coll, "reserve5", packet(), xdpPass)
	coll.Maps["events"].Close()
	run(t, coll, "reserve5", packet(), xdpPass)
	for range 2 {
		if got := readWithin(t, rd); !bytes.Equal(got.RawSample, packet()[:5]) {
			t.Fatalf("read %x after the map's Close", got.RawSample)
		}
	}
	coll.Close()
	if _, err := rd.Read(); !errors.Is(err, ringbuf.ErrClosed) {
		t.Fatalf("Read after the collection's Close = %v, want ErrClosed", err)
	}
}

func TestNewReaderRefuses(t *testing.T) {
	coll := load(t)
	_, err := ringbuf.NewReader(coll.Maps["counts"])
	if err == nil || !strings.Contains(err.Error(), `"counts"`) || !strings.Contains(err.Error(), "Array") {
		t.Fatalf("NewReader(Array map counts) = %v, want an error naming the map and its type", err)
	}
	if _, err := ringbuf.NewReader(nil); err == nil {
		t.Fatal("NewReader(nil) succeeded")
	}
}

// TestConcurrentProducers runs the program from several goroutines while
// one reader reads: every record arrives once, each producer's in order.
func TestConcurrentProducers(t *testing.T) {
	coll := load(t)
	rd := newReader(t, coll)
	const producers, each = 4, 300
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prog := coll.Programs["output"]
			for i := 0; i < each; {
				ret, err := prog.Run(&ebpf.RunOptions{Data: packet(4, 0, byte(p), byte(i))})
				if err != nil {
					errs <- err
					return
				}
				if ret == xdpPass {
					i++
				} else {
					time.Sleep(time.Millisecond) // the ring is full: let the reader catch up
				}
			}
		}()
	}
	next := make([]int, producers)
	var rec ringbuf.Record
	rd.SetDeadline(time.Now().Add(30 * time.Second))
	for n := range producers * each {
		if err := rd.ReadInto(&rec); err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		s := rec.RawSample
		if len(s) != 4 || s[0] != 4 || int(s[2]) >= producers {
			t.Fatalf("record %d: %x", n, s)
		}
		p, i := s[2], int(s[3])
		if i != next[p]&0xff {
			t.Fatalf("producer %d: record %d, want %d", p, i, next[p])
		}
		next[p]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rd.SetDeadline(time.Now())
	if rec, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("record past the last: %x, %v", rec.RawSample, err)
	}
}
