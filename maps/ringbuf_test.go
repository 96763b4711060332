package maps

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func newRing(t *testing.T, size uint32) *RingBufMap {
	t.Helper()
	return mustNew(t, &Spec{Type: RingBuf, MaxEntries: size}).(*RingBufMap)
}

func TestRingBufRecordFormat(t *testing.T) {
	r := newRing(t, 4096)
	data := r.Regions()[0]
	raw := bytesAt(data.Addr, data.Size)
	a := r.Reserve(5, 0)
	if a != data.Addr+8 {
		t.Fatalf("first sample at %#x, want data+8 %#x", a, data.Addr+8)
	}
	if h := binary.NativeEndian.Uint32(raw); h != 5|RingBufBusyBit {
		t.Fatalf("reserved header = %#x, want 5|BUSY", h)
	}
	if r.Query(RBProdPos) != 16 || r.Query(RBConsPos) != 0 || r.Query(RBAvailData) != 16 || r.Query(RBRingSize) != 4096 {
		t.Fatalf("positions prod %d cons %d avail %d", r.Query(RBProdPos), r.Query(RBConsPos), r.Query(RBAvailData))
	}
	if _, ok := r.Next(nil); ok {
		t.Fatal("a BUSY record was consumed")
	}
	copy(bytesAt(a, 5), "hello")
	r.Submit(a, 0)
	if h := binary.NativeEndian.Uint32(raw); h != 5 {
		t.Fatalf("committed header = %#x, want 5", h)
	}
	b := r.Reserve(3, 0)
	if b != data.Addr+16+8 {
		t.Fatalf("second sample at offset %d, want 24 (8-byte aligned records)", b-data.Addr)
	}
	r.Discard(b, 0)
	if h := binary.NativeEndian.Uint32(raw[16:]); h != 3|RingBufDiscardBit {
		t.Fatalf("discarded header = %#x", h)
	}
	if r.Reserve(1, 1) != 0 {
		t.Fatal("Reserve with flags != 0 succeeded")
	}
	if r.Reserve(4096, 0) != 0 {
		t.Fatal("Reserve larger than the buffer succeeded")
	}
	s, ok := r.Next(nil)
	if !ok || string(s) != "hello" {
		t.Fatalf("Next = %q, %v", s, ok)
	}
	if _, ok := r.Next(nil); ok {
		t.Fatal("discarded record delivered")
	}
	if r.Query(RBConsPos) != 32 || r.Query(RBAvailData) != 0 {
		t.Fatalf("cons %d after consuming", r.Query(RBConsPos))
	}
}

func TestRingBufFullAndWrap(t *testing.T) {
	r := newRing(t, 4096)
	rec := bytes.Repeat([]byte{0xab}, 1000) // 1008 bytes a record
	for i := range 4 {
		if err := r.Write(rec, 0); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := r.Write(rec, 0); err != ErrNoSpace {
		t.Fatalf("write into a full buffer: %v, want ErrNoSpace", err)
	}
	s := newScratch(t, 2048)
	if got := r.Output(s.put(0, rec), 1000, 0); got != -int64(EAGAIN) {
		t.Fatalf("Output into a full buffer = %d, want -EAGAIN", got)
	}
	if got := r.Output(s.put(0, rec), 8, 4); got != -int64(EINVAL) {
		t.Fatalf("Output with bad flags = %d, want -EINVAL", got)
	}
	r.Next(nil)
	r.Next(nil)
	// 2016 bytes free, 64 at the tail: the next record wraps to offset 0
	// behind a discarded padding record.
	if err := r.Write(rec, 0); err != nil {
		t.Fatal(err)
	}
	var n int
	for {
		got, ok := r.Next(nil)
		if !ok {
			break
		}
		if !bytes.Equal(got, rec) {
			t.Fatalf("record %d corrupted", n)
		}
		n++
	}
	if n != 3 || r.Query(RBAvailData) != 0 {
		t.Fatalf("read %d records, %d bytes left; want 3 and 0", n, r.Query(RBAvailData))
	}
	// The buffer must accept a full-size record again after the wrap.
	if err := r.Write(make([]byte, 4096-8-1080), 0); err != nil {
		t.Fatalf("large write after wrap: %v", err)
	}
}

// TestRingBufEmptyRecordAtEnd: an empty record in the last 8 bytes of the
// buffer has its sample at the buffer's end; it is submitted and
// discarded like any other. As in Linux, the ring holds at most its size
// less 8 bytes of records, so the records start at offset 8.
func TestRingBufEmptyRecordAtEnd(t *testing.T) {
	for _, discard := range []bool{false, true} {
		r := newRing(t, 4096)
		end := r.Regions()[0].Addr + 4096
		if err := r.Write(nil, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Next(nil); !ok {
			t.Fatal("no first record")
		}
		for i := range 4096/8 - 1 {
			a := r.Reserve(0, 0)
			if a == 0 {
				t.Fatalf("reservation %d failed", i)
			}
			if discard {
				r.Discard(a, 0)
			} else {
				r.Submit(a, 0)
			}
			if i == 4096/8-2 && a != end {
				t.Fatalf("last sample at %#x, want the buffer's end %#x", a, end)
			}
		}
		if r.Reserve(0, 0) != 0 {
			t.Fatal("reservation into a ring 8 bytes short of full succeeded")
		}
		n := 0
		for {
			if _, ok := r.Next(nil); !ok {
				break
			}
			n++
		}
		want := 4096/8 - 1
		if discard {
			want = 0
		}
		if n != want {
			t.Errorf("discard %v: %d samples consumed, want %d", discard, n, want)
		}
		if left := r.Query(RBAvailData); left != 0 {
			t.Errorf("discard %v: %d bytes left behind a record still reserved", discard, left)
		}
	}
}

func TestRingBufIterate(t *testing.T) {
	r := newRing(t, 4096)
	for _, s := range []string{"a", "bb", "ccc"} {
		if err := r.Write([]byte(s), 0); err != nil {
			t.Fatal(err)
		}
	}
	d := r.Reserve(4, 0)
	r.Discard(d, 0)
	r.Write([]byte("dddd"), 0)
	busy := r.Reserve(4, 0)
	r.Write([]byte("after busy"), 0)
	var got []string
	r.Iterate(func(e Entry) bool { got = append(got, string(e.Value)); return true })
	if want := []string{"a", "bb", "ccc", "dddd"}; !equalStrings(got, want) {
		t.Fatalf("Iterate = %q, want %q", got, want)
	}
	if r.Query(RBConsPos) != 0 {
		t.Fatal("Iterate consumed records")
	}
	r.Submit(busy, 0)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRingBufProgramSideAllocs(t *testing.T) {
	r := newRing(t, 1<<16)
	s := newScratch(t, 64)
	src := s.put(0, []byte("0123456789abcdef"))
	buf := make([]byte, 0, 64)
	checkNoAllocs(t, "ring buffer program-side calls", func() {
		a := r.Reserve(16, 0)
		r.Submit(a, RBNoWakeup)
		r.Output(src, 16, 0)
		buf, _ = r.Next(buf[:0])
		buf, _ = r.Next(buf[:0])
	})
}
