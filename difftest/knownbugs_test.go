package difftest

import (
	"bytes"
	"encoding/binary"
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

var (
	bugXDPMeta = &knownBug{"xdp-data-out-without-meta", "program.go (*runState).packetOut",
		"TestKnownBugXDPDataOutMeta"}
	bugShortL3 = &knownBug{"skb-short-l3-accepted", "program.go (*Program).Run",
		"TestKnownBugSkbShortL3"}
	bug8022 = &knownBug{"skb-protocol-802.2", "program.go (*runState).setupPacket",
		"TestKnownBugSkbProtocol8023"}
	bugCtxOut = &knownBug{"skb-ctx-out-all-fields", "program.go (*Program).Run (ContextOut)",
		"TestKnownBugSkbContextOut"}
)

// knownTally counts how often each known bug was met.
type knownTally map[*knownBug]int

func (kt knownTally) String() string {
	var parts []string
	for b, n := range kt {
		parts = append(parts, fmt.Sprintf("%s ×%d (%s, %s)", b.id, n, b.location, b.repro))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// packetKind is how a program type sees the packet.
type packetKind int

const (
	kindOther packetKind = iota
	kindXDP
	kindSkb
)

func kindOf(p *xebpf.Program) packetKind {
	switch p.Type() {
	case xebpf.XDP:
		return kindXDP
	case xebpf.SocketFilter, xebpf.SchedCLS:
		return kindSkb
	}
	return kindOther
}

// skipInput returns the known bug that makes xebpf and the kernel disagree
// on an input as a whole (the kernel refuses it, or builds a context xebpf
// does not), so that neither engine runs it; nil means run it.
func skipInput(kind packetKind, data []byte) *knownBug {
	if strict || kind != kindSkb || len(data) < 14 {
		return nil
	}
	l3 := len(data) - 14
	switch et := binary.BigEndian.Uint16(data[12:]); {
	case et == 0x0800 && l3 < 20, et == 0x86dd && l3 < 40:
		return bugShortL3
	case et < 0x0600:
		return bug8022
	}
	return nil
}

// skbOutFields are the struct __sk_buff bytes the kernel copies back into
// ctx_out (convert_skb_to___skb): mark, priority, ingress_ifindex, ifindex,
// cb[], tstamp, wire_len, gso_segs, gso_size, hwtstamp.
var skbOutFields = []struct{ off, size int }{
	{8, 4}, {32, 4}, {36, 4}, {40, 4}, {48, 20}, {152, 8}, {160, 4}, {164, 4}, {176, 4}, {184, 8},
}

// normalize removes from a pair of outcomes the differences due to known
// bugs and returns the bugs it met.
func normalize(kind packetKind, x, k *outcome) []*knownBug {
	if strict || x.err != nil || k.err != nil {
		return nil
	}
	var met []*knownBug
	kd, xd := k.res.DataOut, x.res.DataOut
	if kind == kindXDP && len(kd) > len(xd) && bytes.Equal(kd[len(kd)-len(xd):], xd) {
		k.res.DataOut = kd[len(kd)-len(xd):]
		met = append(met, bugXDPMeta)
	}
	if kind == kindSkb && x.res.ContextOut != nil && k.res.ContextOut != nil {
		kept := make([]byte, len(x.res.ContextOut))
		for _, f := range skbOutFields {
			if f.off+f.size <= len(kept) {
				copy(kept[f.off:f.off+f.size], x.res.ContextOut[f.off:])
			}
		}
		if !bytes.Equal(kept, x.res.ContextOut) {
			x.res.ContextOut = kept
			met = append(met, bugCtxOut)
		}
	}
	return met
}

// requireStrict skips a known-bug reproduction unless DIFFTEST_STRICT is set.
func requireStrict(t *testing.T, b *knownBug) {
	t.Helper()
	if !strict {
		t.Skipf("known xebpf bug %s in %s: set DIFFTEST_STRICT=1 to run this reproduction", b.id, b.location)
	}
}
