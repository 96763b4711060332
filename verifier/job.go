package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
)

// Job is a verification as data: a program and its Config with the
// functions tabulated for the helpers the program calls and the slots it
// has, so that another process can run it (VerifyElsewhere, ServeJob).
type Job struct {
	Code            []byte // the instructions, encoded
	Context         *ctxaccess.Layout
	ContextSize     int
	ContextWritable bool
	PacketWritable  bool
	// Helpers are the prototypes of the helpers the program calls that
	// its type offers.
	Helpers map[int32]api.Prototype
	// ChangesPacket are the helpers it calls that may move the packet.
	ChangesPacket []int32
	Maps          []*Map
	Returns       *[2]uint32
	Lines         map[int]Line // by slot
	MaxSteps      int
	Timeout       time.Duration
	LogLevel      int
	// MemoryLimit is the memory, in bytes, the process running the job
	// may use (0: no limit): the analysis stops past it as too complex,
	// and the process sets a backstop on itself (JobHost.LimitMemory).
	MemoryLimit uint64
	// Permissive asks for the permissive analysis (Analyze) instead of
	// a verification.
	Permissive bool `json:",omitempty"`
}

// NewJob returns the job of verifying insns in cfg's environment.
func NewJob(insns []isa.Instruction, cfg *Config) *Job {
	j := &Job{
		Code:            isa.Encode(nil, insns),
		Context:         cfg.Context,
		ContextSize:     cfg.ContextSize,
		ContextWritable: cfg.ContextWritable,
		PacketWritable:  cfg.PacketWritable,
		Helpers:         map[int32]api.Prototype{},
		Maps:            cfg.Maps,
		Returns:         cfg.Returns,
		Lines:           map[int]Line{},
		MaxSteps:        cfg.MaxSteps,
		Timeout:         cfg.Timeout,
		LogLevel:        cfg.LogLevel,
	}
	pc := 0
	for _, ins := range insns {
		if ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper {
			id := ins.Imm()
			if cfg.Helper != nil {
				if p, ok := cfg.Helper(id); ok {
					j.Helpers[id] = p
				}
			}
			if cfg.ChangesPacket != nil && cfg.ChangesPacket(id) && !slices.Contains(j.ChangesPacket, id) {
				j.ChangesPacket = append(j.ChangesPacket, id)
			}
		}
		if cfg.LineInfo != nil {
			if l, ok := cfg.LineInfo(pc); ok {
				j.Lines[pc] = l
			}
		}
		pc += ins.Slots()
	}
	return j
}

// Config returns the job's instructions and environment.
func (j *Job) Config() ([]isa.Instruction, *Config, error) {
	insns, err := isa.Decode(j.Code)
	if err != nil {
		return nil, nil, err
	}
	cfg := &Config{
		Context:         j.Context,
		ContextSize:     j.ContextSize,
		ContextWritable: j.ContextWritable,
		PacketWritable:  j.PacketWritable,
		Helper: func(id int32) (api.Prototype, bool) {
			p, ok := j.Helpers[id]
			return p, ok
		},
		ChangesPacket: func(id int32) bool { return slices.Contains(j.ChangesPacket, id) },
		Maps:          j.Maps,
		Returns:       j.Returns,
		LineInfo: func(pc int) (Line, bool) {
			l, ok := j.Lines[pc]
			return l, ok
		},
		MaxSteps: j.MaxSteps,
		Timeout:  j.Timeout,
		LogLevel: j.LogLevel,
	}
	return insns, cfg, nil
}

// verdict is what ServeJob writes: the error, or the facts of the
// accepted program.
type verdict struct {
	Error *wireError `json:",omitempty"`
	Stats Stats      // with the serving process's peak memory
	Loops bool
	Bound uint64
	// CtxBase are the context accesses: instruction index, base offset.
	CtxBase [][2]int64
	// Rejections are a permissive analysis' failed checks.
	Rejections []*wireError `json:",omitempty"`
}

// wireError is an Error as data.
type wireError struct {
	PC      int
	Insn    []byte
	Reason  string
	Values  string
	Line    *Line
	Complex bool // ErrTooComplex, not ErrRejected
	Context bool // ErrContextAccess, not ErrRejected
}

// toWire returns e as data.
func toWire(e *Error) *wireError {
	return &wireError{PC: e.PC, Insn: isa.Encode(nil, []isa.Instruction{e.Insn}), Reason: e.Reason, Values: e.Values, Line: e.Line,
		Complex: e.Kind == ErrTooComplex, Context: e.Kind == ErrContextAccess}
}

// fromWire returns the Error w describes.
func fromWire(w *wireError, stats Stats) *Error {
	e := &Error{PC: w.PC, Reason: w.Reason, Values: w.Values, Line: w.Line, Kind: ErrRejected, Stats: stats}
	switch {
	case w.Complex:
		e.Kind = ErrTooComplex
	case w.Context:
		e.Kind = ErrContextAccess
	}
	if len(w.Insn) > 0 {
		if d, err := isa.Decode(w.Insn); err == nil && len(d) == 1 {
			e.Insn = d[0]
		}
	}
	return e
}

// JobHost is what ServeJob needs of the process it runs in.
type JobHost struct {
	// LimitMemory keeps the process from growing by much more than n
	// bytes, even in an allocation the analysis' own checks do not see;
	// nil means no backstop.
	LimitMemory func(n uint64) error
	// PeakMemoryKB returns the process's peak resident memory in KiB,
	// 0 if unknown; nil means unknown.
	PeakMemoryKB func() int64
}

// ServeJob runs in the process a Runner starts: it reads a Job from in,
// sets the job's memory limit on its own process, verifies, and writes the
// verdict to out and the trace to log.
func ServeJob(in io.Reader, out, log io.Writer, host JobHost) error {
	var j Job
	if err := json.NewDecoder(in).Decode(&j); err != nil {
		return fmt.Errorf("verifier job: %w", err)
	}
	if j.MemoryLimit > 0 && host.LimitMemory != nil {
		if err := host.LimitMemory(j.MemoryLimit); err != nil {
			return fmt.Errorf("verifier job: memory limit: %w", err)
		}
	}
	insns, cfg, err := j.Config()
	if err != nil {
		return fmt.Errorf("verifier job: %w", err)
	}
	cfg.Log, cfg.MemoryLimit = log, j.MemoryLimit
	var (
		v       verdict
		ctxBase map[int]int64
	)
	if j.Permissive {
		var f *Facts
		if f, err = Analyze(insns, cfg); err == nil {
			v.Stats, ctxBase = f.stats, f.ctxBase
			for _, r := range f.rejections {
				v.Rejections = append(v.Rejections, toWire(r))
			}
		}
	} else {
		var p *Program
		if p, err = Verify(insns, cfg); err == nil {
			v.Stats, v.Loops, v.Bound, ctxBase = p.stats, p.loops, p.bound, p.ctxBase
		}
	}
	var e *Error
	switch {
	case err == nil:
		for i, k := range ctxBase {
			v.CtxBase = append(v.CtxBase, [2]int64{int64(i), k})
		}
	case errors.As(err, &e):
		v.Error, v.Stats = toWire(e), e.Stats
	default:
		return err
	}
	if host.PeakMemoryKB != nil {
		v.Stats.MaxRSSKB = host.PeakMemoryKB()
	}
	return json.NewEncoder(out).Encode(v)
}

// Runner runs a job elsewhere, in a process that calls ServeJob: it
// writes job to that process, copies what it writes to its log to log,
// and returns what it wrote to out, and its peak resident memory in KiB
// as the operating system accounts it (0 if unknown; on Linux that
// includes the parent's memory when the child was started with vfork). It
// returns an error if the process failed or ctx ended first.
type Runner func(ctx context.Context, job []byte, log io.Writer) (out []byte, maxRSSKB int64, err error)

// VerifyElsewhere is Verify run by run, in another process: a program
// that exhausts the verifier's time or memory takes that process down, not
// the caller. The caller trusts what run returns: run must start a
// process that calls ServeJob. memoryLimit is the memory the process may
// use (0: no limit; see Job.MemoryLimit).
func VerifyElsewhere(ctx context.Context, run Runner, insns []isa.Instruction, cfg *Config, memoryLimit uint64) (*Program, error) {
	v, ctxBase, err := runJob(ctx, run, insns, cfg, memoryLimit, false)
	if err != nil {
		return nil, err
	}
	return &Program{insns: slices.Clone(insns), loops: v.Loops, bound: v.Bound, ctxBase: ctxBase, stats: v.Stats}, nil
}

// AnalyzeElsewhere is Analyze run by run, in another process, as
// VerifyElsewhere runs Verify.
func AnalyzeElsewhere(ctx context.Context, run Runner, insns []isa.Instruction, cfg *Config, memoryLimit uint64) (*Facts, error) {
	v, ctxBase, err := runJob(ctx, run, insns, cfg, memoryLimit, true)
	if err != nil {
		return nil, err
	}
	f := &Facts{ctxBase: ctxBase, stats: v.Stats}
	for _, w := range v.Rejections {
		if w == nil {
			return nil, fmt.Errorf("verifier process: a rejection without content")
		}
		f.rejections = append(f.rejections, fromWire(w, Stats{}))
	}
	return f, nil
}

// runJob runs the job of analyzing insns in cfg's environment, permissive
// or not, in another process, and returns its verdict with the context
// accesses checked against insns, or the Error it reports.
func runJob(ctx context.Context, run Runner, insns []isa.Instruction, cfg *Config, memoryLimit uint64, permissive bool) (*verdict, map[int]int64, error) {
	j := NewJob(insns, cfg)
	j.MemoryLimit, j.Permissive = memoryLimit, permissive
	b, err := json.Marshal(j)
	if err != nil {
		return nil, nil, fmt.Errorf("verifier job: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	out, rss, err := run(ctx, b, log)
	if err != nil {
		return nil, nil, err
	}
	var v verdict
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("verifier process gave no verdict: %w", err)
	}
	if v.Stats.MaxRSSKB == 0 {
		v.Stats.MaxRSSKB = rss
	}
	if w := v.Error; w != nil {
		return nil, nil, fromWire(w, v.Stats)
	}
	ctxBase := map[int]int64{}
	for _, c := range v.CtxBase {
		if c[0] < 0 || c[0] >= int64(len(insns)) {
			return nil, nil, fmt.Errorf("verifier process: context access at instruction %d of %d", c[0], len(insns))
		}
		ctxBase[int(c[0])] = c[1]
	}
	return &v, ctxBase, nil
}
