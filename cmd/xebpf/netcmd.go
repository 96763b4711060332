package main

// net: programs attached to the hooks of network devices, in bpftool
// net's grammar. The daemon runs XDP programs on the frames of real
// interfaces through a bridge (hooks/xdp): it forwards frames between its
// ports, running the program attached to a port on each frame arriving on
// it. net attach makes the device a port; a device that only forwards
// (the bridge's other side) is added by net port add, which bpftool has
// not: in Linux the kernel's stack forwards, here the daemon does, and
// attaching an XDP_PASS program to it instead would cost a run per frame
// and take the device's XDP slot. Ports stay while the daemon runs and
// come back, with the attachments, when it starts again on the same state
// directory.

import (
	"fmt"
	"io"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

const netSynopsis = `net show [dev NAME]
net attach ATTACH_TYPE PROG dev NAME
net detach ATTACH_TYPE dev NAME
net port add dev NAME
  ATTACH_TYPE := xdp | xdpgeneric
  PROG := id ID | pinned PATH | name NAME
  an attachment is held by its device until net detach (the loading and attaching commands may exit);
  net port add makes a device a port of the daemon's XDP bridge that only forwards (not in bpftool)
  options: -j/--json, -p/--pretty, --socket PATH (default $XEBPF_SOCKET)`

func init() {
	commands["net"] = command{"attach XDP programs in the xebpf daemon to network devices, as bpftool net",
		func(args []string, sio stdio) error {
			return bpfCommand("net", netSynopsis, map[string]func(bpfOpts, []string, stdio) error{
				"show":   netShow,
				"list":   netShow,
				"attach": netAttach,
				"detach": netDetach,
				"port":   netPort,
			}, args, sio)
		}}
}

// registerHooks registers the daemon's link providers (the XDP bridge,
// the socket hooks of xebpf exec) and returns what closes them, after the
// daemon's Close.
func registerHooks(d *service.Daemon) (func() error, error) {
	h := service.NewXDPHooks()
	for _, p := range []service.LinkProvider{h, service.SockHooks{}} {
		if err := d.RegisterLinkProvider(p); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h.Close, nil
}

// attachKind parses ATTACH_TYPE: the daemon's XDP hooks run on the frames
// the kernel hands to packet sockets, after its driver, so generic is
// the mode; driver and offload modes are not.
func attachKind(args []string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("expected ATTACH_TYPE: %w", errBadArgs)
	}
	switch args[0] {
	case "xdp", "xdpgeneric":
		return "xdp", args[1:], nil
	case "xdpdrv", "xdpoffload":
		return "", nil, fmt.Errorf("attach type %s: the daemon's XDP hooks run in generic mode only (xdp, xdpgeneric): %w", args[0], errBadArgs)
	}
	return "", nil, fmt.Errorf("invalid net attach/detach type %q: want xdp or xdpgeneric: %w", args[0], errBadArgs)
}

// parseDev parses dev NAME, the last words of a command line.
func parseDev(args []string) (string, error) {
	if len(args) < 2 || args[0] != "dev" || args[1] == "" {
		return "", fmt.Errorf("expected dev NAME: %w", errBadArgs)
	}
	return args[1], noArgs(args[2:])
}

// netAttach is net attach xdp PROG dev NAME.
func netAttach(o bpfOpts, args []string, sio stdio) error {
	kind, args, err := attachKind(args)
	if err != nil {
		return err
	}
	ref, args, err := parseRef("PROG", args)
	if err != nil {
		return err
	}
	dev, err := parseDev(args)
	if err != nil {
		return err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.NetAttach(kind, ref, dev); err != nil {
		return err
	}
	return printDone(o, sio.out)
}

// netDetach is net detach xdp dev NAME.
func netDetach(o bpfOpts, args []string, sio stdio) error {
	kind, args, err := attachKind(args)
	if err != nil {
		return err
	}
	dev, err := parseDev(args)
	if err != nil {
		return err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.NetDetach(kind, dev); err != nil {
		return err
	}
	return printDone(o, sio.out)
}

// netPort is net port add dev NAME.
func netPort(o bpfOpts, args []string, sio stdio) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("expected net port add dev NAME: %w", errBadArgs)
	}
	dev, err := parseDev(args[1:])
	if err != nil {
		return err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.AddPort("xdp", dev); err != nil {
		return err
	}
	return printDone(o, sio.out)
}

// netShow is net show [dev NAME]: bpftool's xdp section, then the
// daemon's bridge ports.
func netShow(o bpfOpts, args []string, sio stdio) error {
	var a proto.NetShowArgs
	if len(args) > 0 {
		dev, err := parseDev(args)
		if err != nil {
			return err
		}
		a.Dev = dev
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.NetShow(&a)
	if err != nil {
		return err
	}
	return printNet(sio.out, o, res)
}

// netXDPJSON is an entry of bpftool net show -j's xdp list.
type netXDPJSON struct {
	Devname string `json:"devname"`
	Ifindex int    `json:"ifindex"`
	Mode    string `json:"mode"`
	ID      uint32 `json:"id"`
}

// netPortJSON is a bridge port of net show -j.
type netPortJSON struct {
	Devname string `json:"devname"`
	Ifindex int    `json:"ifindex"`
}

// printNet prints net show's answer.
func printNet(w io.Writer, o bpfOpts, res *proto.NetShowResult) error {
	xdps, ports := []netXDPJSON{}, []netPortJSON{}
	for _, l := range res.Attached {
		if l.Type == "xdp" {
			xdps = append(xdps, netXDPJSON{Devname: l.Target, Ifindex: l.Ifindex, Mode: "generic", ID: l.ProgID})
		}
	}
	for _, p := range res.Ports {
		if p.Kind == "xdp" {
			ports = append(ports, netPortJSON{Devname: p.Dev, Ifindex: p.Ifindex})
		}
	}
	if o.json {
		return writeJSON(w, o, []struct {
			XDP   []netXDPJSON  `json:"xdp"`
			Ports []netPortJSON `json:"ports"`
		}{{xdps, ports}})
	}
	fmt.Fprintln(w, "xdp:")
	for _, x := range xdps {
		fmt.Fprintf(w, "%s(%d) %s id %d\n", x.Devname, x.Ifindex, x.Mode, x.ID)
	}
	fmt.Fprintln(w, "\nports:")
	for _, p := range ports {
		fmt.Fprintf(w, "%s(%d)\n", p.Devname, p.Ifindex)
	}
	return nil
}
