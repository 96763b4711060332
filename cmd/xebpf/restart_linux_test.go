//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service/proto"
)

// dropCounts waits until the xdp_udp_drop program's counts (frames,
// drops) in the pinned map reach wantDrops drops (the hook writes them as
// it runs) and returns them.
func dropCounts(t *testing.T, d *killableDaemon, pin string, wantDrops uint64) [2]uint64 {
	t.Helper()
	var counts [2]uint64
	for range 200 {
		m := dumpMap(t, d, pin)
		for k, v := range m {
			i := binary.NativeEndian.Uint32([]byte(k))
			if i < 2 && len(v) == 8 {
				counts[i] = binary.NativeEndian.Uint64(v)
			}
		}
		if counts[1] >= wantDrops {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return counts
}

// checkAttached checks that link show lists one link, on portA by its
// ifindex, pinned at pins (none: not pinned), and that net show lists
// portA's attachment and both ports.
func checkAttached(t *testing.T, d *killableDaemon, n *bridgedNet, pins ...string) {
	t.Helper()
	ifA, err := net.InterfaceByName(n.portA)
	if err != nil {
		t.Fatal(err)
	}
	show := d.cli(t, "link", "show")
	if want := fmt.Sprintf("ifindex %s(%d)", n.portA, ifA.Index); strings.Count(show, "xdp  prog") != 1 || !strings.Contains(show, want) {
		t.Errorf("link show: want one xdp link with %q:\n%s", want, show)
	}
	for _, p := range pins {
		if !strings.Contains(show, "pinned "+p) {
			t.Errorf("link show: want pinned %s:\n%s", p, show)
		}
	}
	if len(pins) == 0 && strings.Contains(show, "pinned") {
		t.Errorf("link show: want the link unpinned:\n%s", show)
	}
	c := dialKillable(t, d)
	res, err := c.NetShow(&proto.NetShowArgs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Attached) != 1 || res.Attached[0].Ifindex != ifA.Index || res.Attached[0].Type != "xdp" || res.Attached[0].ProgID == 0 {
		t.Errorf("net show attached %+v, want the xdp program on %s (ifindex %d)", res.Attached, n.portA, ifA.Index)
	}
	var ports []string
	for _, p := range res.Ports {
		ports = append(ports, p.Dev)
	}
	if len(ports) != 2 || !strings.Contains(strings.Join(ports, " "), n.portA) || !strings.Contains(strings.Join(ports, " "), n.portB) {
		t.Errorf("net show ports %v, want %s and %s", ports, n.portA, n.portB)
	}
}

// TestXDPLinksSurviveKill: an XDP program attached with net attach to the
// daemon's bridge (the other side added with net port add) and its link
// pinned survive kill -9 of the daemon: the restarted daemon adds the
// ports again, re-attaches the link to the device, and the program
// filters again, its drop counter keeping the counts from before the kill
// and growing by exactly the datagrams dropped since; link show and net
// show list the link by ifindex. Unpinned, the link is still the
// device's, and survives the next kill -9 too; after net detach, the next
// restart leaves the device without a program.
func TestXDPLinksSurviveKill(t *testing.T) {
	obj := buildServiceObject(t, "xdp_udp_drop")
	n := setupBridgedNet(t)
	dir := t.TempDir()
	const counts = "/sys/fs/bpf/drop_maps/counts"
	// A snapshot every 20 ms: the hook's counts are on disk 20 ms after
	// the last frame (the test waits 10 times as long before each kill).
	opts := []string{"--snapshot-every", "20ms"}
	settle := func() { time.Sleep(200 * time.Millisecond) }
	d := startKillableDaemon(t, dir, opts...)
	d.cli(t, "prog", "load", obj, "/sys/fs/bpf/drop", "pinmaps", "/sys/fs/bpf/drop_maps")
	d.cli(t, "net", "port", "add", "dev", n.portB)
	d.cli(t, "net", "attach", "xdp", "pinned", "/sys/fs/bpf/drop", "dev", n.portA)
	d.cli(t, "link", "pin", "id", "1", "/sys/fs/bpf/drop_link")
	checkAttached(t, d, n, "/sys/fs/bpf/drop_link")
	if gotEmpty, gotFull := sendAndCount(t, n, 5, 3); gotEmpty != 0 || gotFull != 3 {
		t.Fatalf("before the kill: %d empty and %d full datagrams arrived, want 0 and 3", gotEmpty, gotFull)
	}
	if c := dropCounts(t, d, counts, 5); c[1] != 5 {
		t.Fatalf("before the kill: %d drops, want 5", c[1])
	}
	var drops uint64 = 5
	settle()
	d.kill(t)

	for round, step := range []struct {
		name         string
		empty, full  int
		pins         []string
		then         []string // a command after the traffic, before the next kill
		wantFiltered bool
	}{
		{name: "pinned link", empty: 4, full: 2, pins: []string{"/sys/fs/bpf/drop_link"}, then: []string{"unpin", "/sys/fs/bpf/drop_link"}, wantFiltered: true},
		{name: "link held by its device only", empty: 3, full: 2, then: []string{"net", "detach", "xdp", "dev", n.portA}, wantFiltered: true},
		{name: "after net detach", empty: 3, full: 2},
	} {
		d = startKillableDaemon(t, dir, opts...)
		if strings.Contains(d.stderr.String(), "daemon: state:") {
			t.Errorf("%s: the restarted daemon complains about its state:\n%s", step.name, d.stderr.String())
		}
		if step.wantFiltered {
			checkAttached(t, d, n, step.pins...)
		} else if res, err := dialKillable(t, d).NetShow(&proto.NetShowArgs{}); err != nil || len(res.Attached) != 0 || len(res.Ports) != 2 {
			t.Errorf("%s: net show %+v, %v; want no attachment and the two ports", step.name, res, err)
		}
		gotEmpty, gotFull := sendAndCount(t, n, step.empty, step.full)
		wantEmpty := 0
		if step.wantFiltered {
			drops += uint64(step.empty)
		} else {
			wantEmpty = step.empty
		}
		if gotEmpty != wantEmpty || gotFull != step.full {
			t.Errorf("%s (restart %d): %d empty and %d full datagrams arrived, want %d and %d", step.name, round+1, gotEmpty, gotFull, wantEmpty, step.full)
		}
		if c := dropCounts(t, d, counts, drops); c[1] != drops {
			t.Errorf("%s (restart %d): %d drops, want %d (the counts from before the kill and the datagrams dropped since)", step.name, round+1, c[1], drops)
		}
		if step.then != nil {
			d.cli(t, step.then...)
		}
		settle()
		d.kill(t)
	}
}
