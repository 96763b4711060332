// Command xebpf-verifier is the child process of isolated verification
// (xebpf verify --isolate, xebpf.Isolation): it reads one verifier job on
// standard input, limits its own memory as the job says, and writes the
// verdict on standard output and the verifier's trace on standard error.
// It links the verifier alone, so that its own footprint stays small.
package main

import (
	"fmt"
	"os"

	"github.com/xebpf/xebpf/internal/isolate"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: xebpf-verifier < JOB: reads a verifier job on standard input (started by xebpf verify --isolate)")
		os.Exit(2)
	}
	if err := isolate.ServeChild(os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xebpf-verifier:", err)
		os.Exit(1)
	}
}
