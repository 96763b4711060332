//go:build linux

package xdp

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/netns"
	"golang.org/x/sys/unix"
)

// testNet is two network namespaces joined twice: through the bridge
// (ns1's e1 to the root namespace's portA, portB to ns2's e2, addresses
// 10.231.0.1 and .2) and directly (a veth pair d1–d2, 10.231.1.1 and .2)
// for comparison. Neighbours are static, so no ARP frame crosses.
type testNet struct {
	ns1, ns2     string
	portA, portB string
	opts         connOptions // the rings of the bridges' ports
}

// modes are the ways ports receive and send: recvmsg and sendto, a
// receive ring and sendto, both rings.
var modes = []struct {
	name string
	opts connOptions
}{{"recv", connOptions{}}, {"ring", connOptions{rxRing: true}}, {"rings", connOptions{rxRing: true, txRing: true}}}

// connRings returns the rings c has.
func connRings(c conn) connOptions {
	switch c := c.(type) {
	case *ringConn:
		return connOptions{rxRing: true, qdisc: c.qdisc}
	case txRingConn:
		return connOptions{rxRing: true, txRing: c.tx != nil, qdisc: c.qdisc}
	}
	if c, ok := c.(*packetConn); ok {
		return connOptions{qdisc: c.qdisc}
	}
	return connOptions{}
}

var (
	bridged1 = net.IPv4(10, 231, 0, 1)
	bridged2 = net.IPv4(10, 231, 0, 2)
	direct1  = net.IPv4(10, 231, 1, 1)
	direct2  = net.IPv4(10, 231, 1, 2)
)

var netSeq atomic.Int32

// setupNet creates a testNet, removed when the test ends; it skips the
// test without root, without the ip command or without namespaces.
func setupNet(t *testing.T) *testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, netSeq.Add(1))
	n := &testNet{ns1: "xdpt1-" + id, ns2: "xdpt2-" + id, portA: "xpa" + id, portB: "xpb" + id}
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
		{"-n", n.ns1, "link", "add", "d1", "type", "veth", "peer", "name", "d2", "netns", n.ns2},
		{"-n", n.ns1, "link", "set", "e1", "address", "02:00:00:00:00:01"},
		{"-n", n.ns2, "link", "set", "e2", "address", "02:00:00:00:00:02"},
		{"-n", n.ns1, "link", "set", "d1", "address", "02:00:00:00:01:01"},
		{"-n", n.ns2, "link", "set", "d2", "address", "02:00:00:00:01:02"},
		{"-n", n.ns1, "addr", "add", "10.231.0.1/24", "dev", "e1"},
		{"-n", n.ns2, "addr", "add", "10.231.0.2/24", "dev", "e2"},
		{"-n", n.ns1, "addr", "add", "10.231.1.1/24", "dev", "d1"},
		{"-n", n.ns2, "addr", "add", "10.231.1.2/24", "dev", "d2"},
		{"-n", n.ns1, "neigh", "add", "10.231.0.2", "lladdr", "02:00:00:00:00:02", "dev", "e1", "nud", "permanent"},
		{"-n", n.ns2, "neigh", "add", "10.231.0.1", "lladdr", "02:00:00:00:00:01", "dev", "e2", "nud", "permanent"},
		{"-n", n.ns1, "neigh", "add", "10.231.1.2", "lladdr", "02:00:00:00:01:02", "dev", "d1", "nud", "permanent"},
		{"-n", n.ns2, "neigh", "add", "10.231.1.1", "lladdr", "02:00:00:00:01:01", "dev", "d2", "nud", "permanent"},
		{"-n", n.ns1, "link", "set", "e1", "up"},
		{"-n", n.ns2, "link", "set", "e2", "up"},
		{"-n", n.ns1, "link", "set", "d1", "up"},
		{"-n", n.ns2, "link", "set", "d2", "up"},
		{"link", "set", n.portA, "up"},
		{"link", "set", n.portB, "up"},
	} {
		if args[len(args)-1] == "up" {
			// No IPv6 link-local addresses, so no stray frames (best
			// effort: kernels without IPv6 refuse it).
			ip(append(args[:len(args)-1:len(args)-1], "addrgenmode", "none")...)
		}
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// listen opens a UDP socket on ip:port in the namespace ns.
func listen(t testing.TB, ns string, ip net.IP, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := netns.Do(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		if err == nil {
			// Room for a test's whole burst, read after it is sent:
			// rmem_default may hold fewer of the bridge's frames. As
			// root, SO_RCVBUFFORCE passes rmem_max.
			err = forceReadBuffer(c, 4<<20)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// forceReadBuffer sets c's receive buffer to n bytes, past rmem_max.
func forceReadBuffer(c *net.UDPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}

// rawSocket returns an AF_PACKET socket on dev in namespace ns, with
// PACKET_AUXDATA and a receive timeout of a second, closed when the test
// ends.
func rawSocket(t testing.TB, ns, dev string) int {
	t.Helper()
	fd := -1
	err := netns.Do(ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if fd >= 0 {
		t.Cleanup(func() { unix.Close(fd) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// readTagged reads a frame from the packet socket fd and returns it with
// the TCI of its VLAN tag (0 if none), which Linux reports apart.
func readTagged(fd int) ([]byte, uint16, error) {
	buf, oob := make([]byte, 2048), make([]byte, 64)
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
	if err != nil {
		return nil, 0, err
	}
	_, tci, _ := auxVLAN(oob[:oobn])
	return buf[:n], tci, nil
}

// rxPackets returns the frames the interface dev of namespace ns has
// received, from /proc/net/dev as the namespace sees it.
func rxPackets(t testing.TB, ns, dev string) uint64 {
	t.Helper()
	var rx uint64
	err := netns.Do(ns, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, rest, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) != dev {
				continue
			}
			f := strings.Fields(rest) // bytes, packets, ...
			if len(f) < 2 {
				break
			}
			rx, err = strconv.ParseUint(f[1], 10, 64)
			return err
		}
		return fmt.Errorf("no %s in /proc/net/dev of %s", dev, ns)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rx
}

// bridgeObject builds testdata/bridge.c and loads it.
func bridgeObject(t testing.TB) *xebpf.Collection {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), "bridge.o")
	if out, err := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-I", filepath.Join("..", "..", "include"),
		"-c", filepath.Join("testdata", "bridge.c"), "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// bridgeWith returns a bridge of portA and portB running prog on portA
// (none if empty) and nothing on portB, closed when the test ends.
func (n *testNet) bridgeWith(t testing.TB, c *xebpf.Collection, prog string) (*Bridge, *Link) {
	t.Helper()
	b := NewBridge()
	b.open = func(ifname string) (conn, int, error) {
		c, i, err := openPacket(ifname, n.opts)
		if err == nil && connRings(c) != n.opts {
			c.close()
			return nil, 0, fmt.Errorf("rings %+v, want %+v", connRings(c), n.opts)
		}
		return c, i, err
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := b.AddPort(n.portB); err != nil {
		t.Fatal(err)
	}
	if prog == "" {
		if _, err := b.AddPort(n.portA); err != nil {
			t.Fatal(err)
		}
		return b, nil
	}
	l, err := b.Attach(c.Programs[prog], n.portA)
	if err != nil {
		t.Fatal(err)
	}
	return b, l
}

// warmUp sends datagrams from one socket to the other through the bridge
// until one arrives, then waits until no more arrive, so that a test
// counts its own frames only once the path carries frames (a port whose
// peer just came up) and no retried warm-up crosses later. recvAll leaves
// warm-up datagrams out.
func warmUp(t *testing.T, from, to *net.UDPConn, ip net.IP, port int) {
	t.Helper()
	buf := make([]byte, 2048)
	for range 20 {
		sendTo(t, from, ip, port, warmUpPayload)
		to.SetReadDeadline(time.Now().Add(time.Second))
		if n, _, err := to.ReadFromUDP(buf); err == nil && bytes.Equal(buf[:n], warmUpPayload) {
			recvAll(to, 200*time.Millisecond) // the retries still on their way
			return
		}
	}
	t.Fatalf("no warm-up datagram crossed the bridge to %v:%d", ip, port)
}

var warmUpPayload = []byte("warm-up")

// recvAll reads datagrams from c until none comes for quiet, leaving out
// warm-up datagrams.
func recvAll(c *net.UDPConn, quiet time.Duration) [][]byte {
	var got [][]byte
	buf := make([]byte, 2048)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return got
		}
		if !bytes.Equal(buf[:n], warmUpPayload) {
			got = append(got, bytes.Clone(buf[:n]))
		}
	}
}

func sendTo(t testing.TB, c *net.UDPConn, ip net.IP, port int, payload []byte) {
	t.Helper()
	if _, err := c.WriteToUDP(payload, &net.UDPAddr{IP: ip, Port: port}); err != nil {
		t.Fatal(err)
	}
}

// TestBridgeNetns runs XDP programs on the frames between two network
// namespaces joined through a Bridge: payloads pass both ways, empty
// datagrams are dropped with an exact count in a map, an XDP_TX echo
// answers the sender, and a DEVMAP redirect reaches the second port.
func TestBridgeNetns(t *testing.T) {
	n := setupNet(t)
	coll := bridgeObject(t)
	for _, m := range modes {
		n.opts = m.opts
		t.Run(m.name, func(t *testing.T) { testBridgeNetns(t, n, coll) })
	}
}

func testBridgeNetns(t *testing.T, n *testNet, coll *xebpf.Collection) {
	t.Run("pass", func(t *testing.T) {
		b, l := n.bridgeWith(t, coll, "xdp_pass")
		s1, s2 := listen(t, n.ns1, bridged1, 9000), listen(t, n.ns2, bridged2, 9000)
		warmUp(t, s1, s2, bridged2, 9000)
		const count = 100
		for i := range count {
			sendTo(t, s1, bridged2, 9000, fmt.Appendf(nil, "payload %d", i))
		}
		got := recvAll(s2, 300*time.Millisecond)
		if len(got) != count {
			t.Fatalf("ns2 received %d datagrams, want %d", len(got), count)
		}
		for i, p := range got {
			if want := fmt.Sprintf("payload %d", i); string(p) != want {
				t.Errorf("datagram %d is %q, want %q", i, p, want)
			}
		}
		// Back through portB, which has no program.
		sendTo(t, s2, bridged1, 9000, []byte("reply"))
		if got := recvAll(s1, 300*time.Millisecond); len(got) != 1 || string(got[0]) != "reply" {
			t.Errorf("ns1 received %q, want [reply]", got)
		}
		if s := l.Stats(); s.Actions[Pass] < count || s.Frames != s.Actions[Pass] || s.RunTime <= 0 {
			t.Errorf("stats %+v, want at least %d passes and nothing else", s, count)
		}
		checkKicks(t, b, l.Ifindex(), n.opts)
	})

	t.Run("vlan tag kept", func(t *testing.T) {
		// Linux takes the tag out of a frame before packet sockets see
		// it; the bridge must put it back.
		_, l := n.bridgeWith(t, coll, "xdp_pass")
		tx, rx := rawSocket(t, n.ns1, "e1"), rawSocket(t, n.ns2, "e2")
		for i := range 5 {
			frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x20, 0x05, 0x88, 0xb5}
			frame = fmt.Appendf(frame, "vlan test %d", i)
			frame = append(frame, make([]byte, max(0, 64-len(frame)))...)
			if _, err := unix.Write(tx, frame); err != nil {
				t.Fatal(err)
			}
			for {
				got, tci, err := readTagged(rx)
				if err != nil {
					t.Fatalf("frame %d not received: %v", i, err)
				}
				if !bytes.HasPrefix(got[12:], []byte{0x88, 0xb5}) {
					continue // not ours
				}
				if tci != 0x2005 || !bytes.Equal(got[:12], frame[:12]) || !bytes.Equal(got[14:], frame[18:]) {
					t.Fatalf("frame %d arrived with tag %#x as % x, want tag 0x2005 on % x", i, tci, got, frame)
				}
				break
			}
		}
		if s := l.Stats(); s.Actions[Pass] < 5 {
			t.Errorf("stats %+v, want at least 5 passes", s)
		}
	})

	t.Run("drop empty", func(t *testing.T) {
		key := uint32(0)
		if err := coll.Maps["drops"].Put(key, uint64(0)); err != nil {
			t.Fatal(err)
		}
		_, l := n.bridgeWith(t, coll, "xdp_drop_empty")
		s1, s2 := listen(t, n.ns1, bridged1, 9001), listen(t, n.ns2, bridged2, 9001)
		warmUp(t, s1, s2, bridged2, 9001)
		const empty = 37
		for i := range 50 {
			if i < empty {
				sendTo(t, s1, bridged2, 9001, nil)
			}
			sendTo(t, s1, bridged2, 9001, fmt.Appendf(nil, "p%d", i))
		}
		got := recvAll(s2, 300*time.Millisecond)
		if len(got) != 50 {
			t.Fatalf("ns2 received %d datagrams, want the 50 with a payload", len(got))
		}
		for i, p := range got {
			if len(p) == 0 {
				t.Errorf("datagram %d is empty", i)
			}
		}
		var dropped uint64
		if err := coll.Maps["drops"].Lookup(key, &dropped); err != nil {
			t.Fatal(err)
		}
		if dropped != empty {
			t.Errorf("drops[0] = %d, want %d", dropped, empty)
		}
		if s := l.Stats(); s.Actions[Drop] != empty {
			t.Errorf("link counted %d drops, want %d", s.Actions[Drop], empty)
		}
	})

	t.Run("tx echo", func(t *testing.T) {
		_, l := n.bridgeWith(t, coll, "xdp_echo")
		s1 := listen(t, n.ns1, bridged1, 9002)
		s2 := listen(t, n.ns2, bridged2, 7) // must see nothing: the bridge answers
		for i := range 10 {
			msg := fmt.Appendf(nil, "echo %d", i)
			sendTo(t, s1, bridged2, 7, msg)
			s1.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 100)
			nr, from, err := s1.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("no echo: %v", err)
			}
			if !bytes.Equal(buf[:nr], msg) || !from.IP.Equal(bridged2) || from.Port != 7 {
				t.Fatalf("echo %q from %v, want %q from %v:7", buf[:nr], from, msg, bridged2)
			}
		}
		if got := recvAll(s2, 100*time.Millisecond); len(got) != 0 {
			t.Errorf("ns2 received %d datagrams; XDP_TX should have answered them all", len(got))
		}
		if s := l.Stats(); s.Actions[TX] != 10 {
			t.Errorf("link counted %d XDP_TX, want 10", s.Actions[TX])
		}
	})

	t.Run("frames past the MTU", func(t *testing.T) {
		// Programs may lengthen frames past the MTU: the kernel refuses
		// to send those, and the link counts them as send errors.
		b, l := n.bridgeWith(t, coll, "xdp_grow")
		s1, s2 := listen(t, n.ns1, bridged1, 9005), listen(t, n.ns2, bridged2, 9005)
		s2long := listen(t, n.ns2, bridged2, 9006)
		warmUp(t, s1, s2, bridged2, 9005)
		ifB, _ := b.AddPort(n.portB)
		sent0, _ := b.PortStats(ifB)
		for i := range 20 {
			sendTo(t, s1, bridged2, 9005, fmt.Appendf(nil, "long %d", i)) // 1064 bytes
		}
		for i := range 10 {
			sendTo(t, s1, bridged2, 9006, fmt.Appendf(nil, "too long %d", i)) // 1564 bytes
		}
		got := recvAll(s2, 300*time.Millisecond)
		if len(got) != 20 {
			t.Errorf("ns2 received %d datagrams of 1064-byte frames, want 20", len(got))
		}
		waitFor(t, func() bool { return l.Stats().SendErrors >= 10 })
		time.Sleep(10 * time.Millisecond)
		if s := l.Stats(); s.SendErrors != 10 {
			t.Errorf("%d send errors, want the 10 frames past the MTU", s.SendErrors)
		}
		if s, _ := b.PortStats(ifB); s.Sent-sent0.Sent != 20 {
			t.Errorf("port B sent %d frames, want 20", s.Sent-sent0.Sent)
		}
		checkKicks(t, b, ifB, n.opts)
		// Once the MTU is raised they go.
		ip(t, "link", "set", n.portB, "mtu", "1600")
		ip(t, "-n", n.ns2, "link", "set", "e2", "mtu", "1600")
		defer ip(t, "link", "set", n.portB, "mtu", "1500")
		defer ip(t, "-n", n.ns2, "link", "set", "e2", "mtu", "1500")
		for i := range 5 {
			sendTo(t, s1, bridged2, 9006, fmt.Appendf(nil, "fits now %d", i))
		}
		if got := recvAll(s2long, 300*time.Millisecond); len(got) != 5 {
			t.Errorf("ns2 received %d datagrams of 1564-byte frames after the MTU was raised, want 5", len(got))
		}
		if s := l.Stats(); s.SendErrors != 10 {
			t.Errorf("%d send errors after the MTU was raised, want still 10", s.SendErrors)
		}
		if s, _ := b.PortStats(ifB); s.Sent-sent0.Sent != 25 {
			t.Errorf("port B sent %d frames, want 25 after the MTU was raised", s.Sent-sent0.Sent)
		}
	})

	t.Run("peer down", func(t *testing.T) {
		// Frames to a port whose peer is down fail (the driver drops
		// them): counted, and the port sends again once the peer is up.
		b, l := n.bridgeWith(t, coll, "xdp_pass")
		s1, s2 := listen(t, n.ns1, bridged1, 9007), listen(t, n.ns2, bridged2, 9007)
		warmUp(t, s1, s2, bridged2, 9007)
		ip(t, "-n", n.ns2, "link", "set", "e2", "down")
		up := false
		defer func() {
			if !up {
				ip(t, "-n", n.ns2, "link", "set", "e2", "up")
			}
		}()
		for i := range 30 {
			sendTo(t, s1, bridged2, 9007, fmt.Appendf(nil, "lost %d", i))
		}
		waitFor(t, func() bool { return l.Stats().SendErrors >= 30 })
		time.Sleep(10 * time.Millisecond)
		if s := l.Stats(); s.SendErrors != 30 {
			t.Errorf("%d send errors, want the 30 frames sent while the peer was down", s.SendErrors)
		}
		ip(t, "-n", n.ns2, "link", "set", "e2", "up")
		up = true
		// Warm-up frames sent while the link comes up may fail too; once
		// one has crossed, none may.
		warmUp(t, s1, s2, bridged2, 9007)
		errs := l.Stats().SendErrors
		for i := range 20 {
			sendTo(t, s1, bridged2, 9007, fmt.Appendf(nil, "back %d", i))
		}
		if got := recvAll(s2, 300*time.Millisecond); len(got) != 20 {
			t.Errorf("ns2 received %d datagrams once up again, want 20", len(got))
		}
		if s := l.Stats(); s.SendErrors != errs {
			t.Errorf("%d send errors once up again, want none", s.SendErrors-errs)
		}
		ifB, _ := b.AddPort(n.portB)
		checkKicks(t, b, ifB, n.opts)
	})

	t.Run("redirect", func(t *testing.T) {
		b, l := n.bridgeWith(t, coll, "xdp_redirect")
		ifB, err := b.AddPort(n.portB)
		if err != nil {
			t.Fatal(err)
		}
		devs := coll.Maps["tx_port"]
		if err := devs.Put(uint32(0), uint32(ifB)); err != nil {
			t.Fatal(err)
		}
		s1, s2 := listen(t, n.ns1, bridged1, 9003), listen(t, n.ns2, bridged2, 9003)
		for i := range 20 {
			sendTo(t, s1, bridged2, 9003, fmt.Appendf(nil, "r%d", i))
		}
		if got := recvAll(s2, 300*time.Millisecond); len(got) != 20 {
			t.Fatalf("ns2 received %d datagrams, want 20", len(got))
		}
		if s := l.Stats(); s.Actions[Redirect] != 20 || s.Actions[Pass] != s.Frames-20 {
			t.Errorf("stats %+v, want 20 redirects and the rest passed", s)
		}
		// Without the devmap entry the program's fallback drops them.
		if err := devs.Delete(uint32(0)); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			sendTo(t, s1, bridged2, 9003, fmt.Appendf(nil, "x%d", i))
		}
		if got := recvAll(s2, 300*time.Millisecond); len(got) != 0 {
			t.Errorf("ns2 received %d datagrams without a devmap entry", len(got))
		}
		if s := l.Stats(); s.Actions[Drop] != 5 || s.Actions[Redirect] != 20 {
			t.Errorf("stats %+v, want 5 drops after the entry's removal", s)
		}
	})
}

// ip runs the ip command.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}

// checkKicks checks that the port of ifindex sent through its transmit
// ring if the bridge's ports have one.
func checkKicks(t *testing.T, b *Bridge, ifindex int, opts connOptions) {
	t.Helper()
	tc, ok := b.lookupPort(ifindex).c.(txRingConn)
	if ok != opts.txRing {
		t.Fatalf("port %d has a transmit ring: %v, want %v", ifindex, ok, opts.txRing)
	}
	if ok && tc.tx.kicks.Load() == 0 {
		t.Errorf("port %d never kicked its transmit ring", ifindex)
	}
}

// TestMain runs the traffic sender of TestBridgeMeasure when the test
// binary is started as one (XDP_TEST_SEND set), else the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv("XDP_TEST_SEND"); spec != "" {
		if err := sendFlood(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sendFlood sends UDP datagrams of 22 bytes (64-byte frames) to the
// address of spec ("ip:port duration") for the duration and prints how
// many it sent and in how long.
func sendFlood(spec string) error {
	addr, d, ok := strings.Cut(spec, " ")
	if !ok {
		return fmt.Errorf("bad XDP_TEST_SEND %q", spec)
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		return err
	}
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	payload := make([]byte, 22) // 14 + 20 + 8 + 22 = 64 bytes
	sent := 0
	start := time.Now()
	for time.Since(start) < dur {
		for range 64 {
			if _, err := c.Write(payload); err == nil {
				sent++
			}
		}
	}
	fmt.Println(sent, time.Since(start).Nanoseconds())
	return nil
}

// flood runs the sender in namespace ns (a process of its own, on CPU 0
// when there are several) for dur and returns what it sent and for how
// long.
func flood(t *testing.T, ns string, to string, dur time.Duration) (int, time.Duration) {
	t.Helper()
	args := []string{"ip", "netns", "exec", ns, os.Args[0]}
	if runtime.NumCPU() > 1 {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{taskset, "-c", "0"}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "XDP_TEST_SEND="+to+" "+dur.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sender: %v", err)
	}
	var sent int
	var ns64 int64
	if _, err := fmt.Sscan(string(out), &sent, &ns64); err != nil {
		t.Fatalf("sender said %q: %v", out, err)
	}
	return sent, time.Duration(ns64)
}

// TestBridgeMeasure measures the path through the bridge against the
// direct veth pair between the same namespaces, in the same run: packets
// per second of 64-byte frames (UDP with 22 bytes of payload) with
// XDP_PASS and XDP_DROP for each way of receiving and sending (modes),
// the bridge on one core (GOMAXPROCS 1, the sender a process of its own
// on CPU 0), and the round-trip time of a UDP ping-pong. The paths take
// turns within each round, so that each bridge's rate is a ratio to the
// direct path measured just before it on a machine whose load varies.
// It logs the figures (median and range over the rounds) and asserts only
// that traffic flowed.
func TestBridgeMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: measures for seconds")
	}
	n := setupNet(t)
	coll := bridgeObject(t)
	const window, rounds = time.Second, 5
	t.Logf("%d CPUs, %s", runtime.NumCPU(), runtime.Version())
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	type path struct {
		name, prog string
		opts       connOptions
	}
	paths := []path{{name: "direct veth"}}
	for _, m := range modes {
		for _, prog := range []string{"xdp_pass", "xdp_drop"} {
			paths = append(paths, path{m.name + " " + strings.ToUpper(prog), prog, m.opts})
		}
	}
	// Both rings, through the qdisc rather than around it.
	paths = append(paths, path{"rings+qdisc XDP_PASS", "xdp_pass", connOptions{rxRing: true, txRing: true, qdisc: true}})
	type result struct {
		arrived, ratio, ran, kernelDrop                   []float64
		sendErrors, kicks, txFrames, fullWaits, fullDrops uint64
	}
	res := make([]result, len(paths))
	listen(t, n.ns2, direct2, 9100) // bound, never read: no ICMP back
	listen(t, n.ns2, bridged2, 9100)
	for range rounds {
		var direct float64
		for i, p := range paths {
			dst, dev := bridged2, "e2"
			if p.prog == "" {
				dst, dev = direct2, "d2"
			}
			var l *Link
			var b *Bridge
			if p.prog != "" {
				n.opts = p.opts
				b, l = n.bridgeWith(t, coll, p.prog)
			}
			arrived0 := rxPackets(t, n.ns2, dev)
			_, d := flood(t, n.ns1, fmt.Sprintf("%s:9100", dst), window)
			time.Sleep(50 * time.Millisecond) // let the queues drain
			sec := d.Seconds()
			r := &res[i]
			arrived := float64(rxPackets(t, n.ns2, dev)-arrived0) / sec
			if p.prog == "" {
				direct = arrived
				if arrived == 0 {
					t.Fatal("nothing arrived on the direct path")
				}
			}
			rate := arrived
			if l != nil {
				s := l.Stats()
				if s.Frames == 0 {
					t.Fatalf("%s: the program saw no frame", p.name)
				}
				rate = float64(s.Frames) / sec
				ps, _ := b.PortStats(l.Ifindex())
				r.ran = append(r.ran, rate)
				r.kernelDrop = append(r.kernelDrop, 100*float64(ps.KernelDrops)/float64(max(ps.KernelDrops+ps.Received, 1)))
				r.sendErrors += s.SendErrors
				for _, q := range []int{l.Ifindex(), 0} {
					if q == 0 {
						q = b.others(b.lookupPort(l.Ifindex()), nil)[0].ifindex
					}
					if tc, ok := b.lookupPort(q).c.(txRingConn); ok && tc.tx != nil {
						r.kicks += tc.tx.kicks.Load()
						r.fullWaits += tc.tx.fullWaits.Load()
						r.fullDrops += tc.tx.fullDrops.Load()
						qs, _ := b.PortStats(q)
						r.txFrames += qs.Sent
					}
				}
				b.Close()
			}
			r.arrived = append(r.arrived, arrived)
			if p.prog == "xdp_drop" {
				r.ratio = append(r.ratio, rate/direct) // what the bridge took
			} else {
				r.ratio = append(r.ratio, arrived/direct)
			}
		}
	}
	span := func(v []float64, f string) string {
		slices.Sort(v)
		return fmt.Sprintf(f+" ("+f+"–"+f+")", v[len(v)/2], v[0], v[len(v)-1])
	}
	for i, p := range paths {
		r := res[i]
		msg := fmt.Sprintf("%-20s arrived at ns2 %s pps, ratio to direct %s", p.name, span(r.arrived, "%.0f"), span(r.ratio, "%.2f"))
		if p.prog != "" {
			msg += fmt.Sprintf("; program ran on %s pps; kernel dropped %s%% before the bridge; %d send errors",
				span(r.ran, "%.0f"), span(r.kernelDrop, "%.1f"), r.sendErrors)
		}
		if r.kicks > 0 {
			msg += fmt.Sprintf("; %.1f frames a kick, ring full %d times, %d dropped full", float64(r.txFrames)/float64(r.kicks), r.fullWaits, r.fullDrops)
		}
		t.Log(msg)
	}

	latPaths := []path{{name: "direct veth"}}
	for _, m := range modes {
		latPaths = append(latPaths, path{m.name + " XDP_PASS", "xdp_pass", m.opts})
	}
	rtts := make([][]time.Duration, len(latPaths))
	for i, p := range latPaths {
		src, dst := bridged1, bridged2
		if p.prog == "" {
			src, dst = direct1, direct2
		}
		cl, srv := listen(t, n.ns1, src, 0), listen(t, n.ns2, dst, 9200+i)
		go func() {
			buf := make([]byte, 64)
			for {
				nr, from, err := srv.ReadFromUDP(buf)
				if err != nil {
					return // closed at the end of the test
				}
				srv.WriteToUDP(buf[:nr], from)
			}
		}()
		func() {
			if p.prog != "" {
				n.opts = p.opts
				b, _ := n.bridgeWith(t, coll, p.prog)
				defer b.Close()
			}
			to := &net.UDPAddr{IP: dst, Port: 9200 + i}
			payload := make([]byte, 22)
			buf := make([]byte, 64)
			const count = 5000
			for range count {
				start := time.Now()
				if _, err := cl.WriteToUDP(payload, to); err != nil {
					t.Fatal(err)
				}
				cl.SetReadDeadline(time.Now().Add(time.Second))
				if _, _, err := cl.ReadFromUDP(buf); err != nil {
					continue // lost: not counted
				}
				rtts[i] = append(rtts[i], time.Since(start))
			}
			if len(rtts[i]) < count/2 {
				t.Fatalf("%s: %d of %d round trips completed", p.name, len(rtts[i]), count)
			}
		}()
	}
	for i, p := range latPaths {
		r := rtts[i]
		slices.Sort(r)
		t.Logf("%-20s round trip median %v, p90 %v, p99 %v (%d of 5000)", p.name, r[len(r)/2], r[len(r)*9/10], r[len(r)*99/100], len(r))
	}
}
