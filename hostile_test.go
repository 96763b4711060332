package xebpf_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/maps"
	"github.com/xebpf/xebpf/verifier"
)

// Environment variables of TestHostile.
const (
	hostileCaseEnv = "XEBPF_HOSTILE_CASE" // in the child: the case to run
	hostileObjEnv  = "XEBPF_HOSTILE_OBJ"  // in the child: its compiled object
	hostileAllEnv  = "XEBPF_HOSTILE_ALL"  // run the known escapes too
)

// hostileDeadline bounds each case, post-conditions included: a child
// still running then has hung.
const hostileDeadline = 20 * time.Second

// knownEscapes are the cases that fail on the current code, with what
// happens instead of the wanted outcome. Delete an entry when its fix
// lands.
var knownEscapes = map[string]string{}

// hostileCase is one attack and the outcome it must get.
type hostileCase struct {
	file string // testdata/hostile/<file>.c
	name string // the case, unique within file
	prog string // the program the default run runs
	// budget is CollectionOptions.InstructionBudget (0: the default).
	budget uint64
	// run runs the attack and returns the result want judges; nil runs
	// prog once on the default input.
	run  func(h *hostile) (uint32, error)
	want want
	// post checks the state after the run; nil checks nothing more.
	post func(h *hostile) error
}

func (tc *hostileCase) path() string { return tc.file + "/" + tc.name }

// want is the outcome a case must get.
type want struct {
	desc string
	load bool // judges NewCollection's error rather than a run's result
	ok   func(r0 uint32, err error) bool
}

// fault wants a run that fails with one of reasons (errors.Is). Several
// reasons are given only where the choice between them is the
// implementation's.
// faultAt wants a fault with reason whose message names the source line
// at (file:line:), in whichever program of a tail-call chain it is.
func faultAt(reason error, at string) want {
	return want{
		desc: fmt.Sprintf("fault: %v at %s", reason, at),
		ok: func(_ uint32, err error) bool {
			return errors.Is(err, reason) && strings.Contains(err.Error(), at)
		},
	}
}

func fault(reasons ...error) want {
	var names []string
	for _, r := range reasons {
		names = append(names, r.Error())
	}
	return want{
		desc: "fault: " + strings.Join(names, " or "),
		ok: func(_ uint32, err error) bool {
			return slices.ContainsFunc(reasons, func(r error) bool { return errors.Is(err, r) })
		},
	}
}

// returns wants a run that succeeds with r0.
func returns(r0 uint32) want {
	return want{
		desc: fmt.Sprintf("success with r0 = %#x", r0),
		ok:   func(got uint32, err error) bool { return err == nil && got == r0 },
	}
}

// loadError wants NewCollection to fail with target.
func loadError(target error) want {
	return want{
		desc: "load error: " + target.Error(),
		load: true,
		ok:   func(_ uint32, err error) bool { return errors.Is(err, target) },
	}
}

// anyError wants a run that fails, where no error value names the failure
// yet. WANT(lead): expected names the error the case should get; replace
// anyError with fault(...) of it once it exists.
func anyError(expected string) want {
	return want{
		desc: "an error (to be: " + expected + ")",
		ok:   func(_ uint32, err error) bool { return err != nil },
	}
}

// Outcomes several cases share.
var (
	// A store through a laundered context pointer into the hidden packet
	// words: read-only memory, or memory no region of the run covers.
	wantForgedCtxFault = fault(api.ErrBadContextAccess)
	wantOOB            = fault(api.ErrOutOfBounds)
)

// hostile is a case's collection, in the child.
type hostile struct {
	t      *testing.T
	tc     *hostileCase
	c      *xebpf.Collection
	closed bool
}

// hostilePacket is the default packet: 64 bytes of Ethernet and IPv4,
// with 0x5a at offsets 0 and 60.
func hostilePacket() []byte {
	p := make([]byte, 64)
	p[0] = 0x5a
	p[12], p[13], p[14] = 0x08, 0x00, 0x45
	p[60] = 0x5a
	return p
}

// runProg runs program name once: packet programs on hostilePacket, the
// others on an 8-byte zero context, unless opts says otherwise.
func (h *hostile) runProg(name string, opts *xebpf.RunOptions) (uint32, error) {
	p := h.c.Programs[name]
	if p == nil {
		return 0, fmt.Errorf("no program %q", name)
	}
	if opts == nil {
		opts = &xebpf.RunOptions{}
		switch p.Type() {
		case xebpf.XDP, xebpf.SchedCLS, xebpf.SocketFilter:
			opts.Data = hostilePacket()
		default:
			opts.Context = make([]byte, 8)
		}
	}
	r0, err := p.Run(opts)
	return r0, err
}

func (h *hostile) close() error {
	if h.closed {
		return nil
	}
	h.closed = true
	return h.c.Close()
}

func (h *hostile) m(name string) *xebpf.Map {
	m := h.c.Maps[name]
	if m == nil {
		h.t.Fatalf("no map %q", name)
	}
	return m
}

func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// Canaries the map cases put around the element they attack.
const (
	canary0 = 0xc0c0c0c0c0c0c0c0
	canary2 = 0xc2c2c2c2c2c2c2c2
)

// checkLock checks that spinlock.c's lock is free: Map.Update with
// UpdateLock and the lock_value program take it.
func checkLock(h *hostile) error {
	v := make([]byte, 16)
	if err := h.m("locks").Update(uint32(0), v, maps.UpdateLock); err != nil {
		return fmt.Errorf("Map.Update(UpdateLock): %v", err)
	}
	if r0, err := h.runProg("lock_value", nil); err != nil || r0 != 0 {
		return fmt.Errorf("lock_value: r0 %#x, %v", r0, err)
	}
	return nil
}

// fillArr puts canaries in elements 0 and 2 of mapvalue.c's arr.
func fillArr(h *hostile) error {
	for k, v := range map[uint32]uint64{0: canary0, 1: 1, 2: canary2} {
		if err := h.m("arr").Update(k, v, maps.UpdateAny); err != nil {
			return err
		}
	}
	return nil
}

// checkArr checks the canaries of fillArr.
func checkArr(h *hostile) error {
	for k, want := range map[uint32]uint64{0: canary0, 2: canary2} {
		var got uint64
		if err := h.m("arr").Lookup(k, &got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("arr[%d] = %#x, want canary %#x", k, got, uint64(want))
		}
	}
	return nil
}

// drainRing runs rb_good (one record holding 2) and then reads every
// record of ringbuf.c's rb: they must be want, then 2. A ring left with a
// record reserved for ever stops at it.
func drainRing(h *hostile, want ...uint64) error {
	if r0, err := h.runProg("rb_good", nil); err != nil || r0 != 0 {
		return fmt.Errorf("rb_good: r0 %#x, %v", r0, err)
	}
	want = append(want, 2)
	rb := h.m("rb").Underlying().(*maps.RingBufMap)
	var got []uint64
	for {
		rec, ok := rb.Next(nil)
		if !ok {
			break
		}
		if len(rec) != 8 {
			return fmt.Errorf("record of %d bytes %x, want 8", len(rec), rec)
		}
		got = append(got, binary.NativeEndian.Uint64(rec))
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("ring records %#x, want %#x", got, want)
	}
	return nil
}

var hostileCases = []*hostileCase{
	// Forged context pointer words.
	{file: "ctx_forge", name: "loop_ctx_write", prog: "loop_ctx_write", want: wantForgedCtxFault},
	// Through a stack slot at a computed address: refused at load.
	{file: "ctx_spill", name: "spill_ctx_write", prog: "spill_ctx_write", want: loadError(verifier.ErrContextAccess)},
	{file: "ctx_forge", name: "forge_store_anywhere", prog: "forge_store_anywhere", want: wantForgedCtxFault},
	{file: "ctx_forge", name: "forge_widen_region", prog: "forge_widen_region", want: wantForgedCtxFault},
	{file: "ctx_forge", name: "skb_loop_ctx_write", prog: "skb_loop_ctx_write", want: wantForgedCtxFault},
	{file: "ctx_forge", name: "skb_forge_change_tail", prog: "skb_forge_change_tail", want: wantForgedCtxFault},
	// A helper's output buffer over the hidden words: the helper refuses it.
	{file: "ctx_forge", name: "helper_writes_ctx_word", prog: "helper_writes_ctx_word", want: fault(api.ErrBadHelperMemory)},
	{file: "ctx_forge", name: "skb_load_bytes_into_ctx", prog: "skb_load_bytes_into_ctx", want: fault(api.ErrBadHelperMemory)},
	{
		file: "ctx_forge", name: "forge_data_out", want: wantForgedCtxFault,
		run: func(h *hostile) (uint32, error) {
			return h.runProg("forge_data_out", &xebpf.RunOptions{Data: hostilePacket(), DataOut: make([]byte, 1<<17)})
		},
	},

	// Instruction budget: the whole run, callbacks and tail calls
	// included, gets one budget.
	{file: "budget", name: "nested_loop", prog: "nested_loop", want: fault(api.ErrBudgetExceeded)},
	{file: "budget", name: "for_each_loop", prog: "for_each_loop", want: fault(api.ErrBudgetExceeded)},
	{file: "budget", name: "tail_spin", prog: "tail_spin", budget: 1 << 16, want: fault(api.ErrBudgetExceeded)},

	// Spin locks.
	{file: "spinlock", name: "lock_stack_word", prog: "lock_stack_word", want: fault(helpers.ErrSpinLock)},
	{file: "spinlock", name: "lock_then_update", prog: "lock_then_update", want: fault(helpers.ErrSpinLock)},
	{
		file: "spinlock", name: "store_lock_word", prog: "store_lock_word",
		// The lock word is not program memory: a hole in the value.
		want: fault(api.ErrReservedField),
		post: checkLock,
	},
	{file: "spinlock", name: "helper_lock_word", prog: "helper_lock_word", want: fault(api.ErrBadHelperMemory), post: checkLock},

	// Map values: an element's pointer reaches that element only.
	{
		file: "mapvalue", name: "array_neighbour_write", want: wantOOB, post: checkArr,
		run: func(h *hostile) (uint32, error) {
			if err := fillArr(h); err != nil {
				return 0, err
			}
			return h.runProg("array_neighbour_write", nil)
		},
	},
	{
		file: "mapvalue", name: "array_neighbour_helper_write", want: fault(api.ErrBadHelperMemory), post: checkArr,
		run: func(h *hostile) (uint32, error) {
			if err := fillArr(h); err != nil {
				return 0, err
			}
			return h.runProg("array_neighbour_helper_write", nil)
		},
	},
	{
		file: "mapvalue", name: "array_neighbour_read", want: wantOOB,
		run: func(h *hostile) (uint32, error) {
			if err := fillArr(h); err != nil {
				return 0, err
			}
			return h.runProg("array_neighbour_read", nil)
		},
	},
	{
		file: "mapvalue", name: "hash_key_rewrite", want: wantOOB,
		run: func(h *hostile) (uint32, error) {
			for k := uint32(1); k <= 8; k++ {
				if err := h.m("hash").Update(k, uint64(k), maps.UpdateNoExist); err != nil {
					return 0, err
				}
			}
			return h.runProg("hash_key_rewrite", nil)
		},
		post: func(h *hostile) error {
			var keys []uint32
			for k, v := range h.m("hash").All() {
				keys = append(keys, binary.NativeEndian.Uint32(k))
				if got := binary.NativeEndian.Uint64(v); got != uint64(keys[len(keys)-1]) {
					return fmt.Errorf("key %d holds %d", keys[len(keys)-1], got)
				}
			}
			if want := []uint32{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(keys, want) {
				return fmt.Errorf("keys %v, want %v", keys, want)
			}
			for k := uint32(1); k <= 8; k++ {
				var v uint64
				if err := h.m("hash").Lookup(k, &v); err != nil {
					return fmt.Errorf("lookup of key %d: %v", k, err)
				}
			}
			return nil
		},
	},
	{
		file: "mapvalue", name: "percpu_other_cpu", want: wantOOB,
		run: func(h *hostile) (uint32, error) {
			if maps.NumCPU() < 2 {
				h.t.Skip("one CPU: no other CPU's value to attack")
			}
			all := bytes.Repeat(u64(canary2), maps.NumCPU())
			if err := h.m("pcpu").Update(uint32(0), all, maps.UpdateAny); err != nil {
				return 0, err
			}
			return h.runProg("percpu_other_cpu", &xebpf.RunOptions{Context: make([]byte, 8), CPU: 0})
		},
		post: func(h *hostile) error {
			all := make([]byte, 8*maps.NumCPU())
			if err := h.m("pcpu").Lookup(uint32(0), all); err != nil {
				return err
			}
			for cpu := 1; cpu < maps.NumCPU(); cpu++ {
				if got := binary.NativeEndian.Uint64(all[8*cpu:]); got != canary2 {
					return fmt.Errorf("CPU %d's value is %#x, want canary %#x", cpu, got, uint64(canary2))
				}
			}
			return nil
		},
	},

	// Ring buffer records.
	{file: "ringbuf", name: "rb_header_write", prog: "rb_header_write", want: wantOOB,
		post: func(h *hostile) error { return drainRing(h) }},
	{file: "ringbuf", name: "rb_use_after_submit", prog: "rb_use_after_submit", want: wantOOB,
		post: func(h *hostile) error { return drainRing(h, 1) }},
	{file: "ringbuf", name: "rb_other_record", prog: "rb_other_record", want: wantOOB,
		post: func(h *hostile) error { return drainRing(h, 1) }},
	{file: "ringbuf", name: "rb_double_submit", prog: "rb_double_submit", want: fault(helpers.ErrBadRingbufMem),
		post: func(h *hostile) error { return drainRing(h, 1) }},
	{file: "ringbuf", name: "rb_forged_submit", prog: "rb_forged_submit", want: fault(helpers.ErrBadRingbufMem),
		post: func(h *hostile) error { return drainRing(h) }},
	{file: "ringbuf", name: "rb_leak_reservation", prog: "rb_leak_reservation",
		// Like a run that exits holding a bpf_spin_lock; the record is
		// discarded so that the ring goes on.
		want: anyError("a run error saying the program exited holding a ring buffer record"),
		post: func(h *hostile) error { return drainRing(h) }},
	{file: "ringbuf", name: "rb_fault_holding", prog: "rb_fault_holding", want: wantOOB,
		post: func(h *hostile) error { return drainRing(h) }},

	// Read-only data.
	{file: "rodata", name: "rodata_write", prog: "rodata_write", want: fault(api.ErrReadOnly)},
	{file: "rodata", name: "rodata_helper_write", prog: "rodata_helper_write", want: fault(api.ErrBadHelperMemory)},
	{
		file: "rodata", name: "rodata_go_update", want: returns(5),
		run: func(h *hostile) (uint32, error) {
			// WANT(lead): Map.Update of a frozen map fails (Linux: EPERM);
			// no error value names that yet.
			if err := h.m(".rodata").Update(uint32(0), uint64(6), maps.UpdateAny); err == nil {
				return 0, errors.New("Map.Update of .rodata after load succeeded")
			}
			return h.runProg("rodata_read", nil)
		},
	},

	// Memory of a collection. WANT(lead): maps.ErrTooBig is the error of a
	// map over its own limit; a collection-wide limit may get its own.
	{file: "memcap", name: "memcap", want: loadError(xebpf.ErrMemoryLimit)},

	// Collection.Close with runs in flight: either Close waits for them
	// or they end with ErrClosed; the process survives.
	{
		file: "close_race", name: "close_during_run", budget: 1 << 28, want: returns(0),
		run: func(h *hostile) (uint32, error) {
			const runs = 2
			errs := make(chan error, runs)
			for range runs {
				go func() {
					_, err := h.runProg("long_run", nil)
					errs <- err
				}()
			}
			progress := h.m("progress")
			for start := time.Now(); ; {
				var n uint64
				if err := progress.Lookup(uint32(0), &n); err != nil {
					return 0, err
				}
				if n > 0 {
					break
				}
				if time.Since(start) > 5*time.Second {
					return 0, errors.New("long_run did not start within 5 s")
				}
				time.Sleep(time.Millisecond)
			}
			if err := h.close(); err != nil {
				return 0, fmt.Errorf("Close: %v", err)
			}
			for range runs {
				if err := <-errs; err != nil && !errors.Is(err, xebpf.ErrClosed) {
					return 0, err
				}
			}
			return 0, nil
		},
	},

	// The stack.
	{
		file: "stack", name: "uninit_stack",
		// A fresh run reads zero, or the read of uninitialised stack
		// faults; it never sees the previous run's secret (ESCAPED).
		want: want{
			desc: "r0 = 0 or an out-of-bounds fault",
			ok: func(r0 uint32, err error) bool {
				return err == nil && r0 == 0 || errors.Is(err, api.ErrOutOfBounds)
			},
		},
		run: func(h *hostile) (uint32, error) {
			p := h.c.Programs["uninit_stack"]
			r, err := p.NewRunner()
			if err != nil {
				return 0, err
			}
			defer r.Close()
			if _, err := r.Run(&xebpf.RunOptions{Context: []byte{1}}); err != nil {
				return 0, err
			}
			if r0, err := r.Run(&xebpf.RunOptions{Context: []byte{0}}); err != nil || r0 != 0 {
				return r0, err
			}
			// The same through Program.Run, whose run states are pooled.
			if _, err := p.Run(&xebpf.RunOptions{Context: []byte{1}}); err != nil {
				return 0, err
			}
			r0, err := p.Run(&xebpf.RunOptions{Context: []byte{0}})
			return r0, err
		},
	},
	{file: "stack", name: "stack_ptr_returned", prog: "stack_ptr_returned", want: wantOOB},
	{file: "stack", name: "callee_writes_caller_frame", prog: "callee_writes_caller_frame", want: wantOOB},
	{file: "stack", name: "r10_far_write", prog: "r10_far_write", want: wantOOB},

	// Helper arguments larger than their buffers.
	{file: "helper_size", name: "probe_read_big", prog: "probe_read_big", want: fault(api.ErrBadHelperMemory)},
	{file: "helper_size", name: "skb_load_bytes_huge", prog: "skb_load_bytes_huge", want: fault(api.ErrBadHelperMemory)},
	{file: "helper_size", name: "xdp_store_bytes_huge", prog: "xdp_store_bytes_huge", want: fault(api.ErrBadHelperMemory)},

	// Pointers laundered through maps and tail calls.
	{file: "launder", name: "tail_ctx_launder", prog: "tail_ctx_launder", want: faultAt(api.ErrOutOfBounds, "launder.c:45:")},
	{file: "launder", name: "map_ptr_roundtrip", prog: "map_ptr_roundtrip", want: wantOOB},
	// The tail call itself is refused: its context is not the run's.
	{file: "launder", name: "tail_call_fake_ctx", prog: "tail_call_fake_ctx", want: fault(helpers.ErrBadContext)},
	// Linux refuses to put a tc program in an XDP program's array, and
	// so does xebpf.
	{file: "cross_type", name: "cross_type_tail", prog: "cross_type_tail", want: loadError(xebpf.ErrProgramArrayType)},
	{file: "launder", name: "code_ptr_write", prog: "code_ptr_write", want: wantOOB},
	{file: "launder", name: "for_each_key_write", prog: "for_each_key_write", want: fault(api.ErrReadOnly)},

	// Packet pointers and views after the packet moved.
	{file: "packet_stale", name: "stale_after_adjust_head", prog: "stale_after_adjust_head", want: wantOOB},
	{file: "packet_stale", name: "stale_after_failed_adjust_head", prog: "stale_after_failed_adjust_head", want: wantOOB},
	{file: "packet_stale", name: "ld_abs_after_change_tail", prog: "ld_abs_after_change_tail", want: returns(0)},

	// Map pointers.
	{file: "mapptr", name: "map_descriptor_read", prog: "map_descriptor_read", want: wantOOB},
	{file: "mapptr", name: "map_descriptor_write", prog: "map_descriptor_write", want: fault(api.ErrOutOfBounds, api.ErrReadOnly)},
	{file: "mapptr", name: "map_ptr_arith", prog: "map_ptr_arith", want: fault(helpers.ErrBadMap)},
}

// TestHostile runs the hostile programs of testdata/hostile, which attack
// checked mode: each does something the Linux verifier would refuse, to
// escape the run's memory, run for ever, hang a lock or corrupt a map.
// Every case runs in a child process (the test binary again, for that case
// alone) with a deadline, so that a crash or a hang fails the case by name
// instead of killing the test binary; the child checks the exact outcome
// the case must get (a typed fault, a load error or a return value), then
// post-conditions on the maps.
//
// Cases that escape on the current code are listed in knownEscapes with
// what they do today and are skipped; XEBPF_HOSTILE_ALL=1 runs them too,
// and fails those listed that no longer escape, so that the list stays
// honest.
func TestHostile(t *testing.T) {
	if name := os.Getenv(hostileCaseEnv); name != "" {
		hostileChild(t, name, os.Getenv(hostileObjEnv))
		return
	}
	seen := map[string]bool{}
	for _, tc := range hostileCases {
		if seen[tc.path()] {
			t.Fatalf("two cases named %s", tc.path())
		}
		seen[tc.path()] = true
	}
	for name := range knownEscapes {
		if !seen[name] {
			t.Errorf("knownEscapes names %s, which is no case", name)
		}
	}
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skipf("clang-19 not installed (%v): cannot build testdata/hostile", err)
	}
	dir := t.TempDir()
	objs := map[string]string{}
	all := os.Getenv(hostileAllEnv) != ""
	for _, tc := range hostileCases {
		t.Run(tc.path(), func(t *testing.T) {
			escape, known := knownEscapes[tc.path()]
			if known && !all {
				t.Skipf("escapes today: %s", escape)
			}
			obj, ok := objs[tc.file]
			if !ok {
				obj = compileHostile(t, clang, dir, tc.file)
				objs[tc.file] = obj
			}
			passed := runHostileChild(t, tc, obj)
			if passed && known {
				t.Errorf("listed in knownEscapes (%s) but gets its outcome now: delete the entry", escape)
			}
		})
	}
}

// compileHostile builds testdata/hostile/NAME.c into dir.
func compileHostile(t *testing.T, clang, dir, name string) string {
	t.Helper()
	obj := filepath.Join(dir, name+".o")
	cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror",
		"-I", "include", "-c", filepath.Join("testdata", "hostile", name+".c"), "-o", obj)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-19 %s.c: %v\n%s", name, err, out)
	}
	return obj
}

// runHostileChild runs tc in a child process and fails t, saying how, if
// the child crashes, hangs or reports the wrong outcome. It reports
// whether the case passed.
func runHostileChild(t *testing.T, tc *hostileCase, obj string) bool {
	within := hostileDeadline
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostile$", "-test.v", "-test.count=1",
		fmt.Sprintf("-test.timeout=%v", within+10*time.Second))
	cmd.Env = append(os.Environ(), hostileCaseEnv+"="+tc.path(), hostileObjEnv+"="+obj)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	report := childReport(out)
	switch {
	case ctx.Err() != nil:
		t.Errorf("hung: no outcome within %v (want %s)\n%s", within, tc.want.desc, report)
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("child skipped:\n%s", report)
	case err == nil:
		t.Logf("%s in %v", report, time.Since(start).Round(time.Millisecond))
		return true
	case bytes.Contains(out, []byte("--- FAIL")) && !bytes.Contains(out, []byte("panic: ")):
		t.Errorf("wrong outcome:\n%s", report)
	default:
		t.Errorf("crashed (%v), want %s:\n%s", err, tc.want.desc, crashReport(out))
	}
	return false
}

// childReport returns what a child's case logged, without file:line
// prefixes.
func childReport(out []byte) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		l = strings.TrimSpace(l)
		if _, rest, ok := strings.Cut(l, ".go:"); ok && strings.HasPrefix(l, "hostile_test") {
			if _, msg, ok := strings.Cut(rest, ": "); ok {
				l = msg
			}
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// crashReport returns the start of a crashed child's output: the panic or
// signal and the top of the faulting goroutine's stack.
func crashReport(out []byte) string {
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "unexpected fault address") {
			lines = lines[i:]
			break
		}
	}
	if len(lines) > 24 {
		lines = lines[:24]
	}
	return strings.Join(lines, "\n")
}

// hostileChild runs the case named name on the object at obj, in the
// child process.
func hostileChild(t *testing.T, name, obj string) {
	i := slices.IndexFunc(hostileCases, func(tc *hostileCase) bool { return tc.path() == name })
	if i < 0 {
		t.Fatalf("no hostile case %s", name)
	}
	tc := hostileCases[i]
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{InstructionBudget: tc.budget, Unverified: xebpf.RunUnverifiedChecked, Checked: true})
	if tc.want.load {
		if err == nil {
			c.Close()
			t.Fatalf("outcome: loaded; want %s", tc.want.desc)
		}
		t.Logf("outcome: load error: %v", err)
		if !tc.want.ok(0, err) {
			t.Fatalf("want %s", tc.want.desc)
		}
		return
	}
	if err != nil {
		t.Fatalf("NewCollection: %v", err)
	}
	h := &hostile{t: t, tc: tc, c: c}
	defer func() {
		if err := h.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	run := tc.run
	if run == nil {
		run = func(h *hostile) (uint32, error) { return h.runProg(tc.prog, nil) }
	}
	r0, err := run(h)
	t.Logf("outcome: r0 %#x, error %v", r0, err)
	if !tc.want.ok(r0, err) {
		t.Errorf("want %s", tc.want.desc)
	}
	if tc.post != nil {
		if err := tc.post(h); err != nil {
			t.Errorf("post-condition: %v", err)
		}
	}
}

// TestVerifierRejectsHostile checks the verifier against the hostile
// programs: every case whose program faults in checked mode (or that a
// load refuses for what the program does) must be rejected before it
// runs. The exceptions are the cases about time (the instruction budget:
// their loops are bounded, and run checked when the bound is past the
// budget).
func TestVerifierRejectsHostile(t *testing.T) {
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skipf("clang-19 not installed (%v): cannot build testdata/hostile", err)
	}
	dir := t.TempDir()
	specs := map[string]*xebpf.CollectionSpec{}
	rejected := 0
	for _, tc := range hostileCases {
		if !strings.HasPrefix(tc.want.desc, "fault: ") || strings.Contains(tc.want.desc, api.ErrBudgetExceeded.Error()) {
			continue
		}
		spec, ok := specs[tc.file]
		if !ok {
			if spec, err = xebpf.LoadCollectionSpec(compileHostile(t, clang, dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			specs[tc.file] = spec
		}
		_, err := xebpf.VerifyProgram(spec, tc.prog, xebpf.VerifyOptions{})
		if err == nil {
			t.Errorf("%s: the verifier accepts %s, which checked mode stops (%s)", tc.path(), tc.prog, tc.want.desc)
			continue
		}
		rejected++
	}
	t.Logf("%d hostile programs rejected", rejected)
}
