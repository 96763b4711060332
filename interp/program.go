package interp

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/verifier"
)

// DefaultInstructionBudget is the number of instructions a checked run may
// execute when Config.InstructionBudget is zero.
const DefaultInstructionBudget = 1 << 24

// Mode selects the interpreter loop.
type Mode uint8

// Interpreter modes.
const (
	Checked Mode = iota // bounds-check every access, budget instructions
	Fast                // no per-access checks; needs a verified program
)

func (m Mode) String() string {
	switch m {
	case Checked:
		return "checked"
	case Fast:
		return "fast"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Config describes how to compile a program.
type Config struct {
	// Mode selects checked or fast execution.
	Mode Mode
	// UnsafeTrustProgram must be set to compile in Fast mode without a
	// verifier: the caller asserts that the program never accesses memory
	// outside its regions, never loops forever and never exceeds the call
	// depth. Breaking that promise corrupts or crashes the process.
	UnsafeTrustProgram bool
	// Helpers maps helper ids (call src 0) to implementations.
	Helpers map[int32]api.Helper
	// BTFHelpers maps BTF ids (call src 2) to implementations.
	BTFHelpers map[int32]api.Helper
	// InstructionBudget bounds the instructions of one checked run,
	// callbacks and tail calls included; zero means
	// DefaultInstructionBudget.
	InstructionBudget uint64
	// Pointers gives, by instruction index, the object an lddw's
	// constant points into: a map handle (api.Region.Handle) or a global
	// data value. In checked mode the loaded register is a pointer into
	// that object; every other lddw constant is a scalar.
	Pointers map[int]api.Region
}

// Program is a compiled program. It is safe for concurrent use. It is an
// api.Program: what a ProgramArray slot holds and a tail call continues
// with.
type Program struct {
	code       []insn // one per slot, plus a trailing fall-off sentinel
	insns      []isa.Instruction
	slotInsn   []int32 // slot -> index in insns, -1 for an lddw second half
	funcStart  []bool  // slot is the entry of a function (0 or a call target)
	lastPC     int     // slot of the last instruction
	mode       Mode
	budget     uint64
	helpers    []api.Helper
	btfHelpers map[int32]api.Helper
	static     []api.Region // objects of lddw constants (Config.Pointers)

	pool     sync.Pool // of *machine
	closed   atomic.Bool
	mu       sync.Mutex
	machines []weak.Pointer[machine] // the pool's machines, freed by Close
}

// Errors returned by Compile.
var (
	ErrNeedsVerification = errors.New("fast mode needs a verified program (CompileVerified) or Config.UnsafeTrustProgram")
	ErrUnknownHelper     = errors.New("call to unknown helper")
	ErrClosed            = errors.New("program is closed")
	// ErrPanic is the underlying error of a run a helper panicked in.
	ErrPanic = errors.New("panic during the run")
)

// Compile checks insns (isa.CheckProgram, known helpers) and prepares them
// for execution.
func Compile(insns []isa.Instruction, cfg Config) (*Program, error) {
	if cfg.Mode == Fast && !cfg.UnsafeTrustProgram {
		return nil, ErrNeedsVerification
	}
	return compile(insns, cfg)
}

// CompileVerified compiles a program the verifier accepted, lowered for
// this runtime (verifier.Program.Lower), in fast mode: without per-access
// checks, which the verifier's proof makes unneeded. cfg.Mode and
// cfg.UnsafeTrustProgram are ignored.
func CompileVerified(p *verifier.Program, cfg Config) (*Program, error) {
	if p == nil {
		return nil, ErrNeedsVerification
	}
	cfg.Mode, cfg.UnsafeTrustProgram = Fast, true
	return compile(p.Instructions(), cfg)
}

func compile(insns []isa.Instruction, cfg Config) (*Program, error) {
	if cfg.Mode != Checked && cfg.Mode != Fast {
		return nil, fmt.Errorf("compile: unknown mode %d", cfg.Mode)
	}
	for _, ins := range insns {
		if err := ins.Validate(); err != nil {
			return nil, fmt.Errorf("compile: %w", err)
		}
	}
	if err := isa.CheckProgram(insns); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	p := &Program{
		insns:      insns,
		mode:       cfg.Mode,
		budget:     cfg.InstructionBudget,
		btfHelpers: cfg.BTFHelpers,
	}
	if p.budget == 0 {
		p.budget = DefaultInstructionBudget
	}
	maxID := int32(-1)
	for id := range cfg.Helpers {
		if id < 0 || id > 1<<16 {
			return nil, fmt.Errorf("compile: helper id %d out of range", id)
		}
		maxID = max(maxID, id)
	}
	p.helpers = make([]api.Helper, maxID+1)
	for id, h := range cfg.Helpers {
		p.helpers[id] = h
	}
	slots := 0
	for _, ins := range insns {
		slots += ins.Slots()
	}
	p.code = make([]insn, slots+1)
	p.slotInsn = make([]int32, slots)
	p.funcStart = make([]bool, slots+1)
	p.funcStart[0] = true
	pc := 0
	for i, ins := range insns {
		p.slotInsn[pc] = int32(i)
		in, err := p.lower(ins, pc)
		if err != nil {
			return nil, fmt.Errorf("compile: insn %d (%v): %w", pc, ins, err)
		}
		if r, ok := cfg.Pointers[i]; ok {
			if !ins.IsLDDW() || ins.Src != isa.PseudoImm64 {
				return nil, fmt.Errorf("compile: insn %d (%v): %w: not an lddw of a constant", pc, ins, api.ErrBadPointer)
			}
			if c := uint64(ins.Constant); r.Handle && c != r.Addr || !r.Handle && (c < r.Addr || c-r.Addr > r.Size) {
				return nil, fmt.Errorf("compile: insn %d (%v): %w: constant outside %v", pc, ins, api.ErrBadPointer, r)
			}
			in.op, in.off = opLDDWObj, int32(len(p.static))
			p.static = append(p.static, r)
		}
		p.code[pc] = in
		if ins.IsLDDW() {
			p.slotInsn[pc+1] = -1
			p.code[pc+1] = insn{op: opInvalid}
		}
		if t, ok := ins.JumpTarget(pc); ok && (ins.OpCode == isa.OpCall || ins.OpCode == isa.OpLDDW) {
			p.funcStart[t] = true
		}
		p.lastPC = pc
		pc += ins.Slots()
	}
	p.code[slots] = insn{op: opFallOff}
	if fusion {
		fuse(p.code)
	}
	return p, nil
}

// Internal opcodes, taken from byte values no valid instruction uses, so
// that the loop dispatches on one byte without looking at offsets.
const (
	opInvalid  = 0x00 // second half of lddw: never executed
	opFallOff  = 0x0e // sentinel after the last slot
	opLDDWCode = 0x86 // lddw with src 4: a code address
	opLDDWObj  = 0x8e // lddw of a pointer into a static object (Config.Pointers)

	opSDiv32Imm = 0xe4
	opSDiv32Reg = 0xec
	opSDiv64Imm = 0xe7
	opSDiv64Reg = 0xef
	opSMod32Imm = 0xf4
	opSMod32Reg = 0xfc
	opSMod64Imm = 0xf7
	opSMod64Reg = 0xff

	opMovSX64x8  = 0xe5
	opMovSX64x16 = 0xed
	opMovSX64x32 = 0xf5
	opMovSX32x8  = 0xfd
	opMovSX32x16 = 0xe6

	// Superinstructions: the first slot of a pair or triple of ALU64
	// instructions clang emits together executes them all (see fuse).
	opMovAddImm  = 0x60 // mov rD, rS; add rD, imm (sub becomes add of -imm)
	opMovAndImm  = 0x68 // mov rD, rS; and rD, imm
	opMovOrImm   = 0x70 // mov rD, rS; or rD, imm
	opMovXorImm  = 0x78 // mov rD, rS; xor rD, imm
	opMovLshImm  = 0x88 // mov rD, rS; lsh rD, imm
	opMovRshImm  = 0x90 // mov rD, rS; rsh rD, imm
	opMovArshImm = 0x98 // mov rD, rS; arsh rD, imm
	opMovMulImm  = 0xa0 // mov rD, rS; mul rD, imm
	opZext       = 0xa8 // lsh rD, 32; rsh rD, 32
	opMovZext    = 0xb0 // mov rD, rS; lsh rD, 32; rsh rD, 32
)

// fusion enables superinstructions; tests turn it off to compare.
var fusion = true

// fusedWithMov maps an ALU64 immediate opcode to its fused form after a
// register mov.
var fusedWithMov = map[uint8]uint8{
	0x07: opMovAddImm, 0x17: opMovAddImm, 0x57: opMovAndImm, 0x47: opMovOrImm, 0xa7: opMovXorImm,
	0x67: opMovLshImm, 0x77: opMovRshImm, 0xc7: opMovArshImm, 0x27: opMovMulImm,
}

// fuse replaces the first slot of common instruction sequences with a
// superinstruction that executes the whole sequence and continues after
// it. The later slots keep their own instructions, so a jump into the
// middle of a sequence still runs correctly; the sequences are plain ALU
// instructions, which never fault.
func fuse(code []insn) {
	const (
		mov64 = 0xbf // mov rD, rS
		lsh64 = 0x67 // lsh rD, imm
		rsh64 = 0x77 // rsh rD, imm
	)
	isShift32 := func(in *insn, op uint8, dst uint8) bool { return in.op == op && in.dst == dst && in.imm == 32 }
	for i := 0; i+1 < len(code); i++ {
		a, b := &code[i], &code[i+1]
		switch {
		case a.op == mov64 && a.off == 0 && i+2 < len(code) && isShift32(b, lsh64, a.dst) && isShift32(&code[i+2], rsh64, a.dst):
			*a = insn{op: opMovZext, dst: a.dst, src: a.src}
		case a.op == mov64 && a.off == 0 && b.dst == a.dst && fusedWithMov[b.op] != 0:
			imm := b.imm
			if b.op == 0x17 { // sub
				imm = -imm
			}
			*a = insn{op: fusedWithMov[b.op], dst: a.dst, src: a.src, imm: imm}
		case isShift32(a, lsh64, a.dst) && isShift32(b, rsh64, a.dst):
			*a = insn{op: opZext, dst: a.dst}
		}
	}
}

// insn is the interpreter's form of one slot.
type insn struct {
	op  uint8
	dst uint8
	src uint8
	_   uint8
	off int32 // memory offset, or absolute target slot for jumps and calls
	imm int64 // sign-extended immediate, or the lddw constant
}

func (p *Program) lower(ins isa.Instruction, pc int) (insn, error) {
	in := insn{op: uint8(ins.OpCode), dst: uint8(ins.Dst), src: uint8(ins.Src), off: int32(ins.Offset), imm: ins.Constant}
	op := ins.OpCode
	if t, ok := ins.JumpTarget(pc); ok {
		in.off = int32(t)
	}
	switch {
	case op == isa.OpCall && ins.Src == isa.CallHelper:
		id := ins.Imm()
		if id < 0 || int(id) >= len(p.helpers) || p.helpers[id] == nil {
			return in, fmt.Errorf("%w %d", ErrUnknownHelper, id)
		}
	case op == isa.OpCall && ins.Src == isa.CallBTF:
		if p.btfHelpers[ins.Imm()] == nil {
			return in, fmt.Errorf("%w with BTF id %d", ErrUnknownHelper, ins.Imm())
		}
	case op.Class().IsALU() && (op.ALUOp() == isa.Div || op.ALUOp() == isa.Mod) && ins.Offset == 1:
		in.op = signedDivOps[op&0x0f|uint8ToMod(op)]
	case op.Class().IsALU() && op.ALUOp() == isa.Mov && ins.Offset != 0:
		in.op = movsxOp(op.Class() == isa.ClassALU64, ins.Offset)
	case op == isa.OpCallX:
		if ins.Constant != 0 { // legacy encoding: register in imm
			in.dst = uint8(ins.Constant)
		}
	case op == isa.OpLDDW:
		switch ins.Src {
		case isa.PseudoImm64:
		case isa.PseudoFunc:
			in.op = opLDDWCode
		default:
			return in, fmt.Errorf("lddw src %d (%s) needs the loader to resolve it", ins.Src, pseudoName(ins.Src))
		}
	}
	return in, nil
}

// signedDivOps maps class|source (low nibble), plus 0x10 for mod, to the
// internal signed division opcode.
var signedDivOps = [32]uint8{
	0x04: opSDiv32Imm, 0x0c: opSDiv32Reg, 0x07: opSDiv64Imm, 0x0f: opSDiv64Reg,
	0x14: opSMod32Imm, 0x1c: opSMod32Reg, 0x17: opSMod64Imm, 0x1f: opSMod64Reg,
}

func uint8ToMod(op isa.OpCode) isa.OpCode {
	if op.ALUOp() == isa.Mod {
		return 0x10
	}
	return 0
}

func movsxOp(alu64 bool, width int16) uint8 {
	switch {
	case alu64 && width == 8:
		return opMovSX64x8
	case alu64 && width == 16:
		return opMovSX64x16
	case alu64:
		return opMovSX64x32
	case width == 8:
		return opMovSX32x8
	}
	return opMovSX32x16
}

func pseudoName(src isa.Register) string {
	return [...]string{"imm64", "map by fd", "map value", "variable", "code", "map by index", "map value by index"}[src%7]
}

// Mode returns the mode the program was compiled for.
func (p *Program) Mode() Mode { return p.mode }

// Instructions returns the program's instructions.
func (p *Program) Instructions() []isa.Instruction { return p.insns }

// MaxTailCalls is the number of tail calls one run may make, as in Linux.
const MaxTailCalls = 33

// Run executes the program once with env.Args in r1-r5 and returns r0.
func (p *Program) Run(env *api.Env) (uint64, error) {
	m, err := p.acquire()
	if err != nil {
		return 0, err
	}
	r0, err := p.runOn(m, env)
	p.release(m)
	return r0, err
}

// Machine is the memory of one run in progress: the stack and the call
// frames. Program.Run takes one from a pool; a caller that runs programs
// over and over from one goroutine may keep its own and use RunOn. A
// Machine must not be used by two runs at once.
type Machine struct{ m *machine }

// NewMachine allocates a Machine. Close frees it.
func NewMachine() (*Machine, error) {
	m, err := newMachine()
	if err != nil {
		return nil, err
	}
	return &Machine{m: m}, nil
}

// MemorySize returns the size of the machine's off-heap memory: its stack
// and the unused guard pages around it.
func (mc *Machine) MemorySize() int { return mc.m.stack.Len() }

// Close frees the machine's stack. It must not be used afterwards.
func (mc *Machine) Close() error {
	if mc.m == nil {
		return nil
	}
	err := mc.m.stack.Free()
	mc.m = nil
	return err
}

// RunOn is Run on the caller's machine.
func (p *Program) RunOn(mc *Machine, env *api.Env) (uint64, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	r0, err := p.runOn(mc.m, env)
	mc.m.call.End() // the machine must not keep the caller's Env alive
	mc.m.end()
	return r0, err
}

// runOn runs the program, and the programs it tail-calls, on m.
func (p *Program) runOn(m *machine, env *api.Env) (r0 uint64, err error) {
	// No panic escapes a run: one in a helper (a bug) ends the run with a
	// fault naming it.
	defer func() {
		if v := recover(); v != nil {
			r0, err = 0, &api.Fault{Reason: api.ErrHelperFailed, Err: fmt.Errorf("%w: %v", ErrPanic, v)}
		}
	}()
	args := env.Args
	var tags [5]api.Tag
	if p.mode == Checked {
		tags = m.begin(p, env)
	} else {
		// A fast run does not track its frames: a checked run on this
		// machine after it clears them all.
		m.deepest = api.MaxCallDepth - 1
	}
	m.executed = 0
	cur := p
	for tails := 0; ; tails++ {
		m.call.ClearTailCall()
		if cur.mode == Fast {
			r0, err = cur.runFast(m, env, &args, &tags, 0, 0)
		} else {
			r0, err = cur.runChecked(m, env, &args, &tags, 0, 0)
		}
		tail, ctx := m.call.TailCall()
		if err != nil || tail == nil {
			break
		}
		if tails == MaxTailCalls {
			err = cur.fault(api.ErrTailCallLimit, 0)
			break
		}
		next, ok := tail.(*Program)
		if !ok || next == nil {
			f := cur.fault(api.ErrBadCallTarget, 0)
			f.Err = fmt.Errorf("tail call to a %T, not a program of this interpreter", tail)
			if ok {
				f.Err = errors.New("tail call to a nil program")
			}
			err = f
			break
		}
		if next.mode != cur.mode {
			f := cur.fault(api.ErrBadCallTarget, 0)
			f.Err = fmt.Errorf("tail call from a %v program to a %v one", cur.mode, next.mode)
			err = f
			break
		}
		args = [5]uint64{ctx}
		if next.mode == Checked {
			tags = [5]api.Tag{m.tailCall(next, env, ctx)}
		}
		cur = next
	}
	if p.mode == Checked {
		env.Executed = m.executed
	}
	return r0, err
}

// Close marks the program closed, so that Run returns ErrClosed, and
// frees the stacks of its runs. No run may be in progress.
func (p *Program) Close() error {
	p.closed.Store(true)
	p.mu.Lock()
	ms := p.machines
	p.machines = nil
	p.mu.Unlock()
	var errs []error
	for _, w := range ms {
		if m := w.Value(); m != nil {
			errs = append(errs, m.stack.Free())
		}
	}
	return errors.Join(errs...)
}

// machine is the per-run state: the stack and the call frames.
type machine struct {
	stack  *platform.Memory
	top    uint64 // one past the end of frame 0
	frames [api.MaxCallDepth]frame
	call   api.Caller // the helper calls of the run; m is their Runtime
	// p is the program of the helper call in progress, for the Runtime
	// methods (depth below is its call depth).
	p *Program

	// Checked runs only:
	objs     objects
	slots    [slotCount]api.Tag // tag of each 8-byte stack slot
	deepest  int                // deepest frame the last run used, -1 if none
	executed uint64             // instructions the run has executed so far

	depth int // call depth of the helper call in progress
}

type frame struct {
	ret       int32
	saved     [4]uint64  // r6-r9
	savedTags [4]api.Tag // their tags, in checked mode
}

func (p *Program) acquire() (*machine, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if m, ok := p.pool.Get().(*machine); ok {
		return m, nil
	}
	m, err := newMachine()
	if err != nil {
		return nil, err
	}
	// The stack is outside the Go heap: free it when the pool drops m, or
	// at Close (off-heap memory does not make the collector run).
	runtime.AddCleanup(m, func(mem *platform.Memory) { mem.Free() }, m.stack)
	p.mu.Lock()
	p.machines = platform.AppendWeak(p.machines, m)
	p.mu.Unlock()
	return m, nil
}

// stackGuard is the unused memory on each side of a machine's stack, so
// that an access through r10 past the stack — any 16-bit offset from any
// frame — lands in memory no region covers (and faults in checked mode)
// rather than in whatever mapping is adjacent. The pages are never
// touched, so they cost address space only.
const stackGuard = 32 << 10

func newMachine() (*machine, error) {
	mem, err := platform.Alloc(stackGuard + api.StackSize*api.MaxCallDepth + stackGuard)
	if err != nil {
		return nil, fmt.Errorf("run: stack: %w", err)
	}
	m := &machine{stack: mem, top: uint64(mem.Addr()) + stackGuard + api.StackSize*api.MaxCallDepth, deepest: -1} // fresh memory is zero
	m.call.Init(m)
	return m, nil
}

func (p *Program) release(m *machine) {
	m.call.End()
	m.end()
	p.pool.Put(m)
}
