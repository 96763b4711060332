package difftest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
)

// strict turns off the known-bug filters below (DIFFTEST_STRICT=1): every
// difference then fails, and the TestKnownBug reproductions run.
var strict = os.Getenv("DIFFTEST_STRICT") != ""

// knownBug is a difference with the kernel traced to a bug outside
// difftest, reproduced by the test named in repro.
type knownBug struct {
	id, location, repro string
}

// bugLdNegative: LD_ABS/LD_IND at the classic negative offsets SKF_LL_OFF
// and SKF_NET_OFF read 0 bytes in xebpf and end the program with 0.
var bugLdNegative = &knownBug{"ld-abs-negative-offset",
	"interp/run.go loadPacket (offsets from SKF_NET_OFF/SKF_LL_OFF are out of range; the skb's Ethernet header is not in Env.Packet for socket filters)",
	"TestKnownBugLdAbsNegativeOffset"}

// knownTally counts how often each known bug was met.
type knownTally map[*knownBug]int

func (kt knownTally) String() string {
	var parts []string
	for b, n := range kt {
		parts = append(parts, fmt.Sprintf("%s ×%d (%s; %s)", b.id, n, b.location, b.repro))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n\t")
}

// runBug returns the known bug behind a run's difference, or nil.
func runBug(ps *xebpf.ProgramSpec, x outcome) *knownBug {
	if strict {
		return nil
	}
	if loadsAtNegativeOffset(ps) {
		return bugLdNegative
	}
	return nil
}

// loadsAtNegativeOffset reports whether a program has LD_ABS/LD_IND
// instructions and a constant in the SKF_LL_OFF or SKF_NET_OFF range
// (-0x200000 to -0xf0000, as a 32-bit value): the offset such a load uses.
func loadsAtNegativeOffset(ps *xebpf.ProgramSpec) bool {
	legacy, negative := false, false
	for _, ins := range ps.Instructions {
		op := uint8(ins.OpCode)
		if op&0x07 == 0x00 && (op&0xe0 == 0x20 || op&0xe0 == 0x40) && !ins.IsLDDW() {
			legacy = true
		}
		if v := int32(ins.Constant); v >= -0x200000 && v < -0xf0000 {
			negative = true
		}
	}
	return legacy && negative
}

// requireStrict skips a known-bug reproduction unless DIFFTEST_STRICT is set.
func requireStrict(t *testing.T, b *knownBug) {
	t.Helper()
	if !strict {
		t.Skipf("known xebpf bug %s in %s: set DIFFTEST_STRICT=1 to run this reproduction", b.id, b.location)
	}
}

// reproduce runs one program of testdata/known_bugs.c on pkt in both
// engines, under DIFFTEST_STRICT only (see compareKnown).
func reproduce(t *testing.T, b *knownBug, program string, pkt []byte, wantKernel uint32) {
	t.Helper()
	requireStrict(t, b)
	compareKnown(t, program, pkt, wantKernel)
}

// compareKnown runs one program of testdata/known_bugs.c on pkt in both
// engines. It checks the kernel's result against what Linux documents
// (wantKernel), then xebpf's against the kernel's, or against wantKernel
// when the kernel is unavailable.
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
	if k.err != nil || k.res.Retval != wantKernel {
		t.Fatalf("kernel: retval %#x, error %v; expected %#x", k.res.Retval, k.err, wantKernel)
	}
	if d := e.diff(x, k); len(d) > 0 {
		t.Errorf("%s differs from the kernel:\n\t%s", program, strings.Join(d, "\n\t"))
	}
}

// ipv4UDP is a 60-byte UDP/IPv4 frame from 10.0.0.1 to 10.0.0.2 port 53.
func ipv4UDP() []byte {
	return append(eth(macB, macA, 0x0800), ipv4(ipv4opts{ttl: 64, src: ipA, dst: ipB}, 17, udp(1000, 53, fill(18, 7)))...)
}

// TestKnownBugLdAbsNegativeOffset: in a socket filter, LD_ABS at
// SKF_LL_OFF+26 reads the IPv4 source address (the Ethernet header is
// there, before skb->data) and at SKF_NET_OFF+2 the IPv4 total length;
// xebpf treats both offsets as out of range and ends the run with 0
// (suricata's lb.o).
func TestKnownBugLdAbsNegativeOffset(t *testing.T) {
	pkt := ipv4UDP()
	want := uint32(0x0a000001) + uint32(len(pkt)-14)
	reproduce(t, bugLdNegative, "sock_ld_neg", pkt, want)
}

// TestKnownBugClassifiers checks the corpus filter's classifiers on the
// reproductions' own programs, so that a filter that never matches fails.
func TestKnownBugClassifiers(t *testing.T) {
	if strict {
		t.Skip("filters are off under DIFFTEST_STRICT")
	}
	spec, err := xebpf.LoadCollectionSpec(compile(t, t.TempDir(), "known_bugs"))
	if err != nil {
		t.Fatal(err)
	}
	if !loadsAtNegativeOffset(spec.Programs["sock_ld_neg"]) {
		t.Error("sock_ld_neg: negative LD_ABS offsets not detected")
	}
	if loadsAtNegativeOffset(spec.Programs["tc_vlan_push"]) {
		t.Error("tc_vlan_push: detected as loading at a negative offset")
	}
	e := openProgram(t, "known_bugs")
	if x, _ := e.run("tc_vlan_push", ipv4UDP(), nil); x.err != nil || runBug(spec.Programs["tc_vlan_push"], x) != nil {
		t.Errorf("tc_vlan_push: error %v classified as a known bug", x.err)
	}
}
