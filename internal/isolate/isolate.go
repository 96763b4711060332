// Package isolate runs the verifier in a child process: a program that
// exhausts the verifier's time or memory takes the child down, not the
// caller (eBPF for Windows isolates PREVAIL for the same reason).
package isolate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/xebpf/xebpf/verifier"
)

// ChildName is the executable that serves verifier jobs
// (cmd/xebpf-verifier).
const ChildName = "xebpf-verifier"

// FindChild returns the path of xebpf-verifier: beside the executable
// exe ("" for the running one), else in PATH.
func FindChild(exe string) (string, error) {
	if exe == "" {
		exe, _ = os.Executable()
	}
	if exe != "" {
		p := filepath.Join(filepath.Dir(exe), ChildName+exeSuffix)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(ChildName)
	if err != nil {
		return "", fmt.Errorf("isolated verifier: %s is neither beside %s nor in PATH (go install github.com/xebpf/xebpf/cmd/%s): %w", ChildName, filepath.Base(os.Args[0]), ChildName, err)
	}
	return p, nil
}

// Errors of a child that did not finish.
var (
	// ErrMemoryLimit is a child that ran out of its address space.
	ErrMemoryLimit = errors.New("verifier exceeded its memory limit")
	// ErrKilled is a child killed when its context ended.
	ErrKilled = errors.New("verifier killed")
)

// Runner returns a verifier.Runner that starts command (an executable
// and its arguments) for each job. The process is killed when the
// runner's context ends.
func Runner(command []string) verifier.Runner {
	return func(ctx context.Context, job []byte, log io.Writer) ([]byte, int64, error) {
		if len(command) == 0 {
			return nil, 0, errors.New("isolated verifier: no command")
		}
		cmd := exec.CommandContext(ctx, command[0], command[1:]...)
		cmd.Stdin = bytes.NewReader(job)
		var out bytes.Buffer
		errs := &tail{max: 64 << 10}
		cmd.Stdout = &out
		cmd.Stderr = io.MultiWriter(log, errs)
		err := cmd.Run()
		var rss int64
		if cmd.ProcessState != nil {
			rss = maxRSSKB(cmd.ProcessState)
		}
		switch {
		case ctx.Err() != nil:
			return nil, rss, fmt.Errorf("%w: %w", ErrKilled, context.Cause(ctx))
		case err != nil && outOfMemory(errs.String()):
			return nil, rss, ErrMemoryLimit
		case err != nil:
			if l := crashLine(errs.String()); l != "" {
				return nil, rss, fmt.Errorf("isolated verifier failed (%v): %s", err, l)
			}
			return nil, rss, fmt.Errorf("isolated verifier failed: %w", err)
		}
		return out.Bytes(), rss, nil
	}
}

// outOfMemory reports whether a child's standard error shows that the Go
// runtime could not get memory: with RLIMIT_AS, mmap fails.
func outOfMemory(stderr string) bool {
	return strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory")
}

// crashLine returns the line of a child's standard error that says what
// happened: the first line of a Go crash, or else the last line.
func crashLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "runtime: ") {
			return l
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// tail keeps the first max/4 bytes written to it (where a Go crash says
// what happened, before its goroutine dump) and the last max/2 or more.
type tail struct {
	head, b []byte
	max     int
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if room := t.max/4 - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max/2:]...)
	}
	return n, nil
}

func (t *tail) String() string { return string(t.head) + string(t.b) }

// childGCPercent is the collector's target in a child: a verification
// allocates in bursts, and a lower target keeps the child's peak memory
// near what it uses (GOGC 100 let a tracing program's child peak at 7.5
// MB, 25 at 5.5 MB), at a cost in time the verifier can afford.
const childGCPercent = 25

// ServeChild is the body of a child process: it serves one verifier job
// from in to out, the trace to log, limiting its own memory as the job
// says and reporting its peak.
func ServeChild(in io.Reader, out, log io.Writer) error {
	debug.SetGCPercent(childGCPercent)
	return verifier.ServeJob(in, out, log, verifier.JobHost{LimitMemory: LimitMemory, PeakMemoryKB: PeakMemoryKB})
}
