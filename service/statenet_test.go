package service_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// withPortState registers hooks and opens dir as the daemon's state.
func withPortState(t *testing.T, dir string, hooks *portHooks, log *logLines) func(*service.Daemon) {
	return func(d *service.Daemon) {
		if err := d.RegisterLinkProvider(hooks); err != nil {
			t.Fatal(err)
		}
		withState(t, dir, nil, log, -1)(d)
	}
}

// netState returns the devices' attachments (device → program name) and
// the ports of the daemon on sock.
func netState(t *testing.T, sock string) (map[string]string, []string) {
	t.Helper()
	c := dial(t, sock)
	res, err := c.NetShow(&proto.NetShowArgs{})
	if err != nil {
		t.Fatal(err)
	}
	att := map[string]string{}
	for _, l := range res.Attached {
		ps, err := c.Programs(proto.Ref{ID: l.ProgID})
		if err != nil {
			t.Fatal(err)
		}
		att[l.Target] = ps[0].Name
	}
	var ports []string
	for _, p := range res.Ports {
		ports = append(ports, p.Dev)
	}
	slices.Sort(ports)
	return att, ports
}

// TestStateDevices: the bridge's ports (net port add) and the links the
// devices hold (net attach), pinned or not, come back after a crash, the
// ports before the links; after net detach the device's link does not
// come back, nor its program when nothing else holds it; a port whose
// device is gone is dropped with a log line.
func TestStateDevices(t *testing.T) {
	obj := buildObject(t, "xdp_count")
	dir := t.TempDir()
	newHooks := func() *portHooks { return &portHooks{fakeHooks: &fakeHooks{attached: map[string]*fakeLink{}}} }
	_, sock := startDaemon(t, withPortState(t, dir, newHooks(), nil))
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPort("xdp", "eth9"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetAttach("xdp", proto.Ref{Name: "xdp_count"}, "eth0"); err != nil {
		t.Fatal(err)
	}
	li, err := c.NetAttach("xdp", proto.Ref{Name: "xdp_drop"}, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PinLink(proto.Ref{ID: li.ID}, "/sys/fs/bpf/eth1_link"); err != nil {
		t.Fatal(err)
	}
	c.Close() // the loader goes: the devices hold the links, the links their programs

	snap := crashCopy(t, dir)
	hooks2 := newHooks()
	_, sock2 := startDaemon(t, withPortState(t, snap, hooks2, nil))
	att, ports := netState(t, sock2)
	if want := map[string]string{"eth0": "xdp_count", "eth1": "xdp_drop"}; len(att) != 2 || att["eth0"] != want["eth0"] || att["eth1"] != want["eth1"] {
		t.Errorf("attachments after the crash: %v, want %v", att, want)
	}
	if want := []string{"eth0", "eth1", "eth9"}; !slices.Equal(ports, want) {
		t.Errorf("ports after the crash: %v, want %v", ports, want)
	}
	hooks2.mu.Lock()
	n := len(hooks2.attached)
	hooks2.mu.Unlock()
	if n != 2 {
		t.Errorf("the provider runs %d programs after the crash, want 2", n)
	}
	c2 := dial(t, sock2)
	ls, err := c2.Links(proto.Ref{Pinned: "/sys/fs/bpf/eth1_link"})
	if err != nil || len(ls) != 1 || ls[0].Target != "eth1" || ls[0].Ifindex != 104 {
		t.Errorf("the pinned link after the crash: %+v, %v", ls, err)
	}
	// net detach frees the unpinned device's link and its program; the
	// pinned link, detached, keeps being the device's until unpinned.
	if err := c2.NetDetach("xdp", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := c2.NetDetach("xdp", "eth1"); err != nil {
		t.Fatal(err)
	}

	var log logLines
	hooks3 := newHooks()
	hooks3.fail = "eth9"
	_, sock3 := startDaemon(t, withPortState(t, crashCopy(t, snap), hooks3, &log))
	att, ports = netState(t, sock3)
	if len(att) != 0 {
		t.Errorf("attachments after net detach and a crash: %v, want none", att)
	}
	if want := []string{"eth0", "eth1"}; !slices.Equal(ports, want) {
		t.Errorf("ports with eth9 gone: %v, want %v", ports, want)
	}
	if !strings.Contains(log.String(), "port xdp eth9") {
		t.Errorf("no log line on the lost port:\n%s", log.String())
	}
	st, err := dial(t, sock3).Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Programs != 0 || st.Links != 0 {
		t.Errorf("after net detach and a crash: %+v, want no program and no link", *st)
	}
}
