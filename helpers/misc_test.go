package helpers_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"

	ciliumasm "github.com/cilium/ebpf/asm"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/maps"
)

type fixedClock struct{}

func (fixedClock) Monotonic() uint64 { return 1000 }
func (fixedClock) Boot() uint64      { return 2000 }
func (fixedClock) Coarse() uint64    { return 3000 }
func (fixedClock) Jiffies() uint64   { return 4000 }
func (fixedClock) TAI() uint64       { return 5000 }

func TestScalarHelpers(t *testing.T) {
	h := newHarness(t)
	h.run.Clock = fixedClock{}
	h.run.CPU = 3
	for _, tc := range []struct {
		id   int32
		want uint64
	}{
		{helpers.IDKtimeGetNs, 1000}, {helpers.IDKtimeGetBootNs, 2000}, {helpers.IDKtimeGetCoarseNs, 3000},
		{helpers.IDJiffies64, 4000}, {helpers.IDKtimeGetTaiNs, 5000}, {helpers.IDGetSmpProcessorID, 3},
		{helpers.IDGetNumaNodeID, 0},
		{helpers.IDGetCurrentPidTgid, neg(22)}, {helpers.IDGetCurrentUidGid, neg(22)},
	} {
		if got := h.mustExec(fmt.Sprintf("call %d\nexit", tc.id)); got != tc.want {
			t.Errorf("helper %d = %#x, want %#x", tc.id, got, tc.want)
		}
	}
	h.run.Task = &helpers.Task{PID: 10, TGID: 20, UID: 30, GID: 40}
	copy(h.run.Task.Comm[:], "xebpf-test")
	if got := h.mustExec("call 14\nexit"); got != 20<<32|10 {
		t.Errorf("pid_tgid = %#x", got)
	}
	if got := h.mustExec("call 15\nexit"); got != 40<<32|30 {
		t.Errorf("uid_gid = %#x", got)
	}
	dst := h.mem(16, true)
	for _, tc := range []struct {
		size int
		want string
	}{{16, "xebpf-test\x00\x00\x00\x00\x00\x00"}, {4, "xeb\x00"}, {1, "\x00"}} {
		for i := range dst {
			dst[i] = 0xff
		}
		if got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\ncall 16\nexit", addr(dst), tc.size)); got != 0 || string(dst[:tc.size]) != tc.want {
			t.Errorf("comm size %d: r0 %d, %q; want %q", tc.size, got, dst[:tc.size], tc.want)
		}
	}
	h.run.Task = nil
	if got := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, 8\ncall 16\nexit", addr(dst))); got != neg(22) || binary.NativeEndian.Uint64(dst) != 0 {
		t.Errorf("comm without task: r0 %d, % x", int64(got), dst[:8])
	}
}

func TestPrandom(t *testing.T) {
	h := newHarness(t)
	prog := "call 7\nmov %r6, %r0\ncall 7\nlsh %r0, 32\nor %r0, %r6\nexit"
	h.run.SeedRandom(1)
	a := h.mustExec(prog)
	h.run.SeedRandom(1)
	b := h.mustExec(prog)
	h.run.SeedRandom(2)
	c := h.mustExec(prog)
	if a != b || a == c || uint32(a) == uint32(a>>32) {
		t.Errorf("seeded streams %#x %#x %#x: want equal, different, two distinct values", a, b, c)
	}
}

func TestMapInMapLookup(t *testing.T) {
	h := newHarness(t)
	innerSpec := maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	outer, op := h.addMap(maps.Spec{Type: maps.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: &innerSpec})
	inner, err := maps.New(&innerSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	inner.Update([]byte{1, 0, 0, 0}, []byte{99, 0, 0, 0, 0, 0, 0, 0}, 0)
	if err := outer.(maps.MapOfMaps).SetMap([]byte{0, 0, 0, 0}, inner, 0); err != nil {
		t.Fatal(err)
	}
	// Look up the inner map, then its element 1. The inner map's values
	// must be in Env.Regions before the run starts, so it is registered
	// up front; the helper answers with its map pointer.
	ia, _ := h.tab.Add(inner)
	got := h.mustExec(fmt.Sprintf(`
stw [%%r10-4], 0
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
call 1
jeq %%r0, 0, fail
mov %%r1, %%r0
stw [%%r10-4], 1
mov %%r2, %%r10
add %%r2, -4
call 1
jeq %%r0, 0, fail
ldxdw %%r0, [%%r0]
exit
fail:
mov %%r0, -1
exit`, op))
	if got != 99 {
		t.Errorf("inner value = %d, want 99 (inner map at %#x)", int64(got), ia)
	}
	// Programs neither update nor delete a map of maps' slots, which the
	// host fills.
	key := fmt.Sprintf("stw [%%r10-4], 0\nlddw %%r1, %#x\nmov %%r2, %%r10\nadd %%r2, -4\nmov %%r3, %%r10\nadd %%r3, -4\nmov %%r4, 0\n", op)
	for _, id := range []int{2, 3} {
		if _, err := h.exec(fmt.Sprintf("%scall %d\nexit", key, id)); !errors.Is(err, helpers.ErrWrongMapType) {
			t.Errorf("helper %d on an array of maps: %v, want ErrWrongMapType", id, err)
		}
	}
	if m, err := outer.(maps.MapOfMaps).GetMap([]byte{0, 0, 0, 0}); err != nil || m != inner {
		t.Errorf("slot 0 after the runs: %v, %v; want the inner map", m, err)
	}
}

// TestPrototypesMatchLinux checks ids and names against cilium/ebpf's
// table of Linux helpers, and the shape of every prototype.
func TestPrototypesMatchLinux(t *testing.T) {
	seen := map[int32]bool{}
	prev := int32(0)
	for _, f := range helpers.Linux() {
		if f.ID <= prev || seen[f.ID] {
			t.Errorf("id %d out of order or repeated", f.ID)
		}
		prev, seen[f.ID] = f.ID, true
		bf, err := ciliumasm.BuiltinFuncForPlatform("linux", uint32(f.ID))
		if err != nil {
			t.Fatal(err)
		}
		want := bf.String()
		var b strings.Builder
		b.WriteString("Fn")
		for _, w := range strings.Split(f.Proto.Name, "_") {
			r := []rune(w)
			r[0] = unicode.ToUpper(r[0])
			b.WriteString(string(r))
		}
		if b.String() != want {
			t.Errorf("id %d is %s in Linux, named %q here", f.ID, want, f.Proto.Name)
		}
		if f.Impl == nil {
			t.Errorf("%s has no implementation", f.Proto.Name)
		}
		args := f.Proto.Args
		for i, a := range args {
			if a.IsSize() && (i == 0 || !args[i-1].IsMem()) {
				t.Errorf("%v: size argument %d does not follow a memory argument", f.Proto, i+1)
			}
			if a.IsMem() && (i == 4 || !args[i+1].IsSize()) {
				t.Errorf("%v: memory argument %d has no size", f.Proto, i+1)
			}
			if a == helpers.ArgNone {
				for _, rest := range args[i:] {
					if rest != helpers.ArgNone {
						t.Errorf("%v: argument after ArgNone", f.Proto)
					}
				}
			}
		}
	}
	if n := len(helpers.Config(func(f helpers.Func) bool { return strings.HasPrefix(f.Proto.Name, "xdp_") })); n != 6 {
		t.Errorf("xdp_ filter selected %d helpers, want 6", n)
	}
	if f := helpers.CsumDiffUnfolded(); f.ID != helpers.IDCsumDiff || f.Impl == nil {
		t.Errorf("CsumDiffUnfolded = %+v", f)
	}
	if s := fmt.Sprint(mustByID(t, helpers.IDMapUpdateElem).Proto); s != "integer bpf_map_update_elem(const_map_ptr, map_key, map_value, anything)" {
		t.Errorf("prototype string %q", s)
	}
}

func mustByID(t *testing.T, id int32) helpers.Func {
	f, ok := helpers.ByID(id)
	if !ok {
		t.Fatalf("no helper %d", id)
	}
	return f
}

// hotPaths calls the helpers that must not allocate.
const hotPaths = `
stw [%%r10-4], 1
stdw [%%r10-16], 5
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
call 1
lddw %%r1, %#[2]x
mov %%r2, %%r10
add %%r2, -4
mov %%r3, %%r10
add %%r3, -16
mov %%r4, 0
call 2
lddw %%r1, %#[2]x
mov %%r2, %%r10
add %%r2, -4
call 3
call 5
call 7
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -16
mov %%r3, 8
mov %%r4, 0
call 130
mov %%r1, %%r10
add %%r1, -16
mov %%r2, 8
mov %%r3, %%r10
add %%r3, -16
mov %%r4, 8
mov %%r5, 0
call 28
exit
`

func TestHotPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	h := newHarness(t)
	_, ap := h.addMap(maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	_, hp := h.addMap(maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	rbm, rp := h.addMap(maps.Spec{Type: maps.RingBuf, MaxEntries: 1 << 16})
	rb := rbm.(*maps.RingBufMap)
	h.run.Clock = fixedClock{}
	for _, mode := range []interp.Mode{interp.Checked, interp.Fast} {
		p := h.compile(fmt.Sprintf(hotPaths, ap, hp, rp), mode)
		env := h.env()
		if _, err := p.Run(env); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 64)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Run(env); err != nil {
				t.Fatal(err)
			}
			for {
				if _, ok := rb.Next(buf); !ok {
					break
				}
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per run, want 0", mode, allocs)
		}
	}
}

// BenchmarkMapLookupElem measures a bpf_map_lookup_elem call from a
// program, in ns per call.
func BenchmarkMapLookupElem(b *testing.B) {
	const calls = 1000
	for _, typ := range []maps.Type{maps.Array, maps.Hash} {
		for _, mode := range []interp.Mode{interp.Checked, interp.Fast} {
			b.Run(fmt.Sprintf("%v/%v", typ, mode), func(b *testing.B) {
				h := newHarness(b)
				m, p := h.addMap(maps.Spec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 64})
				m.Update([]byte{1, 0, 0, 0}, make([]byte, 8), 0)
				prog := h.compile(fmt.Sprintf(`
stw [%%r10-4], 1
mov %%r6, %d
loop:
lddw %%r1, %#x
mov %%r2, %%r10
add %%r2, -4
call 1
sub %%r6, 1
jne %%r6, 0, loop
exit`, calls, p), mode)
				env := h.env()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := prog.Run(env); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/call")
			})
		}
	}
}

// FuzzTraceVprintk formats arbitrary formats and arguments: the helper
// never faults, and on success the trace holds the output r0 counts.
func FuzzTraceVprintk(f *testing.F) {
	for _, s := range []string{"%d %s %pI4", "%-08lx|%5c|%pi6", "%%%p%pK%ps", "%s%s%s", "%"} {
		f.Add(s, uint64(1), uint64(0xffffffff), uint64(7))
	}
	f.Fuzz(func(t *testing.T, format string, a1, a2, a3 uint64) {
		if len(format) > 200 {
			return
		}
		h := newHarness(t)
		ar := &arena{b: h.mem(1024, false)}
		fa := ar.str(format)
		s := ar.str("str")
		data, n := ar.args([]any{a1, s, a2, a3, s, a1})
		r0, err := h.exec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\nmov %%r4, %d\ncall 177\nexit", fa, len(format)+1, data, n))
		if err != nil {
			t.Fatalf("fault: %v", err)
		}
		if int64(r0) < 0 {
			if h.trace.Len() != 0 {
				t.Fatalf("error %d with output %q", int64(r0), h.trace.String())
			}
			return
		}
		if out := h.trace.Len(); out > int(r0) || out > 1023 {
			t.Fatalf("r0 %d, output %d bytes", r0, out)
		}
	})
}
