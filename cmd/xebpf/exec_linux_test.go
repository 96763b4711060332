package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestExecCommand runs bash under xebpf exec with a connect4 program of
// a clang-built object: a connect to port A is rewritten to port C (bash
// reads C's listener's byte), one to port B is denied with EPERM, and
// --stats reports the calls and the program's runs.
func TestExecCommand(t *testing.T) {
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "hook.c")
	os.WriteFile(src, []byte(`#include "xebpf/bpf.h"
struct bpf_sock_addr {
	__u32 user_family, user_ip4, user_ip6[4], user_port, family, type, protocol, msg_src_ip4, msg_src_ip6[4];
	__bpf_md_ptr(struct bpf_sock *, sk);
};
SEC("cgroup/connect4")
int redirect(struct bpf_sock_addr *ctx)
{
	__u16 port = __builtin_bswap16((__u16)ctx->user_port);
	if (port == PORT_B)
		return 0;
	if (port == PORT_A)
		ctx->user_port = __builtin_bswap16(PORT_C);
	return 1;
}
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	var ports [3]int
	for i, name := range []byte{'A', 'B', 'C'} {
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
				c.Write([]byte{name, '\n'})
				c.Close()
			}
		}()
	}
	// The ports go in as macros: the object is built for this run.
	obj := filepath.Join(dir, "hook.o")
	cflags := []string{"-target", "bpf", "-O2", "-g", "-I", "../../include", "-c", src, "-o", obj}
	for i, n := range []string{"PORT_A", "PORT_B", "PORT_C"} {
		cflags = append(cflags, fmt.Sprintf("-D%s=%d", n, ports[i]))
	}
	if out, err := exec.Command("clang-19", cflags...).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	script := fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%d && read -u 3 x && echo "A: $x"; exec 3<>/dev/tcp/127.0.0.1/%d || echo "B: denied"`, ports[0], ports[1])
	cmd := exec.Command(xebpfBin, "exec", "--attach", "cgroup/connect4="+obj+":redirect", "--stats", "--", bash, "-c", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "not supported") {
		t.Skipf("seccomp user notification: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("xebpf exec: %v\n%s\n%s", err, out, stderr.String())
	}
	checkCallStats(t, stderr.String(), 2, 0, 2, 1)
	if got := string(out); got != "A: C\nB: denied\n" {
		t.Errorf("stdout %q, want the connect to A to reach C and the one to B denied", got)
	}
	for _, want := range []string{
		"Operation not permitted",
		"cgroup/connect4 " + obj + ":redirect: 2 runs\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	}
}

var callStats = regexp.MustCompile(`calls: (\d+) connect, (\d+) bind, (\d+) hooked, (\d+) denied\n`)

// checkCallStats checks the --stats line of xebpf exec. The hooked and
// denied counts and the binds are exact; the connects are at least
// minConnect, because the shell makes unix-socket connects of its own
// that vary by machine (glibc's NSS asking systemd-userdbd for the user,
// nscd): those are seen but not hooked.
func checkCallStats(t *testing.T, stderr string, minConnect, bind, hooked, denied int) {
	t.Helper()
	m := callStats.FindStringSubmatch(stderr)
	if m == nil {
		t.Errorf("stderr %q has no calls line", stderr)
		return
	}
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	if n[0] < minConnect || n[1] != bind || n[2] != hooked || n[3] != denied {
		t.Errorf("stats %q, want >= %d connect, %d bind, %d hooked, %d denied", strings.TrimSpace(m[0]), minConnect, bind, hooked, denied)
	}
}
