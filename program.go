package xebpf

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"weak"

	linuxasm "github.com/cilium/ebpf/asm"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/verifier"
)

// Program is a runnable program of a Collection. It is safe for concurrent
// use.
type Program struct {
	// VerifierLog is the verifier's log, when ProgramOptions.LogLevel
	// asked for it.
	VerifierLog string

	name  string
	spec  *ProgramSpec
	typ   *ProgramKind
	coll  *Collection
	prog  *interp.Program
	insns []isa.Instruction // as run: maps resolved, context accesses rewritten
	// engine is how the program runs.
	engine Engine
	pool   sync.Pool // of *runState

	// life counts the open handle, the runs of Program.Run in progress
	// and the Runners not yet freed; the program holds a reference on its
	// collection until it is freed. Every Program.Run writes it, so it
	// has a cache line of its own.
	_    [64]byte
	life lifetime
	_    [64]byte
	// closed is set by Close, for Runners to read: a cache line nothing
	// writes while the program runs.
	closed atomic.Bool
	mu     sync.Mutex
	states []weak.Pointer[runState] // the pool's run states, freed with the program

	pk     packetKind
	ctxMem int // the context's memory size (typ.Context.MemorySize())
	// rawCtx is the least size of a raw context in runs: what the
	// verifier assumed, for a verified program; 0 otherwise.
	rawCtx int
	ptrOff [3]int // context offsets of the data, data_end and data_meta words; -1 if absent
	// ctxFields are the context's fields as checked runs enforce them
	// (nil: raw memory).
	ctxFields *api.Fields
	// movesPacket is set when the program may move or grow the packet
	// (or tail-call a program that may): its frame is cleared before each
	// run, as the kernel gives every test run a fresh frame.
	movesPacket bool
	// usesMaps is set when the program calls helpers or references maps:
	// only then does a run need a CPU slot and an epoch.
	usesMaps bool
}

// Name returns the program's name.
func (p *Program) Name() string { return p.name }

// Type returns the program's Linux program type (UnspecifiedProgram for
// sections of no known type), as cilium/ebpf's Program.Type.
func (p *Program) Type() ProgramType { return p.spec.Type }

// Kind returns what the program runs with: its context, helpers and
// return values.
func (p *Program) Kind() *ProgramKind { return p.typ }

// Spec returns the program's spec.
func (p *Program) Spec() *ProgramSpec { return p.spec }

// Instructions returns the instructions as xebpf runs them: map references
// resolved to addresses and context accesses rewritten.
func (p *Program) Instructions() []isa.Instruction { return p.insns }

func (c *Collection) newProgram(name string, ps *ProgramSpec, typ *ProgramKind, v verdict) (*Program, error) {
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
	hs := c.helperSet(typ)
	pc = 0
	for _, ins := range ps.Instructions {
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
	resolved, ptrs, err := c.resolveMaps(ps.Instructions)
	if err != nil {
		return nil, err
	}
	if err := checkPacketLayout(typ); err != nil {
		return nil, err
	}
	fields, err := c.contextFields(typ.Context)
	if err != nil {
		return nil, fmt.Errorf("program type %s: %w", typ.Name, err)
	}
	cfg := interp.Config{Helpers: hs, InstructionBudget: c.opts.InstructionBudget, Pointers: ptrs}
	var (
		ip     *interp.Program
		insns  []isa.Instruction
		engine Engine
	)
	switch vp, verr := v.prog, v.err; {
	case c.opts.UnsafeFastMode:
		insns, err = rewriteContext(ps, resolved, typ, v.cfg, c.opts.VerifierIsolation)
		if err != nil {
			return nil, withLine(ps, err)
		}
		cfg.Mode, cfg.UnsafeTrustProgram = interp.Fast, true
		ip, err = interp.Compile(insns, cfg)
		engine = EngineUnsafeFast
	case verr == nil:
		// The verifier's facts rewrite the context accesses.
		lp, lerr := vp.Lower(func(i int, _ isa.Instruction) (uint64, error) { return uint64(resolved[i].Constant), nil }, typ.Context)
		if lerr != nil {
			return nil, withLine(ps, lerr)
		}
		insns = lp.Instructions()
		if fastEligible(vp, ps, typ, c.opts.InstructionBudget) && !c.opts.Checked {
			ip, err = interp.CompileVerified(lp, cfg)
			engine = EngineFast
		} else {
			ip, err = interp.Compile(insns, cfg)
			engine = EngineCheckedVerified
		}
	case c.opts.Unverified == RunUnverifiedChecked:
		insns, err = rewriteContext(ps, resolved, typ, v.cfg, c.opts.VerifierIsolation)
		if err != nil {
			return nil, withLine(ps, err)
		}
		ip, err = interp.Compile(insns, cfg)
		engine = EngineChecked
	default:
		return nil, verr
	}
	if err != nil {
		return nil, withLine(ps, err)
	}
	np := &Program{VerifierLog: v.log, name: name, spec: ps, typ: typ, coll: c, prog: ip, insns: insns, engine: engine, pk: packetOf(typ), ctxMem: typ.Context.MemorySize(), ctxFields: fields}
	if size, fixed := verifiedRawContext(ps, typ); fixed && (engine == EngineFast || engine == EngineCheckedVerified) {
		np.rawCtx = size
	}
	if !c.life.acquire() {
		return nil, ErrClosed
	}
	np.life.init(np.free)
	for i, k := range [3]FieldKind{PacketStart, PacketEnd, PacketMeta} {
		np.ptrOff[i] = -1
		if off, ok := typ.Context.PointerOffset(k); ok {
			np.ptrOff[i] = off
		}
	}
	for i, ins := range insns {
		if ins.OpCode == isa.OpCallX || ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper && packetMover(ins.Imm()) {
			np.movesPacket = true
		}
		if ins.OpCode == isa.OpCallX || ins.OpCode == isa.OpCall && ins.Src != isa.CallLocal ||
			ins.IsLDDW() && ins.Src == isa.PseudoImm64 && ps.Instructions[i].Src != isa.PseudoImm64 {
			np.usesMaps = true
		}
	}
	return np, nil
}

// contextFields returns the access policy of contexts of layout l: its
// scalar fields at their C offsets and widths (writable as the type
// says), and its pointer fields as the read-only 64-bit words after the
// struct that loads are rewritten to, packet pointers pointing into the
// packet region (Env.Regions[0]). The C slots of pointer fields are not
// accessible: every load of them was rewritten. A layout without fields
// (raw memory) has no policy. It is built once per layout and collection.
func (c *Collection) contextFields(l *Context) (*api.Fields, error) {
	if l == nil || len(l.Fields) == 0 {
		return nil, nil
	}
	if fs, ok := c.ctxFields[l]; ok {
		return fs, nil
	}
	word := (l.Size + 7) &^ 7
	var fs []api.Field
	for _, f := range l.Fields {
		if !f.Kind.IsPointer() {
			fs = append(fs, api.Field{Name: f.Name, Offset: f.Offset, Size: f.Size, Writable: f.Writable, Points: -1})
			continue
		}
		points := -1 // a host pointer: loads give a scalar
		switch f.Kind {
		case PacketStart, PacketEnd, PacketMeta:
			points = 0
		}
		fs = append(fs, api.Field{Name: f.Name, Offset: word, Size: 8, Points: points})
		word += 8
	}
	policy, err := api.NewFields(l.MemorySize(), fs)
	if err != nil {
		return nil, err
	}
	if c.ctxFields == nil {
		c.ctxFields = map[*Context]*api.Fields{}
	}
	c.ctxFields[l] = policy
	return policy, nil
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
var unimplementedHelpers = sync.OnceValue(func() map[int32]api.Helper {
	hs := map[int32]api.Helper{}
	for id := int32(1); id <= maxLinuxHelper; id++ {
		if _, implemented := helpers.ByID(id); implemented {
			continue
		}
		err := fmt.Errorf("%w: bpf_%s (%d)", ErrHelperNotImplemented, helperName(id), id)
		hs[id] = func(*api.HelperCall) (uint64, error) { return 0, err }
	}
	return hs
})

// helperSet returns the helpers programs of typ may call, built once per
// type and collection: the Linux helpers the type allows, the Linux
// helpers xebpf lacks (failing when called), and the type's own helpers.
func (c *Collection) helperSet(typ *ProgramKind) map[int32]api.Helper {
	if hs, ok := c.helperSets[typ]; ok {
		return hs
	}
	hs := map[int32]api.Helper{}
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
		c.helperSets = map[*ProgramKind]map[int32]api.Helper{}
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
	var ve *verifier.Error
	var f *api.Fault
	switch {
	case errors.As(err, &ve):
		if ve.Line == nil { // else its message has it
			pc = ve.PC
		}
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

// specOf returns the spec of the program a run of p failed in: p's, or
// that of a program p tail-called.
func (c *Collection) specOf(p *Program, err error) *ProgramSpec {
	var f *api.Fault
	if errors.As(err, &f) && f.Program != nil && f.Program != p.prog {
		for _, q := range c.Programs {
			if q.prog == f.Program {
				return q.spec
			}
		}
	}
	return p.spec
}

// Interp returns the compiled program, the object a ProgramArray slot holds.
func (p *Program) Interp() *interp.Program { return p.prog }

// String describes the program, as cilium/ebpf's Program.String.
func (p *Program) String() string { return fmt.Sprintf("%s(%s)", p.Type(), p.name) }
