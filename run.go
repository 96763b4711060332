package xebpf

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/internal/testrun"
	"github.com/xebpf/xebpf/interp"
)

// RunOptions is the input and output of Program.Run, like the kernel's
// BPF_PROG_TEST_RUN; its fields are cilium/ebpf's, with xebpf's extras
// (Trace, Task, and the outputs Duration and Instructions) after them.
type RunOptions struct {
	// Data is the packet for packet programs. Program types without a
	// packet refuse it.
	Data []byte
	// DataOut receives the packet after the run; Run shortens it to the
	// packet's length. It must have room for the packet, which XDP
	// programs may grow.
	DataOut []byte
	// Context is the initial context (struct xdp_md, struct __sk_buff or
	// the type's struct): a []byte, or a fixed-size value encoding/binary
	// marshals in native byte order (a struct of the C layout, or a
	// pointer to one); nil means zero. Run checks an xdp_md or __sk_buff
	// as BPF_PROG_TEST_RUN does and refuses what it refuses
	// (ErrInvalidContext): an xdp_md's data is the length of the metadata
	// that starts Data, its data_end the end of the linear part; an
	// __sk_buff may set mark, priority, ingress_ifindex, ifindex, cb,
	// tstamp, wire_len, gso_segs, gso_size and hwtstamp only.
	Context any
	// ContextOut receives the context after the run: a []byte, which Run
	// shortens to the context's size, or a pointer to a fixed-size value
	// it is decoded into. As in the kernel, asking for it without a
	// Context runs the program on a zero context, which for XDP means
	// data_end 0: the whole packet is past the linear part.
	ContextOut any
	// Repeat runs the program that many times (0 and 1 both mean once);
	// Duration is the mean of a run.
	Repeat uint32
	// Flags are BPF_PROG_TEST_RUN's flags; xebpf takes none, and refuses
	// any that is set.
	Flags uint32
	// CPU is the preferred per-CPU map slot; when another run holds it,
	// the run takes a free one.
	CPU uint32
	// BatchSize is for the kernel's live-frame XDP mode, which xebpf does
	// not have: it must be 0.
	BatchSize uint32
	// Reset, if set, is called between repeated runs (not timed), as
	// cilium/ebpf's Benchmark calls it.
	Reset func()

	// Trace overrides the collection's trace writer for this run.
	Trace interface{ Write([]byte) (int, error) }
	// Task is the task the hook runs the program for, which the
	// get_current_* helpers report (nil: no task; they fail as in Linux
	// outside task context).
	Task *helpers.Task
	// Hook is what a hook running the program on a real event says of
	// it beyond a test run's context (hookctx.go); test runs leave it nil.
	Hook *HookContext
	// Duration is set by the run: the mean duration of one run when
	// Repeat > 0, else of the single run (which includes the first run's
	// warm-up costs).
	Duration time.Duration
	// Instructions is set by the run: in checked mode, the instructions
	// the (last) run executed, tail calls and callbacks included; 0 in
	// fast mode, which does not count them.
	Instructions uint64
}

// Errors of Program.Run.
var (
	ErrShortPacket     = testrun.ErrShortPacket
	ErrDataOutTooSmall = testrun.ErrDataOutTooSmall
	ErrContextTooLarge = testrun.ErrContextTooLarge
	ErrNoPacket        = errors.New("no packet")
	ErrRunFlags        = errors.New("run option not supported")
)

// ErrClosed is returned by runs of a closed Program, Runner or Collection
// and by operations on a closed Map.
var ErrClosed = errors.New("closed")

// maxRawContext bounds the context of raw-memory programs.
const maxRawContext = 1 << 20

// runState is the memory and helper state of one run in progress: the
// test run's frame and context in its memory, the run's Env.
type runState struct {
	*runMemory
	testrun.Frame
	ctxSize int // the largest context the memory holds
	env     api.Env
	// redirect is the redirect target the last run recorded (see
	// Runner.Redirect).
	redirect helpers.Redirect
}

// ctxRegion is the index of the context's region in a run's Env.Regions;
// the packet's is 0.
const ctxRegion = 1

// state returns a run state with room for a context of ctxSize bytes,
// from the pool or new. The caller holds a reference on p.
func (p *Program) state(ctxSize int) (*runState, error) {
	if rs, ok := p.pool.Get().(*runState); ok && rs.ctxSize >= ctxSize {
		return rs, nil
	}
	rs, err := p.newRunState(ctxSize)
	if err != nil {
		return nil, err
	}
	// The program frees every run state at once: off-heap memory does
	// not make the garbage collector run, so waiting for cleanups could
	// pile it up.
	p.mu.Lock()
	p.states = platform.AppendWeak(p.states, rs)
	p.mu.Unlock()
	// The run state's memory is outside the Go heap: free it when the pool
	// drops rs.
	// free stops the cleanup: the run state's memory, through the map
	// table, can reach program arrays, their programs, the host's helper
	// closures and so the collection and this run state; while the
	// cleanup is registered, that chain would keep them all alive.
	rs.cleanup = runtime.AddCleanup(rs, func(r *runMemory) { r.free() }, rs.runMemory)
	return rs, nil
}

// runMemory is what a run state holds outside the Go heap, charged to its
// collection's memory account.
type runMemory struct {
	mem   *platform.Memory
	hrun  *helpers.Run
	mc    *interp.Machine
	acct  *memAccount
	size  int64
	freed atomic.Bool // free ran: by the program, the runner or a cleanup
	// cleanup is the cleanup of a pooled run state, stopped by free.
	cleanup runtime.Cleanup
}

func (r *runMemory) free() error {
	if r.freed.Swap(true) {
		return nil
	}
	r.cleanup.Stop()
	r.acct.uncharge(r.size)
	return errors.Join(r.mem.Free(), r.hrun.Close(), r.mc.Close())
}

func (p *Program) newRunState(ctxSize int) (*runState, error) {
	mem, err := platform.Alloc(testrun.MemorySize(ctxSize))
	if err != nil {
		return nil, err
	}
	hrun, err := helpers.NewRun(p.coll.table)
	if err != nil {
		mem.Free()
		return nil, err
	}
	mc, err := interp.NewMachine()
	if err != nil {
		mem.Free()
		hrun.Close()
		return nil, err
	}
	r := &runMemory{mem: mem, hrun: hrun, mc: mc, acct: p.coll.mem,
		size: pages(mem.Len()) + pages(hrun.MemorySize()) + pages(mc.MemorySize())}
	if err := r.acct.charge("run state", r.size); err != nil {
		r.freed.Store(true)
		return nil, errors.Join(err, mem.Free(), hrun.Close(), mc.Close())
	}
	tp := testrun.Program{Kind: p.kind(), PtrOff: p.ptrOff, MovesPacket: p.movesPacket}
	rs := &runState{runMemory: r, Frame: testrun.NewFrame(mem.Bytes(), uint64(mem.Addr()), tp), ctxSize: ctxSize}
	rs.env.Context = hrun
	return rs, nil
}

// Close closes the program, like closing a program's file descriptor in
// cilium/ebpf: later runs (Program.Run, and Runner.Run of its Runners) and
// NewRunner return ErrClosed. Close does not wait for the runs in
// progress: they finish, and the last one to end frees the program's
// memory (Close frees it at once when none is in progress and the
// program has no Runner left open). A program array slot holding the
// program keeps it callable by tail calls, as Linux's program arrays hold
// references on their programs. Close is safe to call concurrently with
// runs, and more than once.
func (p *Program) Close() error {
	p.closed.Store(true)
	_, err := p.life.close()
	return err
}

// free frees the program's run states once it is closed and its last run
// and Runner have ended, then drops its reference on the collection.
func (p *Program) free() error {
	p.mu.Lock()
	states := p.states
	p.states = nil
	p.mu.Unlock()
	errs := []error{p.prog.Close()}
	for _, w := range states {
		if rs := w.Value(); rs != nil {
			errs = append(errs, rs.free())
		}
	}
	return errors.Join(append(errs, p.coll.life.release())...)
}

// Run runs the program on opts like BPF_PROG_TEST_RUN and returns its
// return value and the mean duration of one run. After Close (of the
// program or its collection) it returns ErrClosed.
func (p *Program) Run(opts *RunOptions) (uint32, error) {
	if opts == nil {
		opts = &RunOptions{}
	}
	in, err := p.prepare(opts, false)
	if err != nil {
		return 0, err
	}
	if !p.life.acquire() {
		return 0, fmt.Errorf("run %s: %w", p.name, ErrClosed)
	}
	defer p.life.release()
	rs, err := p.state(in.CtxSize)
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", p.name, err)
	}
	r0, err := p.run(rs, opts, &in)
	p.pool.Put(rs)
	return r0, err
}

// Test runs the program once on the packet in, as cilium/ebpf's
// Program.Test, and returns its return value and the packet after the run.
func (p *Program) Test(in []byte) (uint32, []byte, error) {
	opts := RunOptions{Data: in}
	if p.pk != packetNone {
		opts.DataOut = make([]byte, len(in)+testrun.XDPHeadroom)
	}
	ret, err := p.Run(&opts)
	return ret, opts.DataOut, err
}

// Benchmark runs the program repeat times on the packet in, as
// cilium/ebpf's Program.Benchmark, and returns the last return value and
// the mean duration of a run. reset, if set, is called between runs,
// outside the timing.
func (p *Program) Benchmark(in []byte, repeat int, reset func()) (uint32, time.Duration, error) {
	if repeat < 0 || uint64(repeat) > math.MaxUint32 {
		return 0, 0, fmt.Errorf("benchmark %s: repeat %d out of range [0, 2^32)", p.name, repeat)
	}
	opts := RunOptions{Data: in, Repeat: uint32(repeat), Reset: reset}
	ret, err := p.Run(&opts)
	return ret, opts.Duration, err
}

// prepare checks opts against the program type and returns the run's
// input: the context, its memory size and the packet split as the run
// lays it out. anyLength lets XDP packets be shorter than an Ethernet
// header (testrun.CheckPacketAnyLength: the soundness oracle's runs).
func (p *Program) prepare(opts *RunOptions, anyLength bool) (r testrun.Input, err error) {
	typ := p.typ
	if opts.Flags != 0 {
		return r, fmt.Errorf("run %s: %w: flags %#x", p.name, ErrRunFlags, opts.Flags)
	}
	if opts.BatchSize != 0 {
		return r, fmt.Errorf("run %s: %w: batch size (the kernel's live-frame mode)", p.name, ErrRunFlags)
	}
	if r.Ctx, err = contextBytes(opts.Context); err != nil {
		return r, fmt.Errorf("run %s: context: %w", p.name, err)
	}
	r.CtxSize = p.ctxMem
	if len(typ.Context.Fields) == 0 {
		if len(r.Ctx) > maxRawContext {
			return r, fmt.Errorf("run %s: %w: %d bytes", p.name, ErrContextTooLarge, len(r.Ctx))
		}
		// A verified program may read as much as the verifier assumed.
		r.CtxSize = max(len(r.Ctx), p.rawCtx)
	} else if r.Ctx, err = testrun.TrimContext(r.Ctx, typ.Context); err != nil {
		return r, fmt.Errorf("run %s: %w", p.name, err)
	}
	switch k := p.kind(); {
	case k != testrun.None:
		check := testrun.CheckPacket
		if anyLength {
			check = testrun.CheckPacketAnyLength
		}
		if r.Linear, r.Tail, err = check(k, opts.Data); err != nil {
			return r, fmt.Errorf("run %s: %w", p.name, err)
		}
	case opts.Data != nil || opts.DataOut != nil:
		return r, fmt.Errorf("run %s: %w: %s programs take no packet", p.name, ErrNoPacket, typ.Name)
	}
	r.HaveCtx = r.Ctx != nil || opts.ContextOut != nil
	if err := testrun.CheckContext(p.kind(), typ.Context, opts.Data, &r); err != nil {
		return r, fmt.Errorf("run %s: %w", p.name, err)
	}
	if opts.Hook != nil {
		if err := p.applyHook(opts.Hook, &r); err != nil {
			return r, fmt.Errorf("run %s: %w", p.name, err)
		}
	}
	return r, nil
}

// Runner runs one program from one goroutine with run state of its own:
// the cheapest way to call a program over and over, as an embedding
// daemon does per request. A Runner is not safe for concurrent use: make
// one per goroutine, and do not Close it while its Run is in progress.
// Closing its program or collection is safe at any time, also during a
// Run: the run finishes and later runs return ErrClosed; the memory the
// Runner shares with them stays until the Runner is closed (or dropped).
type Runner struct{ *runner }

// runner is a Runner's state, apart from the Runner so that a cleanup can
// free a Runner dropped without Close.
type runner struct {
	p       *Program
	rs      *runState
	freed   atomic.Bool
	cleanup runtime.Cleanup // stopped by free, so that nothing it reaches is kept
}

// NewRunner returns a Runner for p. Close frees it (a cleanup does if it
// is dropped without Close). It holds a reference on p, so that closing p
// or its collection frees the memory it runs in only once it is closed.
func (p *Program) NewRunner() (*Runner, error) {
	if !p.life.acquire() {
		return nil, fmt.Errorf("runner %s: %w", p.name, ErrClosed)
	}
	rs, err := p.newRunState(p.ctxMem)
	if err != nil {
		p.life.release()
		return nil, fmt.Errorf("runner %s: %w", p.name, err)
	}
	r := &runner{p: p, rs: rs}
	rr := &Runner{r}
	r.cleanup = runtime.AddCleanup(rr, func(r *runner) { r.free() }, r)
	return rr, nil
}

// Run is Program.Run on the runner's own state. After Close (of the
// runner, its program or its collection) it returns ErrClosed. Its check
// of them is one atomic load: a Runner costs a run no reference counting,
// its reference on the program covers its runs.
func (r *Runner) Run(opts *RunOptions) (uint32, error) { return r.run(opts, false) }

// run is Run; anyLength is prepare's.
func (r *Runner) run(opts *RunOptions, anyLength bool) (uint32, error) {
	p := r.p
	if r.freed.Load() || p.closed.Load() {
		return 0, fmt.Errorf("run %s: %w", p.name, ErrClosed)
	}
	if opts == nil {
		opts = &RunOptions{}
	}
	in, err := p.prepare(opts, anyLength)
	if err != nil {
		return 0, err
	}
	if in.CtxSize > r.rs.ctxSize { // a raw context bigger than any before
		rs, err := p.newRunState(in.CtxSize)
		if err != nil {
			return 0, fmt.Errorf("run %s: %w", p.name, err)
		}
		r.rs.free()
		r.rs = rs
	}
	return p.run(r.rs, opts, &in)
}

// Close frees the runner's memory and drops its reference on its program
// (which frees the program and its collection if they are closed and
// nothing else runs them). Later runs return ErrClosed. It must not be
// called while the runner's Run is in progress; it may be called more
// than once.
func (r *Runner) Close() error { return r.free() }

// free is Close, and the cleanup of a Runner dropped without Close.
func (r *runner) free() error {
	if r.freed.Swap(true) {
		return nil
	}
	r.cleanup.Stop()
	return errors.Join(r.rs.free(), r.p.life.release())
}

// run sets up the run state for opts, runs the program and fills the
// outputs.
func (p *Program) run(rs *runState, opts *RunOptions, ri *testrun.Input) (uint32, error) {
	k := rs.Kind
	rs.Setup(ri) // the context, and the packet in the frame
	env := &rs.env
	env.Args = [5]uint64{rs.CtxAddr}
	h := rs.hrun
	if p.usesMaps { // else no helper can look at the helpers' state
		h.Reset()
		h.Trace = p.coll.opts.Trace
		if opts.Trace != nil {
			h.Trace = opts.Trace
		}
		h.Packet = nil
		h.Task = opts.Task
		h.Probe = p.coll.opts.Probe
		h.Clock = p.coll.opts.Clock
	}
	if len(env.Regions) != 2 {
		// The run's regions: the packet (which helpers move) and the
		// context. Map values, ring-buffer records and the like are
		// objects helpers hand out one by one.
		env.Regions = append(env.Regions[:0], api.Region{Name: "packet"}, api.Region{Name: "ctx", Writable: true})
	}
	// Only the numbers change from run to run; storing whole regions
	// (their names are strings) costs GC write barriers.
	env.Regions[0].Addr, env.Regions[0].Size, env.Regions[0].Writable = 0, 0, false
	cr := &env.Regions[ctxRegion]
	cr.Addr, cr.Size = rs.CtxAddr, uint64(ri.CtxSize)
	if cr.Fields != p.ctxFields {
		cr.Fields = p.ctxFields
	}
	env.Packet.Addr, env.Packet.Size = 0, 0
	env.LinkHeader, env.NetHeader, env.PacketHead = 0, 0, 0
	if k != testrun.None {
		h.Packet = &rs.Packet
		l := &rs.Layout
		r := &env.Regions[0] // from the metadata, as after a move
		r.Addr, r.Size, r.Writable = l.Meta, l.End-l.Meta, true
		env.Packet.Addr, env.Packet.Size, env.Packet.Writable = l.Data, l.End-l.Data, true
		env.LinkHeader, env.NetHeader, env.PacketHead = l.LinkHeader, l.NetHeader, l.Head
	}

	rs.env.Executed = 0
	r0, dur, err := p.runLoop(rs, opts)
	opts.Instructions, opts.Duration = rs.env.Executed, dur
	rs.redirect = h.Redirect // before Reset clears it
	// Nothing the run state's off-heap memory owns may point back into
	// the run state, or its cleanup could never run.
	h.Packet = nil
	// A run that ends holding a bpf_spin_lock (a fault in the critical
	// section, or a program a verifier would refuse) must not leave the
	// lock taken for the next run: Reset releases it.
	var left error
	if p.usesMaps {
		left = h.Release()
		h.Reset()
	}
	if err != nil {
		rs.Dirty = true
		return 0, fmt.Errorf("run %s: %w", p.name, withLine(p.coll.specOf(p, err), err))
	}
	if left != nil {
		return 0, fmt.Errorf("run %s: %w", p.name, left)
	}
	if k != testrun.None && opts.DataOut != nil {
		out, err := rs.PacketOut(opts.DataOut, ri.Tail)
		if err != nil {
			return 0, fmt.Errorf("run %s: %w", p.name, err)
		}
		opts.DataOut = out
	}
	if opts.ContextOut != nil {
		if err := p.contextOut(opts, rs, ri); err != nil {
			return 0, fmt.Errorf("run %s: context out: %w", p.name, err)
		}
	}
	return uint32(r0), nil
}

// monoBase anchors monotonic time readings: time.Since of a time with a
// monotonic reading costs one clock read, time.Now two.
var monoBase = time.Now()

// runLoop runs the program on a leased CPU slot inside an epoch: once
// untimed when repeat is 0, else repeat times, timed. It returns the last
// r0 and the mean duration of a run.
func (p *Program) runLoop(rs *runState, opts *RunOptions) (r0 uint64, mean time.Duration, err error) {
	env := &rs.env
	if !p.usesMaps {
		// Neither helpers nor maps: no per-CPU value or map element to
		// protect, so no CPU slot and no epoch.
		return p.repeatRun(rs, opts)
	}
	h := env.Context.(*helpers.Run)
	cpu := p.coll.cpus.acquire(int(min(opts.CPU, math.MaxInt32)))
	h.CPU = cpu
	tok := p.coll.epoch.Enter()
	r0, mean, err = p.repeatRun(rs, opts)
	p.coll.epoch.Exit(tok)
	p.coll.cpus.release(cpu)
	return r0, mean, err
}

// repeatRun runs the program max(opts.Repeat, 1) times and returns the
// last r0 and the mean duration of a run, without the calls of
// opts.Reset between runs.
func (p *Program) repeatRun(rs *runState, opts *RunOptions) (r0 uint64, mean time.Duration, err error) {
	env := &rs.env
	repeat := max(opts.Repeat, 1)
	var paused time.Duration
	start := time.Since(monoBase)
	// As in the kernel, repeated runs share one frame: changes a run
	// makes to the packet are seen by the next.
	for i := uint32(0); i < repeat && err == nil; i++ {
		if i > 0 && opts.Reset != nil {
			t := time.Since(monoBase)
			opts.Reset()
			paused += time.Since(monoBase) - t
		}
		r0, err = p.prog.RunOn(rs.mc, env)
	}
	mean = (time.Since(monoBase) - start - paused) / time.Duration(repeat)
	return r0, mean, err
}
