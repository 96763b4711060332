package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/isolate"
	"github.com/xebpf/xebpf/verifier"
)

// verifyResult is a program's verdict: a line of xebpf verify --json, and
// what a verify-child prints for its parent.
type verifyResult struct {
	Object       string       `json:"object"`
	Section      string       `json:"section"`
	Program      string       `json:"program"`
	Type         string       `json:"type"`
	Accepted     bool         `json:"accepted"`
	Error        *verifyError `json:"error"`
	Instructions int          `json:"instructions"`
	Seconds      float64      `json:"seconds"`
	MaxRSSKB     int64        `json:"max_rss_kb"`
	// MaxInstructions bounds the instructions a run of an accepted
	// program executes; null if the count does not fit in 64 bits.
	MaxInstructions *uint64 `json:"max_instructions"`
	// Witness, with --witness, says whether a rejected program really
	// faults: the input that makes checked mode stop it, or why none was
	// found.
	Witness string `json:"witness,omitempty"`
	// untyped: neither --type nor the section named the program's type,
	// so it was verified with xebpf's raw context.
	untyped bool
}

// verifyError is a rejection. PC is -1, File "" and Line 0 when the error
// is not about one instruction; Message is the verifier's whole message,
// the quoted source line included.
type verifyError struct {
	PC      int    `json:"pc"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Limits of the child processes of xebpf verify --isolate.
const (
	defaultVerifyTimeout = 60 * time.Second
	defaultMemoryLimit   = 4096 // MiB of address space (RLIMIT_AS)
	// progressMin is the number of programs from which xebpf verify shows
	// its progress on a terminal.
	progressMin = 20
)

// selfExecutable returns the path of the xebpf binary that --isolate
// starts its children from; tests point it at the binary they build.
var selfExecutable = os.Executable

// verifyConfig is what xebpf verify does to each program.
type verifyConfig struct {
	typ       *xebpf.ProgramKind // nil: the section's
	arch      xebpf.Arch
	verbose   bool
	asJSON    bool
	isolate   bool
	timeout   time.Duration
	memoryMiB uint64
}

func cmdVerify(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	fs := newFlags("verify", "FILE.o [--program NAME] [--type NAME] [--arch x86_64|arm64] [--json] [-v] [--isolate] [--timeout D] [--memory-limit MiB] [--witness]", stderr)
	progName := fs.String("program", "", "verify only this program (default: every program, by name)")
	typeName := fs.String("type", "", "verify as this program type: "+typeNameList()+" (default: the section's)")
	archName := fs.String("arch", "", "architecture whose struct pt_regs kprobe programs read: x86_64 or arm64 (default: the object's, else the host's)")
	asJSON := fs.Bool("json", false, "print one JSON object per program")
	verbose := fs.Bool("v", false, "print the verifier's state before every instruction (to standard error with --json)")
	isolate := fs.Bool("isolate", false, "verify each program in a child process, killed past --timeout or --memory-limit")
	timeout := fs.Duration("timeout", defaultVerifyTimeout, "time limit per program")
	memory := fs.Uint64("memory-limit", defaultMemoryLimit, "memory limit per child process in MiB, with --isolate: past it the verification is too complex")
	witness := fs.Bool("witness", false, "for each rejected program, search for an input on which checked mode really faults")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *timeout <= 0 {
		fs.Usage()
		return errUsage
	}
	cfg := verifyConfig{verbose: *verbose, asJSON: *asJSON, isolate: *isolate, timeout: *timeout, memoryMiB: *memory}
	if cfg.arch, err = parseArch(*archName); err != nil {
		fmt.Fprintf(stderr, "xebpf verify: %v\n", err)
		return errUsage
	}
	if _, _, err := lookupType(*typeName); *typeName != "" && err != nil {
		fmt.Fprintf(stderr, "xebpf verify: %v\n", err)
		return errUsage
	}
	path := pos[0]
	spec, err := xebpf.LoadCollectionSpec(path)
	if err != nil {
		return loadError(stderr, err)
	}
	names, err := programsToVerify(spec, *progName)
	if err != nil {
		return loadError(stderr, err)
	}
	if *typeName != "" {
		for _, name := range names {
			if cfg.typ, err = setType(spec, name, *typeName); err != nil {
				return loadError(stderr, err)
			}
		}
	}
	progress := len(names) > progressMin && isTerminal(stderr)
	rejected := 0
	for i, name := range names {
		var r verifyResult
		if cfg.isolate {
			r = verifyIsolated(path, spec, name, cfg, sio)
		} else {
			r = verifyInProcess(path, spec, name, cfg, sio)
		}
		if !r.Accepted {
			rejected++
			if *witness {
				r.Witness = findWitness(spec, name, cfg.typ)
			}
		}
		if progress {
			fmt.Fprint(stderr, "\r\x1b[K") // the results go where the progress was
		}
		printVerdict(stdout, r, cfg.asJSON)
		if progress {
			fmt.Fprintf(stderr, "\rverified %d/%d", i+1, len(names))
		}
	}
	if progress {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if rejected > 0 {
		return &exitError{1}
	}
	return nil
}

// loadError reports an error loading the object: exit status 2.
func loadError(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "xebpf verify: %v\n", err)
	return &exitError{2}
}

// programsToVerify returns the named program, or every program of spec
// sorted by name.
func programsToVerify(spec *xebpf.CollectionSpec, only string) ([]string, error) {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	if only != "" {
		if _, ok := spec.Programs[only]; !ok {
			return nil, fmt.Errorf("no program %q (have %s)", only, strings.Join(names, ", "))
		}
		return []string{only}, nil
	}
	if len(names) == 0 {
		return nil, errors.New("the object has no programs")
	}
	return names, nil
}

// newResult returns the verdict on program name of spec before
// verification: its identity.
func newResult(path string, spec *xebpf.CollectionSpec, name string, typ *xebpf.ProgramKind) verifyResult {
	ps := spec.Programs[name]
	untyped := typ == nil && ps.Type == xebpf.UnspecifiedProgram && ps.SectionName != ".text"
	if typ == nil {
		typ = xebpf.KindOf(ps.Type)
	}
	return verifyResult{Object: path, Section: ps.SectionName, Program: name, Type: typ.Name, Instructions: len(ps.Instructions), untyped: untyped}
}

// verifyInProcess verifies program name of spec in this process.
func verifyInProcess(path string, spec *xebpf.CollectionSpec, name string, cfg verifyConfig, sio stdio) verifyResult {
	r := newResult(path, spec, name, cfg.typ)
	opts := xebpf.VerifyOptions{Type: cfg.typ, Timeout: cfg.timeout, Arch: cfg.arch}
	if cfg.verbose {
		opts.Log, opts.LogLevel = sio.out, 1
		if cfg.asJSON {
			opts.Log = sio.errout
		}
	}
	start := time.Now()
	p, err := verifySafely(spec, name, opts)
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		r.Error = errorOf(err)
	} else {
		r.Accepted = true
		r.Instructions = p.Stats().Instructions
		if p.Terminates() {
			n := p.MaxInstructions()
			r.MaxInstructions = &n
		}
	}
	r.MaxRSSKB = isolate.SelfMaxRSSKB()
	return r
}

// verifySafely is xebpf.VerifyProgram, with a panic of the verifier
// turned into an error.
func verifySafely(spec *xebpf.CollectionSpec, name string, opts xebpf.VerifyOptions) (p *verifier.Program, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("verifier crashed: panic: %v", v)
		}
	}()
	return xebpf.VerifyProgram(spec, name, opts)
}

// errorOf describes a verification error.
func errorOf(err error) *verifyError {
	e := &verifyError{PC: -1, Message: err.Error()}
	var ve *verifier.Error
	if errors.As(err, &ve) {
		e.PC = ve.PC
		if ve.Line != nil {
			e.File, e.Line = ve.Line.File, ve.Line.Line
		}
	}
	return e
}

// printVerdict prints a program's verdict as text or as a JSON line.
func printVerdict(w io.Writer, r verifyResult, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	if r.Accepted {
		ends := "a run may execute more than 2^64 instructions"
		if r.MaxInstructions != nil {
			ends = fmt.Sprintf("a run executes at most %d", *r.MaxInstructions)
		}
		fmt.Fprintf(w, "%s: accepted (%d instructions, %.1f ms; %s)\n", r.Program, r.Instructions, r.Seconds*1000, ends)
		return
	}
	fmt.Fprintf(w, "%s: rejected\n", r.Program)
	if r.Witness != "" {
		defer fmt.Fprintf(w, "  witness: %s\n", r.Witness)
	}
	if r.untyped {
		defer fmt.Fprintf(w, "  note: section %q names no program type, so the program was verified with a raw context; give its type with --type NAME (%s)\n", r.Section, typeNameList())
	}
	if r.Error == nil {
		return
	}
	for i, l := range strings.Split(strings.TrimRight(r.Error.Message, "\n"), "\n") {
		if i == 0 {
			fmt.Fprintf(w, "  %s\n", l)
		} else {
			fmt.Fprintf(w, "      %s\n", strings.TrimSpace(l)) // the source line
		}
	}
}

// findWitness describes an input on which the program faults in checked
// mode, or says that none was found.
func findWitness(spec *xebpf.CollectionSpec, name string, typ *xebpf.ProgramKind) string {
	w, err := xebpf.FindWitness(spec, name, xebpf.WitnessOptions{Type: typ})
	switch {
	case errors.Is(err, xebpf.ErrNoWitness):
		return "none found in 2000 runs (packets of 0 to 1514 bytes, random contexts, the maps' initial contents): the rejection may be an imprecision of the verifier"
	case err != nil:
		return "not searched: " + err.Error()
	}
	return w.String()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// verifyIsolated verifies one program in a child process: xebpf-verifier
// beside the xebpf binary or in PATH, else xebpf verify-job. The child is
// killed past cfg.timeout, and limits its address space to cfg.memoryMiB
// (on Linux). A child that crashes, hangs or runs out of memory is a
// rejection that says so.
func verifyIsolated(path string, spec *xebpf.CollectionSpec, name string, cfg verifyConfig, sio stdio) verifyResult {
	r := newResult(path, spec, name, cfg.typ)
	command, err := childCommand()
	if err != nil {
		r.Error = &verifyError{PC: -1, Message: fmt.Sprintf("cannot start the verifier: %v", err)}
		return r
	}
	run := isolate.Runner(command)
	iso := &xebpf.Isolation{MemoryLimit: cfg.memoryMiB << 20, Timeout: cfg.timeout,
		Runner: func(ctx context.Context, job []byte, log io.Writer) ([]byte, int64, error) {
			out, rss, err := run(ctx, job, log)
			r.MaxRSSKB = rss
			return out, rss, err
		}}
	opts := xebpf.VerifyOptions{Type: cfg.typ, Isolate: iso, Arch: cfg.arch}
	if cfg.verbose {
		opts.Log, opts.LogLevel = sio.out, 1
		if cfg.asJSON {
			opts.Log = sio.errout
		}
	}
	start := time.Now()
	p, err := xebpf.VerifyProgram(spec, name, opts)
	r.Seconds = time.Since(start).Seconds()
	// The child's own figure, if it gave one; else the operating system's
	// (which counts the parent's memory too, see isolate.PeakMemoryKB).
	var verr *verifier.Error
	switch {
	case err == nil && p.Stats().MaxRSSKB > 0:
		r.MaxRSSKB = p.Stats().MaxRSSKB
	case errors.As(err, &verr) && verr.Stats.MaxRSSKB > 0:
		r.MaxRSSKB = verr.Stats.MaxRSSKB
	}
	switch {
	case err == nil:
		r.Accepted = true
		r.Instructions = p.Stats().Instructions
		if p.Terminates() {
			n := p.MaxInstructions()
			r.MaxInstructions = &n
		}
	case errors.Is(err, isolate.ErrKilled):
		r.Error = &verifyError{PC: -1, Message: fmt.Sprintf("verifier killed after %v", cfg.timeout)}
	case errors.Is(err, isolate.ErrMemoryLimit):
		r.Error = &verifyError{PC: -1, Message: fmt.Sprintf("verifier exceeded its memory limit (%d MiB)", cfg.memoryMiB)}
	default:
		r.Error = errorOf(err)
	}
	return r
}

// childCommand is the child process of --isolate: xebpf-verifier, which
// links the verifier alone and keeps its footprint small, or else this
// binary's verify-job.
func childCommand() ([]string, error) {
	exe, err := selfExecutable()
	if err != nil {
		return nil, err
	}
	if p, err := isolate.FindChild(exe); err == nil {
		return []string{p}, nil
	}
	return []string{exe, "verify-job"}, nil
}

// cmdVerifyJob is the child process of xebpf verify --isolate when
// xebpf-verifier is not installed: it serves one verifier job.
func cmdVerifyJob(args []string, sio stdio) error {
	if len(args) > 0 {
		return errUsage
	}
	return isolate.ServeChild(sio.in, sio.out, sio.errout)
}
