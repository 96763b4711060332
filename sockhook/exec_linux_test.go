package sockhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/xebpf/xebpf/sockhook"
)

// listener is a TCP listener on 127.0.0.1 that writes one byte, its
// name, to each connection it accepts.
func listener(t *testing.T, name byte) int { return listenerOn(t, "tcp4", "127.0.0.1:0", name) }

// listenerOn is a listener on an address.
func listenerOn(t *testing.T, network, addr string, name byte) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{name})
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// runClient runs the test binary as the client with actions under the
// hooks of set (nil: not hooked) and returns its output lines.
func runClient(t *testing.T, set *sockhook.Set, actions ...string) ([]string, *sockhook.Command) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return runClientAs(t, set, exe, nil, actions...)
}

// runClientAs runs the client from exe, with the credentials of cred
// (nil: the test's).
func runClientAs(t *testing.T, set *sockhook.Set, exe string, cred *syscall.Credential, actions ...string) ([]string, *sockhook.Command) {
	t.Helper()
	cmd := exec.Command(exe, actions...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var err error
	cmd.Env = append(os.Environ(), clientEnv+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var hc *sockhook.Command
	if set == nil {
		err = cmd.Run()
	} else {
		hc = &sockhook.Command{Cmd: cmd, Hooks: set, Shim: []string{exe}, Logf: t.Logf}
		err = hc.Run()
	}
	if errors.Is(err, sockhook.ErrNotSupported) {
		t.Skipf("seccomp user notification: %v", err)
	}
	if err != nil {
		t.Fatalf("client: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(actions) {
		t.Fatalf("client printed %q for %d actions; stderr:\n%s", lines, len(actions), errOut.String())
	}
	return lines, hc
}

// TestExec runs a real client under the hooks with listeners on
// loopback: connect4 denies port B and lets A through, then rewrites A
// to C (the client reads C's byte); bind4 denies a process's third bind
// (a quota in a hash map keyed by tgid); calls the hooks do not apply to
// (a unix socket) go on; a non-blocking connect gets EINPROGRESS; and
// each program's run count is the number of calls the supervisor saw.
func TestExec(t *testing.T) {
	c := loadHooks(t)
	a, b, cc := listener(t, 'A'), listener(t, 'B'), listener(t, 'C')
	var set sockhook.Set
	con, err := set.Attach(sockhook.Connect4, c.Programs["connect4"])
	if err != nil {
		t.Fatal(err)
	}
	bnd, err := set.Attach(sockhook.Bind4, c.Programs["bind4"])
	if err != nil {
		t.Fatal(err)
	}
	set.OnError = func(_ *sockhook.Attachment, err error) { t.Errorf("program: %v", err) }

	upath := filepath.Join(t.TempDir(), "sock")
	ul, err := net.Listen("unix", upath)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	setConfig(t, c, 0, uint32(b)) // deny B
	setConfig(t, c, 3, 3)         // three binds a process
	got, hc := runClient(t, &set,
		fmt.Sprintf("connect:%d", a), fmt.Sprintf("connect:%d", b), fmt.Sprintf("connect:%d", cc),
		"unix:"+upath, fmt.Sprintf("nbconnect:%d", a),
		"bind:0", "bind:0", "bind:0", "bind:0", "pid")
	want := []string{"ok A", "err EPERM", "ok C", "ok", "err EINPROGRESS", "ok *", "ok *", "ok *", "err EPERM", "*"}
	checkLines(t, "deny B, allow A", got, want)
	pid, _ := strconv.Atoi(got[len(got)-1])
	var n uint32
	if err := c.Maps["binds"].Lookup(uint32(pid), &n); err != nil || n != 3 {
		t.Errorf("binds[%d] = %d, %v; want 3", pid, n, err)
	}
	st := hc.Stats()
	if st.Connects.Load() != 5 || st.Binds.Load() != 4 || st.Hooked.Load() != 8 || st.Denied.Load() != 2 {
		t.Errorf("stats: %d connects, %d binds, %d hooked, %d denied; want 5, 4, 8, 2",
			st.Connects.Load(), st.Binds.Load(), st.Hooked.Load(), st.Denied.Load())
	}
	// The unix socket's connect is not an AF_INET one: 4 runs of 5.
	if con.RunCount() != st.Connects.Load()-1 || bnd.RunCount() != st.Binds.Load() {
		t.Errorf("run counts: connect4 %d, bind4 %d; calls seen: %d inet connects, %d binds",
			con.RunCount(), bnd.RunCount(), st.Connects.Load()-1, st.Binds.Load())
	}

	setConfig(t, c, 0, 0)          // deny nothing
	setConfig(t, c, 1, uint32(a))  // rewrite A...
	setConfig(t, c, 2, uint32(cc)) // ...to C
	got, _ = runClient(t, &set, fmt.Sprintf("connect:%d", a), fmt.Sprintf("connect:%d", b))
	checkLines(t, "rewrite A to C", got, []string{"ok C", "ok B"})
	if con.RunCount() != 6 {
		t.Errorf("connect4 ran %d times, want 6", con.RunCount())
	}
}

// TestExecWindowsBind runs eBPF for Windows' bind hook on a real bind:
// BIND_DENY fails it with EPERM, BIND_PERMIT lets it through, and the
// program sees the process id and the app id (the executable's path in
// UTF-16 with its NUL).
func TestExecWindowsBind(t *testing.T) {
	c := loadHooks(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // a port free to bind, which the program denies
	setConfig(t, c, 4, uint32(port))
	var set sockhook.Set
	wb, err := set.Attach(sockhook.WindowsBind, c.Programs["winbind"])
	if err != nil {
		t.Fatal(err)
	}
	a := listener(t, 'A')
	got, hc := runClient(t, &set, fmt.Sprintf("bind:%d", port), "bind:0", fmt.Sprintf("connect:%d", a), "pid")
	checkLines(t, "windows bind", got, []string{"err EPERM", "ok *", "ok A", "*"})
	if n := hc.Stats().Connects.Load(); n != 0 {
		t.Errorf("the filter trapped %d connects, with programs on bind only", n)
	}
	pid, _ := strconv.Atoi(got[3])
	exe, _ := os.Executable()
	var n uint64
	if err := c.Maps["app_ids"].Lookup(uint64(pid), &n); err != nil || n != uint64(2*(len(exe)+1)) {
		t.Errorf("app_ids[%d] = %d, %v; want %d (%s in UTF-16 with its NUL)", pid, n, err, 2*(len(exe)+1), exe)
	}
	if wb.RunCount() != hc.Stats().Binds.Load() || wb.RunCount() != 2 {
		t.Errorf("bind ran %d times, %d binds seen; want 2", wb.RunCount(), hc.Stats().Binds.Load())
	}
}

// checkLines compares a client's output with patterns: "*" matches the
// rest of a line.
func checkLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range want {
		w, star := strings.CutSuffix(want[i], "*")
		if i >= len(got) || (star && !strings.HasPrefix(got[i], w)) || (!star && got[i] != w) {
			t.Errorf("%s: got %q, want %q", what, got, want)
			return
		}
	}
}

// TestConnectLatency reports the time a connect takes under a connect4
// program against an unhooked connect, in the same run (a report, not a
// timed assertion).
func TestConnectLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	c := loadHooks(t)
	port := listener(t, 'A')
	const n = 2000
	arg := fmt.Sprintf("bench:%d:%d", n, port)
	var set sockhook.Set
	con, err := set.Attach(sockhook.Connect4, c.Programs["connect4"])
	if err != nil {
		t.Fatal(err)
	}
	var plain, hooked []int
	for range 3 {
		got, _ := runClient(t, nil, arg)
		checkLines(t, "unhooked", got, []string{"ok *"})
		v, _ := strconv.Atoi(strings.TrimPrefix(got[0], "ok "))
		plain = append(plain, v)
		got, _ = runClient(t, &set, arg)
		checkLines(t, "hooked", got, []string{"ok *"})
		v, _ = strconv.Atoi(strings.TrimPrefix(got[0], "ok "))
		hooked = append(hooked, v)
	}
	if con.RunCount() != 3*n {
		t.Errorf("connect4 ran %d times, want %d", con.RunCount(), 3*n)
	}
	best := func(v []int) int {
		m := v[0]
		for _, x := range v {
			m = min(m, x)
		}
		return m
	}
	t.Logf("connect to 127.0.0.1, mean of %d, best of 3 runs: unhooked %d ns, hooked %d ns, added %d ns (runs: unhooked %v, hooked %v)",
		n, best(plain), best(hooked), best(hooked)-best(plain), plain, hooked)
}

// TestExec6 runs the IPv6 hooks on real sockets on [::1]: connect6
// denies one port and rewrites another, bind6 denies a port.
func TestExec6(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	c := loadHooks(t)
	d, e, f := listenerOn(t, "tcp6", "[::1]:0", 'D'), listenerOn(t, "tcp6", "[::1]:0", 'E'), listenerOn(t, "tcp6", "[::1]:0", 'F')
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().(*net.TCPAddr).Port
	l.Close()
	setConfig(t, c, 0, uint32(e)) // deny E
	setConfig(t, c, 1, uint32(d)) // rewrite D...
	setConfig(t, c, 2, uint32(f)) // ...to F
	setConfig(t, c, 5, uint32(free))
	var set sockhook.Set
	con, err := set.Attach(sockhook.Connect6, c.Programs["connect6"])
	if err != nil {
		t.Fatal(err)
	}
	bnd, err := set.Attach(sockhook.Bind6, c.Programs["bind6"])
	if err != nil {
		t.Fatal(err)
	}
	got, hc := runClient(t, &set, fmt.Sprintf("connect6:%d", d), fmt.Sprintf("connect6:%d", e), fmt.Sprintf("bind6:%d", free), "bind6:0", "bind:0")
	checkLines(t, "IPv6", got, []string{"ok F", "err EPERM", "err EPERM", "ok *", "ok *"})
	// The IPv4 bind is not bind6's.
	if con.RunCount() != 2 || bnd.RunCount() != 2 || hc.Stats().Binds.Load() != 3 {
		t.Errorf("connect6 ran %d times, bind6 %d, %d binds seen; want 2, 2, 3", con.RunCount(), bnd.RunCount(), hc.Stats().Binds.Load())
	}
}

// TestExecPrivilegedPort checks that the supervisor, which makes the bind
// for the process, binds a port below ip_unprivileged_port_start only
// for a process that may (EACCES otherwise, on the process's
// capabilities rather than its own), and that a bind program's 3 lets it.
func TestExecPrivilegedPort(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the client as another user")
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	start, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || start < 2 {
		t.Skipf("ip_unprivileged_port_start is %d (%v): no privileged port", start, err)
	}
	port := 0
	for p := start - 1; p > start-200 && p > 0; p-- {
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			port = p
			break
		}
	}
	if port == 0 {
		t.Skip("no free privileged port")
	}
	// The client runs as nobody: its binary must be where nobody can
	// execute it.
	dir, err := os.MkdirTemp("", "sockhook-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not searchable by nobody", d)
		}
	}
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(dir, "client")
	if err := os.WriteFile(client, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c := loadHooks(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	var set sockhook.Set
	if _, err := set.Attach(sockhook.Bind4, c.Programs["bind4_nocap"]); err != nil {
		t.Fatal(err)
	}
	bindTo := fmt.Sprintf("bind:%d", port)
	got, _ := runClientAs(t, &set, client, nobody, bindTo, "bind:0")
	checkLines(t, "nobody, privileged port", got, []string{"err EACCES", "ok *"})
	setConfig(t, c, 6, uint32(port)) // the program returns 3 for it
	got, _ = runClientAs(t, &set, client, nobody, bindTo)
	checkLines(t, "nobody, bind program returns 3", got, []string{fmt.Sprintf("ok %d", port)})
	setConfig(t, c, 6, 0)
	got, _ = runClientAs(t, &set, client, nil, bindTo)
	checkLines(t, "root", got, []string{fmt.Sprintf("ok %d", port)})
}

// TestExecBadAddresses checks that calls with bad addresses fail under
// the hooks as they fail without them: the supervisor copies the address
// as the kernel does and makes the call with the kernel's own checks.
func TestExecBadAddresses(t *testing.T) {
	c := loadHooks(t)
	var set sockhook.Set
	con, err := set.Attach(sockhook.Connect4, c.Programs["connect4"])
	if err != nil {
		t.Fatal(err)
	}
	actions := []string{"badconnect:null", "badconnect:short", "badconnect:long", "badconnect:unspec", "badconnect:badfd"}
	plain, _ := runClient(t, nil, actions...)
	hooked, _ := runClient(t, &set, actions...)
	if strings.Join(plain, "|") != strings.Join(hooked, "|") {
		t.Errorf("hooked %q, unhooked %q", hooked, plain)
	}
	for i, r := range plain {
		if r == "ok" && actions[i] != "badconnect:unspec" { // AF_UNSPEC disconnects: 0
			t.Errorf("%s succeeded: %q", actions[i], plain)
		}
	}
	// Only the AF_UNSPEC address is long enough for the hook, which
	// Linux does not run for a disconnect.
	if con.RunCount() != 0 {
		t.Errorf("connect4 ran %d times, want 0", con.RunCount())
	}
}

// TestExecNoCheckThenUse checks that a process cannot get a denied
// address past the hook by changing it while the call is decided: one
// thread connects from a buffer whose port another thread flips between
// an allowed port A and a denied port B all along. Each connect goes to
// A or is denied; none reaches B, whatever the timing.
func TestExecNoCheckThenUse(t *testing.T) {
	c := loadHooks(t)
	a, b := listener(t, 'A'), listener(t, 'B')
	setConfig(t, c, 0, uint32(b))
	var set sockhook.Set
	if _, err := set.Attach(sockhook.Connect4, c.Programs["connect4"]); err != nil {
		t.Fatal(err)
	}
	got, _ := runClient(t, &set, fmt.Sprintf("flip:%d:%d:%d", a, b, 1000))
	var na, nb, denied, other int
	if _, err := fmt.Sscanf(got[0], "ok A=%d B=%d denied=%d other=%d", &na, &nb, &denied, &other); err != nil {
		t.Fatalf("client: %q: %v", got[0], err)
	}
	t.Logf("%d connects reached A, %d were denied, %d reached B, %d failed otherwise", na, denied, nb, other)
	if nb != 0 || other != 0 {
		t.Errorf("%d connects reached the denied port B, %d failed otherwise", nb, other)
	}
	if na+denied != 1000 {
		t.Errorf("%d connects reached A and %d were denied, of 1000", na, denied)
	}
}

// TestExecTask checks what the get_current_* helpers tell a program of
// the thread that connects: its thread and process ids, its user and
// group (root, then nobody) and its comm, read from /proc for the call.
func TestExecTask(t *testing.T) {
	c := loadHooks(t)
	port := listener(t, 'A')
	var set sockhook.Set
	if _, err := set.Attach(sockhook.Connect4, c.Programs["connect4_task"]); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	type taskSeen struct {
		PidTgid, UidGid, Ktime uint64
		Comm                   [16]byte
	}
	check := func(got []string, uid, gid uint32) {
		t.Helper()
		var tid, pid uint32
		if _, err := fmt.Sscanf(got[0], "ok %d %d", &tid, &pid); err != nil {
			t.Fatalf("client: %q: %v", got, err)
		}
		var ts taskSeen
		if err := c.Maps["tasks"].Lookup(tid, &ts); err != nil {
			t.Fatalf("tasks[%d]: %v", tid, err)
		}
		comm := filepath.Base(exe)
		if len(comm) > 15 {
			comm = comm[:15]
		}
		if ts.PidTgid != uint64(pid)<<32|uint64(tid) || ts.UidGid != uint64(gid)<<32|uint64(uid) ||
			strings.TrimRight(string(ts.Comm[:]), "\x00") != comm || ts.Ktime == 0 {
			t.Errorf("the program saw pid_tgid %#x, uid_gid %#x, comm %q, ktime %d; want %#x, %#x, %q, > 0",
				ts.PidTgid, ts.UidGid, ts.Comm, ts.Ktime, uint64(pid)<<32|uint64(tid), uint64(gid)<<32|uint64(uid), comm)
		}
	}
	got, _ := runClient(t, &set, fmt.Sprintf("tid:%d", port))
	check(got, uint32(os.Getuid()), uint32(os.Getgid()))
	if os.Geteuid() != 0 {
		return
	}
	dir, err := os.MkdirTemp("", "sockhook-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(dir, filepath.Base(exe))
	if err := os.WriteFile(client, data, 0o755); err != nil {
		t.Fatal(err)
	}
	got, _ = runClientAs(t, &set, client, &syscall.Credential{Uid: 65534, Gid: 65534}, fmt.Sprintf("tid:%d", port))
	check(got, 65534, 65534)
}
