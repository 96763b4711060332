//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// TestExecDaemon runs bash under xebpf exec with a connect4 program the
// daemon holds pinned (--attach connect4=pinned PATH): it counts the
// connects per port in the daemon's hash map and denies port B; map dump
// through the daemon shows the counts, prog show's run_cnt the runs;
// while the command runs a sockhook link names it, and it goes with the
// command.
func TestExecDaemon(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	obj := buildServiceObject(t, "connect_count")
	sock := startDaemonProcess(t, "")
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("ok\n"))
				c.Close()
			}
		}()
	}
	if _, stderr, code := runCmd([]string{"prog", "load", obj, "/sys/fs/bpf/cc", "pinmaps", "/sys/fs/bpf/cc_maps", "--socket", sock}, ""); code != 0 {
		t.Fatalf("prog load: %s", stderr)
	}
	deny := binary.NativeEndian.AppendUint32(nil, uint32(ports[1]))
	upd := []string{"map", "update", "pinned", "/sys/fs/bpf/cc_maps/deny_port", "key", "0", "0", "0", "0", "value"}
	for _, b := range deny {
		upd = append(upd, fmt.Sprint(b))
	}
	if _, stderr, code := runCmd(append(upd, "--socket", sock), ""); code != 0 {
		t.Fatalf("map update: %s", stderr)
	}
	script := fmt.Sprintf(`for p in %d %d %d; do if exec 3<>/dev/tcp/127.0.0.1/$p; then read -u 3 x; echo "$p: $x"; else echo "$p: denied"; fi; done; xebpf_link=$(%s link show --socket %s); echo "$xebpf_link" >&2`,
		ports[0], ports[1], ports[0], xebpfBin, sock)
	cmd := exec.Command(xebpfBin, "exec", "--socket", sock, "--attach", "connect4=pinned /sys/fs/bpf/cc", "--stats", "--", bash, "-c", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "not supported") {
		t.Skipf("seccomp user notification: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("xebpf exec: %v\n%s\n%s", err, out, stderr.String())
	}
	// The fourth connect is link show's, to the daemon's unix socket:
	// the hooks do not apply to it.
	checkCallStats(t, stderr.String(), 4, 0, 3, 1)
	want := fmt.Sprintf("%d: ok\n%d: denied\n%d: ok\n", ports[0], ports[1], ports[0])
	if string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	for _, w := range []string{
		"cgroup/connect4 pinned /sys/fs/bpf/cc: 3 runs\n",
		"1: sockhook  prog 1  target " + bash + " -c ",
	} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr %q lacks %q", stderr.String(), w)
		}
	}
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/cc_maps/connects"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]uint64{}
	for _, e := range d.Entries {
		got[binary.NativeEndian.Uint32(e.Key)] = binary.NativeEndian.Uint64(e.Value)
	}
	if len(got) != 2 || got[uint32(ports[0])] != 2 || got[uint32(ports[1])] != 1 {
		t.Errorf("connects %v, want %d:2 and %d:1", got, ports[0], ports[1])
	}
	ps, err := c.Programs(proto.Ref{Pinned: "/sys/fs/bpf/cc"})
	if err != nil || ps[0].RunCnt != 3 {
		t.Errorf("prog show: %+v %v, want run_cnt 3", ps, err)
	}
	var st *proto.StatusResult
	for range 200 {
		if st, err = c.Status(); err != nil || st.Links == 0 {
			break
		}
	}
	if err != nil || st.Links != 0 || st.Programs != 1 {
		t.Errorf("after the command: %+v %v, want its link gone and the pinned program left", st, err)
	}
	for _, p := range []string{"/sys/fs/bpf/cc", "/sys/fs/bpf/cc_maps/connects", "/sys/fs/bpf/cc_maps/deny_port"} {
		if err := c.Unpin(p); err != nil {
			t.Error(err)
		}
	}
}

// TestExecDaemonWindowsBind runs Python under xebpf exec with an eBPF for
// Windows bind program the daemon holds pinned (prog load ... type bind;
// --attach bind=pinned PATH): the bind to the port deny_port holds fails
// with EPERM, as under the program in the process (sockhook's
// TestExecWindowsBind), a bind to port 0 succeeds, the daemon's map
// counts both, the program saw the app id (the executable's path in
// UTF-16), and prog show's run_cnt is 2.
func TestExecDaemonWindowsBind(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	obj := buildServiceObject(t, "bind_count")
	sock := startDaemonProcess(t, "")
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // a port free to bind, which the program denies
	if _, stderr, code := runCmd([]string{"prog", "load", obj, "/sys/fs/bpf/bc", "type", "bind", "pinmaps", "/sys/fs/bpf/bc_maps", "--socket", sock}, ""); code != 0 {
		t.Fatalf("prog load: %s", stderr)
	}
	upd := []string{"map", "update", "pinned", "/sys/fs/bpf/bc_maps/deny_port", "key", "0", "0", "0", "0", "value"}
	for _, b := range binary.NativeEndian.AppendUint32(nil, uint32(port)) {
		upd = append(upd, fmt.Sprint(b))
	}
	if _, stderr, code := runCmd(append(upd, "--socket", sock), ""); code != 0 {
		t.Fatalf("map update: %s", stderr)
	}
	script := fmt.Sprintf(`
import errno, socket
for p in (%d, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(p, "ok")
    except OSError as e:
        print(p, errno.errorcode[e.errno])
    s.close()
`, port)
	cmd := exec.Command(xebpfBin, "exec", "--socket", sock, "--attach", "bind=pinned /sys/fs/bpf/bc", "--stats", "--", python, "-S", "-c", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "not supported") {
		t.Skipf("seccomp user notification: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("xebpf exec: %v\n%s\n%s", err, out, stderr.String())
	}
	if want := fmt.Sprintf("%d EPERM\n0 ok\n", port); string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	checkCallStats(t, stderr.String(), 0, 2, 2, 1)
	for _, w := range []string{"bind pinned /sys/fs/bpf/bc: 2 runs\n"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr %q lacks %q", stderr.String(), w)
		}
	}
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/bc_maps/binds"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]uint64{}
	for _, e := range d.Entries {
		got[binary.NativeEndian.Uint32(e.Key)] = binary.NativeEndian.Uint64(e.Value)
	}
	if len(got) != 2 || got[uint32(port)] != 1 || got[0] != 1 {
		t.Errorf("binds %v, want %d:1 and 0:1", got, port)
	}
	d, err = c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/bc_maps/app_id_len"})
	if err != nil || len(d.Entries) != 1 {
		t.Fatalf("app_id_len: %+v %v", d, err)
	}
	// The app id is the path of the executable (python3's, through any
	// symbolic links) in UTF-16 with its NUL: even and longer than "/".
	if n := binary.NativeEndian.Uint64(d.Entries[0].Value); n < 6 || n%2 != 0 {
		t.Errorf("app_id_len %d, want the executable's path in UTF-16", n)
	}
	ps, err := c.Programs(proto.Ref{Pinned: "/sys/fs/bpf/bc"})
	if err != nil || len(ps) != 1 || ps[0].RunCnt != 2 || ps[0].Type != "bind" {
		t.Errorf("prog show: %+v %v, want type bind, run_cnt 2", ps, err)
	}
	for _, p := range []string{"/sys/fs/bpf/bc", "/sys/fs/bpf/bc_maps/binds", "/sys/fs/bpf/bc_maps/deny_port", "/sys/fs/bpf/bc_maps/app_id_len"} {
		if err := c.Unpin(p); err != nil {
			t.Error(err)
		}
	}
}
