package proto

// Operations on the hooks of network devices (bpftool net): an
// attachment made by net.attach is held by its device, as Linux's netlink
// XDP attachments are, not by the session that made it.
const (
	OpNetAttach = "net.attach"
	OpNetDetach = "net.detach"
	OpNetShow   = "net.show"
	OpNetPort   = "net.port"
)

// NetAttachArgs attaches a program to a device's hook of a kind (bpftool
// net attach xdp PROG dev DEV). The device holds the link until
// NetDetachArgs detaches it; a device runs one program of a kind.
type NetAttachArgs struct {
	Kind string `json:"kind"` // "xdp"
	Prog Ref    `json:"prog"`
	Dev  string `json:"dev"`
}

// NetDetachArgs detaches the program of a kind attached to a device (bpftool
// net detach xdp dev DEV).
type NetDetachArgs struct {
	Kind string `json:"kind"`
	Dev  string `json:"dev"`
}

// NetShowArgs lists the attachments of devices and the daemon's ports;
// Dev, if set, only those of the device.
type NetShowArgs struct {
	Dev string `json:"dev,omitempty"`
}

// NetShowResult is the attachments held by devices and the ports of the
// daemon's bridges.
type NetShowResult struct {
	Attached []LinkInfo `json:"attached"`
	Ports    []PortInfo `json:"ports"`
}

// PortInfo is an interface the daemon forwards frames between for hooks
// of a kind: a port of its XDP bridge.
type PortInfo struct {
	Kind    string `json:"kind"`
	Dev     string `json:"devname"`
	Ifindex int    `json:"ifindex"`
}

// NetPortArgs makes a device a port of the daemon's bridge for hooks of a
// kind: the frames arriving on it are forwarded to the other ports
// without running a program, and frames passed by the programs of the
// other ports go out of it.
type NetPortArgs struct {
	Kind string `json:"kind"`
	Dev  string `json:"dev"`
}
