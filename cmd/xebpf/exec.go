package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
	"github.com/xebpf/xebpf/sockhook"
)

func init() {
	// xebpf exec starts xebpf again as the shim that installs the hooks
	// and executes the command: it must do nothing else first.
	sockhook.RunShimIfRequested()
	commands["exec"] = command{"run a command with eBPF programs on its connect and bind calls (Linux)", cmdExec}
}

// attachFlags collects --attach HOOK=FILE.o:NAME.
type attachFlags []string

func (a *attachFlags) String() string     { return strings.Join(*a, ",") }
func (a *attachFlags) Set(v string) error { *a = append(*a, v); return nil }

// attachment is one parsed --attach.
type attachment struct {
	hook      sockhook.Hook
	file, prg string
	daemon    bool      // a daemon program (execdaemon.go)
	ref       proto.Ref // which, if daemon
}

func parseAttach(v string) (attachment, error) {
	h, p, ok := strings.Cut(v, "=")
	if !ok {
		return attachment{}, fmt.Errorf("--attach %q: want HOOK=FILE.o:NAME", v)
	}
	hook, err := sockhook.ParseHook(h)
	if err != nil {
		return attachment{}, fmt.Errorf("--attach %q: %w", v, err)
	}
	if ref, ok, err := parseDaemonProg(p); ok {
		if err != nil {
			return attachment{}, fmt.Errorf("--attach %q: %w", v, err)
		}
		return attachment{hook: hook, daemon: true, ref: ref}, nil
	}
	i := strings.LastIndex(p, ":")
	if i <= 0 || i == len(p)-1 {
		return attachment{}, fmt.Errorf("--attach %q: want HOOK=FILE.o:NAME", v)
	}
	return attachment{hook: hook, file: p[:i], prg: p[i+1:]}, nil
}

func cmdExec(args []string, sio stdio) error {
	fs := newFlags("exec", "[--attach HOOK=FILE.o:NAME | HOOK='pinned PATH' | HOOK='id N' | HOOK='name NAME']... [--socket PATH] [--stats] -- CMD [ARGS]", sio.errout)
	var attach attachFlags
	fs.Var(&attach, "attach", "attach program NAME of FILE.o, or a program of the xebpf daemon (pinned PATH, id N, name NAME: it runs in the daemon, on its maps), to HOOK: cgroup/connect4, cgroup/connect6, cgroup/bind4, cgroup/bind6, or bind (eBPF for Windows, FILE.o only); repeatable")
	socket := fs.String("socket", "", "the xebpf daemon's socket, for daemon programs (default $XEBPF_SOCKET, else the default socket)")
	stats := fs.Bool("stats", false, "print the calls seen and each program's run count to stderr at the end")
	// The command's own arguments are not xebpf's flags: flags end at
	// "--", or at the command's name.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	pos := fs.Args()
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	var atts []attachment
	for _, v := range attach {
		a, err := parseAttach(v)
		if err != nil {
			return err
		}
		atts = append(atts, a)
	}
	// One collection per object, each program loaded as its hook's kind.
	types := map[string]map[string]*xebpf.ProgramKind{}
	for _, a := range atts {
		if a.daemon {
			continue
		}
		k, err := a.hook.Kind()
		if err != nil {
			return err
		}
		if types[a.file] == nil {
			types[a.file] = map[string]*xebpf.ProgramKind{}
		}
		if prev := types[a.file][a.prg]; prev != nil && prev.Name != k.Name {
			return fmt.Errorf("%s:%s is attached to two kinds of hook (%s, %s)", a.file, a.prg, prev.Name, k.Name)
		}
		types[a.file][a.prg] = k
	}
	colls := map[string]*xebpf.Collection{}
	defer func() {
		for _, c := range colls {
			c.Close()
		}
	}()
	for file, ts := range types {
		spec, err := xebpf.LoadCollectionSpec(file)
		if err != nil {
			return err
		}
		for name := range ts {
			if spec.Programs[name] == nil {
				return fmt.Errorf("%s has no program %q", file, name)
			}
		}
		c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Types: ts})
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		colls[file] = c
	}
	set := &sockhook.Set{OnError: func(a *sockhook.Attachment, err error) {
		fmt.Fprintf(sio.errout, "xebpf exec: %v: %v (the call fails with EPERM)\n", a.Hook(), err)
	}}
	var attached []*sockhook.Attachment
	var daemon *daemonHooks
	defer func() {
		if daemon != nil {
			daemon.close()
		}
	}()
	for _, a := range atts {
		var at *sockhook.Attachment
		var err error
		if a.daemon {
			if daemon == nil {
				if daemon, err = newDaemonHooks(*socket); err != nil {
					return err
				}
			}
			at, err = daemon.attach(set, a.hook, a.ref, strings.Join(pos, " "))
		} else {
			at, err = set.Attach(a.hook, colls[a.file].Programs[a.prg])
		}
		if err != nil {
			return err
		}
		attached = append(attached, at)
	}
	path, err := exec.LookPath(pos[0])
	if err != nil {
		return err
	}
	cmd := exec.Command(path, pos[1:]...)
	cmd.Args[0] = pos[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sio.in, sio.out, sio.errout
	c := &sockhook.Command{Cmd: cmd, Hooks: set, Logf: func(format string, args ...any) {
		fmt.Fprintf(sio.errout, "xebpf exec: "+format+"\n", args...)
	}}
	err = c.Run()
	if *stats {
		st := c.Stats()
		fmt.Fprintf(sio.errout, "calls: %d connect, %d bind, %d hooked, %d denied\n", st.Connects.Load(), st.Binds.Load(), st.Hooked.Load(), st.Denied.Load())
		for i, at := range attached {
			fmt.Fprintf(sio.errout, "%s %s: %d runs\n", at.Hook(), attach[i][strings.Index(attach[i], "=")+1:], at.RunCount())
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return &exitError{code}
		}
		if ws, ok := ee.Sys().(interface {
			Signaled() bool
			Signal() syscall.Signal
		}); ok && ws.Signaled() {
			return &exitError{128 + int(ws.Signal())} // as shells report it
		}
		return &exitError{1}
	}
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	return err
}
