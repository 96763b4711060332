package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDaemonPermissions runs the CLI as other users against a daemon with
// an admin and a read-only group: the socket is 0660 in its group, the
// daemon reads each peer's credentials and refuses clearly.
func TestDaemonPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the CLI as other users")
	}
	const sockGroup, adminGroup, readGroup = 52000, 52001, 52002
	dir, err := os.MkdirTemp("", "xebpf-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	// The test's build of xebpf lives in a directory other users cannot
	// enter: copy it.
	bin := filepath.Join(dir, "xebpf")
	if err := copyFile(xebpfBin, bin); err != nil {
		t.Fatal(err)
	}
	sock := startDaemonProcess(t, dir, "--group", "52000", "--admin-group", "52001", "--read-group", "52002")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != sockGroup {
		t.Errorf("socket mode %v group %d, want 0660 and %d", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid, sockGroup)
	}
	as := func(uid uint32, groups []uint32, args ...string) (string, int) {
		cmd := exec.Command(bin, append(args, "--socket", sock)...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: groups}}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	create := []string{"map", "create", "/sys/fs/bpf/m", "type", "hash", "key", "4", "value", "4", "entries", "4", "name", "m"}
	tests := []struct {
		uid    uint32
		groups []uint32
		args   []string
		out    string
		code   int
	}{
		{1001, []uint32{sockGroup, readGroup}, create, "xebpf map: map create failed: permission denied: uid 1001 may not create maps (it is in the read-only group)\n", 1},
		{1003, []uint32{sockGroup, adminGroup}, create, "", 0},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "show", "name", "m"}, "1: hash  name m  flags 0x0\n\tkey 4B  value 4B  max_entries 4\n\tpinned /sys/fs/bpf/m\n", 0},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "update", "name", "m", "key", "1", "0", "0", "0", "value", "1", "0", "0", "0"}, "xebpf map: update failed: permission denied: uid 1001 may not update maps (it is in the read-only group)\n", 1},
		{1001, []uint32{sockGroup, readGroup}, []string{"unpin", "/sys/fs/bpf/m"}, "xebpf unpin: permission denied: uid 1001 may not unpin objects (it is in the read-only group)\n", 1},
		{1004, []uint32{sockGroup}, []string{"prog", "show"}, "xebpf prog: permission denied: uid 1004 may not show programs\n", 1},
		{1005, nil, []string{"prog", "show"}, "permission denied", 1},
		{1003, []uint32{sockGroup, adminGroup}, []string{"unpin", "/sys/fs/bpf/m"}, "", 0},
		// A queue: the read-only group may peek, not push or pop.
		{1003, []uint32{sockGroup, adminGroup}, []string{"map", "create", "/sys/fs/bpf/q", "type", "queue", "key", "0", "value", "1", "entries", "2", "name", "q"}, "", 0},
		{1003, []uint32{sockGroup, adminGroup}, []string{"map", "push", "name", "q", "value", "7"}, "", 0},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "peek", "name", "q"}, "value: 07\n", 0},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "push", "name", "q", "value", "8"}, "xebpf map: update failed: permission denied: uid 1001 may not update maps (it is in the read-only group)\n", 1},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "pop", "name", "q"}, "xebpf map: pop failed: permission denied: uid 1001 may not pop map elements (it is in the read-only group)\n", 1},
		{1001, []uint32{sockGroup, readGroup}, []string{"map", "dequeue", "name", "q"}, "xebpf map: pop failed: permission denied: uid 1001 may not pop map elements (it is in the read-only group)\n", 1},
		{1003, []uint32{sockGroup, adminGroup}, []string{"map", "pop", "name", "q"}, "value: 07\n", 0},
		{1003, []uint32{sockGroup, adminGroup}, []string{"unpin", "/sys/fs/bpf/q"}, "", 0},
	}
	for _, tt := range tests {
		out, code := as(tt.uid, tt.groups, tt.args...)
		if code != tt.code || (tt.code == 1 && tt.uid == 1005 && !strings.Contains(out, tt.out)) || (tt.uid != 1005 && out != tt.out) {
			t.Errorf("uid %d groups %v: xebpf %s: exit %d\n%s\nwant exit %d\n%s", tt.uid, tt.groups, strings.Join(tt.args, " "), code, out, tt.code, tt.out)
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
