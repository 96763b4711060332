package helpers_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// harness holds what a test program needs: a map table, a Run and extra
// memory regions.
type harness struct {
	t     testing.TB
	tab   *helpers.MapTable
	run   *helpers.Run
	extra []api.Region
	trace bytes.Buffer
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	tab, err := helpers.NewMapTable(16)
	if err != nil {
		t.Fatal(err)
	}
	run, err := helpers.NewRun(tab)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, tab: tab, run: run}
	run.Trace = &h.trace
	t.Cleanup(func() { run.Close(); tab.Close() })
	return h
}

// addMap creates a map and returns it with its map pointer.
func (h *harness) addMap(s maps.Spec) (maps.Map, uint64) {
	h.t.Helper()
	m, err := maps.New(&s)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { m.Close() })
	a, err := h.tab.Add(m)
	if err != nil {
		h.t.Fatal(err)
	}
	return m, a
}

// mem allocates n bytes of off-heap memory visible to programs.
func (h *harness) mem(n int, writable bool) []byte {
	h.t.Helper()
	m, err := platform.Alloc(n)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { m.Free() })
	b := m.Bytes()[:n]
	h.extra = append(h.extra, api.Region{Addr: uint64(m.Addr()), Size: uint64(n), Writable: writable, Name: "test"})
	return b
}

func addr(b []byte) uint64 { return uint64(uintptrOf(b)) }

func (h *harness) compile(src string, mode interp.Mode) *interp.Program {
	h.t.Helper()
	insns, err := asm.Assemble("test.s", []byte(src))
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := interp.Compile(insns, interp.Config{Mode: mode, UnsafeTrustProgram: mode == interp.Fast, Helpers: helpers.Config(nil), Pointers: h.handles(insns)})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) compileWith(src string, cfg map[int32]api.Helper) *interp.Program {
	h.t.Helper()
	insns, err := asm.Assemble("test.s", []byte(src))
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := interp.Compile(insns, interp.Config{Mode: interp.Checked, Helpers: cfg, Pointers: h.handles(insns)})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// handles makes every lddw of a map pointer in insns load the map's
// handle, as the runtime's loader does, and every lddw of an address in
// one of the test's buffers a pointer into it.
func (h *harness) handles(insns []isa.Instruction) map[int]api.Region {
	ptrs := map[int]api.Region{}
	for i, ins := range insns {
		if !ins.IsLDDW() {
			continue
		}
		c := uint64(ins.Constant)
		if m, ok := h.tab.Map(c); ok {
			ptrs[i] = api.Region{Addr: c, Handle: true, Name: "map " + m.Spec().Name, Owner: m}
			continue
		}
		// The test's own buffers (h.mem): the test passes their addresses
		// as constants where a program would pass stack or map pointers.
		for _, r := range h.extra {
			if c >= r.Addr && c-r.Addr <= r.Size {
				ptrs[i] = r
				break
			}
		}
	}
	return ptrs
}

func (h *harness) env(args ...uint64) *api.Env {
	env := &api.Env{Context: h.run}
	copy(env.Args[:], args)
	env.Regions = append(env.Regions, h.extra...)
	return env
}

// exec assembles src (with %s-style substitutions already applied) and runs
// it in checked mode.
func (h *harness) exec(src string, args ...uint64) (uint64, error) {
	h.t.Helper()
	h.run.Reset()
	return h.compile(src, interp.Checked).Run(h.env(args...))
}

func (h *harness) mustExec(src string, args ...uint64) uint64 {
	h.t.Helper()
	r0, err := h.exec(src, args...)
	if err != nil {
		h.t.Fatalf("run: %v\n%s", err, src)
	}
	return r0
}

func neg(e int) uint64 { return uint64(-int64(e)) }

func TestMapTable(t *testing.T) {
	tab, err := helpers.NewMapTable(2)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	a, _ := maps.New(&maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	b, _ := maps.New(&maps.Spec{Name: "b", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	c, _ := maps.New(&maps.Spec{Name: "c", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	defer a.Close()
	defer b.Close()
	defer c.Close()
	pa, err := tab.Add(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := tab.Add(b)
	if pb-pa != helpers.DescriptorSize {
		t.Errorf("descriptors %#x and %#x are not adjacent", pa, pb)
	}
	if again, _ := tab.Add(a); again != pa {
		t.Errorf("adding a map twice gave %#x, then %#x", pa, again)
	}
	if _, err := tab.Add(c); !errors.Is(err, helpers.ErrTableFull) {
		t.Errorf("third map in a table of two: %v, want ErrTableFull", err)
	}
	for _, tc := range []struct {
		addr uint64
		want maps.Map
	}{{pa, a}, {pb, b}, {pa + 1, nil}, {pa - helpers.DescriptorSize, nil}, {pb + helpers.DescriptorSize, nil}, {0, nil}} {
		m, ok := tab.Map(tc.addr)
		if ok != (tc.want != nil) || m != tc.want {
			t.Errorf("Map(%#x) = %v, %v; want %v", tc.addr, m, ok, tc.want)
		}
	}
	desc := unsafeBytes(pa, helpers.DescriptorSize)
	if typ, ks, vs := binary.NativeEndian.Uint32(desc), binary.NativeEndian.Uint32(desc[4:]), binary.NativeEndian.Uint32(desc[8:]); typ != uint32(maps.Array) || ks != 4 || vs != 8 {
		t.Errorf("descriptor type %d key %d value %d", typ, ks, vs)
	}
	if !bytes.HasPrefix(desc[24:], []byte("a\x00")) {
		t.Errorf("descriptor name %q", desc[24:40])
	}
	if _, err := helpers.NewMapTable(0); err == nil {
		t.Error("NewMapTable(0) succeeded")
	}
}

// mapProgram is a program that updates key 7 with value 42 (flags in %r4
// = FLAGS), then looks key 7 up and returns the value, or -1 if absent,
// or the update's error.
const mapProgram = `
stw [%%r10-4], 7
stdw [%%r10-16], 42
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
mov %%r3, %%r10
add %%r3, -16
mov %%r4, %d
call 2
jne %%r0, 0, out
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -4
call 1
jeq %%r0, 0, absent
ldxdw %%r0, [%%r0]
exit
absent:
mov %%r0, -1
out:
exit
`

func TestMapLookupUpdate(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		spec  maps.Spec
		flags int
		want  uint64
	}{
		{"An array update then lookup returns the value", maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 0, 42},
		{"An array index past max_entries is -E2BIG", maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}, 0, neg(7)},
		{"BPF_NOEXIST on an array is -EEXIST", maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 1, neg(17)},
		{"A hash update then lookup returns the value", maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 0, 42},
		{"BPF_EXIST on a missing hash key is -ENOENT", maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 2, neg(2)},
		{"Bad update flags are -EINVAL", maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 8, neg(22)},
		{"A per-CPU hash returns the run CPU's value", maps.Spec{Type: maps.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 0, 42},
		{"A per-CPU array returns the run CPU's value", maps.Spec{Type: maps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 8}, 0, 42},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t)
			_, p := h.addMap(tc.spec)
			if got := h.mustExec(fmt.Sprintf(mapProgram, p, tc.flags)); got != tc.want {
				t.Errorf("r0 = %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestPerCPUUsesRunCPU(t *testing.T) {
	if maps.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	h.run.CPU = 1
	h.mustExec(fmt.Sprintf(mapProgram, p, 0))
	v := make([]byte, m.UserValueSize())
	if err := m.Lookup([]byte{7, 0, 0, 0}, v); err != nil {
		t.Fatal(err)
	}
	if c0, c1 := binary.NativeEndian.Uint64(v), binary.NativeEndian.Uint64(v[8:]); c0 != 0 || c1 != 42 {
		t.Errorf("CPU values %d, %d; want 0, 42", c0, c1)
	}
	// map_lookup_percpu_elem reads another CPU's value.
	got := h.mustExec(fmt.Sprintf(`
stw [%%r10-4], 7
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
mov %%r3, 1
call 195
jeq %%r0, 0, +2
ldxdw %%r0, [%%r0]
exit
mov %%r0, -1
exit`, p))
	if got != 42 {
		t.Errorf("map_lookup_percpu_elem(cpu 1) = %d, want 42", got)
	}
}

func TestMapDelete(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if err := m.Update([]byte{7, 0, 0, 0}, make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	prog := fmt.Sprintf(`
stw [%%r10-4], 7
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
call 3
exit`, p)
	if got := h.mustExec(prog); got != 0 {
		t.Errorf("first delete = %#x, want 0", got)
	}
	if got := h.mustExec(prog); got != neg(2) {
		t.Errorf("second delete = %#x, want -ENOENT", got)
	}
}

func TestBadMapPointerFaults(t *testing.T) {
	h := newHarness(t)
	_, p := h.addMap(maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	for _, bad := range []uint64{p + 8, p + helpers.DescriptorSize, 0x1234} {
		_, err := h.exec(fmt.Sprintf("stw [%%r10-4], 7\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\ncall 1\nexit", bad))
		if !errors.Is(err, helpers.ErrBadMap) || !errors.Is(err, api.ErrHelperFailed) {
			t.Errorf("map pointer %#x: %v, want ErrBadMap fault", bad, err)
		}
	}
	// A key pointer outside program memory is a helper memory fault.
	_, err := h.exec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 16\ncall 1\nexit", p))
	if !errors.Is(err, api.ErrBadHelperMemory) {
		t.Errorf("bad key pointer: %v, want ErrBadHelperMemory", err)
	}
	// A Run missing from the environment is reported.
	prog := h.compile("call 5\nexit", interp.Checked)
	if _, err := prog.Run(&api.Env{}); !errors.Is(err, helpers.ErrNoRun) {
		t.Errorf("no Run: %v, want ErrNoRun", err)
	}
}

func TestQueueStack(t *testing.T) {
	for _, tc := range []struct {
		typ  maps.Type
		want uint64 // peek, pop, pop after pushing 1, 2
	}{{maps.Queue, 0x1_0001_0002}, {maps.Stack, 0x2_0002_0001}} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			h := newHarness(t)
			_, p := h.addMap(maps.Spec{Type: tc.typ, ValueSize: 8, MaxEntries: 2})
			got := h.mustExec(fmt.Sprintf(`
stdw [%%r10-8], 1
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -8
mov %%r3, 0
call 87
stdw [%%r10-8], 2
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
mov %%r3, 0
call 87
stdw [%%r10-8], 3
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
mov %%r3, 0
call 87
jne %%r0, -7, fail
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
call 89
ldxdw %%r6, [%%r10-8]
lsh %%r6, 32
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
call 88
ldxdw %%r7, [%%r10-8]
lsh %%r7, 16
or %%r6, %%r7
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
call 88
ldxdw %%r7, [%%r10-8]
or %%r6, %%r7
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
call 88
jne %%r0, -2, fail
mov %%r0, %%r6
exit
fail:
mov %%r0, -1
exit`, p))
			if got != tc.want {
				t.Errorf("r0 = %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestRingbuf(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.RingBuf, MaxEntries: 4096})
	rb := m.(*maps.RingBufMap)
	got := h.mustExec(fmt.Sprintf(`
lddw %%r1, %#x
mov %%r2, 8
mov %%r3, 0
call 131
jeq %%r0, 0, fail
stdw [%%r0], 0x1234
mov %%r1, %%r0
mov %%r2, 0
call 132
lddw %%r1, %#[1]x
mov %%r2, 8
mov %%r3, 0
call 131
jeq %%r0, 0, fail
mov %%r1, %%r0
mov %%r2, 0
call 133
stdw [%%r10-8], 0x5678
lddw %%r1, %#[1]x
mov %%r2, %%r10
add %%r2, -8
mov %%r3, 4
mov %%r4, 0
call 130
jne %%r0, 0, fail
lddw %%r1, %#[1]x
mov %%r2, 3
call 134
exit
fail:
mov %%r0, -1
exit`, p))
	// Three records of 16 bytes each (8-byte header, payload rounded to 8).
	if got != 48 {
		t.Errorf("producer position = %d, want 48", got)
	}
	var recs []string
	for {
		b, ok := rb.Next(nil)
		if !ok {
			break
		}
		recs = append(recs, fmt.Sprintf("% x", b))
	}
	want := []string{"34 12 00 00 00 00 00 00", "78 56 00 00"}
	if strings.Join(recs, "|") != strings.Join(want, "|") {
		t.Errorf("records %q, want %q", recs, want)
	}
	// Submitting a pointer that is not a record is a fault.
	_, err := h.exec("mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nexit")
	if !errors.Is(err, helpers.ErrBadRingbufMem) {
		t.Errorf("submit of a stack pointer: %v, want ErrBadRingbufMem", err)
	}
	// A ring buffer helper on another map type is a fault.
	_, hp := h.addMap(maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	_, err = h.exec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 0\ncall 134\nexit", hp))
	if !errors.Is(err, helpers.ErrWrongMapType) {
		t.Errorf("ringbuf_query on a hash: %v, want ErrWrongMapType", err)
	}
}

// TestReadOnlyMap: programs read a BPF_F_RDONLY_PROG map's elements and
// change none, through value pointers or helpers.
func TestReadOnlyMap(t *testing.T) {
	h := newHarness(t)
	arr, ap := h.addMap(maps.Spec{Name: "ro", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: maps.FlagRdonlyProg})
	hash, hp := h.addMap(maps.Spec{Name: "roh", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: maps.FlagRdonlyProg})
	q, qp := h.addMap(maps.Spec{Name: "roq", Type: maps.Queue, ValueSize: 8, MaxEntries: 2, Flags: maps.FlagRdonlyProg})
	val := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, m := range []maps.Map{arr, hash} {
		if err := m.Update([]byte{0, 0, 0, 0}, val, maps.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Update(nil, val, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	key := "stw [%%r10-4], 0\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\n"
	for _, tc := range []struct {
		desc string
		src  string
		want error // nil: r0 is 0x0807060504030201
	}{
		{"A lookup reads the value", key + "call 1\nldxdw %%r0, [%%r0+0]\nexit", nil},
		{"A store through the value faults", key + "call 1\nstdw [%%r0+0], 0\nexit", api.ErrReadOnly},
		{"An update is refused", key + "mov %%r3, %%r10\nadd %%r3, -4\nmov %%r4, 0\ncall 2\nexit", helpers.ErrReadOnlyMap},
		{"A delete is refused", key + "call 3\nexit", helpers.ErrReadOnlyMap},
	} {
		for _, p := range []uint64{ap, hp} {
			r0, err := h.exec(fmt.Sprintf(tc.src, p))
			if tc.want == nil && (err != nil || r0 != 0x0807060504030201) || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s: r0 %#x, %v; want %v", tc.desc, r0, err, tc.want)
			}
		}
	}
	buf := "lddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -8\n"
	if _, err := h.exec(fmt.Sprintf(buf+"stdw [%%r10-8], 0\nmov %%r3, 0\ncall 87\nexit", qp)); !errors.Is(err, helpers.ErrReadOnlyMap) {
		t.Errorf("push: %v, want ErrReadOnlyMap", err)
	}
	if _, err := h.exec(fmt.Sprintf(buf+"call 88\nexit", qp)); !errors.Is(err, helpers.ErrReadOnlyMap) {
		t.Errorf("pop: %v, want ErrReadOnlyMap", err)
	}
	if r0, err := h.exec(fmt.Sprintf(buf+"call 89\nldxdw %%r0, [%%r10-8]\nexit", qp)); err != nil || r0 != 0x0807060504030201 {
		t.Errorf("peek: r0 %#x, %v", r0, err)
	}
	for _, m := range []maps.Map{arr, hash} {
		got := make([]byte, 8)
		if err := m.Lookup([]byte{0, 0, 0, 0}, got); err != nil || !bytes.Equal(got, val) {
			t.Errorf("map %s after the runs: %x, %v; want %x", m.Spec().Name, got, err, val)
		}
	}
}

// TestRingbufEmptyRecords: a program fills the ring buffer with empty
// records, the last one's sample at the buffer's end, and submits them
// all, in both modes. As in Linux, the ring holds at most its size less 8
// bytes of records: a first record, consumed, makes them start at 8.
func TestRingbufEmptyRecords(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.RingBuf, MaxEntries: 4096})
	rb := m.(*maps.RingBufMap)
	src := fmt.Sprintf(`
mov %%r6, 511
loop:
lddw %%r1, %#x
mov %%r2, 0
mov %%r3, 0
call 131
jeq %%r0, 0, fail
mov %%r1, %%r0
mov %%r2, 0
call 132
add %%r6, -1
jne %%r6, 0, loop
mov %%r0, 0
exit
fail:
mov %%r0, 1
exit`, p)
	for _, mode := range []interp.Mode{interp.Checked, interp.Fast} {
		h.run.Reset()
		if err := rb.Write(nil, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := rb.Next(nil); !ok {
			t.Fatal("no first record")
		}
		if r0, err := h.compile(src, mode).Run(h.env()); r0 != 0 || err != nil {
			t.Fatalf("%v: r0 %d, %v", mode, r0, err)
		}
		n := 0
		for {
			if _, ok := rb.Next(nil); !ok {
				break
			}
			n++
		}
		if n != 511 || rb.Query(maps.RBAvailData) != 0 {
			t.Errorf("%v: %d samples consumed, %d bytes left; want 511, 0", mode, n, rb.Query(maps.RBAvailData))
		}
	}
}

// TestRingbufRecordsLeftReserved: records a run reserved and neither
// submitted nor discarded (it exited or faulted) are discarded when the
// run ends, so that the consumer is not stuck behind them.
func TestRingbufRecordsLeftReserved(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.RingBuf, MaxEntries: 4096})
	rb := m.(*maps.RingBufMap)
	reserve := fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 8\nmov %%r3, 0\ncall 131\n", p)
	submit := "mov %r1, %r0\nmov %r2, 0\ncall 132\n"
	for _, tc := range []struct {
		desc string
		src  string
		left int // records left reserved
	}{
		{"Reserve and exit", reserve + "exit", 1},
		{"Reserve twice, submit one and fault", reserve + reserve + submit + "ldxdw %r0, [%r0+0]\nexit", 1},
		{"Reserve and submit", reserve + submit + "exit", 0},
	} {
		h.exec(tc.src)
		if err := h.run.Release(); (err != nil) != (tc.left > 0) || tc.left > 0 && !errors.Is(err, helpers.ErrLeakedReservation) {
			t.Errorf("%s: Release: %v, want ErrLeakedReservation: %v", tc.desc, err, tc.left > 0)
		}
		for {
			if _, ok := rb.Next(nil); !ok {
				break
			}
		}
		if n := rb.Query(maps.RBAvailData); n != 0 {
			t.Errorf("%s: %d bytes the consumer cannot pass", tc.desc, n)
		}
	}
	// Reset discards them too.
	h.exec(reserve + "exit")
	h.run.Reset()
	if _, ok := rb.Next(nil); ok || rb.Query(maps.RBAvailData) != 0 {
		t.Errorf("after Reset: %d bytes pending", rb.Query(maps.RBAvailData))
	}
}

// forEachProgram sums value+key over the map's elements into a stack
// counter, stopping when the callback sees key STOP; it returns
// sum<<16 | calls.
const forEachProgram = `
stdw [%%r10-8], 0
lddw %%r1, %#x
lddw %%r2, code cb
mov %%r3, %%r10
add %%r3, -8
mov %%r4, 0
call 164
ldxdw %%r1, [%%r10-8]
lsh %%r1, 16
or %%r0, %%r1
exit
cb:
ldxw %%r6, [%%r2]
ldxdw %%r7, [%%r3]
add %%r7, %%r6
ldxdw %%r8, [%%r4]
add %%r8, %%r7
stxdw [%%r4], %%r8
mov %%r0, 0
jne %%r6, %d, +1
mov %%r0, 1
exit
`

func TestForEachMapElem(t *testing.T) {
	for _, tc := range []struct {
		desc string
		typ  maps.Type
		stop int
		want uint64
	}{
		{"An array visits every index", maps.Array, -1, (10+11+12+13+0+1+2+3)<<16 | 4},
		{"An array stops when the callback returns 1", maps.Array, 1, (10+11+0+1)<<16 | 2},
		{"A hash visits every element", maps.Hash, -1, (10+11+12+13+0+1+2+3)<<16 | 4},
		{"A per-CPU array visits the run CPU's values", maps.PerCPUArray, -1, (10+11+12+13+0+1+2+3)<<16 | 4},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t)
			m, p := h.addMap(maps.Spec{Type: tc.typ, KeySize: 4, ValueSize: 8, MaxEntries: 4})
			for k := range 4 {
				v := make([]byte, m.UserValueSize())
				for c := 0; c < len(v); c += 8 {
					binary.NativeEndian.PutUint64(v[c:], uint64(10+k))
				}
				if err := m.Update(binary.NativeEndian.AppendUint32(nil, uint32(k)), v, 0); err != nil {
					t.Fatal(err)
				}
			}
			got := h.mustExec(fmt.Sprintf(forEachProgram, p, tc.stop))
			if tc.stop >= 0 && tc.typ == maps.Hash {
				return // hash order is unspecified
			}
			if got != tc.want {
				t.Errorf("r0 = %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestForEachDeletesCurrent(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	for k := range 50 {
		m.Update(binary.NativeEndian.AppendUint32(nil, uint32(k)), make([]byte, 8), 0)
	}
	got := h.mustExec(fmt.Sprintf(`
lddw %%r1, %#x
lddw %%r2, code cb
mov %%r3, 0
mov %%r4, 0
call 164
exit
cb:
call 3
mov %%r0, 0
exit`, p))
	if got != 50 {
		t.Errorf("callbacks = %d, want 50", got)
	}
	if err := m.NextKey(nil, make([]byte, 4)); !errors.Is(err, maps.ErrKeyNotExist) {
		t.Errorf("map not empty after deleting every element: %v", err)
	}
	// Flags must be 0.
	if got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nlddw %%r2, code cb\nmov %%r3, 0\nmov %%r4, 1\ncall 164\nexit\ncb:\nmov %%r0, 0\nexit", p)); got != neg(22) {
		t.Errorf("flags 1: r0 = %#x, want -EINVAL", got)
	}
}

func TestLoop(t *testing.T) {
	prog := `
stdw [%%r10-8], 0
mov %%r1, %d
lddw %%r2, code cb
mov %%r3, %%r10
add %%r3, -8
mov %%r4, %d
call 181
ldxdw %%r1, [%%r10-8]
lsh %%r1, 32
or %%r0, %%r1
exit
cb:
ldxdw %%r3, [%%r2]
add %%r3, %%r1
stxdw [%%r2], %%r3
mov %%r0, 0
jne %%r1, 5, +1
mov %%r0, 1
exit`
	for _, tc := range []struct {
		desc     string
		n, flags int
		want     uint64
	}{
		{"bpf_loop returns the number of iterations", 4, 0, (0+1+2+3)<<32 | 4},
		{"A callback returning 1 stops the loop, counted", 10, 0, (0+1+2+3+4+5)<<32 | 6},
		{"Zero iterations call nothing", 0, 0, 0},
		{"Non-zero flags are -EINVAL", 4, 1, neg(22)},
		{"More than 1<<23 iterations are -E2BIG", 1<<23 + 1, 0, neg(7)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t)
			if got := h.mustExec(fmt.Sprintf(prog, tc.n, tc.flags)); got != tc.want {
				t.Errorf("r0 = %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestTailCall(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	pa := m.(maps.ProgramArrayMap)
	target := h.compile("mov %r0, 42\nexit", interp.Checked)
	if err := pa.SetProgram(1, target); err != nil {
		t.Fatal(err)
	}
	call := "lddw %%r2, %#x\nmov %%r3, %d\ncall 12\nexit"
	ctx := addr(h.mem(8, true)) // the context the programs pass on
	for _, tc := range []struct {
		desc string
		idx  int
		want uint64
	}{
		{"A tail call runs the slot's program", 1, 42},
		{"An empty slot continues with -ENOENT", 0, neg(2)},
		{"An index past max_entries continues with -E2BIG", 9, neg(7)},
	} {
		if got := h.mustExec(fmt.Sprintf(call, p, tc.idx), ctx); got != tc.want {
			t.Errorf("%s: r0 = %#x, want %#x", tc.desc, got, tc.want)
		}
	}
	// A program that tail-calls itself makes 33 tail calls, then the
	// 34th fails and the program continues, as in Linux.
	self := h.compile(fmt.Sprintf("ldxdw %%r6, [%%r1]\nadd %%r6, 1\nstxdw [%%r1], %%r6\nmov %%r6, %%r1\nlddw %%r2, %#x\nmov %%r3, 2\ncall 12\nexit", p), interp.Checked)
	pa.SetProgram(2, self)
	counter := h.mem(8, true)
	h.run.Reset()
	got, err := self.Run(h.env(addr(counter)))
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.NativeEndian.Uint64(counter); n != 34 || got != neg(16) {
		t.Errorf("self tail calls: %d runs, r0 %#x; want 34 runs, -EBUSY", n, got)
	}
	// A slot holds a compiled program, but one the interpreter did not
	// compile cannot run: the tail call to it is a fault.
	pa.SetProgram(3, foreignProgram{})
	if _, err := h.exec(fmt.Sprintf(call, p, 3), ctx); !errors.Is(err, api.ErrBadCallTarget) {
		t.Errorf("tail call to a foreign program: %v, want ErrBadCallTarget", err)
	}
	// The context argument must be the run's context.
	if _, err := h.exec(fmt.Sprintf("mov %%r1, %%r10\nadd %%r1, -8\n"+call, p, 1), ctx); !errors.Is(err, helpers.ErrBadContext) {
		t.Errorf("tail call with a stack pointer as context: %v, want ErrBadContext", err)
	}
	// Only bpf_tail_call takes a program array: programs neither look
	// up, update nor delete its slots, which the host fills.
	key := fmt.Sprintf("stw [%%r10-4], 1\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\nmov %%r3, %%r10\nadd %%r3, -4\nmov %%r4, 0\n", p)
	for _, id := range []int{1, 2, 3} {
		if _, err := h.exec(fmt.Sprintf("%scall %d\nexit", key, id)); !errors.Is(err, helpers.ErrWrongMapType) {
			t.Errorf("helper %d on a program array: %v, want ErrWrongMapType", id, err)
		}
	}
	if pa.Program(1) != target {
		t.Errorf("slot 1 holds %v after the runs, want its program", pa.Program(1))
	}
}

// foreignProgram is an api.Program no runtime compiled.
type foreignProgram struct{}

func (foreignProgram) Instructions() []isa.Instruction { return nil }
func (foreignProgram) InsnAt(int) isa.Instruction      { return isa.Instruction{} }

func TestSpinLock(t *testing.T) {
	h := newHarness(t)
	locked, p := h.addMap(maps.Spec{Name: "locked", Type: maps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1, SpinLockOffset: 8, HasSpinLock: true})
	_, plain := h.addMap(maps.Spec{Name: "plain", Type: maps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1})
	// r6 = the value of key 0 of map m.
	lookup := func(m uint64) string {
		return fmt.Sprintf("stw [%%r10-4], 0\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\ncall 1\njne %%r0, 0, +1\nexit\nmov %%r6, %%r0\n", m)
	}
	const lock, unlock = "mov %r1, %r6\nadd %r1, 8\ncall 93\n", "mov %r1, %r6\nadd %r1, 8\ncall 94\n"
	for _, tc := range []struct {
		desc   string
		src    string
		reason error // nil: the run succeeds
		held   bool  // the run ended holding the lock (Reset releases it)
	}{
		{"Lock, update the value, unlock", lookup(p) + lock + "stdw [%r6+0], 7\n" + unlock + "mov %r0, 0\nexit", nil, false},
		{"A load of the lock word faults", lookup(p) + lock + "ldxw %r0, [%r6+8]\n" + unlock + "exit", api.ErrReservedField, true},
		{"A store to the lock word faults", lookup(p) + "stw [%r6+8], 1\nexit", api.ErrReservedField, false},
		{"A second lock", lookup(p) + lock + lock + "exit", helpers.ErrSpinLock, true},
		{"An unlock without a lock", lookup(p) + unlock + "exit", helpers.ErrSpinLock, false},
		{"A lock at another offset of the value", lookup(p) + "mov %r1, %r6\ncall 93\nexit", helpers.ErrSpinLock, false},
		{"A lock on the stack", "stw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall 93\nexit", helpers.ErrSpinLock, false},
		{"A lock in a value of a map without one", lookup(plain) + lock + "exit", helpers.ErrSpinLock, false},
		{"A helper call inside the critical section", lookup(p) + lock + "call 7\n" + unlock + "exit", helpers.ErrSpinLock, true},
		{"An exit holding the lock", lookup(p) + lock + "mov %r0, 0\nexit", nil, true},
	} {
		_, err := h.exec(tc.src)
		if tc.reason == nil && err != nil || tc.reason != nil && !errors.Is(err, tc.reason) {
			t.Errorf("%s: got %v, want %v", tc.desc, err, tc.reason)
		}
		if held := h.run.Reset(); held != tc.held {
			t.Errorf("%s: held at the end %v, want %v", tc.desc, held, tc.held)
		}
	}
	// Reset released every lock: Go-side locked updates do not hang.
	v := make([]byte, 16)
	if err := locked.Update([]byte{0, 0, 0, 0}, v, maps.UpdateLock); err != nil {
		t.Fatalf("Update with UpdateLock after the runs: %v", err)
	}
}

func TestPerfEventOutput(t *testing.T) {
	h := newHarness(t)
	m, p := h.addMap(maps.Spec{Type: maps.PerfEventArray, KeySize: 4, ValueSize: 4})
	pm := m.(*maps.PerfEventArrayMap)
	prog := fmt.Sprintf("stdw [%%r10-8], 0x77\nlddw %%r2, %#x\nlddw %%r3, 0xffffffff\nmov %%r4, %%r10\nadd %%r4, -8\nmov %%r5, 8\ncall 25\nexit", p)
	if got := h.mustExec(prog); got != neg(2) {
		t.Errorf("without a reader: r0 = %#x, want -ENOENT", got)
	}
	if err := pm.Attach(4096); err != nil {
		t.Fatal(err)
	}
	h.run.CPU = pm.MaxEntries() - 1
	if got := h.mustExec(prog); got != 0 {
		t.Errorf("r0 = %#x, want 0", got)
	}
	cpu, sample, _, ok := pm.Next(nil)
	if !ok || cpu != h.run.CPU || binary.NativeEndian.Uint64(sample) != 0x77 {
		t.Errorf("sample on cpu %d: % x, %v; want cpu %d, 0x77", cpu, sample, ok, h.run.CPU)
	}
}
