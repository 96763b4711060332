package xebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"weak"

	linuxasm "github.com/cilium/ebpf/asm"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
)

// Program is a runnable program of a Collection. It is safe for concurrent
// use.
type Program struct {
	name  string
	spec  *ProgramSpec
	typ   *ProgramType
	coll  *Collection
	prog  *interp.Program
	insns []isa.Instruction // as run: maps resolved, context accesses rewritten
	pool  sync.Pool         // of *runState

	mu     sync.Mutex
	states []weak.Pointer[runState] // the pool's run states, freed by close
	closed atomic.Bool

	pk     packetKind
	ctxMem int    // the context's memory size (typ.Context.MemorySize())
	ptrOff [3]int // context offsets of the data, data_end and data_meta words; -1 if absent
	// movesPacket is set when the program may move or grow the packet
	// (or tail-call a program that may): its frame is cleared before each
	// run, as the kernel gives every test run a fresh frame.
	movesPacket bool
	// usesMaps is set when the program calls helpers or references maps:
	// only then does a run need a CPU slot and an epoch.
	usesMaps bool
}

// packetMovers are the Linux helpers that change where the packet lies
// (the kernel's bpf_helper_changes_pkt_data), plus bpf_tail_call, whose
// target may call them.
var packetMovers = map[int32]bool{
	9: true, 10: true, 11: true, 12: true, 13: true, 18: true, 19: true, 31: true, 38: true,
	39: true, 43: true, 44: true, 50: true, 54: true, 65: true, 73: true, 74: true, 75: true, 76: true,
}

// RunOptions is the input and output of Program.Run, like the kernel's
// BPF_PROG_TEST_RUN.
type RunOptions struct {
	// Data is the packet for packet programs.
	Data []byte
	// DataOut receives the packet after the run; Run shortens it to the
	// packet's length. It must have room for the packet, which XDP
	// programs may grow.
	DataOut []byte
	// Context is the initial context (struct xdp_md, struct __sk_buff or
	// the type's struct); nil means zero.
	Context []byte
	// ContextOut receives the context after the run, shortened to its size.
	ContextOut []byte
	// Repeat runs the program that many times and reports the mean
	// duration; 0 runs it once without timing it.
	Repeat int
	// CPU is the preferred per-CPU map slot; when another run holds it,
	// the run takes a free one.
	CPU int
	// Trace overrides the collection's trace writer for this run.
	Trace interface{ Write([]byte) (int, error) }
	// Task is the task the hook runs the program for, which the
	// get_current_* helpers report (nil: no task; they fail as in Linux
	// outside task context).
	Task *helpers.Task
}

// Errors of Program.Run.
var (
	ErrShortPacket     = errors.New("packet too short")
	ErrDataOutTooSmall = errors.New("DataOut is too small for the packet")
	ErrContextTooLarge = errors.New("context larger than the program type's struct")
	ErrClosed          = errors.New("collection is closed")
)

// maxRawContext bounds the context of raw-memory programs.
const maxRawContext = 1 << 20

// Name returns the program's name.
func (p *Program) Name() string { return p.name }

// Type returns the program's type.
func (p *Program) Type() *ProgramType { return p.typ }

// Spec returns the program's spec.
func (p *Program) Spec() *ProgramSpec { return p.spec }

// Instructions returns the instructions as xebpf runs them: map references
// resolved to addresses and context accesses rewritten.
func (p *Program) Instructions() []isa.Instruction { return p.insns }

func (c *Collection) newProgram(name string, ps *ProgramSpec, typ *ProgramType) (*Program, error) {
	if len(ps.Unresolved) > 0 {
		return nil, unresolvedError(ps)
	}
	// The loader decodes instructions for their structure only: check
	// them before anything analyses them.
	pc := 0
	for _, ins := range ps.Instructions {
		if err := ins.Validate(); err != nil {
			return nil, withLine(ps, &isa.Error{PC: pc, Raw: [8]byte(ins.AppendBinary(nil)[:8]), Reason: reasonOf(err), Detail: err.Error()})
		}
		pc += ins.Slots()
	}
	if err := isa.CheckProgram(ps.Instructions); err != nil {
		return nil, withLine(ps, err)
	}
	insns, err := c.resolveMaps(ps.Instructions)
	if err != nil {
		return nil, err
	}
	if typ.Context != nil {
		if insns, err = ctxaccess.Rewrite(insns, typ.Context); err != nil {
			return nil, withLine(ps, err)
		}
	}
	hs := c.helperSet(typ)
	pc = 0
	for _, ins := range insns {
		if ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper && hs[ins.Imm()] == nil {
			if f, ok := helpers.ByID(ins.Imm()); ok {
				err := fmt.Errorf("insn %d (%v): %w: %s programs may not call bpf_%s", pc, ins, ErrHelperNotAllowed, typ.Name, f.Proto.Name)
				if l, ok := ps.LineInfo(pc); ok {
					err = fmt.Errorf("%w\n\tat %s:%d: %s", err, l.File, l.Line, l.Text)
				}
				return nil, err
			}
		}
		pc += ins.Slots()
	}
	cfg := interp.Config{Helpers: hs, InstructionBudget: c.opts.InstructionBudget}
	if c.opts.UnsafeFastMode {
		cfg.Mode, cfg.UnsafeTrustProgram = interp.Fast, true
	}
	ip, err := interp.Compile(insns, cfg)
	if err != nil {
		return nil, withLine(ps, err)
	}
	np := &Program{name: name, spec: ps, typ: typ, coll: c, prog: ip, insns: insns, pk: packetOf(typ), ctxMem: typ.Context.MemorySize()}
	for i, k := range [3]FieldKind{PacketStart, PacketEnd, PacketMeta} {
		np.ptrOff[i] = -1
		if off, ok := typ.Context.PointerOffset(k); ok {
			np.ptrOff[i] = off
		}
	}
	for i, ins := range insns {
		if ins.OpCode == isa.OpCallX || ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper && packetMovers[ins.Imm()] {
			np.movesPacket = true
		}
		if ins.OpCode == isa.OpCallX || ins.OpCode == isa.OpCall && ins.Src != isa.CallLocal ||
			ins.IsLDDW() && ins.Src == isa.PseudoImm64 && ps.Instructions[i].Src != isa.PseudoImm64 {
			np.usesMaps = true
		}
	}
	return np, nil
}

// ErrHelperNotAllowed is returned by NewCollection for a program calling a
// helper its program type may not call, as Linux's verifier refuses it.
var ErrHelperNotAllowed = errors.New("helper not allowed for the program type")

// ErrHelperNotImplemented ends a run that calls a Linux helper xebpf does
// not implement. Programs that call such helpers load, and run as long as
// they do not reach the call.
var ErrHelperNotImplemented = errors.New("helper not implemented by xebpf")

// maxLinuxHelper is the highest helper id Linux defines that xebpf knows
// the name of.
const maxLinuxHelper = 211

// unimplementedHelpers are, for the Linux helper ids xebpf lacks, helpers
// that fail with ErrHelperNotImplemented naming the helper.
var unimplementedHelpers = sync.OnceValue(func() map[int32]interp.Helper {
	hs := map[int32]interp.Helper{}
	for id := int32(1); id <= maxLinuxHelper; id++ {
		if _, implemented := helpers.ByID(id); implemented {
			continue
		}
		err := fmt.Errorf("%w: bpf_%s (%d)", ErrHelperNotImplemented, helperName(id), id)
		hs[id] = func(*interp.HelperCall) (uint64, error) { return 0, err }
	}
	return hs
})

// helperSet returns the helpers programs of typ may call, built once per
// type and collection: the Linux helpers the type allows, the Linux
// helpers xebpf lacks (failing when called), and the type's own helpers.
func (c *Collection) helperSet(typ *ProgramType) map[int32]interp.Helper {
	if hs, ok := c.helperSets[typ]; ok {
		return hs
	}
	hs := map[int32]interp.Helper{}
	if typ.LinuxHelpers != nil {
		hs = helpers.Config(func(f helpers.Func) bool { return typ.LinuxHelpers(f.ID) })
	}
	for id, h := range unimplementedHelpers() {
		hs[id] = h
	}
	for id, h := range typ.Helpers {
		hs[id] = h
	}
	if c.helperSets == nil {
		c.helperSets = map[*ProgramType]map[int32]interp.Helper{}
	}
	c.helperSets[typ] = hs
	return hs
}

// helperName returns a Linux helper's name ("sock_map_update") from
// cilium/ebpf's Go name of it ("FnSockMapUpdate").
func helperName(id int32) string {
	camel := strings.TrimPrefix(linuxasm.BuiltinFunc(id).String(), "Fn")
	var b strings.Builder
	for i, r := range camel {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// reasonOf returns the *isa.Reason an instruction's validation error wraps.
func reasonOf(err error) *isa.Reason {
	var r *isa.Reason
	if errors.As(err, &r) {
		return r
	}
	return isa.ErrUnknownOpcode
}

// withLine adds the source line of the instruction an error names.
func withLine(ps *ProgramSpec, err error) error {
	pc := -1
	var ie *isa.Error
	var ce *ctxaccess.Error
	var f *interp.Fault
	switch {
	case errors.As(err, &ce):
		pc = ce.PC
	case errors.As(err, &ie):
		pc = ie.PC
	case errors.As(err, &f):
		pc = f.PC
	}
	if pc < 0 {
		return err
	}
	if l, ok := ps.LineInfo(pc); ok {
		return fmt.Errorf("%w\n\tat %s:%d: %s", err, l.File, l.Line, l.Text)
	}
	return err
}

// runState is the memory and helper state of one run in progress.
type runState struct {
	runMemory
	frame   uint64 // packet buffer (packet types)
	ctx     uint64 // context memory
	ctxSize int
	env     interp.Env
	packet  helpers.Packet
	// tableLen is the map table size env.Regions reflects; ctxRegion is
	// the index of the context's region there.
	tableLen  int
	ctxRegion int
	// dirty is set when the frame may hold bytes outside the last packet
	// (the program moved it); lastLen is the length of the last packet.
	dirty   bool
	lastLen int
}

const (
	frameSize     = helpers.TestRunFrameSize
	xdpHeadroom   = helpers.XDPPacketHeadroom
	maxLinearData = frameSize - xdpHeadroom - helpers.SkbSharedInfoSize // 3520
)

func (p *Program) acquire(ctxSize int) (*runState, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if rs, ok := p.pool.Get().(*runState); ok && rs.ctxSize >= ctxSize {
		return rs, nil
	}
	rs, err := p.newRunState(ctxSize)
	if err != nil {
		return nil, err
	}
	// Close frees every run state at once: off-heap memory does not make
	// the garbage collector run, so waiting for cleanups could pile it up.
	p.mu.Lock()
	p.states = platform.AppendWeak(p.states, rs)
	p.mu.Unlock()
	// The run state's memory is outside the Go heap: free it when the pool
	// drops rs.
	runtime.AddCleanup(rs, func(r runMemory) { r.free() }, rs.runMemory)
	return rs, nil
}

// runMemory is what a run state holds outside the Go heap.
type runMemory struct {
	mem  *platform.Memory
	hrun *helpers.Run
	mc   *interp.Machine
}

func (r runMemory) free() error {
	return errors.Join(r.mem.Free(), r.hrun.Close(), r.mc.Close())
}

func (p *Program) newRunState(ctxSize int) (*runState, error) {
	// The context is followed by a guard word no region covers, so that
	// even an empty context's address is memory of this run state, where
	// accesses fault, rather than the start of whatever mapping follows.
	size := frameSize + ((ctxSize + 7) &^ 7) + 8
	mem, err := platform.Alloc(size)
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
	rs := &runState{runMemory: runMemory{mem, hrun, mc}, frame: uint64(mem.Addr()), ctx: uint64(mem.Addr()) + frameSize, ctxSize: ctxSize}
	rs.env.Context = hrun
	return rs, nil
}

// close frees the program's run states; runs must have ended.
func (p *Program) close() error {
	p.closed.Store(true)
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
	return errors.Join(errs...)
}

// Run runs the program on opts like BPF_PROG_TEST_RUN and returns its
// return value and the mean duration of one run.
func (p *Program) Run(opts *RunOptions) (uint32, time.Duration, error) {
	if opts == nil {
		opts = &RunOptions{}
	}
	ctxSize, in, tail, err := p.prepare(opts)
	if err != nil {
		return 0, 0, err
	}
	rs, err := p.acquire(ctxSize)
	if err != nil {
		return 0, 0, fmt.Errorf("run %s: %w", p.name, err)
	}
	r0, dur, err := p.run(rs, opts, ctxSize, in, tail)
	p.pool.Put(rs)
	return r0, dur, err
}

// prepare checks opts against the program type and returns the context's
// memory size and the packet split as the run lays it out.
func (p *Program) prepare(opts *RunOptions) (ctxSize int, in, tail []byte, err error) {
	typ := p.typ
	ctxSize = p.ctxMem
	if len(typ.Context.Fields) == 0 {
		if len(opts.Context) > maxRawContext {
			return 0, nil, nil, fmt.Errorf("run %s: %w: %d bytes", p.name, ErrContextTooLarge, len(opts.Context))
		}
		ctxSize = len(opts.Context)
	} else if len(opts.Context) > typ.Context.Size {
		return 0, nil, nil, fmt.Errorf("run %s: %w: %d bytes, struct %s has %d", p.name, ErrContextTooLarge, len(opts.Context), typ.Context.Name, typ.Context.Size)
	}
	in = opts.Data
	if p.pk != packetNone {
		if in, tail, err = p.checkPacket(in); err != nil {
			return 0, nil, nil, err
		}
	}
	return ctxSize, in, tail, nil
}

// Runner runs one program from one goroutine with run state of its own:
// the cheapest way to call a program over and over, as an embedding
// daemon does per request. A Runner is not safe for concurrent use; make
// one per goroutine.
type Runner struct {
	p  *Program
	rs *runState
}

// NewRunner returns a Runner for p. Close frees it.
func (p *Program) NewRunner() (*Runner, error) {
	rs, err := p.newRunState(p.ctxMem)
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", p.name, err)
	}
	return &Runner{p: p, rs: rs}, nil
}

// Run is Program.Run on the runner's own state.
func (r *Runner) Run(opts *RunOptions) (uint32, time.Duration, error) {
	if r.p.closed.Load() || r.rs == nil {
		return 0, 0, fmt.Errorf("run %s: %w", r.p.name, ErrClosed)
	}
	if opts == nil {
		opts = &RunOptions{}
	}
	ctxSize, in, tail, err := r.p.prepare(opts)
	if err != nil {
		return 0, 0, err
	}
	if ctxSize > r.rs.ctxSize { // a raw context bigger than any before
		rs, err := r.p.newRunState(ctxSize)
		if err != nil {
			return 0, 0, fmt.Errorf("run %s: %w", r.p.name, err)
		}
		r.rs.free()
		r.rs = rs
	}
	return r.p.run(r.rs, opts, ctxSize, in, tail)
}

// Close frees the runner's memory.
func (r *Runner) Close() error {
	if r.rs == nil {
		return nil
	}
	err := r.rs.free()
	r.rs = nil
	return err
}

// checkPacket refuses packets the kernel's test run refuses and splits off
// what does not fit the linear part of an XDP frame.
func (p *Program) checkPacket(in []byte) (linear, tail []byte, err error) {
	pk := p.pk
	if len(in) < helpers.ETHHeaderLen && pk != packetCustom {
		return nil, nil, fmt.Errorf("run %s: %w: %d bytes, shorter than an Ethernet header", p.name, ErrShortPacket, len(in))
	}
	if pk == packetSkbL2 || pk == packetSkbL3 {
		// Test-run refuses an IP packet shorter than its header.
		switch l3 := len(in) - helpers.ETHHeaderLen; binary.BigEndian.Uint16(in[12:]) {
		case 0x0800:
			if l3 < 20 {
				return nil, nil, fmt.Errorf("run %s: %w: IPv4 packet with %d bytes after the Ethernet header", p.name, ErrShortPacket, l3)
			}
		case 0x86dd:
			if l3 < 40 {
				return nil, nil, fmt.Errorf("run %s: %w: IPv6 packet with %d bytes after the Ethernet header", p.name, ErrShortPacket, l3)
			}
		}
	}
	if len(in) > maxLinearData {
		if pk != packetXDP {
			return nil, nil, fmt.Errorf("run %s: packet of %d bytes exceeds %d", p.name, len(in), maxLinearData)
		}
		return in[:maxLinearData], in[maxLinearData:], nil
	}
	return in, nil, nil
}

// run sets up the run state for opts, runs the program and fills the
// outputs.
func (p *Program) run(rs *runState, opts *RunOptions, ctxSize int, in, tail []byte) (uint32, time.Duration, error) {
	typ, pk := p.typ, p.pk
	mem := rs.mem.Bytes()
	ctx := mem[frameSize : frameSize+ctxSize]
	clear(ctx)
	copy(ctx, opts.Context)
	env := &rs.env
	env.Args = [5]uint64{rs.ctx}
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
	if n := p.coll.table.Len(); n != rs.tableLen || len(env.Regions) < 3 {
		// First run, or maps joined the table (inner maps): rebuild the
		// regions in the order a checked access tries them, hottest
		// first: the packet, the maps' values, the context (read once or
		// twice per run), the helpers' scratch.
		env.Regions = append(env.Regions[:0], interp.Region{Name: "packet"})
		env.Regions = p.coll.table.Regions(env.Regions)
		rs.ctxRegion = len(env.Regions)
		env.Regions = append(env.Regions, interp.Region{Name: "ctx", Writable: true}, h.ScratchRegion())
		rs.tableLen = n
	}
	// Only the numbers change from run to run; storing whole regions
	// (their names are strings) costs GC write barriers.
	env.Regions[0].Addr, env.Regions[0].Size, env.Regions[0].Writable = 0, 0, false
	env.Regions[rs.ctxRegion].Addr, env.Regions[rs.ctxRegion].Size = rs.ctx, uint64(ctxSize)
	env.Packet.Addr, env.Packet.Size = 0, 0
	env.LinkHeader, env.NetHeader, env.PacketHead = 0, 0, 0

	if pk != packetNone {
		if rs.dirty {
			clear(mem[:frameSize])
		}
		copy(mem[xdpHeadroom:], in)
		if tail == nil && rs.lastLen > len(in) && !rs.dirty {
			// Bytes of a longer previous packet past this one's end.
			clear(mem[xdpHeadroom+len(in) : xdpHeadroom+rs.lastLen])
		}
		rs.lastLen = len(in)
		data := rs.frame + xdpHeadroom
		dataEnd := data + uint64(len(in))
		if pk == packetSkbL3 {
			data += helpers.ETHHeaderLen
		}
		p.setupPacket(rs, data, dataEnd, opts.Context != nil)
		h.Packet = &rs.packet
		if pk == packetXDP && opts.Context == nil {
			binary.NativeEndian.PutUint32(ctx[12:], 1) // ingress_ifindex: loopback
		}
		rs.dirty = p.movesPacket
	}

	r0, dur, err := p.runLoop(rs, opts.CPU, opts.Repeat)
	// Nothing the run state's off-heap memory owns may point back into
	// the run state, or its cleanup could never run.
	h.Packet = nil
	// A run that ends holding a bpf_spin_lock (a fault in the critical
	// section, or a program a verifier would refuse) must not leave the
	// lock taken for the next run: Reset releases it.
	held := p.usesMaps && h.Reset()
	if err != nil {
		rs.dirty = true
		return 0, 0, fmt.Errorf("run %s: %w", p.name, withLine(p.spec, err))
	}
	if held {
		return 0, 0, fmt.Errorf("run %s: program exited holding a bpf_spin_lock", p.name)
	}
	if pk != packetNone {
		if err := rs.packetOut(pk, opts, tail); err != nil {
			return 0, 0, fmt.Errorf("run %s: %w", p.name, err)
		}
	}
	if opts.ContextOut != nil {
		n := min(len(opts.ContextOut), len(opts.Context), ctxSize)
		if len(typ.Context.Fields) != 0 {
			n = min(cap(opts.ContextOut), typ.Context.Size)
		}
		opts.ContextOut = opts.ContextOut[:n]
		copy(opts.ContextOut, ctx)
		if pk == packetSkbL2 || pk == packetSkbL3 {
			skbContextOut(opts.ContextOut)
		}
	}
	return uint32(r0), dur, nil
}

// monoBase anchors monotonic time readings: time.Since of a time with a
// monotonic reading costs one clock read, time.Now two.
var monoBase = time.Now()

// runLoop runs the program on a leased CPU slot inside an epoch: once
// untimed when repeat is 0, else repeat times, timed. It returns the last
// r0 and the mean duration of a run.
func (p *Program) runLoop(rs *runState, wantCPU, repeat int) (r0 uint64, mean time.Duration, err error) {
	env := &rs.env
	if !p.usesMaps {
		// Neither helpers nor maps: no per-CPU value or map element to
		// protect, so no CPU slot and no epoch.
		return p.repeatRun(rs, repeat)
	}
	h := env.Context.(*helpers.Run)
	cpu := p.coll.cpus.acquire(wantCPU)
	h.CPU = cpu
	tok := p.coll.epoch.Enter()
	r0, mean, err = p.repeatRun(rs, repeat)
	p.coll.epoch.Exit(tok)
	p.coll.cpus.release(cpu)
	return r0, mean, err
}

// repeatRun runs the program once untimed when repeat is 0, else repeat
// times, timed.
func (p *Program) repeatRun(rs *runState, repeat int) (r0 uint64, mean time.Duration, err error) {
	env := &rs.env
	if repeat <= 0 {
		r0, err = p.prog.RunOn(rs.mc, env)
	} else {
		start := time.Since(monoBase)
		// As in the kernel, repeated runs share one frame: changes a run
		// makes to the packet are seen by the next.
		for i := 0; i < repeat && err == nil; i++ {
			r0, err = p.prog.RunOn(rs.mc, env)
		}
		mean = (time.Since(monoBase) - start) / time.Duration(repeat)
	}
	return r0, mean, err
}

// packetOf returns how a type's context relates to the packet.
func packetOf(t *ProgramType) packetKind {
	if t.packet != packetNone {
		return t.packet
	}
	if _, ok := t.Context.PointerOffset(PacketStart); ok {
		return packetCustom
	}
	return packetNone
}

// setupPacket writes the packet pointers (and, for skb types, the
// __sk_buff fields that describe the packet) into the context.
func (p *Program) setupPacket(rs *runState, data, dataEnd uint64, haveCtx bool) {
	mem := rs.mem.Bytes()
	ctx := mem[frameSize:]
	rs.packet = helpers.Packet{Ctx: rs.ctx, Region: 0, HardStart: rs.frame, HardEnd: rs.frame + frameSize - helpers.SkbSharedInfoSize,
		DataOff: p.ptrOff[0], DataEndOff: p.ptrOff[1], DataMetaOff: p.ptrOff[2]}
	for i, v := range [3]uint64{data, dataEnd, data} {
		if off := p.ptrOff[i]; off >= 0 {
			binary.NativeEndian.PutUint64(ctx[off:], v)
		}
	}
	switch p.pk {
	case packetXDP:
		rs.packet.Hook = helpers.HookXDP
	case packetSkbL2:
		rs.packet.Hook = helpers.HookTC
	default:
		rs.packet.Hook = helpers.HookSocket
	}
	if p.pk == packetSkbL2 || p.pk == packetSkbL3 {
		frame := mem[xdpHeadroom : xdpHeadroom+int(dataEnd-(rs.frame+xdpHeadroom))]
		binary.NativeEndian.PutUint32(ctx[0:], uint32(dataEnd-data)) // len
		binary.NativeEndian.PutUint32(ctx[4:], pktType(frame[:6]))   // pkt_type
		proto := ethProtocol(frame)
		binary.NativeEndian.PutUint32(ctx[16:], uint32(proto>>8|proto<<8)) // protocol: a __be16 read as a host integer
		binary.NativeEndian.PutUint32(ctx[40:], 1)                         // ifindex: loopback
		if haveCtx && binary.NativeEndian.Uint32(ctx[160:]) == 0 {
			binary.NativeEndian.PutUint32(ctx[160:], uint32(len(frame))) // wire_len: the whole frame
		}
		// LD_ABS at SKF_LL_OFF/SKF_NET_OFF reaches the Ethernet and
		// network headers, even when the packet starts after them.
		mac := rs.frame + xdpHeadroom
		rs.env.LinkHeader, rs.env.NetHeader, rs.env.PacketHead = mac, mac+helpers.ETHHeaderLen, rs.frame
	}
	r := &rs.env.Regions[0]
	r.Addr, r.Size, r.Writable = data, dataEnd-data, true
	rs.env.Packet.Addr, rs.env.Packet.Size, rs.env.Packet.Writable = data, dataEnd-data, true
}

// skbCopiedBack are the __sk_buff fields (offset, size) that test-run
// copies back to ctx_out (net/bpf/test_run.c:convert_skb_to___skb).
var skbCopiedBack = [...][2]int{
	{8, 4},   // mark
	{32, 4},  // priority
	{36, 4},  // ingress_ifindex
	{40, 4},  // ifindex
	{48, 20}, // cb[5]
	{152, 8}, // tstamp
	{160, 4}, // wire_len
	{164, 4}, // gso_segs
	{176, 4}, // gso_size
	{184, 8}, // hwtstamp
}

// skbContextOut zeroes the fields of an __sk_buff that the kernel does not
// copy back to ctx_out.
func skbContextOut(out []byte) {
	var keep [192]byte
	for _, f := range skbCopiedBack {
		if f[0]+f[1] <= len(out) {
			copy(keep[f[0]:f[0]+f[1]], out[f[0]:])
		}
	}
	copy(out, keep[:])
}

// ethProtocol is eth_type_trans's skb->protocol, in network byte order: the
// EtherType, or for an 802.3 length field ETH_P_802_3 (raw 802.3, payload
// starting with 0xffff) or ETH_P_802_2.
func ethProtocol(frame []byte) uint16 {
	if et := binary.BigEndian.Uint16(frame[12:]); et >= 0x600 {
		return et
	}
	if len(frame) >= 16 && frame[14] == 0xff && frame[15] == 0xff {
		return 0x0001 // ETH_P_802_3
	}
	return 0x0004 // ETH_P_802_2
}

// pktType is eth_type_trans's classification against the loopback
// device, whose address and broadcast address are all zero.
func pktType(dst []byte) uint32 {
	switch {
	case dst[0]&1 != 0:
		// PACKET_MULTICAST, broadcast included: the loopback device's
		// broadcast address is all zero, so ff:ff:ff:ff:ff:ff is not it.
		return 2
	case string(dst) == "\x00\x00\x00\x00\x00\x00":
		return 0 // PACKET_HOST
	}
	return 3 // PACKET_OTHERHOST
}

// packetOut copies the packet after the run into opts.DataOut.
func (rs *runState) packetOut(pk packetKind, opts *RunOptions, tail []byte) error {
	if opts.DataOut == nil {
		return nil
	}
	ctx := rs.mem.Bytes()[frameSize:]
	data := binary.NativeEndian.Uint64(ctx[rs.packet.DataOff:])
	end := binary.NativeEndian.Uint64(ctx[rs.packet.DataEndOff:])
	start := data
	switch pk {
	case packetSkbL3: // test-run gives the Ethernet header back, zeroed
		start -= helpers.ETHHeaderLen
	case packetXDP: // and an XDP frame from its metadata
		start = binary.NativeEndian.Uint64(ctx[rs.packet.DataMetaOff:])
	}
	n := int(end-start) + len(tail)
	if cap(opts.DataOut) < n {
		return fmt.Errorf("%w: need %d bytes, have %d", ErrDataOutTooSmall, n, cap(opts.DataOut))
	}
	out := opts.DataOut[:n]
	frame := rs.mem.Bytes()[:frameSize]
	copy(out, frame[start-rs.frame:end-rs.frame])
	if pk == packetSkbL3 {
		clear(out[:helpers.ETHHeaderLen])
	}
	copy(out[end-start:], tail)
	opts.DataOut = out
	return nil
}

// Interp returns the compiled program, the object a ProgramArray slot holds.
func (p *Program) Interp() *interp.Program { return p.prog }
