package xebpf

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/xebpf/xebpf/maps"
)

// MapOptions configures the maps of a collection, as cilium/ebpf's.
type MapOptions struct {
	// PinPath is the directory maps pinned by name would be pinned in.
	// xebpf has no pinning yet (it comes with its service): setting it
	// for an object with maps pinned by name is refused.
	PinPath string
}

// LogLevel is the verifier log's level, as cilium/ebpf's.
type LogLevel uint32

// Log levels. xebpf's verifier logs the abstract state before every
// instruction at LogLevelBranch and LogLevelInstruction, and its
// statistics at LogLevelStats.
const (
	LogLevelBranch LogLevel = 1 << iota
	LogLevelInstruction
	LogLevelStats
)

// ProgramOptions configures the verifier's log, as cilium/ebpf's.
type ProgramOptions struct {
	// LogLevel asks for the verifier's log of every program, in
	// Program.VerifierLog. At 0 the log is collected only for a
	// program the verifier rejects, into the VerifierError.
	LogLevel LogLevel
	// LogSizeStart is the size the log is cut at, in bytes; 0 means
	// DefaultLogSize. (The kernel grows its buffer from this size; xebpf
	// keeps at most this much and marks the log truncated.)
	LogSizeStart uint32
	// LogDisabled turns the log off, also for rejected programs.
	LogDisabled bool
}

// DefaultLogSize is the verifier log's default limit.
const DefaultLogSize = 1 << 20

// VerifierError is a program the verifier rejected, with its log, as
// cilium/ebpf's VerifierError. Cause is the *verifier.Error: the
// instruction, its source line, and why it could not be proven safe.
type VerifierError struct {
	// Program is the program's name.
	Program string
	// Cause is the verifier's error.
	Cause error
	// Truncated is set when the log was cut at LogSizeStart.
	Truncated bool
	// Log is the verifier's log, by line.
	Log []string
}

// Error returns the verifier's error: NewCollection's error around it
// names the program.
func (e *VerifierError) Error() string { return e.Cause.Error() }

// Unwrap returns the verifier's error.
func (e *VerifierError) Unwrap() error { return e.Cause }

// Format prints the error; %+v adds the log.
func (e *VerifierError) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, e.Error())
	if verb == 'v' && f.Flag('+') && len(e.Log) > 0 {
		fmt.Fprintf(f, "\n%s", strings.Join(e.Log, "\n"))
		if e.Truncated {
			fmt.Fprint(f, "\n(log truncated)")
		}
	}
}

// ErrNotSupported is returned for cilium/ebpf features xebpf does not
// have; it is maps.ErrNotSupported.
var ErrNotSupported = maps.ErrNotSupported

// limitedLog is a verifier log cut at a size.
type limitedLog struct {
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (l *limitedLog) Write(p []byte) (int, error) {
	room := l.limit - l.buf.Len()
	if len(p) > room {
		l.buf.Write(p[:max(room, 0)])
		l.truncated = true
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *limitedLog) lines() []string {
	s := strings.TrimRight(l.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
