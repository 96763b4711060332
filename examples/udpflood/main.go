//go:build linux

// Command udpflood is a UDP flood protector run end to end through the
// xebpf daemon: it creates a client and a server network namespace,
// joins them through the daemon's XDP bridge, attaches udpflood.o (a
// per-source rate limit in an LRU hash) to the client side, floods the
// server from one client address while a legitimate client sends at a
// steady rate from another, prints the program's counters with
// xebpf map dump and a summary, and removes everything it made, on
// failure and Ctrl-C too. Run it as root from the repository:
//
//	go run ./examples/udpflood
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

//go:embed bpf/udpflood.o
var object []byte

func main() {
	cfg := defaultConfig()
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the flood and the legitimate client send")
	flag.IntVar(&cfg.FloodPPS, "flood-pps", cfg.FloodPPS, "datagrams a second the flooder offers (0: as fast as it can)")
	flag.IntVar(&cfg.LegitPPS, "legit-pps", cfg.LegitPPS, "datagrams a second the legitimate client sends")
	flag.Uint64Var(&cfg.Limit, "limit", cfg.Limit, "datagrams a source may send in a window")
	flag.DurationVar(&cfg.Window, "window", cfg.Window, "the program's rate-limit window")
	flag.StringVar(&cfg.Xebpf, "xebpf", "", "the xebpf binary (default: go build ./cmd/xebpf into a temporary directory)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "udpflood: run as root (it creates network namespaces)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "udpflood: interrupted; namespaces and daemon removed")
			os.Exit(130)
		}
		fmt.Fprintf(os.Stderr, "udpflood: %v\n", err)
		os.Exit(1)
	}
	res.summary(os.Stdout)
}

// summary prints what the senders, the receiver and the program counted.
func (r *result) summary(w io.Writer) {
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "\nsummary over %.2f s (limit %d datagrams per %v per source):\n", secs, r.Config.Limit, r.Config.Window)
	fmt.Fprintf(w, "  %-8s %10s %10s %10s %10s %12s %10s\n", "source", "sent", "seen", "passed", "dropped", "received", "lost")
	for _, s := range []struct {
		name string
		c    counts
	}{{"flooder", r.Flood}, {"client", r.Legit}} {
		fmt.Fprintf(w, "  %-8s %10d %10d %10d %10d %12d %10d\n", s.name, s.c.Sent, s.c.Passed+s.c.Dropped, s.c.Passed, s.c.Dropped, s.c.Received, s.c.Sent-s.c.Passed-s.c.Dropped)
	}
	fmt.Fprintf(w, "  (seen, passed, dropped: the program's counters; lost: sent but never seen by the program: the kernel dropped them on the way to the bridge, its backlog or the port socket full)\n")
	fmt.Fprintf(w, "  flood offered %.0f datagrams/s, %.0f/s reached the receiver\n", float64(r.Flood.Sent)/secs, float64(r.Flood.Received)/secs)
	ratio := 0.0
	if r.Legit.Sent > 0 {
		ratio = 100 * float64(r.Legit.Received) / float64(r.Legit.Sent)
	}
	fmt.Fprintf(w, "  legitimate client: %d of %d delivered (%.1f%%), %.1f datagrams/s kept\n", r.Legit.Received, r.Legit.Sent, ratio, float64(r.Legit.Received)/secs)
	fmt.Fprintf(w, "  totals map: passed %d, dropped %d, other frames %d\n", r.Totals[0], r.Totals[1], r.Totals[2])
}
