package main

import (
	"fmt"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// The verbs of queues and stacks, as bpftool's: map peek (a lookup
// without a key), map push and enqueue (an update without a key), map pop
// and dequeue (a lookup and delete without a key). bpftool takes
// enqueue and dequeue as aliases of push and pop for either kind.

// queueOf resolves MAP at the start of args, which verb needs to be a
// queue or a stack.
func queueOf(o bpfOpts, verb string, args []string) (*client.Client, proto.Ref, proto.MapInfo, []string, error) {
	c, ref, info, args, err := mapOf(o, args)
	if err != nil {
		return nil, ref, info, nil, err
	}
	if info.Type != "queue" && info.Type != "stack" {
		c.Close()
		return nil, ref, info, nil, fmt.Errorf("map %s (%s) is of type %s: %s takes a queue or a stack", ref, info.Name, info.Type, verb)
	}
	return c, ref, info, args, nil
}

func mapPeek(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := queueOf(o, "peek", args)
	if err != nil {
		return err
	}
	defer c.Close()
	return lookupRest(o, c, ref, info, args, sio)
}

func mapPush(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := queueOf(o, "push", args)
	if err != nil {
		return err
	}
	defer c.Close()
	return updateRest(o, c, ref, info, args, sio)
}

func mapPop(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := queueOf(o, "pop", args)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := noArgs(args); err != nil {
		return err
	}
	r, err := c.Pop(ref)
	if err != nil {
		return fmt.Errorf("pop failed: %w", err)
	}
	switch {
	case !r.Found && o.json:
		writeJSON(sio.out, o, nil)
		return &exitError{1}
	case !r.Found:
		fmt.Fprintln(sio.out, "Error: empty map")
		return &exitError{1}
	case o.json:
		return writeJSON(sio.out, o, toEntryJSON(r.Entry, info))
	}
	printEntry(sio.out, info, r.Entry)
	return nil
}
