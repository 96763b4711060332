// Command xebpf assembles, disassembles, inspects and runs eBPF programs
// with the xebpf runtime.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/xebpf/xebpf/internal/conformance"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, io stdio) error
}

var commands = map[string]command{
	"asm":                {"assemble a text program into raw bytecode", cmdAsm},
	"disasm":             {"disassemble an ELF object's programs or raw bytecode", cmdDisasm},
	"conformance":        {"run bpf_conformance .data tests", cmdConformance},
	"conformance-plugin": {"run one program for the bpf_conformance runner", cmdPlugin},
	"run":                {"run a program of an ELF object like BPF_PROG_TEST_RUN", cmdRun},
	"inspect":            {"list the programs and maps of an ELF object", cmdInspect},
	"verify":             {"check that the programs of an ELF object are safe, with xebpf's verifier", cmdVerify},
	"version":            {"print the version and the revision xebpf was built from", cmdVersion},
}

// hiddenCommands are commands for xebpf's own use, not listed by usage.
var hiddenCommands = map[string]command{
	"verify-job": {"serve one verifier job for xebpf verify --isolate", cmdVerifyJob},
}

// stdio is a command's standard streams.
type stdio struct {
	in          io.Reader
	out, errout io.Writer
}

// errUsage reports bad command-line use; the message has been printed.
var errUsage = errors.New("usage")

// exitError carries a specific exit status.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	os.Exit(run(os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}))
}

func run(args []string, sio stdio) int {
	stderr := sio.errout
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	args = runnerOrder(globalOptionsLast(args))
	c, ok := commands[args[0]]
	if !ok {
		c, ok = hiddenCommands[args[0]]
	}
	if !ok {
		fmt.Fprintf(stderr, "xebpf: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], sio)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(stderr, "xebpf %s: %v\n", args[0], err)
	return 1
}

// runnerOrder puts the arguments of the bpf_conformance runner into
// xebpf's order. The runner (bpf_conformance_runner --plugin_path xebpf
// --plugin_options conformance-plugin) starts its plugin with the test's
// input memory in hex first, when the test has any, then the plugin
// options, then --elf: [MEMORY_HEX conformance-plugin ARGS...] becomes
// [conformance-plugin MEMORY_HEX ARGS...]. Other lists are returned as
// they are.
func runnerOrder(args []string) []string {
	if len(args) < 2 || args[1] != "conformance-plugin" {
		return args
	}
	if _, isCommand := commands[args[0]]; isCommand {
		return args
	}
	if _, err := conformance.ParseHexBytes(args[0]); err != nil {
		return args
	}
	return append([]string{args[1], args[0]}, args[2:]...)
}

// globalOptionsLast moves bpftool's global options written before the
// command (xebpf -j prog show, as bpftool -j prog show) behind it, where
// the daemon's commands take them anywhere.
func globalOptionsLast(args []string) []string {
	var opts []string
	i := 0
	for i < len(args) {
		switch a := args[i]; {
		case a == "-j" || a == "--json" || a == "-p" || a == "--pretty" || a == "-f" || a == "--bpffs" || strings.HasPrefix(a, "--socket="):
			opts = append(opts, a)
			i++
			continue
		case (a == "--socket" || a == "-socket") && i+1 < len(args):
			opts = append(opts, a, args[i+1])
			i += 2
			continue
		}
		break
	}
	if len(opts) == 0 || i == len(args) {
		return args
	}
	return append(append([]string(nil), args[i:]...), opts...)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xebpf COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'xebpf COMMAND --help' for a command's options.")
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: xebpf %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
