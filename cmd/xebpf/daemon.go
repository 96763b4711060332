package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/client"
)

func init() {
	commands["daemon"] = command{"serve programs and maps that outlive their loader over a local socket (prog, map and unpin talk to it)", cmdDaemon}
	commands["unpin"] = command{"remove a pin from the xebpf daemon's namespace (bpftool's rm of a bpffs pin)", cmdUnpin}
}

// daemonStarted, if set, is told the daemon's socket once it listens (for
// tests).
var daemonStarted func(socket string)

func cmdDaemon(args []string, sio stdio) error {
	fs := newFlags("daemon", "[--socket PATH] [--state DIR] [--metrics ADDR]", sio.errout)
	socket := fs.String("socket", "", "the socket to listen on (default $XEBPF_SOCKET, else "+client.RootSocket+" for root and $XDG_RUNTIME_DIR/xebpf/xebpf.sock for others)")
	state := fs.String("state", "", "the state directory (default "+client.RootStateDir+" for root, $XDG_STATE_HOME/xebpf for others); it is created, but nothing durable is kept in it yet: objects do not survive the daemon")
	metrics := fs.String("metrics", "", "serve Prometheus metrics over HTTP at this address (host:port), at /metrics")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		fs.Usage()
		return errUsage
	}
	sock := client.SocketPath(*socket)
	if *state == "" {
		*state = client.DefaultStateDir()
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	l, err := service.ListenUnix(sock, 0o660, -1)
	if err != nil {
		return err
	}
	d := service.New()
	d.Logf = func(format string, a ...any) { fmt.Fprintf(sio.errout, format+"\n", a...) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *metrics != "" {
		ml, err := net.Listen("tcp", *metrics)
		if err != nil {
			l.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", d.MetricsHandler())
		srv := &http.Server{Handler: mux}
		go srv.Serve(ml)
		defer srv.Close()
		fmt.Fprintf(sio.errout, "xebpf daemon: metrics at http://%s/metrics\n", ml.Addr())
	}
	fmt.Fprintf(sio.errout, "xebpf daemon: listening on %s\n", sock)
	if daemonStarted != nil {
		daemonStarted(sock)
	}
	serveErr := d.Serve(ctx, l)
	return errors.Join(serveErr, d.Close())
}

// cmdUnpin is unpin PATH: bpftool removes a pin with rm; here the daemon
// owns the namespace.
func cmdUnpin(args []string, sio stdio) error {
	o, args, err := splitOpts(args)
	if err != nil || len(args) != 1 {
		fmt.Fprintln(sio.errout, "usage: xebpf unpin PATH [--socket PATH]")
		return errUsage
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Unpin(args[0]); err != nil {
		return err
	}
	return printDone(o, sio.out)
}
