package service_test

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// portHooks is fakeHooks as a bridge: its links know their device's
// ifindex and devices can be made ports.
type portHooks struct {
	*fakeHooks
	ports []proto.PortInfo
	fail  string // a device AddPort fails on, as a device gone
}

type devLink struct {
	*fakeLink
	ifindex int
}

func (l devLink) Ifindex() int { return l.ifindex }

func (h *portHooks) ifindex(dev string) int { return 100 + len(dev) }

func (h *portHooks) Attach(p *xebpf.Program, stats *service.RunStats, target string) (service.Link, error) {
	l, err := h.fakeHooks.Attach(p, stats, target)
	if err != nil {
		return nil, err
	}
	h.AddPort(target)
	return devLink{l.(*fakeLink), h.ifindex(target)}, nil
}

func (h *portHooks) AddPort(dev string) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if dev == "nosuchdev" || (h.fail != "" && dev == h.fail) {
		return 0, errors.New("no such device")
	}
	for _, p := range h.ports {
		if p.Dev == dev {
			return p.Ifindex, nil
		}
	}
	h.ports = append(h.ports, proto.PortInfo{Kind: "xdp", Dev: dev, Ifindex: h.ifindex(dev)})
	return h.ifindex(dev), nil
}

func (h *portHooks) Ports() []proto.PortInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]proto.PortInfo(nil), h.ports...)
}

// TestNetDevices: net attach makes a link its device holds, so it
// outlives the attaching session, until net detach; a device runs one
// program; net show lists the attachments and the ports; link detach and
// the daemon's Close end device attachments too.
func TestNetDevices(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	hooks := &portHooks{fakeHooks: &fakeHooks{attached: map[string]*fakeLink{}}}
	d, sock := startDaemon(t, func(d *service.Daemon) {
		if err := d.RegisterLinkProvider(hooks); err != nil {
			t.Fatal(err)
		}
	})
	loader := dial(t, sock)
	res, err := loader.Load(&proto.LoadArgs{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	count, drop := proto.Ref{Name: "xdp_count"}, proto.Ref{Name: "xdp_drop"}
	li, err := loader.NetAttach("xdp", count, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if li.Ifindex != 104 || li.Target != "eth0" || li.ProgID != res.Programs[0].ID {
		t.Errorf("net attach: %+v", li)
	}
	for _, tc := range []struct {
		kind, dev string
		want      error
		msg       string
	}{
		{"xdp", "eth0", proto.ErrExist, "net attach: dev eth0 already runs xdp program id 1: net detach it first"},
		{"tc", "eth1", nil, `attach: no "tc" hooks in this daemon`},
		{"xdp", "", proto.ErrInvalid, "net attach: no device"},
	} {
		_, err := loader.NetAttach(tc.kind, drop, tc.dev)
		if err == nil || err.Error() != tc.msg || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("net attach %s dev %q: %v, want %q", tc.kind, tc.dev, err, tc.msg)
		}
	}
	if _, err := loader.AddPort("xdp", "peer0"); err != nil {
		t.Fatal(err)
	}
	if _, err := loader.AddPort("xdp", "nosuchdev"); err == nil || err.Error() != "net port: xdp dev nosuchdev: no such device" {
		t.Errorf("net port add of a missing device: %v", err)
	}
	if _, err := loader.AddPort("tc", "eth0"); err == nil || !errors.Is(err, proto.ErrInvalid) {
		t.Errorf("net port add for a kind without a bridge: %v", err)
	}
	loader.Close()

	c := dial(t, sock)
	// The session's program handles go; the device's link holds
	// xdp_count.
	waitStatus(t, c, func(st proto.StatusResult) bool { return st.Programs == 1 && st.Links == 1 })
	ns, err := c.NetShow(&proto.NetShowArgs{})
	if err != nil || len(ns.Attached) != 1 || ns.Attached[0].ID != li.ID || ns.Attached[0].Ifindex != 104 ||
		len(ns.Ports) != 2 || ns.Ports[0] != (proto.PortInfo{Kind: "xdp", Dev: "eth0", Ifindex: 104}) || ns.Ports[1].Dev != "peer0" {
		t.Fatalf("net show after the loader left: %+v %v", ns, err)
	}
	if ns, err := c.NetShow(&proto.NetShowArgs{Dev: "peer0"}); err != nil || len(ns.Attached) != 0 || len(ns.Ports) != 1 {
		t.Errorf("net show dev peer0: %+v %v", ns, err)
	}
	hooks.fire(t, "eth0", 2)
	if ps, err := c.Programs(count); err != nil || ps[0].RunCnt != 2 {
		t.Errorf("prog show: %+v %v, want the hook's 2 runs", ps, err)
	}
	if ls, err := c.Links(proto.Ref{ID: li.ID}); err != nil || ls[0].Ifindex != 104 {
		t.Errorf("link show: %+v %v", ls, err)
	}
	// Pinned, the link outlives its detachment.
	if err := c.PinLink(proto.Ref{ID: li.ID}, "/sys/fs/bpf/eth0_link"); err != nil {
		t.Fatal(err)
	}
	if err := c.NetDetach("xdp", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := c.NetDetach("xdp", "eth0"); err == nil || !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("net detach twice: %v", err)
	}
	if ns, err := c.NetShow(&proto.NetShowArgs{}); err != nil || len(ns.Attached) != 0 {
		t.Errorf("net show after net detach: %+v %v", ns, err)
	}
	if ls, err := c.Links(proto.Ref{}); err != nil || len(ls) != 1 || ls[0].ProgID != 0 {
		t.Errorf("link show after net detach: %+v %v, want the pinned link, detached", ls, err)
	}
	if _, err := c.Programs(count); !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("program after net detach: %v, want it freed", err)
	}
	if err := c.Unpin("/sys/fs/bpf/eth0_link"); err != nil {
		t.Fatal(err)
	}

	// link detach ends a device's attachment: the device takes another.
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/count"}); err != nil {
		t.Fatal(err)
	}
	li, err = c.NetAttach("xdp", count, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Detach(proto.Ref{ID: li.ID}); err != nil {
		t.Fatal(err)
	}
	if ns, err := c.NetShow(&proto.NetShowArgs{Dev: "eth1"}); err != nil || len(ns.Attached) != 0 {
		t.Errorf("net show after link detach: %+v %v", ns, err)
	}
	if _, err := c.NetAttach("xdp", count, "eth1"); err != nil {
		t.Fatalf("net attach after link detach: %v", err)
	}
	waitStatus(t, c, func(st proto.StatusResult) bool { return st.Links == 1 })

	// Close detaches what devices hold.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if len(hooks.attached) != 0 || len(hooks.detached) != 3 {
		t.Errorf("after Close: attached %v, detached %v; want nothing attached, 3 detachments", hooks.attached, hooks.detached)
	}
}
