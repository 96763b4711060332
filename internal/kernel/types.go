package kernel

import (
	"errors"
	"time"

	"github.com/xebpf/xebpf/elf"
)

// ErrUnavailable is returned (wrapped, with the reason) when the running
// system cannot load and test-run eBPF programs: another OS, no bpf()
// permission, or a kernel without BPF_PROG_TEST_RUN.
var ErrUnavailable = errors.New("kernel eBPF test-run unavailable")

// ErrUnknownProgram is returned for a program name the object does not define.
var ErrUnknownProgram = errors.New("unknown program")

// ErrNotLoaded is returned when running a program that the kernel rejected at
// load time; the wrapped error carries the load error.
var ErrNotLoaded = errors.New("program not loaded")

// ErrUnknownMap is returned for a map name the object does not define.
var ErrUnknownMap = errors.New("unknown map")

// ErrShortPacket is returned when an XDP or skb program is given fewer than
// MinPacketLen bytes of data: the kernel rejects such test runs.
var ErrShortPacket = errors.New("packet shorter than an Ethernet header")

// MinPacketLen is the smallest Data length BPF_PROG_TEST_RUN accepts for
// XDP and skb-based programs (one Ethernet header).
const MinPacketLen = 14

// LoadOptions selects what Load and LoadSpec put into the kernel.
type LoadOptions struct {
	// Programs names the programs to load; empty means all of them.
	Programs []string
	// Maps holds contents to write into maps before any run. Maps that the
	// kernel freezes at load time (.rodata) are written before loading; the
	// others right after. See Collection.LoadMaps for the rules.
	Maps map[string]MapState
	// Types overrides, for LoadSpec, the program type of programs by name
	// (Linux BPF_PROG_TYPE_* ids); others keep the type their section
	// implies. Load ignores it.
	Types map[string]elf.ProgramType
}

// RunInput is the input of one BPF_PROG_TEST_RUN.
type RunInput struct {
	// Data is the packet (data_in). XDP and skb programs need at least
	// MinPacketLen bytes.
	Data []byte
	// Context is the program's context (ctx_in), e.g. a struct __sk_buff or
	// struct xdp_md; nil lets the kernel build a default one.
	Context []byte
	// ContextOut asks for ctx_out also without a Context: the kernel then
	// runs the program on a zero context.
	ContextOut bool
	// Repeat is how many times to run the program; values below 1 mean 1.
	Repeat int
}

// RunResult is what one BPF_PROG_TEST_RUN reports.
type RunResult struct {
	// Retval is the program's return value (r0, truncated to 32 bits).
	Retval uint32
	// DataOut is the packet after the run, at its final length.
	DataOut []byte
	// ContextOut is the context after the run (ctx_out), present when
	// RunInput.Context or ContextOut was given: the program type's whole
	// struct.
	ContextOut []byte
	// Duration is the kernel's mean time per run.
	Duration time.Duration
}

// ProgramError records why one program of an object was not loaded.
type ProgramError struct {
	Program string
	Err     error
}

func (e *ProgramError) Error() string { return "program " + e.Program + ": " + e.Err.Error() }

func (e *ProgramError) Unwrap() error { return e.Err }
