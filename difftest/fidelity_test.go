package difftest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/xebpf/xebpf/internal/kernel"
)

// kernelSide returns nil when results can be compared with the running
// kernel: it can test-run programs, and its test-run frame is the one
// xebpf models (kernel.CheckLayout), which the output packets of programs
// moving the packet's head or tail depend on.
func kernelSide() error {
	if err := kernel.Available(); err != nil {
		return err
	}
	return kernel.CheckLayout()
}

// openProgram builds testdata/NAME.c and instantiates it in xebpf (and in
// the kernel when kernelSide allows), closing both with the test.
func openProgram(t *testing.T, name string) *engines {
	t.Helper()
	e, err := open(compile(t, t.TempDir(), name), kernelSide() == nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// TestXDPDataOutMeta: after bpf_xdp_adjust_meta, BPF_PROG_TEST_RUN
// returns the frame from data_meta (bpf_prog_test_run_xdp passes
// xdp.data_meta and data_end - data_meta to bpf_test_finish), so data_out
// starts with the metadata. (Found by difftest; fixed in program.go.)
func TestXDPDataOutMeta(t *testing.T) {
	e := openProgram(t, "xdp_adjust")
	pkt := append(eth(macB, macA, 0x86dd), ipv6(17, ip6A, ip6B, udp(1, 53, fill(20, 1)))...)
	x, k := e.run("xdp_adjust", pkt, nil)
	if x.err != nil {
		t.Fatal(x.err)
	}
	// xdp_adjust.c writes 0xfeedf00d and the IPv6 header's byte 7 (hop
	// limit, 64) as metadata.
	want := binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, 0xfeedf00d), 64)
	want = append(want, pkt...)
	if e.k != nil && !bytes.Equal(k.res.DataOut, want) {
		t.Skipf("kernel %s: data_out %x after bpf_xdp_adjust_meta, where Linux 6.18, which xebpf follows, returns the metadata first: %x", kernel.Release(), k.res.DataOut, want)
	}
	if !bytes.Equal(x.res.DataOut, want) {
		t.Errorf("xebpf data_out (%d bytes) lacks the 8 bytes of metadata: got %x, want %x", len(x.res.DataOut), x.res.DataOut, want)
	}
}

// TestSkbShortL3: for skb programs the kernel refuses (EINVAL) a
// test run whose EtherType is IPv4 with fewer than 20 bytes after the
// Ethernet header, or IPv6 with fewer than 40. (Found by difftest; fixed in
// program.go.)
func TestSkbShortL3(t *testing.T) {
	e := openProgram(t, "socket_filter")
	for _, c := range []struct {
		etype uint16
		l3    int
		ok    bool
	}{{0x0800, 0, false}, {0x0800, 19, false}, {0x0800, 20, true}, {0x86dd, 39, false}, {0x86dd, 40, true}} {
		pkt := append(eth(macB, macA, c.etype), fill(c.l3, 0x45)...)
		x, k := e.run("sock_filter", pkt, nil)
		if e.k != nil && (k.err == nil) != c.ok {
			t.Skipf("kernel %s: EtherType %#x with %d bytes of L3 gives error %v, where Linux 6.18, which xebpf follows, gives ok=%v", kernel.Release(), c.etype, c.l3, k.err, c.ok)
		}
		if (x.err == nil) != c.ok {
			t.Errorf("EtherType %#x, %d bytes of L3: xebpf error %v, want ok=%v like the kernel", c.etype, c.l3, x.err, c.ok)
		}
	}
}

// TestSkbProtocol8023: eth_type_trans sets skb->protocol to
// htons(ETH_P_802_3) (1) when the EtherType field is a length (< 0x600) and
// the payload starts with 0xffff, and to htons(ETH_P_802_2) (4) otherwise.
// (Found by difftest; fixed in program.go.)
func TestSkbProtocol8023(t *testing.T) {
	e := openProgram(t, "socket_filter")
	for _, c := range []struct {
		payload []byte
		want    uint16
	}{{[]byte{0xff, 0xff, 1, 2}, 0x0001}, {[]byte{0xaa, 0xaa, 3, 0}, 0x0004}} {
		pkt := append(eth(macB, macA, 0x0040), c.payload...)
		x, _ := e.run("sock_filter", pkt, nil)
		if x.err != nil {
			t.Fatal(x.err)
		}
		var got uint64
		if err := e.x.Maps["seen"].Lookup(uint32(1), &got); err != nil { // F_PROTO
			t.Fatal(err)
		}
		want := uint64(c.want>>8 | c.want<<8) // htons, read as a host integer
		if e.k != nil {
			km, err := e.k.DumpMaps()
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range km["seen"].Entries {
				if binary.NativeEndian.Uint32(en.Key) == 1 && binary.NativeEndian.Uint64(en.Value) != want {
					t.Skipf("kernel %s: payload %x gives skb->protocol %#x, where Linux 6.18, which xebpf follows, gives %#x", kernel.Release(), c.payload, binary.NativeEndian.Uint64(en.Value), want)
				}
			}
		}
		if got != want {
			t.Errorf("payload %x: skb->protocol %#x, want %#x", c.payload, got, want)
		}
	}
}

// TestSkbContextOut: ctx_out of an skb test run holds only the
// fields convert_skb_to___skb copies back (mark, priority, ifindexes, cb[],
// tstamp, wire_len, gso_segs, gso_size, hwtstamp); len, pkt_type, protocol
// and tc_index read 0. (Found by difftest; fixed in program.go.)
func TestSkbContextOut(t *testing.T) {
	e := openProgram(t, "tc_classifier")
	pkt := append(eth(macB, macA, 0x0800, 100), ipv4(ipv4opts{}, 17, udp(1, 53, fill(20, 1)))...)
	x, k := e.run("tc_classify", pkt, skbContext(1))
	if x.err != nil {
		t.Fatal(x.err)
	}
	if e.k != nil && k.err != nil {
		t.Fatal(k.err)
	}
	for _, f := range []struct {
		name string
		off  int
	}{{"len", 0}, {"pkt_type", 4}, {"protocol", 16}, {"tc_index", 44}} {
		if v := binary.NativeEndian.Uint32(x.res.ContextOut[f.off:]); v != 0 {
			t.Errorf("ctx_out %s = %d, the kernel gives 0", f.name, v)
		}
		if e.k != nil {
			if v := binary.NativeEndian.Uint32(k.res.ContextOut[f.off:]); v != 0 {
				t.Skipf("kernel %s: ctx_out %s = %d, where Linux 6.18, which xebpf follows, gives 0", kernel.Release(), f.name, v)
			}
		}
	}
}
