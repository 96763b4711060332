//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// xebpfProcess runs xebpf as its own process against the daemon on sock
// and returns its output; it fails the test if the command fails.
func xebpfProcess(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := exec.Command(xebpfBin, append(args, "--socket", sock)...).CombinedOutput()
	if err != nil {
		t.Fatalf("xebpf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPinsOutliveLoaders is the daemon's first promise with links: an
// XDP object and a socket-hook object are loaded and their programs and
// maps pinned, the XDP program attached with net attach and its link
// pinned, each by a process that exits at once; other processes still
// list them all (prog show, map dump, link show) and the XDP program
// still filters the traffic. Unpinning everything and net detach leave
// no id behind and return the daemon's memory.
func TestPinsOutliveLoaders(t *testing.T) {
	xdpObj, sockObj := buildServiceObject(t, "xdp_udp_drop"), buildServiceObject(t, "connect_count")
	n := setupBridgedNet(t)
	sock := startDaemonProcess(t, "")
	for _, args := range [][]string{
		{"prog", "load", xdpObj, "/sys/fs/bpf/xdp", "pinmaps", "/sys/fs/bpf/xdp_maps"},
		{"prog", "load", sockObj, "/sys/fs/bpf/connect", "pinmaps", "/sys/fs/bpf/connect_maps"},
		{"net", "port", "add", "dev", n.portB},
		{"net", "attach", "xdp", "pinned", "/sys/fs/bpf/xdp", "dev", n.portA},
	} {
		xebpfProcess(t, sock, args...)
	}
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	links, err := c.Links(proto.Ref{})
	if err != nil || len(links) != 1 {
		t.Fatalf("links %+v, %v; want the xdp link", links, err)
	}
	linkID := links[0].ID
	xebpfProcess(t, sock, "link", "pin", "id", fmt.Sprint(linkID), "/sys/fs/bpf/xdp_link")

	// Every loader has exited; what they pinned is listed by others.
	progs, err := c.Programs(proto.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	maps, err := c.Maps(proto.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	var progIDs, mapIDs []uint32
	var mapPins []string
	for _, p := range progs {
		progIDs = append(progIDs, p.ID)
	}
	for _, m := range maps {
		mapIDs = append(mapIDs, m.ID)
		mapPins = append(mapPins, m.Pinned...)
	}
	slices.Sort(mapPins)
	if want := []string{"/sys/fs/bpf/connect_maps/connects", "/sys/fs/bpf/connect_maps/deny_port", "/sys/fs/bpf/xdp_maps/counts"}; len(progs) != 2 || !slices.Equal(mapPins, want) {
		t.Fatalf("%d programs and map pins %v; want 2 programs and %v", len(progs), mapPins, want)
	}
	show := xebpfProcess(t, sock, "prog", "show")
	for _, want := range []string{"xdp  name xdp_udp_drop", "pinned /sys/fs/bpf/xdp", "name connect_count", "pinned /sys/fs/bpf/connect"} {
		if !strings.Contains(show, want) {
			t.Errorf("prog show lacks %q:\n%s", want, show)
		}
	}
	for _, p := range mapPins {
		if out := xebpfProcess(t, sock, "map", "dump", "pinned", p); !strings.Contains(out, "Found ") {
			t.Errorf("map dump pinned %s: %s", p, out)
		}
	}
	if out := xebpfProcess(t, sock, "link", "show"); !strings.Contains(out, fmt.Sprintf("%d: xdp  prog %d  ifindex %s", linkID, links[0].ProgID, n.portA)) || !strings.Contains(out, "pinned /sys/fs/bpf/xdp_link") {
		t.Errorf("link show:\n%s", out)
	}
	if gotEmpty, gotFull := sendAndCount(t, n, 5, 5); gotEmpty != 0 || gotFull != 5 {
		t.Errorf("with its loaders gone: %d empty and %d full datagrams arrived, want 0 and 5", gotEmpty, gotFull)
	}

	xebpfProcess(t, sock, "net", "detach", "xdp", "dev", n.portA)
	for _, p := range append([]string{"/sys/fs/bpf/xdp_link", "/sys/fs/bpf/xdp", "/sys/fs/bpf/connect"}, mapPins...) {
		xebpfProcess(t, sock, "unpin", p)
	}
	var st *proto.StatusResult
	for range 500 {
		if st, err = c.Status(); err != nil {
			t.Fatal(err)
		}
		if *st == (proto.StatusResult{}) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if *st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v, want nothing left", *st)
	}
	for _, q := range []struct {
		kind string
		ids  []uint32
	}{{"prog", progIDs}, {"map", mapIDs}, {"link", []uint32{linkID}}} {
		for _, id := range q.ids {
			out, err := exec.Command(xebpfBin, q.kind, "show", "id", fmt.Sprint(id), "--socket", sock).CombinedOutput()
			if err == nil {
				t.Errorf("%s show id %d after unpinning: %s", q.kind, id, out)
			}
		}
	}
	if out := xebpfProcess(t, sock, "net", "show", "dev", n.portA); strings.Contains(out, "generic id") {
		t.Errorf("net show after net detach:\n%s", out)
	}
}
