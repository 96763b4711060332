//go:build !windows

// Command xebpf2go is cilium/ebpf's bpf2go for xebpf users: it takes
// bpf2go's command line and writes the files bpf2go writes, except that
// the generated Go code imports github.com/xebpf/xebpf (as ebpf) instead
// of github.com/cilium/ebpf. Use it from go generate:
//
//	//go:generate go run github.com/xebpf/xebpf/cmd/xebpf2go foo foo.c -- -I../include
//
// Run it with -h for the options. Like bpf2go, it is not available on
// Windows.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/xebpf/xebpf/internal/gen2go"
)

func main() {
	os.Exit(run(os.Stdout, os.Stderr, os.Args[1:]))
}

// run is bpf2go's main: usage on stdout, "Error: ..." on stderr, status 1.
func run(stdout, stderr io.Writer, args []string) int {
	if err := gen2go.Run("xebpf2go", stdout, args); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}
