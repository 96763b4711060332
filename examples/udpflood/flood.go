//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xebpf/xebpf/internal/netns"
	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// config is what a run does.
type config struct {
	Duration time.Duration // how long both clients send
	FloodPPS int           // the flooder's offered rate; 0: as fast as it can
	LegitPPS int           // the legitimate client's rate
	Limit    uint64        // datagrams a source may send in a window
	Window   time.Duration // the program's window
	Xebpf    string        // the xebpf binary; "": built from the module
}

func defaultConfig() config {
	return config{Duration: 2 * time.Second, LegitPPS: 50, Limit: 20, Window: 100 * time.Millisecond}
}

// counts is one source's datagrams as its sender, the program and the
// receiver counted them.
type counts struct {
	Sent, Passed, Dropped, Received uint64
}

// result is a run's numbers.
type result struct {
	Config       config
	Elapsed      time.Duration // how long the clients sent
	Flood, Legit counts
	Totals       [3]uint64 // the totals map: passed, dropped, other frames
}

// The addresses of the run: two on the client side, one on the server's.
var (
	flooderIP = net.IPv4(10, 233, 0, 1).To4()
	legitIP   = net.IPv4(10, 233, 0, 3).To4()
	serverIP  = net.IPv4(10, 233, 0, 2).To4()
)

const (
	serverPort = 9000
	clientMAC  = "02:00:00:00:e9:01"
	serverMAC  = "02:00:00:00:e9:02"
	progPin    = "/sys/fs/bpf/udpflood"
	mapsPin    = "/sys/fs/bpf/udpflood_maps"
)

// cleanup runs what it holds in reverse order.
type cleanup []func()

func (c *cleanup) add(f func()) { *c = append(*c, f) }

func (c cleanup) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// run does the whole example, writing the commands it runs and their
// output to w; everything it creates is removed before it returns.
func run(ctx context.Context, cfg config, w io.Writer) (*result, error) {
	var undo cleanup
	defer func() { undo.run() }() // undo as it is at the end, not now
	dir, err := os.MkdirTemp("", "udpflood")
	if err != nil {
		return nil, err
	}
	undo.add(func() { os.RemoveAll(dir) })

	bin := cfg.Xebpf
	if bin == "" {
		bin = filepath.Join(dir, "xebpf")
		fmt.Fprintf(w, "# go build -o %s github.com/xebpf/xebpf/cmd/xebpf\n", bin)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/xebpf/xebpf/cmd/xebpf").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building xebpf: %w\n%s", err, out)
		}
	}
	obj := filepath.Join(dir, "udpflood.o")
	if err := os.WriteFile(obj, object, 0o644); err != nil {
		return nil, err
	}

	n, err := setupNet(ctx, &undo)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	sock, err := startDaemon(bin, dir, &undo)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	xebpf := func(args ...string) (string, error) {
		fmt.Fprintf(w, "$ xebpf %s\n", strings.Join(args, " "))
		out, err := exec.CommandContext(ctx, bin, append(args, "--socket", sock)...).CombinedOutput()
		w.Write(out)
		if err != nil {
			return "", fmt.Errorf("xebpf %s: %w", strings.Join(args, " "), err)
		}
		return string(out), nil
	}
	var cfgValue [16]byte
	binary.NativeEndian.PutUint64(cfgValue[:], uint64(cfg.Window.Nanoseconds()))
	binary.NativeEndian.PutUint64(cfgValue[8:], cfg.Limit)
	for _, args := range [][]string{
		{"prog", "load", obj, progPin, "pinmaps", mapsPin},
		append([]string{"map", "update", "pinned", mapsPin + "/config", "key", "0", "0", "0", "0", "value"}, hexBytes(cfgValue[:])...),
		{"net", "port", "add", "dev", n.serverPort},
		{"net", "attach", "xdp", "pinned", progPin, "dev", n.clientPort},
		{"net", "show"},
	} {
		if _, err := xebpf(args...); err != nil {
			return nil, err
		}
	}
	undo.add(func() {
		// The daemon is stopped anyway; this leaves its state clean.
		exec.Command(bin, "net", "detach", "xdp", "dev", n.clientPort, "--socket", sock).Run()
	})

	c, err := client.Dial(sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res := &result{Config: cfg}
	if err := traffic(ctx, cfg, n, c, res); err != nil {
		return nil, err
	}
	for _, m := range []string{"sources", "totals"} {
		if _, err := xebpf("map", "dump", "pinned", mapsPin+"/"+m); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// hexBytes spells b as the bytes of a bpftool command line.
func hexBytes(b []byte) []string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = fmt.Sprintf("0x%02x", v)
	}
	return s
}

// netConfig names the run's namespaces and the daemon's two ports: the
// client namespace's frames arrive on clientPort, the server's on
// serverPort.
type netConfig struct {
	clientNS, serverNS     string
	clientPort, serverPort string
}

// setupNet creates the two namespaces, each joined by a veth pair to a
// port in the current namespace; neighbours are static and IPv6 is off
// on the new interfaces, so only the run's datagrams cross.
func setupNet(ctx context.Context, undo *cleanup) (*netConfig, error) {
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("the ip command (iproute2) is needed: %w", err)
	}
	id := os.Getpid() % 100000
	n := &netConfig{
		clientNS: fmt.Sprintf("udpflood-client-%d", id), serverNS: fmt.Sprintf("udpflood-server-%d", id),
		clientPort: fmt.Sprintf("xfc%d", id), serverPort: fmt.Sprintf("xfs%d", id),
	}
	ip := func(args ...string) error {
		if out, err := exec.CommandContext(ctx, ipCmd, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	for _, ns := range []string{n.clientNS, n.serverNS} {
		if err := ip("netns", "add", ns); err != nil {
			return nil, err
		}
		undo.add(func() { exec.Command(ipCmd, "netns", "del", ns).Run() })
	}
	undo.add(func() {
		exec.Command(ipCmd, "link", "del", n.clientPort).Run()
		exec.Command(ipCmd, "link", "del", n.serverPort).Run()
	})
	srv, cli := serverIP.String(), flooderIP.String()
	for _, args := range [][]string{
		{"link", "add", n.clientPort, "type", "veth", "peer", "name", "eth0", "netns", n.clientNS},
		{"link", "add", n.serverPort, "type", "veth", "peer", "name", "eth0", "netns", n.serverNS},
		{"-n", n.clientNS, "link", "set", "eth0", "address", clientMAC},
		{"-n", n.serverNS, "link", "set", "eth0", "address", serverMAC},
		{"-n", n.clientNS, "addr", "add", cli + "/24", "dev", "eth0"},
		{"-n", n.clientNS, "addr", "add", legitIP.String() + "/24", "dev", "eth0"},
		{"-n", n.serverNS, "addr", "add", srv + "/24", "dev", "eth0"},
		{"-n", n.clientNS, "neigh", "add", srv, "lladdr", serverMAC, "dev", "eth0", "nud", "permanent"},
		{"-n", n.serverNS, "neigh", "add", cli, "lladdr", clientMAC, "dev", "eth0", "nud", "permanent"},
		{"-n", n.serverNS, "neigh", "add", legitIP.String(), "lladdr", clientMAC, "dev", "eth0", "nud", "permanent"},
		{"-n", n.clientNS, "link", "set", "eth0", "addrgenmode", "none"},
		{"-n", n.serverNS, "link", "set", "eth0", "addrgenmode", "none"},
		{"link", "set", n.clientPort, "addrgenmode", "none"},
		{"link", "set", n.serverPort, "addrgenmode", "none"},
		{"-n", n.clientNS, "link", "set", "eth0", "up"},
		{"-n", n.serverNS, "link", "set", "eth0", "up"},
		{"link", "set", n.clientPort, "up"},
		{"link", "set", n.serverPort, "up"},
	} {
		if err := ip(args...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// startDaemon runs xebpf daemon with its socket and state in dir and
// waits until it accepts connections; undo stops it with SIGTERM (and
// kills it if it does not stop).
func startDaemon(bin, dir string, undo *cleanup) (string, error) {
	sock := filepath.Join(dir, "xebpf.sock")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "daemon", "--socket", sock, "--state", filepath.Join(dir, "state"))
	cmd.Stderr = &stderr
	// Its own process group: Ctrl-C reaches the example, which stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	undo.add(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for range 500 {
		select {
		case err := <-done:
			done <- err
			return "", fmt.Errorf("exited: %v\n%s", err, stderr.String())
		default:
		}
		if c, err := client.Dial(sock); err == nil {
			c.Close()
			return sock, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("no socket %s after 5 s", sock)
}

// udpIn opens a UDP socket on ip:port in namespace ns.
func udpIn(ns string, ip net.IP, port int) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := netns.Do(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		return err
	})
	return c, err
}

// traffic runs the receiver, the flooder and the legitimate client, then
// waits until the program has seen every datagram that reached the
// bridge and the receiver has read every one it passed, and fills res.
func traffic(ctx context.Context, cfg config, n *netConfig, c *client.Client, res *result) error {
	rx, err := udpIn(n.serverNS, serverIP, serverPort)
	if err != nil {
		return err
	}
	defer rx.Close()
	rx.SetReadBuffer(8 << 20)
	flood, err := udpIn(n.clientNS, flooderIP, 0)
	if err != nil {
		return err
	}
	defer flood.Close()
	legit, err := udpIn(n.clientNS, legitIP, 0)
	if err != nil {
		return err
	}
	defer legit.Close()

	var recvFlood, recvLegit atomic.Uint64
	rxDone := make(chan struct{})
	go func() {
		defer close(rxDone)
		buf := make([]byte, 2048)
		for {
			_, from, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			switch from.Addr().As4() {
			case [4]byte(flooderIP):
				recvFlood.Add(1)
			case [4]byte(legitIP):
				recvLegit.Add(1)
			}
		}
	}()
	to := &net.UDPAddr{IP: serverIP, Port: serverPort}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	var errs [2]error
	send := func(i int, conn *net.UDPConn, pps int, sent *uint64) {
		defer wg.Done()
		payload := make([]byte, 64)
		var interval time.Duration
		if pps > 0 {
			interval = time.Second / time.Duration(pps)
		}
		next := start
		for ctx.Err() == nil {
			now := time.Now()
			if !now.Before(deadline) {
				return
			}
			if interval > 0 {
				if wait := next.Sub(now); wait > 0 {
					time.Sleep(wait)
					if !time.Now().Before(deadline) {
						return
					}
				}
				next = next.Add(interval)
			}
			binary.BigEndian.PutUint64(payload, *sent)
			if _, err := conn.WriteToUDP(payload, to); err != nil {
				if errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN) {
					continue // not sent: the device queue is full
				}
				errs[i] = err
				return
			}
			*sent++
		}
	}
	wg.Add(2)
	go send(0, flood, cfg.FloodPPS, &res.Flood.Sent)
	go send(1, legit, cfg.LegitPPS, &res.Legit.Sent)
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := errors.Join(errs[0], errs[1], ctx.Err()); err != nil {
		return err
	}

	// The bridge and the receiver may still hold datagrams: wait until
	// the program's counts stop moving and the receiver has every passed
	// datagram.
	var last [3]uint64
	stable := 0
	for stable < 30 {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
		if err := readCounters(c, res); err != nil {
			return err
		}
		cur := [3]uint64{res.Totals[0] + res.Totals[1], recvFlood.Load(), recvLegit.Load()}
		if cur == last && res.Flood.Passed == cur[1] && res.Legit.Passed == cur[2] {
			stable++
		} else {
			stable = 0
		}
		if time.Since(start) > cfg.Duration+30*time.Second {
			break
		}
		last = cur
	}
	rx.Close()
	<-rxDone
	res.Flood.Received, res.Legit.Received = recvFlood.Load(), recvLegit.Load()
	return nil
}

// readCounters reads the program's per-source counters and totals.
func readCounters(c *client.Client, res *result) error {
	d, err := c.DumpMap(proto.Ref{Pinned: mapsPin + "/sources"})
	if err != nil {
		return err
	}
	res.Flood.Passed, res.Flood.Dropped, res.Legit.Passed, res.Legit.Dropped = 0, 0, 0, 0
	for _, e := range d.Entries {
		if len(e.Key) != 4 || len(e.Value) != 32 {
			return fmt.Errorf("sources: entry of %d and %d bytes, want 4 and 32", len(e.Key), len(e.Value))
		}
		var cs *counts
		switch [4]byte(e.Key) {
		case [4]byte(flooderIP):
			cs = &res.Flood
		case [4]byte(legitIP):
			cs = &res.Legit
		default:
			continue
		}
		cs.Passed = binary.NativeEndian.Uint64(e.Value[16:])
		cs.Dropped = binary.NativeEndian.Uint64(e.Value[24:])
	}
	t, err := c.DumpMap(proto.Ref{Pinned: mapsPin + "/totals"})
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		if len(e.Key) != 4 || len(e.Value) != 8 {
			return fmt.Errorf("totals: entry of %d and %d bytes, want 4 and 8", len(e.Key), len(e.Value))
		}
		if k := binary.NativeEndian.Uint32(e.Key); k < uint32(len(res.Totals)) {
			res.Totals[k] = binary.NativeEndian.Uint64(e.Value)
		}
	}
	return nil
}
