package service_test

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// kernelBefore reports whether the running kernel is older than
// major.minor.
func kernelBefore(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	var ma, mi int
	fmt.Sscanf(string(b), "%d.%d", &ma, &mi)
	return ma < major || ma == major && mi < minor
}

// TestTagMatchesKernel: prog show's tag is the kernel's for the same
// object, loaded into the live kernel with cilium/ebpf.
func TestTagMatchesKernel(t *testing.T) {
	for _, name := range []string{"xdp_count", "sock_len"} {
		obj := buildObject(t, name)
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		coll, err := ebpf.NewCollection(spec)
		if err != nil {
			t.Skipf("loading into the kernel: %v", err)
		}
		defer coll.Close()
		_, sock := startDaemon(t)
		c, err := client.Dial(sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Load(&proto.LoadArgs{Object: obj})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Programs {
			info, err := coll.Programs[p.Name].Info()
			if err != nil {
				t.Fatal(err)
			}
			if p.Tag != info.Tag && kernelBefore(6, 18) {
				t.Skipf("%s: tag %s, the kernel's %s: Linux before 6.18 hashes with SHA-1", p.Name, p.Tag, info.Tag)
			}
			if p.Tag != info.Tag {
				t.Errorf("%s: tag %s, the kernel's %s", p.Name, p.Tag, info.Tag)
			}
		}
	}
}
