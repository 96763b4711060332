//go:build !windows

package main

import "github.com/xebpf/xebpf/internal/gen2go"

// xebpf gen is xebpf2go; like bpf2go, it is not available on Windows.
func init() {
	commands["gen"] = command{"compile C to BPF and generate Go bindings, like bpf2go (see cmd/xebpf2go)",
		func(args []string, sio stdio) error { return gen2go.Run("xebpf gen", sio.out, args) }}
}
