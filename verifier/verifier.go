package verifier

import (
	"errors"
	"fmt"
	"io"
	stdmaps "maps"
	"strings"
	"time"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

// Map is what the verifier knows of a map a program references (lddw
// with src PseudoMapIndex or PseudoMapIndexValue, by index in
// Config.Maps).
type Map struct {
	Name       string
	Type       maps.Type
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// ReadOnly maps (.rodata, frozen or BPF_F_RDONLY_PROG) refuse
	// program stores.
	ReadOnly bool
	// SpinLock is the offset of the value's bpf_spin_lock, or -1.
	SpinLock int
	// Inner is the template of the inner maps of a map of maps.
	Inner *Map
	// Data is the content of a read-only map's single value (.rodata),
	// for checking constant strings; nil if unknown.
	Data []byte
}

// Line is a source line of a program.
type Line struct {
	File string
	Line int
	Text string
}

// Config describes a program's environment: its context, the helpers it
// may call and the maps it references.
type Config struct {
	// Context is the C struct r1 points to. A layout without fields is
	// raw memory of ContextSize bytes.
	Context *ctxaccess.Layout
	// ContextSize is the size of a raw context.
	ContextSize int
	// ContextWritable lets programs write a raw context.
	ContextWritable bool
	// PacketWritable lets programs write packet data through packet
	// pointers (XDP, TC); socket filters may only read.
	PacketWritable bool
	// Helper returns the prototype of the helper with Linux id id, if
	// the program type offers it.
	Helper func(id int32) (api.Prototype, bool)
	// ChangesPacket reports whether helper id may move the packet: packet
	// pointers die at its calls.
	ChangesPacket func(id int32) bool
	// Maps are the maps the program references, by index.
	Maps []*Map
	// Returns, if set, is the range the low 32 bits of r0 must be in at
	// the program's exit: the values its hook gives a meaning.
	Returns *[2]uint32
	// LineInfo returns the source line of the instruction at slot pc.
	LineInfo func(pc int) (Line, bool)
	// Log, if set, receives the verifier's trace at LogLevel: 1 prints the
	// invariant before every instruction.
	Log      io.Writer
	LogLevel int
	// MaxSteps bounds the instructions the analysis may process; zero
	// means DefaultMaxSteps. Past it the program is too complex.
	MaxSteps int
	// Timeout bounds the analysis' time; zero means none.
	Timeout time.Duration
	// MemoryLimit bounds, in bytes, the Go heap of the process while the
	// analysis runs, checked as it goes; zero means none. It counts the
	// whole process's heap: it is meant for a process that verifies
	// alone (ServeJob).
	MemoryLimit uint64
}

// DefaultMaxSteps is the default bound on instructions processed, which
// makes verification of the largest corpus programs take well under a
// second.
const DefaultMaxSteps = 20_000_000

// Program is a program the verifier accepted, with the facts it proved.
// Only Verify makes one.
type Program struct {
	insns []isa.Instruction
	stats Stats
	loops bool
	// bound bounds the instructions a run executes (tail calls aside);
	// math.MaxUint64 if the count does not fit in 64 bits.
	bound uint64
	// ctxBase maps the context accesses (by instruction index) to the
	// offset into the context their base register holds.
	ctxBase map[int]int64
	lowered bool
}

// Lower returns the program as an interpreter runs it: every lddw map
// reference replaced by the constant resolve returns for it, and every
// context access rewritten for layout's in-memory form (see
// ctxaccess.Layout), using the verifier's facts about which accesses go
// through the context. It is the only way to change a verified program's
// instructions.
func (p *Program) Lower(resolve func(i int, ins isa.Instruction) (uint64, error), layout *ctxaccess.Layout) (*Program, error) {
	if p.lowered {
		return nil, errors.New("verifier: program already lowered")
	}
	out := *p
	out.insns = append([]isa.Instruction(nil), p.insns...)
	out.lowered = true
	pc := 0
	for i, ins := range p.insns {
		if ins.IsLDDW() && ins.Src != isa.PseudoImm64 && ins.Src != isa.PseudoFunc {
			c, err := resolve(i, ins)
			if err != nil {
				return nil, fmt.Errorf("insn %d: %w", pc, err)
			}
			out.insns[i] = isa.Instruction{OpCode: isa.OpLDDW, Dst: ins.Dst, Constant: int64(c)}
		}
		if k, ok := p.ctxBase[i]; ok && layout != nil {
			r, err := layout.RewriteAccess(ins, int(k))
			if err != nil {
				return nil, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
			}
			out.insns[i] = r
		}
		pc += ins.Slots()
	}
	return &out, nil
}

// ContextAccesses returns the loads and stores through the context, by
// instruction index, with the offset into the context of their base.
func (p *Program) ContextAccesses() map[int]int64 { return stdmaps.Clone(p.ctxBase) }

// Stats describes a verification.
type Stats struct {
	Instructions int // instructions of the program
	Steps        int // instructions processed
	Blocks       int // basic blocks, inlined calls included
	Duration     time.Duration
	// MaxRSSKB is the peak resident memory, in KiB, of the process that
	// verified the program elsewhere (VerifyElsewhere), if it could tell;
	// 0 in process.
	MaxRSSKB int64
}

// Instructions returns the program's instructions (a copy).
func (p *Program) Instructions() []isa.Instruction { return append([]isa.Instruction(nil), p.insns...) }

// Stats returns the verification's statistics.
func (p *Program) Stats() Stats { return p.stats }

// MaxInstructions returns a bound on the instructions one run of the
// program executes, its loops, function calls and callbacks included
// (each tail call starts a program of its own), or math.MaxUint64 if the
// count does not fit in 64 bits. Every loop of a verified program is
// proven to end: for each loop, a scalar that moves by a constant every
// iteration within bounds that hold at the loop's head, or a number of
// unrolled iterations after which no way back is left; Verify rejects a
// program with a loop it cannot prove to end.
func (p *Program) MaxInstructions() uint64 { return p.bound }

// Terminates reports whether MaxInstructions is a finite bound: false only
// when the loops' counts multiply past 2^64.
func (p *Program) Terminates() bool { return p.bound != unbounded }

// HasLoops reports whether the program has a backward jump or a loop
// callback: its running time is bounded by its loops' bounds rather than
// by its length.
func (p *Program) HasLoops() bool { return p.loops }

// Errors the verifier returns, for errors.Is.
var (
	// ErrRejected is every rejection of an unsafe or unprovable program.
	ErrRejected = errors.New("program rejected")
	// ErrTooComplex is a program whose analysis exceeds the limits.
	ErrTooComplex = errors.New("too complex")
)

// Error is a rejection: the first instruction the verifier could not prove
// safe, and why.
type Error struct {
	PC     int             // slot of the instruction
	Insn   isa.Instruction // the instruction
	Reason string          // what could not be proven
	// Values describes the abstract values of the registers involved.
	Values string
	// Line is the instruction's source line, if known.
	Line *Line
	// Kind is ErrRejected or ErrTooComplex.
	Kind error
	// Stats describes the verification up to the rejection.
	Stats Stats
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line != nil {
		fmt.Fprintf(&b, "%s:%d: ", e.Line.File, e.Line.Line)
	}
	if e.PC >= 0 {
		fmt.Fprintf(&b, "pc %d: %v: ", e.PC, e.Insn)
	}
	b.WriteString(e.Reason)
	if e.Values != "" {
		b.WriteString(": ")
		b.WriteString(e.Values)
	}
	if e.Line != nil && e.Line.Text != "" {
		fmt.Fprintf(&b, "\n\t%s", strings.TrimSpace(e.Line.Text))
	}
	return b.String()
}

// Unwrap returns the error's kind.
func (e *Error) Unwrap() error { return e.Kind }

// Verify checks that insns, run in the environment cfg describes, access
// only the memory they may, read nothing uninitialized, leak no pointer,
// call helpers with arguments of the kinds their prototypes require,
// check lookups for NULL, release what they acquire and return a scalar.
// It returns the verified program, or an *Error.
func Verify(insns []isa.Instruction, cfg *Config) (*Program, error) {
	start := time.Now()
	v, err := newVerifier(insns, cfg)
	if err != nil {
		return nil, err
	}
	if err := v.run(); err != nil {
		if e, ok := err.(*Error); ok {
			e.Stats = Stats{Instructions: len(insns), Steps: v.steps, Blocks: v.blocks, Duration: time.Since(start)}
		}
		return nil, err
	}
	p := &Program{insns: append([]isa.Instruction(nil), insns...), loops: v.loops, ctxBase: v.ctxBase, bound: v.lastBound}
	p.stats = Stats{Instructions: len(insns), Steps: v.steps, Blocks: v.blocks, Duration: time.Since(start)}
	return p, nil
}
