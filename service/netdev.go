package service

import (
	"errors"
	"sort"

	"github.com/xebpf/xebpf/service/proto"
)

// DeviceLink is a Link to the hook of a network device: link show and net
// show report its ifindex.
type DeviceLink interface {
	Link
	// Ifindex is the index of the device.
	Ifindex() int
}

// A PortProvider is a LinkProvider whose targets are the ports of a
// bridge the daemon runs (the XDP hooks): frames are forwarded between
// ports, so a device that only forwards must be made a port too.
type PortProvider interface {
	LinkProvider
	// AddPort makes the device a port (if it is not one) and returns its
	// ifindex.
	AddPort(dev string) (int, error)
	// Ports lists the ports.
	Ports() []proto.PortInfo
}

func init() {
	argTypes[proto.OpNetAttach] = func() any { return &proto.NetAttachArgs{} }
	argTypes[proto.OpNetDetach] = func() any { return &proto.NetDetachArgs{} }
	argTypes[proto.OpNetShow] = func() any { return &proto.NetShowArgs{} }
	argTypes[proto.OpNetPort] = func() any { return &proto.NetPortArgs{} }
	readOps[proto.OpNetShow] = true
	opWhat[proto.OpNetAttach] = "attach programs to devices"
	opWhat[proto.OpNetDetach] = "detach programs from devices"
	opWhat[proto.OpNetShow] = "show the devices' programs"
	opWhat[proto.OpNetPort] = "add ports to the daemon's bridge"
}

// devKey names a device's hook of a kind in table.devs.
func devKey(kind, dev string) string { return kind + "\x00" + dev }

// netAttach attaches a program to a device's hook; the device holds the
// link (table.devs), not the session.
func (t *table) netAttach(a *proto.NetAttachArgs) (*proto.LinkInfo, error) {
	if a.Dev == "" {
		return nil, proto.Errorf(proto.CodeInvalid, "net attach: no device")
	}
	key := devKey(a.Kind, a.Dev)
	t.mu.Lock()
	if l := t.devs[key]; l != nil && l.prog != nil {
		t.mu.Unlock()
		return nil, proto.Errorf(proto.CodeExist, "net attach: dev %s already runs %s program id %d: net detach it first", a.Dev, a.Kind, l.prog.id)
	}
	t.mu.Unlock()
	var err error
	info, aerr := t.linkAttach(&proto.LinkAttachArgs{Kind: a.Kind, Prog: a.Prog, Target: a.Dev}, func(o any) {
		// t.mu is held. A link detached by link detach left its
		// device's reference behind: it goes now.
		if old := t.devs[key]; old != nil {
			err = t.unrefLink(old)
		}
		if t.devs == nil {
			t.devs = map[string]*linkObj{}
		}
		t.devs[key] = o.(*linkObj)
	})
	if aerr != nil {
		return nil, aerr
	}
	return info, err
}

// netDetach detaches the program of a kind from a device and drops the
// device's reference on the link (which stays, detached, while pinned).
func (t *table) netDetach(a *proto.NetDetachArgs) error {
	key := devKey(a.Kind, a.Dev)
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.devs[key]
	if l == nil {
		return proto.Errorf(proto.CodeNotFound, "net detach: no %s program attached to dev %s", a.Kind, a.Dev)
	}
	delete(t.devs, key)
	return errors.Join(t.detach(l), t.unrefLink(l))
}

// netShow lists the devices' attachments (by ifindex) and the providers'
// ports.
func (t *table) netShow(a *proto.NetShowArgs) *proto.NetShowResult {
	t.mu.Lock()
	res := &proto.NetShowResult{Attached: []proto.LinkInfo{}, Ports: []proto.PortInfo{}}
	for _, l := range t.devs {
		if l.prog != nil && (a.Dev == "" || l.target == a.Dev) {
			res.Attached = append(res.Attached, l.info())
		}
	}
	var provs []PortProvider
	for _, p := range t.providers {
		if pp, ok := p.(PortProvider); ok {
			provs = append(provs, pp)
		}
	}
	t.mu.Unlock()
	for _, p := range provs {
		for _, port := range p.Ports() {
			if a.Dev == "" || port.Dev == a.Dev {
				res.Ports = append(res.Ports, port)
			}
		}
	}
	sort.Slice(res.Attached, func(i, j int) bool {
		x, y := res.Attached[i], res.Attached[j]
		if x.Ifindex != y.Ifindex {
			return x.Ifindex < y.Ifindex
		}
		return x.Type < y.Type
	})
	sort.Slice(res.Ports, func(i, j int) bool {
		x, y := res.Ports[i], res.Ports[j]
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.Ifindex < y.Ifindex
	})
	return res
}

// netPort makes a device a port of the provider of the kind.
func (t *table) netPort(a *proto.NetPortArgs) (*proto.PortInfo, error) {
	if a.Dev == "" {
		return nil, proto.Errorf(proto.CodeInvalid, "net port: no device")
	}
	t.mu.Lock()
	p := t.providers[a.Kind]
	t.mu.Unlock()
	pp, ok := p.(PortProvider)
	if !ok {
		return nil, proto.Errorf(proto.CodeInvalid, "net port: no %q bridge in this daemon", a.Kind)
	}
	ifindex, err := pp.AddPort(a.Dev)
	if err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "net port: %s dev %s: %v", a.Kind, a.Dev, err)
	}
	return &proto.PortInfo{Kind: a.Kind, Dev: a.Dev, Ifindex: ifindex}, nil
}

// dropDevices detaches the devices' links and drops their references.
// t.mu is held.
func (t *table) dropDevices() error {
	var errs []error
	for key, l := range t.devs {
		delete(t.devs, key)
		errs = append(errs, t.detach(l), t.unrefLink(l))
	}
	return errors.Join(errs...)
}

// handleNet performs the net operations.
func (t *table) handleNet(args any) (any, error) {
	switch a := args.(type) {
	case *proto.NetAttachArgs:
		return t.netAttach(a)
	case *proto.NetDetachArgs:
		return nil, t.netDetach(a)
	case *proto.NetShowArgs:
		return t.netShow(a), nil
	case *proto.NetPortArgs:
		return t.netPort(a)
	}
	return nil, proto.Errorf(proto.CodeInvalid, "not a net operation")
}
