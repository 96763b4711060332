//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xebpf/xebpf/internal/netns"
	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

var netSeq atomic.Int32

// bridgedNet is two network namespaces whose interfaces e1 (ns1,
// 10.232.0.1) and e2 (ns2, 10.232.0.2) are veth peers of portA and
// portB in the root namespace, where the daemon's bridge joins them.
// Neighbours are static and IPv6 is off, so only the test's frames
// cross.
type bridgedNet struct{ ns1, ns2, portA, portB string }

// setupBridgedNet creates a bridgedNet, removed when the test ends; it
// skips the test without root, the ip command or namespaces.
func setupBridgedNet(t *testing.T) *bridgedNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, netSeq.Add(1))
	n := &bridgedNet{ns1: "xnet1-" + id, ns2: "xnet2-" + id, portA: "xna" + id, portB: "xnb" + id}
	ip := func(args ...string) error {
		if out, err := exec.Command(ipCmd, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
		return nil
	}
	if err := ip("netns", "add", n.ns1); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	t.Cleanup(func() { ip("netns", "del", n.ns1) })
	if err := ip("netns", "add", n.ns2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("netns", "del", n.ns2) })
	t.Cleanup(func() { ip("link", "del", n.portA); ip("link", "del", n.portB) })
	for _, args := range [][]string{
		{"link", "add", n.portA, "type", "veth", "peer", "name", "e1", "netns", n.ns1},
		{"link", "add", n.portB, "type", "veth", "peer", "name", "e2", "netns", n.ns2},
		{"-n", n.ns1, "link", "set", "e1", "address", "02:00:00:00:02:01"},
		{"-n", n.ns2, "link", "set", "e2", "address", "02:00:00:00:02:02"},
		{"-n", n.ns1, "addr", "add", "10.232.0.1/24", "dev", "e1"},
		{"-n", n.ns2, "addr", "add", "10.232.0.2/24", "dev", "e2"},
		{"-n", n.ns1, "neigh", "add", "10.232.0.2", "lladdr", "02:00:00:00:02:02", "dev", "e1", "nud", "permanent"},
		{"-n", n.ns2, "neigh", "add", "10.232.0.1", "lladdr", "02:00:00:00:02:01", "dev", "e2", "nud", "permanent"},
		{"-n", n.ns1, "link", "set", "e1", "up"},
		{"-n", n.ns2, "link", "set", "e2", "up"},
		{"link", "set", n.portA, "up"},
		{"link", "set", n.portB, "up"},
	} {
		if args[len(args)-1] == "up" {
			ip(append(args[:len(args)-1:len(args)-1], "addrgenmode", "none")...)
		}
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// udpIn opens a UDP socket on ip:port in namespace ns.
func udpIn(t *testing.T, ns, ip string, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := netns.Do(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendAndCount sends empty datagrams and datagrams of payload from
// ns1 to ns2 (one at a time, so none is lost to buffers) and returns how
// many of each arrived: the empty ones are read after the others, each
// send waits for its datagram or for a short timeout.
func sendAndCount(t *testing.T, n *bridgedNet, empty, full int) (gotEmpty, gotFull int) {
	t.Helper()
	rx := udpIn(t, n.ns2, "10.232.0.2", 7000)
	defer rx.Close()
	tx := udpIn(t, n.ns1, "10.232.0.1", 7001)
	defer tx.Close()
	to := &net.UDPAddr{IP: net.ParseIP("10.232.0.2"), Port: 7000}
	buf := make([]byte, 64)
	for i := range empty + full {
		payload := []byte{}
		if i >= empty {
			payload = []byte("payload")
		}
		if _, err := tx.WriteToUDP(payload, to); err != nil {
			t.Fatal(err)
		}
		wait := 2 * time.Second
		if len(payload) == 0 {
			wait = 100 * time.Millisecond // dropped when filtered
		}
		rx.SetReadDeadline(time.Now().Add(wait))
		k, _, err := rx.ReadFromUDP(buf)
		switch {
		case err != nil && len(payload) != 0:
			t.Fatalf("datagram %d: %v", i, err)
		case err != nil:
		case k == 0:
			gotEmpty++
		default:
			gotFull++
		}
	}
	return gotEmpty, gotFull
}

// TestNetXDP drives the daemon's XDP hooks from the command line: a
// program that counts frames and drops empty UDP datagrams is loaded
// and attached to the bridge port where ns1's frames arrive (the other
// port only forwards); the loading and attaching commands exit, and the
// program keeps filtering; map dump shows its counts and prog show its
// runs; after net detach the traffic passes unfiltered. The transcript is
// a golden file.
func TestNetXDP(t *testing.T) {
	obj := buildServiceObject(t, "xdp_udp_drop")
	n := setupBridgedNet(t)
	sock := startDaemonProcess(t, "")
	s := &session{t: t, sock: sock}
	subst := map[string]string{"OBJ": obj, "PORTA": n.portA, "PORTB": n.portB}
	for _, line := range []string{
		"net",
		"net show",
		"net attach xdpdrv name xdp_udp_drop dev PORTA",
		"net attach xdp name xdp_udp_drop dev PORTA",
		"prog load OBJ /sys/fs/bpf/udp_drop pinmaps /sys/fs/bpf/udp_maps",
		"net port add dev PORTB",
		"net attach xdp pinned /sys/fs/bpf/udp_drop dev PORTA",
		"net attach xdp pinned /sys/fs/bpf/udp_drop dev PORTA",
		"net show",
		"net show -j",
		"link show",
		"link show id 1 -j",
		"link show name x",
	} {
		s.run(line, subst)
	}
	const empty, full = 20, 10
	gotEmpty, gotFull := sendAndCount(t, n, empty, full)
	if gotEmpty != 0 || gotFull != full {
		t.Errorf("with the program attached: %d empty and %d full datagrams arrived, want 0 and %d", gotEmpty, gotFull, full)
	}
	// The hook reports its runs when the port waits for frames.
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var runs uint64
	var counts [2]uint64
	for range 200 {
		d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/udp_maps/counts"})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range d.Entries {
			counts[i] = binary.NativeEndian.Uint64(e.Value)
		}
		ps, err := c.Programs(proto.Ref{Pinned: "/sys/fs/bpf/udp_drop"})
		if err != nil {
			t.Fatal(err)
		}
		if runs = ps[0].RunCnt; runs == counts[0] {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if counts != [2]uint64{empty + full, empty} || runs != counts[0] {
		t.Errorf("frames %d, drops %d, run_cnt %d; want %d frames, %d drops and a run per frame", counts[0], counts[1], runs, empty+full, empty)
	}
	for _, line := range []string{
		"map dump pinned /sys/fs/bpf/udp_maps/counts",
		"prog show pinned /sys/fs/bpf/udp_drop",
		"link pin id 1 /sys/fs/bpf/udp_link",
		"link show pinned /sys/fs/bpf/udp_link",
		"net detach xdp dev PORTB",
		"net detach xdp dev PORTA",
		"net show dev PORTA",
		"link show",
	} {
		s.run(line, subst)
	}
	gotEmpty, gotFull = sendAndCount(t, n, empty, full)
	if gotEmpty != empty || gotFull != full {
		t.Errorf("after net detach: %d empty and %d full datagrams arrived, want %d and %d", gotEmpty, gotFull, empty, full)
	}
	for _, line := range []string{
		"map dump pinned /sys/fs/bpf/udp_maps/counts",
		"link detach pinned /sys/fs/bpf/udp_link",
		"unpin /sys/fs/bpf/udp_link",
		"unpin /sys/fs/bpf/udp_drop",
		"unpin /sys/fs/bpf/udp_maps/counts",
		"link show",
	} {
		s.run(line, subst)
	}
	script := s.script.String()
	// Interface names and indexes differ from run to run.
	script = strings.NewReplacer(obj, "OBJ", n.portA, "PORTA", n.portB, "PORTB").Replace(script)
	for _, r := range []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`(PORT[AB])\(\d+\)`), "$1(IFINDEX)"},
		{regexp.MustCompile(`"ifindex":\d+`), `"ifindex":IFINDEX`},
	} {
		script = r.re.ReplaceAllString(script, r.with)
	}
	golden(t, "net_xdp.txt", script)
	var st *proto.StatusResult
	for range 500 {
		if st, err = c.Status(); err != nil {
			t.Fatal(err)
		}
		if st.UnreturnedBytes == 0 && st.Programs == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if *st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v, want nothing left", *st)
	}
}
