package sockhook_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/xebpf/xebpf/sockhook"
)

// cgroup2 is where the kernel differential test looks for cgroup v2.
var cgroup2 = []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}

// TestExecAgainstKernel runs the same client, with the same programs and
// configuration, under Linux's own cgroup hooks (the programs loaded into
// the kernel and attached to a cgroup the client starts in) and under
// xebpf exec's: every call must come out the same (denials with EPERM,
// the rewrite reaching C, the bind quota).
func TestExecAgainstKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load and attach programs in the kernel")
	}
	var root string
	for _, d := range cgroup2 {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(d, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
				root = d
				break
			}
		}
	}
	if root == "" {
		t.Skip("no cgroup v2 hierarchy")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Skipf("memlock: %v", err)
	}
	c := loadHooks(t) // builds the object too
	obj := filepath.Join(t.TempDir(), "hooks.o")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", "../include", "-c", "testdata/hooks.c", "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	kspec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for name, ps := range kspec.Programs {
		if name != "connect4" && name != "bind4" || ps.Type != ebpf.CGroupSockAddr {
			delete(kspec.Programs, name)
		}
	}
	kc, err := ebpf.NewCollection(kspec)
	if err != nil {
		t.Skipf("the kernel refuses the programs: %v", err)
	}
	defer kc.Close()

	cg := filepath.Join(root, fmt.Sprintf("xebpf-sockhook-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("make a cgroup: %v", err)
	}
	defer os.Remove(cg)
	for prog, at := range map[string]ebpf.AttachType{"connect4": ebpf.AttachCGroupInet4Connect, "bind4": ebpf.AttachCGroupInet4Bind} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cg, Attach: at, Program: kc.Programs[prog]})
		if err != nil {
			t.Skipf("attach %s: %v", prog, err)
		}
		defer l.Close()
	}
	cgfd, err := os.Open(cg)
	if err != nil {
		t.Fatal(err)
	}
	defer cgfd.Close()

	a, b, cc := listener(t, 'A'), listener(t, 'B'), listener(t, 'C')
	for i, v := range []uint32{uint32(b), uint32(a), uint32(cc), 2} { // deny B, rewrite A to C, two binds
		if err := kc.Maps["config"].Put(uint32(i), v); err != nil {
			t.Fatal(err)
		}
		setConfig(t, c, uint32(i), v)
	}
	actions := []string{fmt.Sprintf("connect:%d", a), fmt.Sprintf("connect:%d", b), fmt.Sprintf("connect:%d", cc),
		fmt.Sprintf("nbconnect:%d", b), "bind:0", "bind:0", "bind:0", "badconnect:short", "badconnect:unspec"}

	exe, _ := os.Executable()
	cmd := exec.Command(exe, actions...)
	cmd.Env = append(os.Environ(), clientEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgfd.Fd())}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Skipf("start the client in the cgroup: %v\n%s", err, errOut.String())
	}
	linux := normalize(out.String())

	var set sockhook.Set
	for _, p := range []struct {
		h    sockhook.Hook
		name string
	}{{sockhook.Connect4, "connect4"}, {sockhook.Bind4, "bind4"}} {
		if _, err := set.Attach(p.h, c.Programs[p.name]); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := runClient(t, &set, actions...)
	xebpf := normalize(strings.Join(got, "\n"))
	if strings.Join(linux, "|") != strings.Join(xebpf, "|") {
		t.Errorf("calls under Linux's hooks: %q\nunder xebpf exec's:   %q", linux, xebpf)
	}
	t.Logf("both: %q", linux)
}

// normalize drops the ports of binds to port 0, which the kernel picks.
func normalize(out string) []string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		var port int
		if _, err := fmt.Sscanf(l, "ok %d", &port); err == nil && port > 0 {
			lines[i] = "ok PORT"
		}
	}
	return lines
}
