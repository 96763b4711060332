package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

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
	fs := newFlags("daemon", "[--socket PATH] [--state DIR] [--snapshot-every D] [--metrics ADDR] [--group G] [--admin-group G] [--read-group G]", sio.errout)
	socket := fs.String("socket", "", "the socket to listen on (default $XEBPF_SOCKET, else "+client.RootSocket+" for root and $XDG_RUNTIME_DIR/xebpf/xebpf.sock for others)")
	state := fs.String("state", "", "the state directory (default "+client.RootStateDir+" for root, $XDG_STATE_HOME/xebpf for others): pinned programs, maps and links are kept there and come back when the daemon starts again")
	snapEvery := fs.Duration("snapshot-every", time.Second, "snapshot the pinned maps at this interval, for what programs at hooks write (map updates through the daemon and prog run are durable before their reply); 0 or less: only at exit")
	metrics := fs.String("metrics", "", "serve Prometheus metrics over HTTP at this address (host:port), at /metrics")
	group := fs.String("group", "", "the socket's group (name or id; default the admin group, else the daemon's); the socket is 0660")
	adminGroup := fs.String("admin-group", "", "members of this group may load, run, pin, unpin and change maps, as root and the daemon's user")
	readGroup := fs.String("read-group", "", "members of this group may only show, dump, look up and peek")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		fs.Usage()
		return errUsage
	}
	policy := &service.Policy{AdminGID: -1, ReadGID: -1, Owner: uint32(os.Geteuid())}
	for _, g := range []struct {
		flag, name string
		gid        *int
	}{{"--admin-group", *adminGroup, &policy.AdminGID}, {"--read-group", *readGroup, &policy.ReadGID}} {
		if g.name != "" {
			if *g.gid, err = lookupGroup(g.name); err != nil {
				return fmt.Errorf("%s: %w", g.flag, err)
			}
		}
	}
	socketGID := policy.AdminGID
	if *group != "" {
		if socketGID, err = lookupGroup(*group); err != nil {
			return fmt.Errorf("--group: %w", err)
		}
	}
	if (policy.AdminGID >= 0 || policy.ReadGID >= 0) && !service.ReadsPeerCredentials() {
		return fmt.Errorf("--admin-group and --read-group need the peers' credentials, which xebpf reads on Linux only")
	}
	sock := client.SocketPath(*socket)
	l, err := service.ListenUnix(sock, 0o660, socketGID)
	if err != nil {
		return err
	}
	if *state == "" {
		*state = client.DefaultStateDir()
	}
	d := service.New()
	if service.ReadsPeerCredentials() {
		d.Authorize = policy.Authorize
	}
	d.Logf = func(format string, a ...any) { fmt.Fprintf(sio.errout, format+"\n", a...) }
	// Hooks first: restoring pinned links needs their providers.
	closeHooks, err := registerHooks(d)
	if err != nil {
		l.Close()
		return err
	}
	every := *snapEvery
	if every <= 0 {
		every = -1
	}
	if err := d.OpenState(*state, &service.StateOptions{SnapshotEvery: every}); err != nil {
		closeHooks()
		l.Close()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *metrics != "" {
		ml, err := net.Listen("tcp", *metrics)
		if err != nil {
			l.Close()
			closeHooks()
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
	return errors.Join(serveErr, d.Close(), closeHooks())
}

// lookupGroup returns the id of a group given by name or id.
func lookupGroup(name string) (int, error) {
	if id, err := strconv.ParseUint(name, 10, 31); err == nil {
		return int(id), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	return id, nil
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
