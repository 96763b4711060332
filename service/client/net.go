package client

import "github.com/xebpf/xebpf/service/proto"

// NetAttach attaches a program to the hook of a kind ("xdp") of the
// device dev; the device holds the link until NetDetach, not the session.
func (c *Client) NetAttach(kind string, prog proto.Ref, dev string) (*proto.LinkInfo, error) {
	var r proto.LinkInfo
	if err := c.call(proto.OpNetAttach, &proto.NetAttachArgs{Kind: kind, Prog: prog, Dev: dev}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// NetDetach detaches the program of a kind from the device dev.
func (c *Client) NetDetach(kind, dev string) error {
	return c.call(proto.OpNetDetach, &proto.NetDetachArgs{Kind: kind, Dev: dev}, nil)
}

// NetShow lists the devices' attachments and the daemon's bridge ports.
func (c *Client) NetShow(args *proto.NetShowArgs) (*proto.NetShowResult, error) {
	var r proto.NetShowResult
	if err := c.call(proto.OpNetShow, args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AddPort makes the device dev a port of the daemon's bridge for hooks of
// a kind ("xdp"): it forwards frames without running a program.
func (c *Client) AddPort(kind, dev string) (*proto.PortInfo, error) {
	var r proto.PortInfo
	if err := c.call(proto.OpNetPort, &proto.NetPortArgs{Kind: kind, Dev: dev}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
