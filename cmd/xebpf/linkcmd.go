package main

import (
	"fmt"
	"io"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

const linkSynopsis = `link show [LINK]
link pin LINK PATH
link detach LINK
  LINK := id ID | pinned PATH
  options: -j/--json, -p/--pretty, --socket PATH (default $XEBPF_SOCKET)`

func init() {
	commands["link"] = command{"show, pin and detach the links of the xebpf daemon (programs attached to hooks), as bpftool link",
		func(args []string, sio stdio) error {
			return bpfCommand("link", linkSynopsis, map[string]func(bpfOpts, []string, stdio) error{
				"show":   linkShow,
				"list":   linkShow,
				"pin":    pinVerb(parseLink, (*client.Client).PinLink),
				"detach": linkDetach,
			}, args, sio)
		}}
}

// parseLink parses LINK (id ID | pinned PATH) at the start of args.
func parseLink(args []string) (proto.Ref, []string, error) {
	if len(args) > 0 && args[0] == "name" {
		return proto.Ref{}, nil, fmt.Errorf("links have no names: expected LINK: id ID | pinned PATH: %w", errBadArgs)
	}
	return parseRef("LINK", args)
}

// linkJSON is bpftool's link show -j object.
type linkJSON struct {
	ID      uint32   `json:"id"`
	Type    string   `json:"type"`
	ProgID  uint32   `json:"prog_id"`
	Devname string   `json:"devname,omitempty"`
	Ifindex int      `json:"ifindex,omitempty"`
	Target  string   `json:"target,omitempty"`
	Pinned  []string `json:"pinned,omitempty"`
}

func toLinkJSON(l proto.LinkInfo) linkJSON {
	j := linkJSON{ID: l.ID, Type: l.Type, ProgID: l.ProgID, Pinned: l.Pinned}
	if l.Type == "xdp" {
		j.Devname, j.Ifindex = l.Target, l.Ifindex
	} else {
		j.Target = l.Target
	}
	return j
}

// printLink prints a link as bpftool link show does; a detached link
// has prog 0.
func printLink(w io.Writer, l proto.LinkInfo) {
	fmt.Fprintf(w, "%d: %s  prog %d  ", l.ID, l.Type, l.ProgID)
	if l.Type == "xdp" {
		fmt.Fprintf(w, "ifindex %s(%d)", l.Target, l.Ifindex)
	} else {
		fmt.Fprintf(w, "target %s", l.Target)
	}
	if l.ProgID == 0 {
		fmt.Fprint(w, "  detached")
	}
	for _, p := range l.Pinned {
		fmt.Fprintf(w, "\n\tpinned %s", p)
	}
	fmt.Fprintln(w)
}

// linkShow is link show [LINK].
func linkShow(o bpfOpts, args []string, sio stdio) error {
	var ref proto.Ref
	if len(args) > 0 {
		var err error
		if ref, args, err = parseLink(args); err != nil {
			return err
		}
		if err := noArgs(args); err != nil {
			return err
		}
	}
	return showObjects(o, ref, sio, (*client.Client).Links, toLinkJSON, printLink)
}

// linkDetach is link detach LINK: the program stops running at the hook;
// the link stays, detached, while pinned.
func linkDetach(o bpfOpts, args []string, sio stdio) error {
	ref, args, err := parseLink(args)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Detach(ref); err != nil {
		return err
	}
	return printDone(o, sio.out)
}
