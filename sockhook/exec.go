package sockhook

import (
	"os/exec"
	"sync/atomic"
)

// ShimEnv is the environment variable that makes a process started by
// Command the shim: a program that Command starts as os.Executable()
// (xebpf, or a test binary) must call RunShimIfRequested first thing,
// before it does anything else.
const ShimEnv = "XEBPF_SOCKHOOK_SHIM"

// Command runs a command with the programs of a Set on the connect and
// bind calls of its processes (it and its children, which inherit the
// hooks).
type Command struct {
	// Cmd is the command: its Path, Args, Env, Dir and standard streams
	// are used. Command starts it through the shim; do not start it
	// yourself.
	Cmd *exec.Cmd
	// Hooks are the programs to run.
	Hooks *Set
	// Shim is the program that becomes the shim: nil means
	// os.Executable(), which must call RunShimIfRequested.
	Shim []string
	// Logf, if set, is told of calls the supervisor could not decide on
	// (they fail with EPERM) and of program run errors.
	Logf func(format string, args ...any)

	stats Stats
	sup   supervisor
}

// Stats counts the calls a Command's supervisor saw.
type Stats struct {
	Connects atomic.Uint64 // connect calls seen
	Binds    atomic.Uint64 // bind calls seen
	Hooked   atomic.Uint64 // of them, calls the hooks applied to (Request.Applies)
	Denied   atomic.Uint64 // calls that failed with EPERM by a program's verdict
}

// Stats returns the command's counters.
func (c *Command) Stats() *Stats { return &c.stats }

// Run starts the command and waits for it.
func (c *Command) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}
