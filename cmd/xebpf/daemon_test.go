package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// buildServiceObject compiles service/testdata/NAME.c with clang-19.
func buildServiceObject(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), name+".o")
	inc, _ := filepath.Abs("../../include")
	src := filepath.Join("..", "..", "service", "testdata", name+".c")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", inc, "-c", src, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	return obj
}

// startDaemonProcess runs xebpf daemon on a socket in dir (a temporary
// directory for ""); at the end of the test it stops it with SIGTERM and checks
// that it exits cleanly and removes its socket.
func startDaemonProcess(t *testing.T, dir string, extra ...string) string {
	sock, _ := startDaemonProcessLog(t, dir, extra...)
	return sock
}

// startDaemonProcessLog is startDaemonProcess that also returns what the
// daemon says on standard error once it listens.
func startDaemonProcessLog(t *testing.T, dir string, extra ...string) (string, string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the daemon's tests signal it with SIGTERM")
	}
	if dir == "" {
		dir = t.TempDir()
	}
	sock := filepath.Join(dir, "xebpf.sock")
	var stderr lockedBuffer
	cmd := exec.Command(xebpfBin, append([]string{"daemon", "--socket", sock, "--state", filepath.Join(dir, "state")}, extra...)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("daemon did not stop on SIGTERM\n%s", stderr.String())
		}
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left behind: %v", sock, err)
		}
	})
	for range 500 {
		// The daemon accepts connections once it listens, and says so
		// when it is ready (its metrics served too).
		if log := stderr.String(); strings.Contains(log, "listening on") {
			if c, err := client.Dial(sock); err == nil {
				c.Close()
				return sock, log
			}
		}
		select {
		case err := <-done:
			t.Fatalf("daemon exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("daemon did not listen on %s\n%s", sock, stderr.String())
	return "", ""
}

// lockedBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestDaemonMetrics: --metrics serves prog show's counters and the maps'
// sizes over HTTP in the Prometheus text format.
func TestDaemonMetrics(t *testing.T) {
	xdp := buildServiceObject(t, "xdp_count")
	sock, log := startDaemonProcessLog(t, "", "--metrics", "127.0.0.1:0")
	m := regexp.MustCompile(`metrics at (http://\S+/metrics)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the daemon did not say where its metrics are:\n%s", log)
	}
	pkt := filepath.Join(t.TempDir(), "pkt")
	os.WriteFile(pkt, make([]byte, 60), 0o644)
	for _, line := range [][]string{
		{"prog", "load", xdp, "/sys/fs/bpf/p"},
		{"prog", "run", "pinned", "/sys/fs/bpf/p", "data_in", pkt, "repeat", "4"},
	} {
		if out, errout, code := runCmd(append(line, "--socket", sock), ""); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", line, code, out, errout)
		}
	}
	// The daemon releases a finished command's objects (the object's
	// program that was not pinned) when it sees its connection close,
	// after the command exited: wait for that.
	var (
		resp *http.Response
		body []byte
	)
	for try := 0; ; try++ {
		r, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		resp = r
		if strings.Contains(string(body), "xebpf_programs 1\n") || try == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`xebpf_prog_run_cnt_total{id="1",name="xdp_count",type="xdp"} 4` + "\n",
		`xebpf_map_entries{id="1",name="counts",type="hash"} 1` + "\n",
		"xebpf_programs 1\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
}

// normalizeRun blanks what changes from run to run: load times, run
// times and durations.
var normalizeRun = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`loaded_at \S+`), "loaded_at TIME"},
	{regexp.MustCompile(`"loaded_at":\s*\d+`), `"loaded_at":TIME`},
	{regexp.MustCompile(`run_time_ns \d+`), "run_time_ns NS"},
	{regexp.MustCompile(`"run_time_ns":\s*\d+`), `"run_time_ns":NS`},
	{regexp.MustCompile(`duration( \(average\))?: \d+ns`), "duration$1: NSns"},
	{regexp.MustCompile(`"duration":\s*\d+`), `"duration":NS`},
}

// session runs xebpf command lines against a daemon and records them as
// a transcript.
type session struct {
	t      *testing.T
	sock   string
	script strings.Builder
}

// run runs one command line (words split on spaces; OBJ, SOCKOBJ, PKT
// replaced) and records it with its output and exit status.
func (s *session) run(line string, subst map[string]string) string {
	s.t.Helper()
	args := strings.Fields(line)
	for i, a := range args {
		if v, ok := subst[a]; ok {
			args[i] = v
		}
	}
	stdout, stderr, code := runCmd(append(args, "--socket", s.sock), "")
	out := stdout + stderr
	for _, n := range normalizeRun {
		out = n.re.ReplaceAllString(out, n.with)
	}
	fmt.Fprintf(&s.script, "$ xebpf %s\n%s", line, out)
	if code != 0 {
		fmt.Fprintf(&s.script, "[exit %d]\n", code)
	}
	return stdout
}

// TestDaemonCLI drives the daemon through the bpftool-style commands:
// load and pin an XDP object and a socket filter, show, run, dump and
// change maps, pin and unpin; the transcript is a golden file. The
// loading commands are separate sessions that end at once: what they
// pinned outlives them, and unpinning it all leaves nothing.
func TestDaemonCLI(t *testing.T) {
	xdp, sk := buildServiceObject(t, "xdp_count"), buildServiceObject(t, "sock_len")
	pkt := filepath.Join(t.TempDir(), "pkt")
	if err := os.WriteFile(pkt, bytes.Repeat([]byte{0xab}, 20), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := startDaemonProcess(t, "")
	s := &session{t: t, sock: sock}
	subst := map[string]string{"OBJ": xdp, "SOCKOBJ": sk, "PKT": pkt}
	for _, line := range []string{
		"prog",
		"map help",
		"prog frobnicate",
		"prog sh",
		"prog show id",
		"prog loadall OBJ /sys/fs/bpf/xdp pinmaps /sys/fs/bpf/xdp_maps",
		"prog load SOCKOBJ /sys/fs/bpf/sock type socket",
		"prog load OBJ /sys/fs/bpf/sock",
		"prog load OBJ /tmp/elsewhere",
		"prog show",
		"prog show name xdp_count -j",
		"prog show id 3 --pretty",
		"prog show id 99",
		"prog run pinned /sys/fs/bpf/xdp/xdp_count data_in PKT data_out - repeat 2",
		"prog run pinned /sys/fs/bpf/xdp/xdp_drop data_in PKT -j",
		"prog run name xdp_drop data_in PKT data_out - -j",
		"prog show pinned /sys/fs/bpf/xdp/xdp_count",
		"prog dump xlated name xdp_drop",
		"prog dump xlated name xdp_drop -j",
		"prog pin id 3 /sys/fs/bpf/sock2",
		"map show",
		"map show pinned /sys/fs/bpf/xdp_maps/counts -j",
		"map dump pinned /sys/fs/bpf/xdp_maps/counts",
		"map getnext name counts",
		"map getnext name counts key 20 0 0 0 -j",
		"map update pinned /sys/fs/bpf/xdp_maps/counts key 0x0a 0 0 0 value hex 2a 00 00 00 00 00 00 00",
		"map update pinned /sys/fs/bpf/xdp_maps/counts key 10 0 0 0 value 1 0 0 0 0 0 0 0 noexist",
		"map update pinned /sys/fs/bpf/xdp_maps/counts key 11 0 0 0 value 1 0 0 0 0 0 0 0 exist",
		"map lookup name counts key 10 0 0 0",
		"map lookup name counts key hex 0a 00 00 00 -j",
		"map lookup name counts key 12 0 0 0",
		"map lookup name counts key 12 0",
		"map lookup name counts key 12 0 0 0x100",
		"map delete name counts key 20 0 0 0",
		"map getnext name counts key 20 0 0 0",
		"map dump name counts",
		"map dump name counts -j",
		"map create /sys/fs/bpf/made type array key 4 value 2 entries 2 name made",
		"map update pinned /sys/fs/bpf/made key 1 0 0 0 value 7 7",
		"map dump pinned /sys/fs/bpf/made",
		"map pin name made /sys/fs/bpf/made2",
		"map pin name made /sys/fs/bpf/made2",
		"map show name made",
		"unpin /sys/fs/bpf/nothing",
		"unpin /sys/fs/bpf/made",
		"unpin /sys/fs/bpf/made2",
		"unpin /sys/fs/bpf/xdp",
		"unpin /sys/fs/bpf/xdp_maps/counts",
		"unpin /sys/fs/bpf/xdp_maps/totals",
		"map show name counts",
		"unpin /sys/fs/bpf/xdp/xdp_count",
		"unpin /sys/fs/bpf/xdp/xdp_drop",
		"unpin /sys/fs/bpf/sock",
		"prog show id 3",
		"unpin /sys/fs/bpf/sock2",
		"prog show",
		"map show -j",
	} {
		// The order of a hash map's keys is not fixed: the script looks
		// at them in order only while there is one.
		s.run(line, subst)
	}
	golden(t, "daemon_cli.txt", s.script.String())

	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st *proto.StatusResult
	for range 500 {
		if st, err = c.Status(); err != nil {
			t.Fatal(err)
		}
		if st.UnreturnedBytes == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if *st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v, want nothing left", *st)
	}
}
