package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// xdpEnv mirrors struct xdp_env of testdata/env_probe.c.
type xdpEnv struct {
	Len, MetaLen, IngressIfindex, RxQueueIndex uint32
	Headroom, Metaroom, Tailroom, MinLen       uint32
	First                                      [16]byte
	Runs                                       uint32
}

// skbEnv mirrors struct skb_env of testdata/env_probe.c.
type skbEnv struct {
	Len, PktType, Mark, QueueMapping, Protocol, VlanPresent, VlanTCI, VlanProto uint32
	Priority, IngressIfindex, Ifindex, TCIndex                                  uint32
	CB                                                                          [5]uint32
	Hash, NapiID                                                                uint32
	PktLen, MetaLen, WireLen, GSOSegs, GSOSize, TCClassid                       uint32
	_                                                                           uint32
	Tstamp                                                                      uint64
	LdAbs0, LdAbs12                                                             uint32
	First                                                                       [16]byte
	Runs                                                                        uint32
	_                                                                           uint32
}

// probeVar decodes the global variable name of env_probe's .bss into v.
func probeVar(t *testing.T, path string, maps map[string]MapState, name string, v any) {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	vs := spec.Variables[name]
	if vs == nil {
		t.Fatalf("no variable %s", name)
	}
	bss := maps[".bss"]
	if len(bss.Entries) != 1 {
		t.Fatalf(".bss: %d entries", len(bss.Entries))
	}
	raw := bss.Entries[0].Value
	size := binary.Size(v)
	if int(vs.Offset)+size > len(raw) || uint32(size) != vs.Size() {
		t.Fatalf("%s: offset %d size %d (Go %d), .bss has %d bytes", name, vs.Offset, vs.Size(), size, len(raw))
	}
	if _, err := binary.Decode(raw[vs.Offset:int(vs.Offset)+size], binary.NativeEndian, v); err != nil {
		t.Fatal(err)
	}
}

// requireModelLayout skips a test of facts that follow from the test-run
// frame's size unless the kernel's frame is the one xebpf models.
func requireModelLayout(t *testing.T) {
	t.Helper()
	requireKernel(t)
	if err := CheckLayout(); err != nil {
		t.Skip(err)
	}
}

// TestProbeLayout checks ProbeLayout against what env_probe's XDP program
// reads of its own frame, on whichever kernel runs the test, and
// CheckLayout against ProbeLayout.
func TestProbeLayout(t *testing.T) {
	requireKernel(t)
	l, err := ProbeLayout()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s: %+v", Release(), l)
	if err := CheckLayout(); (err == nil) != (l == ModelLayout) || err != nil && !errors.Is(err, ErrOtherLayout) {
		t.Errorf("layout %+v, ModelLayout %+v: CheckLayout() = %v", l, ModelLayout, err)
	}
	path := buildObject(t, "env_probe")
	c := loadObject(t, "env_probe", LoadOptions{Programs: []string{"probe_xdp"}})
	if _, err := c.Run("probe_xdp", RunInput{Data: udpPacket(64, 53)}); err != nil {
		t.Fatal(err)
	}
	maps, err := c.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	var env xdpEnv
	probeVar(t, path, maps, "xdp_env", &env)
	if int(env.Headroom) != l.XDPHeadroom || int(env.Len+env.Tailroom) != l.XDPLinear {
		t.Errorf("env_probe sees headroom %d and %d+%d bytes of packet and tailroom; ProbeLayout %+v", env.Headroom, env.Len, env.Tailroom, l)
	}
}

// TestEnvironmentXDP pins down what BPF_PROG_TEST_RUN gives an XDP program.
func TestEnvironmentXDP(t *testing.T) {
	requireModelLayout(t)
	path := buildObject(t, "env_probe")
	c := loadObject(t, "env_probe", LoadOptions{Programs: []string{"probe_xdp", "probe_xdp_ret7"}})
	for _, size := range []int{14, 64, 1500} {
		pkt := udpPacket(max(size, 42), 53)[:size]
		res, err := c.Run("probe_xdp", RunInput{Data: pkt})
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if res.Retval != 2 {
			t.Errorf("%d bytes: retval %d, want XDP_PASS", size, res.Retval)
		}
		maps, err := c.DumpMaps()
		if err != nil {
			t.Fatal(err)
		}
		var env xdpEnv
		probeVar(t, path, maps, "xdp_env", &env)
		t.Logf("%d bytes: %+v", size, env)
		// The frame starts at the Ethernet header with 256 bytes of
		// XDP_PACKET_HEADROOM, of which struct xdp_frame (40 bytes) is
		// reserved: bpf_xdp_adjust_head can move data back by 216 bytes.
		// The frame fills one 4096-byte page; the tail keeps 320 bytes
		// for struct skb_shared_info.
		want := xdpEnv{
			Len: uint32(size), MetaLen: 0, IngressIfindex: 1, RxQueueIndex: 0,
			Headroom: 216, Metaroom: 216, Tailroom: uint32(4096 - 256 - 320 - size), MinLen: 14,
			Runs: env.Runs,
		}
		copy(want.First[:], pkt)
		if size < 16 {
			want.First = env.First
		}
		if env != want {
			t.Errorf("%d bytes: environment\n got %+v\nwant %+v", size, env, want)
		}
		// Growing the tail zero-fills; the probe shrank and regrew it.
		if !bytes.Equal(res.DataOut[:14], pkt[:14]) || len(res.DataOut) != size {
			t.Errorf("%d bytes: data_out %x", size, res.DataOut)
		}
	}

	res, err := c.Run("probe_xdp_ret7", RunInput{Data: udpPacket(64, 1)})
	if err != nil || res.Retval != 7 {
		t.Errorf("XDP returning 7: %+v, %v; want the raw value 7", res, err)
	}

	// XDP needs an Ethernet header too. Beyond 4096-256-320 = 3520 bytes
	// the kernel puts the rest in fragments, out of direct reach: the
	// program sees data_end-data = 3520, data_out has every byte.
	for _, tc := range []struct {
		size int
		ok   bool
	}{{0, false}, {13, false}, {14, true}, {3520, true}, {4000, true}} {
		prog := c.progs["probe_xdp_ret7"]
		in := udpPacket(max(tc.size, 42), 9)[:tc.size]
		tr := testRun{progFD: prog.FD(), data: in, dataOut: make([]byte, tc.size+dataOutSlack), repeat: 1}
		err := tr.run()
		if (err == nil) != tc.ok {
			t.Errorf("XDP with %d bytes: err = %v, want ok=%v", tc.size, err, tc.ok)
		}
		if err == nil && !bytes.Equal(tr.dataOut[:tr.dataSizeOut], in) {
			t.Errorf("XDP with %d bytes: data_out differs from data_in", tc.size)
		}
	}
	c2 := loadObject(t, "env_probe", LoadOptions{Programs: []string{"probe_xdp"}})
	if _, err := c2.Run("probe_xdp", RunInput{Data: udpPacket(4000, 9)}); err != nil {
		t.Fatal(err)
	}
	maps, err := c2.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	var big xdpEnv
	probeVar(t, path, maps, "xdp_env", &big)
	if big.Len != 3520 {
		t.Errorf("4000-byte frame: linear length %d, want 3520", big.Len)
	}
}

// TestEnvironmentSkb pins down what BPF_PROG_TEST_RUN gives socket filters
// and TC classifiers.
func TestEnvironmentSkb(t *testing.T) {
	requireModelLayout(t)
	path := buildObject(t, "env_probe")
	c := loadObject(t, "env_probe", LoadOptions{Programs: []string{"probe_socket", "probe_socket_neg", "probe_tc"}})
	pkt := udpPacket(64, 53)

	res, err := c.Run("probe_socket", RunInput{Data: pkt})
	if err != nil {
		t.Fatal(err)
	}
	// A socket filter's skb starts at the network header: len excludes the
	// Ethernet header, offset 0 is the IP version byte. data_out gives the
	// Ethernet header back zeroed.
	if res.Retval != 50 {
		t.Errorf("socket filter: retval (skb->len) %d, want 50", res.Retval)
	}
	wantOut := append(make([]byte, 14), pkt[14:]...)
	if !bytes.Equal(res.DataOut, wantOut) {
		t.Errorf("socket filter: data_out\n got %x\nwant %x", res.DataOut, wantOut)
	}
	maps, err := c.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	var sock skbEnv
	probeVar(t, path, maps, "sock_env", &sock)
	t.Logf("socket: %+v", sock)
	// pkt_type comes from eth_type_trans against the loopback device's
	// all-zero MAC: 02:00:00:00:00:02 is PACKET_OTHERHOST (3).
	want := skbEnv{
		Len: 50, PktType: 3, Protocol: 0x0008 /* htons(ETH_P_IP) */, Ifindex: 1, IngressIfindex: 0,
		LdAbs0: 0x45, LdAbs12: 0x0a00, Runs: 1,
	}
	copy(want.First[:], pkt[14:])
	if sock != want {
		t.Errorf("socket environment\n got %+v\nwant %+v", sock, want)
	}

	res, err = c.Run("probe_socket_neg", RunInput{Data: pkt})
	if err != nil || res.Retval != 0xffffffff {
		t.Errorf("socket filter returning -1: %+v, %v; want 0xffffffff", res, err)
	}

	// TC: the skb starts at the Ethernet header; ctx_in sets mark,
	// priority and cb[], ctx_out reports what the program wrote.
	ctx := make([]byte, 192)                        // sizeof(struct __sk_buff)
	binary.NativeEndian.PutUint32(ctx[8:], 0x77)    // mark
	binary.NativeEndian.PutUint32(ctx[32:], 3)      // priority
	binary.NativeEndian.PutUint32(ctx[48:], 0x1111) // cb[0]
	binary.NativeEndian.PutUint32(ctx[64:], 0x5555) // cb[4]
	res, err = c.Run("probe_tc", RunInput{Data: pkt, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retval != 1234 || !bytes.Equal(res.DataOut, pkt) {
		t.Errorf("tc: retval %d data_out %x", res.Retval, res.DataOut)
	}
	if got := binary.NativeEndian.Uint32(res.ContextOut[8:]); got != 0x1234 {
		t.Errorf("tc: ctx_out mark %#x, want 0x1234", got)
	}
	if got := binary.NativeEndian.Uint32(res.ContextOut[52:]); got != 0xabcd {
		t.Errorf("tc: ctx_out cb[1] %#x, want 0xabcd", got)
	}
	// ctx_out carries only the fields test-run copies back (mark,
	// priority, ifindex, cb[], tstamp, wire_len, gso_*): len stays 0.
	for _, f := range []struct {
		name      string
		off, want uint32
	}{{"len", 0, 0}, {"priority", 32, 7}, {"ifindex", 40, 1}, {"wire_len", 160, 64}} {
		if got := binary.NativeEndian.Uint32(res.ContextOut[f.off:]); got != f.want {
			t.Errorf("tc: ctx_out %s = %d, want %d", f.name, got, f.want)
		}
	}
	maps, err = c.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	var tc skbEnv
	probeVar(t, path, maps, "tc_env", &tc)
	t.Logf("tc: %+v", tc)
	wantTC := skbEnv{
		Len: 64, PktType: 3, Mark: 0x77, Protocol: 0x0008, Priority: 3, Ifindex: 1,
		CB: [5]uint32{0x1111, 0, 0, 0, 0x5555}, PktLen: 64, WireLen: 64, GSOSegs: 0,
		LdAbs0: 0x02, LdAbs12: 0x0800, Runs: 1,
	}
	copy(wantTC.First[:], pkt)
	if tc != wantTC {
		t.Errorf("tc environment\n got %+v\nwant %+v", tc, wantTC)
	}

	// Without ctx_in, wire_len reads 0; a destination MAC equal to the
	// loopback's (all zero) gives PACKET_HOST.
	host := udpPacket(64, 53)
	copy(host, make([]byte, 6))
	if _, err := c.Run("probe_tc", RunInput{Data: host}); err != nil {
		t.Fatal(err)
	}
	if maps, err = c.DumpMaps(); err != nil {
		t.Fatal(err)
	}
	probeVar(t, path, maps, "tc_env", &tc)
	if tc.PktType != 0 || tc.WireLen != 0 || tc.Mark != 0 || tc.Len != 64 {
		t.Errorf("tc without ctx_in: %+v", tc)
	}

	for _, tc := range []struct {
		dst  []byte
		want uint32
	}{
		{[]byte{0, 0, 0, 0, 0, 0}, 0},
		// The loopback's broadcast address is all zero too, so
		// ff:ff:ff:ff:ff:ff counts as multicast.
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 2},
		{[]byte{0x01, 0x00, 0x5e, 0, 0, 1}, 2},
		{[]byte{0x02, 0, 0, 0, 0, 2}, 3},
	} {
		p := udpPacket(64, 53)
		copy(p, tc.dst)
		if _, err := c.Run("probe_socket", RunInput{Data: p}); err != nil {
			t.Fatal(err)
		}
		if maps, err = c.DumpMaps(); err != nil {
			t.Fatal(err)
		}
		probeVar(t, path, maps, "sock_env", &sock)
		if sock.PktType != tc.want {
			t.Errorf("destination %x: pkt_type %d, want %d", tc.dst, sock.PktType, tc.want)
		}
	}

	// skb programs need an Ethernet header: the kernel rejects 13 bytes.
	for _, tc := range []struct {
		size int
		ok   bool
	}{{0, false}, {13, false}, {14, true}} {
		tr := testRun{progFD: c.progs["probe_tc"].FD(), data: make([]byte, tc.size), dataOut: make([]byte, 64), repeat: 1}
		err := tr.run()
		if (err == nil) != tc.ok {
			t.Errorf("tc with %d bytes: err = %v, want ok=%v", tc.size, err, tc.ok)
		}
	}
	if _, err := c.Run("probe_tc", RunInput{Data: make([]byte, 13)}); !errors.Is(err, ErrShortPacket) {
		t.Errorf("Run with 13 bytes: %v, want ErrShortPacket", err)
	}
}
