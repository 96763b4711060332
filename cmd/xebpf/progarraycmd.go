package main

import (
	"fmt"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// progArrayUpdate is map update MAP key BYTES value PROG [any] for a
// program array: the slot key runs PROG, a program of the map's object.
func progArrayUpdate(o bpfOpts, c *client.Client, ref proto.Ref, key []byte, args []string, sio stdio) error {
	prog, args, err := parseRef("PROG", args)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "any" {
		args = args[1:]
	}
	if len(args) > 0 && (args[0] == "exist" || args[0] == "noexist") {
		return fmt.Errorf("flag %s: a program array's update takes any only: %w", args[0], errBadArgs)
	}
	if err := noArgs(args); err != nil {
		return err
	}
	if err := c.UpdateProg(ref, key, prog); err != nil {
		return fmt.Errorf("update failed: %w", err)
	}
	return printDone(o, sio.out)
}
