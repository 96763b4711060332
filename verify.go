package xebpf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/isolate"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
	"github.com/xebpf/xebpf/verifier"
)

// VerifyOptions controls VerifyProgram.
type VerifyOptions struct {
	// Type is the program type to verify the program as; nil means the
	// type its section implies (KindOf).
	Type *ProgramKind
	// Log receives the verifier's trace at LogLevel (1: the invariant
	// before every instruction).
	Log      io.Writer
	LogLevel int
	// Timeout bounds the verification; zero means none.
	Timeout time.Duration
	// Isolate, if set, verifies in a child process.
	Isolate *Isolation
	// Arch is the architecture whose struct pt_regs a kprobe or
	// perf_event program reads (ArchUnknown: the object's, else the
	// host's), when Type is nil.
	Arch Arch
}

// Isolation runs the verifier in a child process with time and memory
// limits, so that a pathological program takes the child down, not the
// caller.
type Isolation struct {
	// Command is the child and its arguments: a program serving
	// verifier jobs on its standard input and output (cmd/xebpf-verifier,
	// or "xebpf verify-job"). Empty means xebpf-verifier beside the
	// running executable, or else in PATH.
	Command []string
	// MemoryLimit is the child's address space in bytes (RLIMIT_AS on
	// Linux; elsewhere a soft limit); zero means DefaultIsolationMemory.
	MemoryLimit uint64
	// Timeout is when the child is killed; zero means
	// DefaultIsolationTimeout.
	Timeout time.Duration
	// Runner, if set, replaces Command: it runs the job in a process of
	// its own making (a sandbox, a remote machine), which must call
	// verifier.ServeJob. Its answer is trusted.
	Runner verifier.Runner
}

// Defaults of Isolation.
const (
	DefaultIsolationMemory  = 4 << 30
	DefaultIsolationTimeout = time.Minute
)

// verify runs the verifier on insns, in a child process if iso is set.
func (iso *Isolation) verify(insns []isa.Instruction, cfg *verifier.Config) (*verifier.Program, error) {
	if iso == nil {
		return verifier.Verify(insns, cfg)
	}
	ctx, cancel, run, mem, err := iso.child()
	if err != nil {
		return nil, err
	}
	defer cancel()
	return verifier.VerifyElsewhere(ctx, run, insns, cfg, mem)
}

// analyze runs the verifier's permissive analysis on insns, in a child
// process if iso is set.
func (iso *Isolation) analyze(insns []isa.Instruction, cfg *verifier.Config) (*verifier.Facts, error) {
	if iso == nil {
		return verifier.Analyze(insns, cfg)
	}
	ctx, cancel, run, mem, err := iso.child()
	if err != nil {
		return nil, err
	}
	defer cancel()
	return verifier.AnalyzeElsewhere(ctx, run, insns, cfg, mem)
}

// child returns what running a job in a child process takes: a context
// ended by iso's timeout, the runner and the memory limit.
func (iso *Isolation) child() (context.Context, context.CancelFunc, verifier.Runner, uint64, error) {
	run := iso.Runner
	if run == nil {
		command := iso.Command
		if len(command) == 0 {
			exe, err := isolate.FindChild("")
			if err != nil {
				return nil, nil, nil, 0, err
			}
			command = []string{exe}
		}
		run = isolate.Runner(command)
	}
	mem, timeout := iso.MemoryLimit, iso.Timeout
	if mem == 0 {
		mem = DefaultIsolationMemory
	}
	if timeout == 0 {
		timeout = DefaultIsolationTimeout
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), timeout, fmt.Errorf("verification took longer than %v", timeout))
	return ctx, cancel, run, mem, nil
}

// VerifyProgram runs xebpf's verifier on the named program of spec. It
// returns the verified program, or a *verifier.Error naming the first
// instruction it could not prove safe and its source line.
func VerifyProgram(spec *CollectionSpec, name string, opts VerifyOptions) (*verifier.Program, error) {
	ps, ok := spec.Programs[name]
	base := 0 // slot of the verified function in ps
	if !ok {
		// A function linked into a program (a .text function), verified
		// on its own as PREVAIL does: from its first slot on.
		ps, base = functionProgram(spec, name)
		if ps == nil {
			return nil, fmt.Errorf("verify: no program or function %q", name)
		}
	}
	if len(ps.Unresolved) > 0 {
		return nil, unresolvedError(ps)
	}
	if err := malformedBTF(spec); err != nil {
		return nil, err
	}
	typ := opts.Type
	if typ == nil {
		typ = kindIn(spec, ps, opts.Arch)
	}
	cfg := verifierConfig(spec, ps, typ)
	if base > 0 {
		inner := cfg.LineInfo
		cfg.LineInfo = func(pc int) (verifier.Line, bool) { return inner(pc + base) }
	}
	cfg.Log, cfg.LogLevel, cfg.Timeout = opts.Log, opts.LogLevel, opts.Timeout
	return opts.Isolate.verify(ps.Instructions, cfg)
}

// functionProgram returns a program made of the named function of one of
// spec's programs and the functions after it, and the function's slot in
// that program; nil if no program has such a function.
func functionProgram(spec *CollectionSpec, name string) (*ProgramSpec, int) {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps := spec.Programs[n]
		for _, f := range ps.Functions {
			if f.Name != name || f.Slot == 0 {
				continue
			}
			slot := 0
			for i, ins := range ps.Instructions {
				if slot == f.Slot {
					fp := *ps
					fp.Name = name
					fp.Instructions = ps.Instructions[i:]
					return &fp, f.Slot
				}
				slot += ins.Slots()
			}
		}
	}
	return nil, 0
}

// verifierConfig describes program ps of spec, of type typ, to the
// verifier.
func verifierConfig(spec *CollectionSpec, ps *ProgramSpec, typ *ProgramKind) *verifier.Config {
	cfg := &verifier.Config{
		Context:        typ.Context,
		PacketWritable: typ.packet == packetXDP || typ.packet == packetSkbL2 || typ.packet == packetCustom,
		ChangesPacket:  helpers.ChangesPacket,
		Maps:           verifierMaps(spec),
		LineInfo: func(pc int) (verifier.Line, bool) {
			l, ok := ps.LineInfo(pc)
			return verifier.Line{File: l.File, Line: l.Line, Text: l.Text}, ok
		},
	}
	cfg.Returns = typ.Returns
	if typ.Context == nil || len(typ.Context.Fields) == 0 {
		cfg.ContextSize, _ = verifiedRawContext(ps, typ)
		cfg.ContextWritable = true
	}
	cfg.Helper = func(id int32) (api.Prototype, bool) {
		if p, ok := typ.Prototypes[id]; ok {
			return p, true
		}
		if _, host := typ.Helpers[id]; host {
			// A host helper in place of a Linux one keeps its prototype.
			return helpers.Prototype(id)
		}
		if typ.LinuxHelpers == nil || !typ.LinuxHelpers(id) {
			return api.Prototype{}, false
		}
		// Every Linux helper has a prototype, also those xebpf does not
		// implement: calling one fails at run time, not at load.
		return helpers.Prototype(id)
	}
	return cfg
}

// rawContextSize is the size of the context of program types xebpf gives
// raw memory: the kernel's struct for the type, or an upper bound where it
// varies (pt_regs across architectures, tracepoint records), as PREVAIL
// bounds them.
func rawContextSize(t elf.ProgramType) int {
	const ptRegs = (3 + 63 + 8 + 2) * 8
	switch t {
	case elf.Kprobe:
		return ptRegs
	case elf.PerfEvent:
		return 3*8 + ptRegs
	case elf.TracePoint, elf.RawTracepoint, elf.RawTracepointWritable, elf.Tracing:
		return 2048
	case elf.CGroupDevice:
		return 12
	case elf.CGroupSock:
		return 80 // struct bpf_sock
	case elf.SockOps:
		return 224 // struct bpf_sock_ops
	case elf.CGroupSockAddr:
		return 72 // struct bpf_sock_addr
	case elf.SkMsg:
		return 72 // struct sk_msg_md
	case elf.SkSKB, elf.LWTIn, elf.LWTOut, elf.LWTXmit, elf.LWTSeg6Local, elf.Unspec:
		// struct __sk_buff; sections that follow no convention (iproute2's
		// "tail-1", "filter") are mostly TC programs.
		return 192
	}
	return 0
}

// verifierMaps describes spec's maps, in MapOrder, as the loader creates
// them.
func verifierMaps(spec *CollectionSpec) []*verifier.Map {
	out := make([]*verifier.Map, len(spec.MapOrder))
	for i, name := range spec.MapOrder {
		out[i] = verifierMap(spec.Maps[name])
	}
	return out
}

func verifierMap(ms *MapSpec) *verifier.Map {
	s := mapsSpec(ms)
	m := &verifier.Map{
		Name: ms.Name, Type: s.Type, KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries,
		ReadOnly: ms.ReadOnly || ms.Name == ".kconfig" || s.Flags&maps.FlagRdonlyProg != 0, SpinLock: -1,
	}
	if s.HasSpinLock || s.SpinLockOffset > 0 {
		m.SpinLock = s.SpinLockOffset
	}
	if ms.InnerMap != nil {
		m.Inner = verifierMap(ms.InnerMap)
	}
	if m.ReadOnly && len(ms.Contents) == 1 && ms.Contents[0].Ref == nil {
		d := make([]byte, m.ValueSize)
		copy(d, ms.Contents[0].Value)
		m.Data = d
	}
	return m
}

// Engine is how a loaded program runs.
type Engine uint8

// Engines.
const (
	// EngineFast runs a verified program without per-access checks.
	EngineFast Engine = iota
	// EngineCheckedVerified runs a verified program in checked mode: its
	// bound on the instructions a run executes is past the instruction
	// budget (checked mode's budget ends it), its context is raw memory whose size the run
	// decides, or the collection asked for checked mode.
	EngineCheckedVerified
	// EngineChecked runs a program the verifier rejected in checked mode
	// (CollectionOptions.Unverified = RunUnverifiedChecked).
	EngineChecked
	// EngineUnsafeFast runs an unverified program without checks
	// (CollectionOptions.UnsafeFastMode).
	EngineUnsafeFast
)

func (e Engine) String() string {
	return [...]string{"fast (verified)", "checked (verified)", "checked (not verified)", "fast (not verified: UnsafeFastMode)"}[e]
}

// Engine returns how the program runs.
func (p *Program) Engine() Engine { return p.engine }

// verdict is the verifier's verdict on a program being loaded.
type verdict struct {
	prog *verifier.Program
	err  error
	log  string // ProgramOptions.LogLevel's log
	// cfg describes the program to the verifier, for the context
	// rewriting of a program that runs unverified.
	cfg *verifier.Config
}

// verify runs the verifier on a program being loaded. A rejection comes
// as a *VerifierError with the log ProgramOptions asks for.
func (c *Collection) verify(spec *CollectionSpec, name string, ps *ProgramSpec, typ *ProgramKind) verdict {
	if c.opts.UnsafeFastMode {
		return verdict{cfg: verifierConfig(spec, ps, typ)}
	}
	if err := malformedBTF(spec); err != nil {
		return verdict{err: err, cfg: verifierConfig(spec, ps, typ)}
	}
	po := c.opts.Programs
	size := int(po.LogSizeStart)
	if size == 0 {
		size = DefaultLogSize
	}
	run := func(log io.Writer, level int) (*verifier.Program, error) {
		cfg := verifierConfig(spec, ps, typ)
		cfg.Log, cfg.LogLevel = log, level
		return c.opts.VerifierIsolation.verify(ps.Instructions, cfg)
	}
	var (
		log *limitedLog
		vp  *verifier.Program
		err error
	)
	switch {
	case c.opts.VerifierLog != nil:
		vp, err = run(c.opts.VerifierLog, c.opts.VerifierLogLevel)
	case po.LogLevel != 0 && !po.LogDisabled:
		log = &limitedLog{limit: size}
		vp, err = run(log, verifierLevel(po.LogLevel))
	default:
		vp, err = run(nil, 0)
	}
	var ve *verifier.Error
	if err == nil || !errors.As(err, &ve) {
		v := verdict{prog: vp, err: err}
		if log != nil {
			if vp != nil && po.LogLevel&LogLevelStats != 0 {
				st := vp.Stats()
				fmt.Fprintf(log, "verified %d instructions in %d steps, %d blocks, %v; a run executes at most %d\n",
					st.Instructions, st.Steps, st.Blocks, st.Duration, vp.MaxInstructions())
			}
			v.log = log.buf.String()
		}
		if err != nil {
			v.cfg = verifierConfig(spec, ps, typ)
		}
		return v
	}
	verr := &VerifierError{Program: name, Cause: err}
	if !po.LogDisabled {
		if log == nil {
			// As cilium/ebpf does, ask again for the log of a rejection.
			log = &limitedLog{limit: size}
			run(log, 1)
		}
		verr.Log, verr.Truncated = log.lines(), log.truncated
	}
	return verdict{err: verr, cfg: verifierConfig(spec, ps, typ)}
}

// verifierLevel is the verifier's log level for a cilium/ebpf LogLevel.
func verifierLevel(l LogLevel) int {
	if l&(LogLevelBranch|LogLevelInstruction) != 0 {
		return 1
	}
	return 0
}

// verifiedRawContext is the size of a raw context the verifier assumes,
// and whether it is the context's fixed size: the host type's declared
// size, or the kernel struct of the program's section (pt_regs for a
// kprobe). Runs of a verified program with a fixed size get at least that
// many bytes, the caller's followed by zeros; for a raw context of no
// fixed size (xebpf's raw type) the run's context is the caller's bytes
// alone, and the program runs checked if it reads its context.
func verifiedRawContext(ps *ProgramSpec, typ *ProgramKind) (size int, fixed bool) {
	if typ.Context != nil && typ.Context.Size > 0 {
		return typ.Context.Size, true
	}
	return rawContextSize(ps.Type), ps.Type != elf.Unspec
}

// fastEligible reports whether a verified program may run in fast mode:
// the verifier proved that it ends within budget instructions (so that
// checked mode's budget could never stop it; each tail call starts a
// program that is bounded too), and, if its context is raw memory it
// reads, the context has a fixed size (verifiedRawContext). A collection
// runs fast only if all its programs may (tail calls join programs of one
// mode).
func fastEligible(vp *verifier.Program, ps *ProgramSpec, typ *ProgramKind, budget uint64) bool {
	if budget == 0 {
		budget = interp.DefaultInstructionBudget
	}
	if vp.MaxInstructions() > budget {
		return false
	}
	if typ.Context == nil || len(typ.Context.Fields) == 0 {
		if _, fixed := verifiedRawContext(ps, typ); !fixed && len(vp.ContextAccesses()) > 0 {
			return false
		}
	}
	return true
}

// rewriteContext rewrites the context accesses of an unverified program
// ps (resolved: its instructions with map references resolved), found by
// the verifier's permissive analysis (verifier.Analyze) in environment
// cfg, in a child process if iso is set (VerifierIsolation).
func rewriteContext(ps *ProgramSpec, resolved []isa.Instruction, typ *ProgramKind, cfg *verifier.Config, iso *Isolation) ([]isa.Instruction, error) {
	if typ.Context == nil || len(typ.Context.Fields) == 0 {
		return resolved, nil // raw memory: nothing to rewrite
	}
	facts, err := iso.analyze(ps.Instructions, cfg)
	if err != nil {
		return nil, fmt.Errorf("rewriting the context accesses: %w", err)
	}
	return facts.RewriteContext(resolved, typ.Context)
}

// malformedBTF rejects objects whose BTF could not be parsed: without it
// the verifier cannot tell where map values keep their bpf_spin_lock.
func malformedBTF(spec *CollectionSpec) error {
	for _, w := range spec.Warnings {
		if strings.HasPrefix(w, "BTF") || strings.HasPrefix(w, "section .BTF") {
			return &verifier.Error{PC: -1, Reason: "the object's BTF is malformed: " + w, Kind: verifier.ErrRejected}
		}
	}
	return nil
}
