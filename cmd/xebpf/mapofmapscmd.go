package main

import (
	"fmt"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// mapOfMapsUpdate is map update MAP key BYTES value MAP [any|exist|noexist]
// for a map of maps (bpftool's map-in-map update): the slot key holds
// the inner map MAP, a map of any object (or made by map create) that
// matches its inner map template; the daemon checks it and names what
// differs, and the slot holds a reference on the map.
func mapOfMapsUpdate(o bpfOpts, c *client.Client, ref proto.Ref, key []byte, args []string, sio stdio) error {
	if len(args) > 0 && args[0] != "id" && args[0] != "pinned" && args[0] != "name" {
		return fmt.Errorf("a map of maps' value is a map: expected id ID | pinned PATH | name NAME, got %q: %w", args[0], errBadArgs)
	}
	inner, args, err := parseRef("MAP", args)
	if err != nil {
		return err
	}
	flags, args, err := parseUpdateFlags(args)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	if err := c.UpdateMap(ref, key, inner, flags); err != nil {
		return fmt.Errorf("update failed: %w", err)
	}
	return printDone(o, sio.out)
}
