package difftest

import (
	"strings"
	"testing"

	"github.com/xebpf/xebpf/internal/kernel"
)

// The tests of this file reproduce differences with the kernel that the
// suite once found, in xebpf bugs since fixed; they stay as regression
// tests.

// compareKnown runs one program of testdata/known_bugs.c on pkt in both
// engines. It checks the kernel's result against Linux 6.18's (wantKernel),
// skipping when the running kernel gives another, then xebpf's against
// the kernel's, or against wantKernel when the kernel is unavailable.
func compareKnown(t *testing.T, program string, pkt []byte, wantKernel uint32) {
	t.Helper()
	e := openProgram(t, "known_bugs")
	x, k := e.run(program, pkt, nil)
	if e.k == nil {
		if x.err != nil || x.res.Retval != wantKernel {
			t.Fatalf("xebpf: retval %#x, error %v; Linux gives %#x", x.res.Retval, x.err, wantKernel)
		}
		return
	}
	if k.err != nil {
		t.Fatalf("kernel: %v", k.err)
	}
	if k.res.Retval != wantKernel {
		t.Skipf("kernel %s: %s returns %#x, where Linux 6.18, which xebpf follows, returns %#x", kernel.Release(), program, k.res.Retval, wantKernel)
	}
	if d := e.diff(x, k); len(d) > 0 {
		t.Errorf("%s differs from the kernel:\n\t%s", program, strings.Join(d, "\n\t"))
	}
}

// ipv4UDP is a 60-byte UDP/IPv4 frame from 10.0.0.1 to 10.0.0.2 port 53.
func ipv4UDP() []byte {
	return append(eth(macB, macA, 0x0800), ipv4(ipv4opts{ttl: 64, src: ipA, dst: ipB}, 17, udp(1000, 53, fill(18, 7)))...)
}

// TestLdAbsNegativeOffset: in a socket filter, LD_ABS at SKF_LL_OFF+26
// reads the IPv4 source address (the Ethernet header is there, before
// skb->data) and at SKF_NET_OFF+2 the IPv4 total length (suricata's lb.o;
// xebpf once read nothing there).
func TestLdAbsNegativeOffset(t *testing.T) {
	pkt := ipv4UDP()
	compareKnown(t, "sock_ld_neg", pkt, uint32(0x0a000001)+uint32(len(pkt)-14))
}

// TestLdAbsAfterVlanPush: after a helper moves the MAC header (a second
// bpf_skb_vlan_push writes the first tag into the frame), LD_ABS at
// SKF_LL_OFF reads from the header's new place, as Linux does.
func TestLdAbsAfterVlanPush(t *testing.T) {
	compareKnown(t, "tc_ld_after_push", ipv4UDP(), 0x8100)
}
