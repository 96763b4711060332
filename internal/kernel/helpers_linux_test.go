package kernel

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// requireKernel skips the test when this machine cannot test-run programs.
func requireKernel(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("kernel test-run unavailable: %v", err)
	}
}

var (
	buildMu    sync.Mutex
	buildDir   string
	buildCache = map[string]string{}
)

// buildObject compiles testdata/NAME.c with clang-19 and returns the object's
// path; objects are built once per test binary. It skips the test when
// clang-19 is not installed.
func buildObject(t testing.TB, name string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildCache[name]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "xebpf-kernel-test-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	src := filepath.Join("testdata", name+".c")
	if strings.Contains(name, "/") { // a path from the package directory
		src = name + ".c"
	}
	out := filepath.Join(buildDir, strings.ReplaceAll(name, "/", "_")+".o")
	cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-I", filepath.Join("..", "..", "include"),
		"-c", src, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-19 %s.c: %v\n%s", name, err, msg)
	}
	buildCache[name] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// loadObject builds and loads testdata/NAME.c, closing it with the test.
func loadObject(t testing.TB, name string, opts LoadOptions) *Collection {
	t.Helper()
	requireKernel(t)
	c, err := Load(buildObject(t, name), opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	t.Cleanup(c.Close)
	return c
}

// udpPacket returns an Ethernet+IPv4+UDP frame of exactly size bytes (at
// least 42) to the given destination port, its payload bytes counting up.
func udpPacket(size int, dport uint16) []byte {
	p := make([]byte, size)
	copy(p[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})  // destination MAC
	copy(p[6:12], []byte{0x02, 0, 0, 0, 0, 0x01}) // source MAC
	binary.BigEndian.PutUint16(p[12:], 0x0800)
	ip := p[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 4242)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(size-34))
	for i := range udp[8:] {
		udp[8+i] = byte(i)
	}
	return p
}
