//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestUDPFlood runs the example for a second with a paced flood (ten
// times the limit, slow enough that the kernel drops nothing before the
// bridge): every datagram sent is seen by the program, the legitimate
// client's all arrive, the flooder's arrive at the configured rate, and
// the map's counters equal what the senders sent and the receiver read.
func TestUDPFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds xebpf and sends for a second")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	if out, err := exec.Command("ip", "netns", "add", "udpflood-probe").CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable: %v: %s", err, out)
	}
	exec.Command("ip", "netns", "del", "udpflood-probe").Run()

	cfg := config{Duration: time.Second, FloodPPS: 2000, LegitPPS: 50, Limit: 20, Window: 100 * time.Millisecond}
	var out bytes.Buffer
	res, err := run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var sum bytes.Buffer
	res.summary(&sum)
	t.Logf("%s%s", out.String(), sum.String())

	for _, want := range []string{"$ xebpf net attach xdp pinned /sys/fs/bpf/udpflood dev", "$ xebpf map dump pinned /sys/fs/bpf/udpflood_maps/sources", "Found 3 elements"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, s := range []struct {
		name string
		c    counts
	}{{"flooder", res.Flood}, {"client", res.Legit}} {
		if s.c.Passed+s.c.Dropped != s.c.Sent {
			t.Errorf("%s: sent %d, the program saw %d (passed %d, dropped %d)", s.name, s.c.Sent, s.c.Passed+s.c.Dropped, s.c.Passed, s.c.Dropped)
		}
		if s.c.Received != s.c.Passed {
			t.Errorf("%s: the program passed %d, the receiver read %d", s.name, s.c.Passed, s.c.Received)
		}
	}
	if res.Flood.Dropped != res.Flood.Sent-res.Flood.Received {
		t.Errorf("flooder: dropped %d, want sent %d - received %d", res.Flood.Dropped, res.Flood.Sent, res.Flood.Received)
	}
	if min := uint64(cfg.Duration.Seconds()*float64(cfg.LegitPPS)) * 95 / 100; res.Legit.Sent < min {
		t.Errorf("legitimate client sent %d, want at least %d", res.Legit.Sent, min)
	}
	if res.Legit.Received*100 < res.Legit.Sent*99 || res.Legit.Dropped != 0 {
		t.Errorf("legitimate client: %d of %d received, %d dropped; want all", res.Legit.Received, res.Legit.Sent, res.Legit.Dropped)
	}
	// A fixed window starts at the source's first datagram: the flood
	// passes limit datagrams in each window it reaches.
	windows := float64(res.Elapsed) / float64(cfg.Window)
	lo, hi := uint64(float64(cfg.Limit)*(windows-1)), uint64(float64(cfg.Limit)*(windows+1))
	if res.Flood.Received < lo || res.Flood.Received > hi {
		t.Errorf("flooder: %d received over %v, want %d..%d (%d per %v)", res.Flood.Received, res.Elapsed, lo, hi, cfg.Limit, cfg.Window)
	}
	if res.Flood.Sent < 5*hi {
		t.Errorf("flooder sent only %d: not a flood against a limit of %d", res.Flood.Sent, hi)
	}
	if res.Totals != [3]uint64{res.Flood.Passed + res.Legit.Passed, res.Flood.Dropped + res.Legit.Dropped, 0} {
		t.Errorf("totals %v, want passed and dropped of both sources and no other frames", res.Totals)
	}
	id := os.Getpid() % 100000
	for _, p := range []string{
		fmt.Sprintf("/run/netns/udpflood-client-%d", id), fmt.Sprintf("/run/netns/udpflood-server-%d", id),
		fmt.Sprintf("/sys/class/net/xfc%d", id), fmt.Sprintf("/sys/class/net/xfs%d", id),
	} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}
