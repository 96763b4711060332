package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDo enters a namespace made for the test and checks that the code
// runs there: its loopback is the only interface, and it is down.
func TestDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	name := "xebpf-netns-test"
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	var links string
	if err := Do(name, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		links = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(links, ":") != 1 || !strings.Contains(links, "lo:") {
		t.Fatalf("interfaces inside the namespace:\n%s", links)
	}
	if err := Do("no-such-netns-xebpf", func() error { return nil }); err == nil {
		t.Fatal("a namespace that does not exist: no error")
	}
}
