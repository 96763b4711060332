package helpers_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/interp"
)

// Frames of the skb comparisons.
func ethFrame(etherType uint16, payload []byte) []byte {
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(etherType >> 8), byte(etherType)}
	return append(f, payload...)
}

func ipv4Hdr(n int) []byte {
	h := []byte{0x45, 0, 0, byte(20 + n), 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	for i := range n {
		h = append(h, byte(i*7+3))
	}
	return h
}

func ipv6Hdr(n int) []byte {
	h := make([]byte, 40)
	h[0], h[5], h[6], h[7] = 0x60, byte(n), 17, 64
	h[8], h[23], h[24], h[39] = 0xfd, 1, 0xfd, 2
	for i := range n {
		h = append(h, byte(i*5+1))
	}
	return h
}

func vlanTag(proto, tci uint16, inner uint16, payload []byte) []byte {
	return append([]byte{byte(tci >> 8), byte(tci), byte(inner >> 8), byte(inner)}, payload...)
}

// be is a __be16 as a BPF program passes it on a little-endian host.
func be(v uint16) uint32 { return uint32(v>>8 | v<<8) }

// callEnv is skbFrame.call returning the run's environment, whose packet
// region the helpers update.
func (f *skbFrame) callEnv(id int32, args ...uint64) (uint64, *api.Env) {
	f.h.t.Helper()
	src := fmt.Sprintf("lddw %%r1, %#x\n", addr(f.ctx))
	for i, a := range args {
		src += fmt.Sprintf("lddw %%r%d, %#x\n", i+2, a)
	}
	src += fmt.Sprintf("call %d\nexit", id)
	env := f.h.env(addr(f.ctx))
	env.Regions = append(append([]api.Region{}, f.regions...), env.Regions...)
	r0, err := f.h.compile(src, interp.Checked).Run(env)
	if err != nil {
		f.h.t.Fatal(err)
	}
	// Later calls see the packet where this one left it.
	f.regions[0] = env.Regions[0]
	return r0, env
}

// packet returns the packet between the context's data and data_end
// words, checking that len, data_meta and the packet region agree.
func (f *skbFrame) packet(t *testing.T, env *api.Env) []byte {
	t.Helper()
	data := binary.NativeEndian.Uint64(f.ctx[192:])
	end := binary.NativeEndian.Uint64(f.ctx[200:])
	if meta := binary.NativeEndian.Uint64(f.ctx[208:]); meta != data {
		t.Errorf("data_meta %#x, data %#x", meta, data)
	}
	if got := uint64(f.field(0)); got != end-data {
		t.Errorf("__sk_buff.len %d, packet %d bytes", got, end-data)
	}
	if r := env.Regions[0]; r.Addr != data || r.Size != end-data {
		t.Errorf("packet region [%#x, +%d), packet [%#x, +%d)", r.Addr, r.Size, data, end-data)
	}
	return append([]byte(nil), unsafeBytes(data, int(end-data))...)
}

func ipv4Frame() []byte { return ethFrame(0x0800, ipv4Hdr(40)) }

// newRoomFrame is newSkbFrame with the context outside the frame, as
// xebpf lays out a run, so that the helpers may move the packet anywhere
// in the frame.
func newRoomFrame(t *testing.T, h *harness, hook helpers.Hook, pkt []byte) *skbFrame {
	f := newSkbFrame(t, h, hook, pkt)
	ctx := h.mem(len(f.ctx), true)
	copy(ctx, f.ctx)
	clear(f.ctx)
	f.ctx = ctx
	h.run.Packet.Ctx = addr(ctx)
	f.regions[1].Addr = addr(ctx)
	return f
}

const frameRoom = 4096 - helpers.SkbSharedInfoSize // the frame newSkbFrame gives

func TestSkbChangeTailHead(t *testing.T) {
	pkt := ipv4Frame() // 74 bytes
	for _, tc := range []struct {
		name    string
		id      int32
		arg     uint64
		flags   uint64
		want    uint64
		wantPkt []byte
	}{
		{"tail grow", helpers.IDSkbChangeTail, 80, 0, 0, append(append([]byte(nil), pkt...), 0, 0, 0, 0, 0, 0)},
		{"tail trim", helpers.IDSkbChangeTail, 34, 0, 0, pkt[:34]},
		{"tail to the network header", helpers.IDSkbChangeTail, 14, 0, 0, pkt[:14]},
		{"tail into the Ethernet header", helpers.IDSkbChangeTail, 13, 0, neg(22), pkt},
		{"tail flags", helpers.IDSkbChangeTail, 80, 1, neg(22), pkt},
		{"tail the whole frame", helpers.IDSkbChangeTail, frameRoom, 0, 0, append(append([]byte(nil), pkt...), make([]byte, frameRoom-len(pkt))...)},
		// Linux allows up to 16064 bytes; xebpf's frame holds 3776.
		{"tail past the frame", helpers.IDSkbChangeTail, frameRoom + 1, 0, neg(12), pkt},
		{"tail past BPF_SKB_MAX_LEN", helpers.IDSkbChangeTail, 16065, 0, neg(22), pkt},
		{"head", helpers.IDSkbChangeHead, 14, 0, 0, append(make([]byte, 14), pkt...)},
		{"head beyond the headroom", helpers.IDSkbChangeHead, 1000, 0, 0, append(make([]byte, 1000), pkt...)},
		{"head past the frame", helpers.IDSkbChangeHead, frameRoom - 73, 0, neg(12), pkt},
		{"head negative", helpers.IDSkbChangeHead, 0x80000000, 0, neg(22), pkt},
		{"head flags", helpers.IDSkbChangeHead, 14, 2, neg(22), pkt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := newRoomFrame(t, h, helpers.HookTC, pkt)
			r0, env := f.callEnv(tc.id, tc.arg, tc.flags)
			if r0 != tc.want {
				t.Fatalf("r0 = %#x, want %#x", r0, tc.want)
			}
			if got := f.packet(t, env); !bytes.Equal(got, tc.wantPkt) {
				t.Errorf("packet %x\nwant   %x", got, tc.wantPkt)
			}
		})
	}
}

// TestSkbChangeTailMinLen checks the shortest length bpf_skb_change_tail
// accepts after helpers that move the headers: the larger of the network
// and transport header offsets, the transport header being set by a
// reallocation (a push past the 64-byte headroom) one byte before the old
// buffer start, as Linux 6.18 does.
func TestSkbChangeTailMinLen(t *testing.T) {
	type call struct {
		id   int32
		args []uint64
	}
	head := func(n uint64) call { return call{helpers.IDSkbChangeHead, []uint64{n, 0}} }
	room := func(diff int32) call {
		return call{helpers.IDSkbAdjustRoom, []uint64{uint64(uint32(diff)), 1, 0}}
	}
	for _, tc := range []struct {
		name   string
		before []call
		min    uint64 // the shortest length accepted
	}{
		{"untouched", nil, 14},
		{"head within the headroom", []call{head(64)}, 78},
		{"head one past the headroom", []call{head(65)}, 79},
		// The transport header lands 35 bytes after data, before the
		// network header at 114.
		{"head past the headroom", []call{head(100)}, 114},
		{"head far past the headroom", []call{head(1000)}, 1014},
		// The network header stays 14 bytes after data; the transport
		// header lands at 35.
		{"room past the headroom", []call{room(100)}, 35},
		{"room past the headroom, shrunk", []call{room(100), room(-20)}, 15},
		{"room past the headroom, shrunk before the network header", []call{room(100), room(-30)}, 14},
		{"room within the headroom", []call{room(64)}, 14},
	} {
		for _, l := range []uint64{tc.min - 1, tc.min} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, l), func(t *testing.T) {
				h := newHarness(t)
				f := newRoomFrame(t, h, helpers.HookTC, ipv4Frame())
				for _, c := range tc.before {
					if r0, _ := f.callEnv(c.id, c.args...); r0 != 0 {
						t.Fatalf("helper %d%v: r0 = %#x", c.id, c.args, r0)
					}
				}
				want := uint64(0)
				if l < tc.min {
					want = neg(22)
				}
				r0, env := f.callEnv(helpers.IDSkbChangeTail, l, 0)
				if r0 != want {
					t.Fatalf("change_tail(%d) = %#x, want %#x", l, r0, want)
				}
				if got := uint64(len(f.packet(t, env))); want == 0 && got != l {
					t.Errorf("packet of %d bytes, want %d", got, l)
				}
			})
		}
	}
}

func TestSkbChangeProto(t *testing.T) {
	v4 := ipv4Frame()
	v6 := append(append(append([]byte(nil), v4[:14]...), make([]byte, 20)...), v4[14:]...)
	for _, tc := range []struct {
		name      string
		pkt       []byte
		to        uint16
		flags     uint64
		want      uint64
		wantPkt   []byte
		wantProto uint16
	}{
		{"4 to 6", v4, 0x86dd, 0, 0, v6, 0x86dd},
		{"6 to 4", ethFrame(0x86dd, v6[14:]), 0x0800, 0, 0, ethFrame(0x86dd, v4[14:]), 0x0800},
		{"4 to 4", v4, 0x0800, 0, neg(524), v4, 0x0800},
		{"flags", v4, 0x86dd, 1, neg(22), v4, 0x0800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			pkt := tc.pkt
			if tc.name == "6 to 4" {
				pkt = append([]byte(nil), pkt...)
			}
			f := newRoomFrame(t, h, helpers.HookTC, pkt)
			if tc.name == "6 to 4" {
				// newSkbFrame takes the protocol from bytes 12-13.
				binary.NativeEndian.PutUint32(f.ctx[16:], uint32(be(0x86dd)))
			}
			binary.NativeEndian.PutUint32(f.ctx[68:], 77)
			r0, env := f.callEnv(helpers.IDSkbChangeProto, uint64(be(tc.to)), tc.flags)
			if r0 != tc.want {
				t.Fatalf("r0 = %#x, want %#x", r0, tc.want)
			}
			if got := f.packet(t, env); !bytes.Equal(got, tc.wantPkt) {
				t.Errorf("packet %x\nwant   %x", got, tc.wantPkt)
			}
			if got := uint16(be(uint16(f.field(16)))); got != tc.wantProto {
				t.Errorf("protocol %#x, want %#x", got, tc.wantProto)
			}
			if wantHash := map[bool]uint32{true: 0, false: 77}[tc.want == 0]; f.field(68) != wantHash {
				t.Errorf("hash %d, want %d", f.field(68), wantHash)
			}
		})
	}
}

func TestSkbVlanPushPop(t *testing.T) {
	h := newHarness(t)
	pkt := ipv4Frame()
	f := newRoomFrame(t, h, helpers.HookTC, pkt)
	vlan := func() [3]uint32 { return [3]uint32{f.field(20), f.field(24), f.field(28)} }
	// The first tag goes to the accelerated slot: the packet is unchanged.
	if r0, env := f.callEnv(helpers.IDSkbVlanPush, uint64(be(0x88a8)), 5); r0 != 0 || !bytes.Equal(f.packet(t, env), pkt) {
		t.Fatalf("first push: r0 %#x", r0)
	}
	if got := vlan(); got != [3]uint32{1, 5, uint32(be(0x88a8))} {
		t.Fatalf("vlan fields %x after the first push", got)
	}
	// The second moves the first into the packet; other protocols become 802.1Q.
	r0, env := f.callEnv(helpers.IDSkbVlanPush, uint64(be(0x0800)), 0x1007)
	want := append(append(append([]byte(nil), pkt[:12]...), 0x88, 0xa8, 0, 5), pkt[12:]...)
	if got := f.packet(t, env); r0 != 0 || !bytes.Equal(got, want) {
		t.Fatalf("second push: r0 %#x packet %x\nwant %x", r0, got, want)
	}
	if got := vlan(); got != [3]uint32{1, 0x1007, uint32(be(0x8100))} || f.field(16) != uint32(be(0x88a8)) {
		t.Fatalf("vlan fields %x protocol %#x after the second push", got, f.field(16))
	}
	// Pop clears the accelerated tag and moves the packet's one there.
	r0, env = f.callEnv(helpers.IDSkbVlanPop)
	if got := f.packet(t, env); r0 != 0 || !bytes.Equal(got, pkt) {
		t.Fatalf("pop: r0 %#x packet %x", r0, got)
	}
	if got := vlan(); got != [3]uint32{1, 5, uint32(be(0x88a8))} || f.field(16) != uint32(be(0x0800)) {
		t.Fatalf("vlan fields %x protocol %#x after pop", got, f.field(16))
	}
	if r0, _ := f.callEnv(helpers.IDSkbVlanPop); r0 != 0 || vlan() != [3]uint32{} {
		t.Fatalf("second pop: r0 %#x vlan %x", r0, vlan())
	}
}

func TestSkbAdjustRoom(t *testing.T) {
	pkt := ipv4Frame()
	grown := append(append(append([]byte(nil), pkt[:14]...), make([]byte, 8)...), pkt[14:]...)
	afterNet := append(append(append([]byte(nil), pkt[:34]...), make([]byte, 8)...), pkt[34:]...)
	shrunk := append(append([]byte(nil), pkt[:34]...), pkt[42:]...)
	for _, tc := range []struct {
		name    string
		diff    int32
		mode    uint64
		flags   uint64
		want    uint64
		wantPkt []byte
		proto   uint16
	}{
		{"mac grow", 8, 1, 0, 0, grown, 0x0800},
		{"net grow", 8, 0, 0, 0, afterNet, 0x0800},
		{"net shrink", -8, 0, 0, 0, shrunk, 0x0800},
		{"encap ipv6", 8, 1, helpers.FlagAdjRoomEncapL3IPv6, 0, grown, 0x86dd},
		{"encap both", 8, 1, helpers.FlagAdjRoomEncapL3IPv6 | helpers.FlagAdjRoomEncapL3IPv4, neg(22), pkt, 0x0800},
		{"decap on grow", 8, 1, helpers.FlagAdjRoomDecapL3IPv4, neg(22), pkt, 0x0800},
		{"too much", 0x1000, 1, 0, neg(14), pkt, 0x0800},
		{"bad mode", 8, 2, 0, neg(524), pkt, 0x0800},
		{"bad flags", 8, 1, 1 << 9, neg(22), pkt, 0x0800},
		{"shrink to the header", -40, 0, 0, 0, pkt[:34], 0x0800},
		{"shrink below the header", -41, 0, 0, neg(524), pkt, 0x0800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := newRoomFrame(t, h, helpers.HookTC, pkt)
			r0, env := f.callEnv(helpers.IDSkbAdjustRoom, uint64(uint32(tc.diff)), tc.mode, tc.flags)
			if r0 != tc.want {
				t.Fatalf("r0 = %#x, want %#x", r0, tc.want)
			}
			if got := f.packet(t, env); !bytes.Equal(got, tc.wantPkt) {
				t.Errorf("packet %x\nwant   %x", got, tc.wantPkt)
			}
			if got := uint16(be(uint16(f.field(16)))); got != tc.proto {
				t.Errorf("protocol %#x, want %#x", got, tc.proto)
			}
		})
	}
}

func TestSkbLoadBytesRelative(t *testing.T) {
	pkt := ipv4Frame()
	for _, tc := range []struct {
		hook  helpers.Hook
		off   uint64
		start uint64
		want  uint64
		bytes []byte
	}{
		{helpers.HookTC, 12, 0, 0, pkt[12:16]},
		{helpers.HookTC, 0, 1, 0, pkt[14:18]},
		{helpers.HookTC, 70, 0, 0, pkt[70:74]},
		{helpers.HookTC, 71, 0, neg(14), make([]byte, 4)},
		{helpers.HookTC, 0, 2, neg(14), make([]byte, 4)},
		{helpers.HookTC, 0x10000, 0, neg(14), make([]byte, 4)},
		{helpers.HookSocket, 12, 0, 0, pkt[12:16]}, // the MAC header before data
		{helpers.HookSocket, 16, 1, 0, pkt[30:34]},
	} {
		t.Run(fmt.Sprintf("hook %d offset %d start %d", tc.hook, tc.off, tc.start), func(t *testing.T) {
			h := newHarness(t)
			frame := pkt
			f := newSkbFrame(t, h, tc.hook, frame)
			if tc.hook == helpers.HookSocket {
				// A socket filter's data starts at the network header.
				h.run.Packet.SetBounds(addr(f.pkt)+14, addr(f.pkt)+14, addr(f.pkt)+uint64(len(f.pkt)))
			}
			to := h.mem(4, true)
			copy(to, "\xaa\xaa\xaa\xaa")
			if r0 := f.mustCall(helpers.IDSkbLoadBytesRel, tc.off, addr(to), 4, tc.start); r0 != tc.want || !bytes.Equal(to, tc.bytes) {
				t.Errorf("r0 %#x bytes %x, want %#x %x", r0, to, tc.want, tc.bytes)
			}
		})
	}
}

func TestSkbTunnelKey(t *testing.T) {
	h := newHarness(t)
	f := newSkbFrame(t, h, helpers.HookTC, ipv4Frame())
	key := h.mem(44, true)
	for i := range key {
		key[i] = 0xaa
	}
	// Without metadata: -EINVAL, key zeroed.
	if r0 := f.mustCall(helpers.IDSkbGetTunnelKey, addr(key), 44, 0); r0 != neg(22) || !bytes.Equal(key, make([]byte, 44)) {
		t.Fatalf("get without metadata: r0 %#x key %x", r0, key)
	}
	set := make([]byte, 44)
	binary.NativeEndian.PutUint32(set[0:], 42)          // tunnel_id
	binary.NativeEndian.PutUint32(set[4:], 0x0a000001)  // remote_ipv4
	set[20], set[21] = 4, 64                            // tos, ttl
	binary.NativeEndian.PutUint32(set[28:], 0x0a000002) // local_ipv4
	copy(key, set)
	for _, tc := range []struct {
		size, flags, want uint64
	}{{44, 0x20, neg(22)}, {40, 0, neg(22)}, {44, 0, 0}} {
		if r0 := f.mustCall(helpers.IDSkbSetTunnelKey, addr(key), tc.size, tc.flags); r0 != tc.want {
			t.Fatalf("set size %d flags %#x: r0 %#x, want %#x", tc.size, tc.flags, r0, tc.want)
		}
	}
	// Linux reads the transmit key back with remote and local swapped.
	want := append([]byte(nil), set...)
	copy(want[4:8], set[28:32])
	copy(want[28:32], set[4:8])
	binary.BigEndian.PutUint16(want[22:], 0x2005) // tunnel_flags: NOCACHE, KEY, CSUM
	if r0 := f.mustCall(helpers.IDSkbGetTunnelKey, addr(key), 44, helpers.FlagTunInfoFlags); r0 != 0 || !bytes.Equal(key, want) {
		t.Fatalf("get: r0 %#x key %x\nwant       %x", r0, key, want)
	}
	if r0 := f.mustCall(helpers.IDSkbGetTunnelKey, addr(key), 44, helpers.FlagTunInfoIPv6); r0 != neg(71) {
		t.Fatalf("get IPv6 of an IPv4 key: r0 %#x, want -EPROTO", r0)
	}
}

// hostNet is a Devices and FIBLookup of a test host.
type hostNet struct {
	devices map[uint32]bool
	sent    []string
	fibRet  int64
}

func (n *hostNet) Exists(ifindex uint32) bool { return n.devices[ifindex] }

func (n *hostNet) CloneRedirect(ifindex uint32, ingress bool, frame []byte) int64 {
	n.sent = append(n.sent, fmt.Sprintf("%d %v %x", ifindex, ingress, frame))
	return 1 // NET_XMIT_DROP
}

func (n *hostNet) Lookup(params []byte, flags uint32, hook helpers.Hook, pktLen uint32) int64 {
	binary.NativeEndian.PutUint32(params[8:], 7) // the egress ifindex
	return n.fibRet
}

func TestCloneRedirect(t *testing.T) {
	pkt := ipv4Frame()
	for _, tc := range []struct {
		name    string
		host    *hostNet
		ifindex uint64
		flags   uint64
		gso     bool
		want    uint64
		sent    int
	}{
		{"loopback", nil, 1, 0, false, 0, 0},
		{"loopback ingress", nil, 1, 1, false, 0, 0},
		{"no device", nil, 2, 0, false, neg(22), 0},
		{"flags", nil, 1, 2, false, neg(22), 0},
		{"gso", nil, 1, 0, true, neg(74), 0},
		{"host device", &hostNet{devices: map[uint32]bool{2: true}}, 2, 1, false, 1, 1},
		{"host without loopback", &hostNet{devices: map[uint32]bool{2: true}}, 1, 0, false, neg(22), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.host != nil {
				h.run.Devices = tc.host
			}
			f := newRoomFrame(t, h, helpers.HookTC, pkt)
			if tc.gso {
				binary.NativeEndian.PutUint32(f.ctx[176:], 1400)
			}
			if r0 := f.mustCall(helpers.IDCloneRedirect, tc.ifindex, tc.flags); r0 != tc.want {
				t.Fatalf("r0 = %#x, want %#x", r0, tc.want)
			}
			if tc.host != nil {
				if len(tc.host.sent) != tc.sent {
					t.Fatalf("sent %q", tc.host.sent)
				}
				if tc.sent > 0 && tc.host.sent[0] != fmt.Sprintf("2 true %x", pkt) {
					t.Errorf("sent %q", tc.host.sent[0])
				}
			}
		})
	}
}

func TestFibLookup(t *testing.T) {
	ll := []byte{0xfe, 0x80, 15: 1}
	for _, tc := range []struct {
		name    string
		host    *hostNet
		family  byte
		ifindex uint32
		dst     []byte
		plen    uint64
		flags   uint64
		want    uint64
		ifOut   uint32
	}{
		{"ipv4 loopback", nil, 2, 1, []byte{10, 0, 0, 2}, 64, 0, helpers.FIBLkupRetFwdDisabled, 1},
		{"ipv4 no device", nil, 2, 2, []byte{10, 0, 0, 2}, 64, 0, neg(19), 2},
		{"ipv6 link-local", nil, 10, 2, ll, 64, 0, helpers.FIBLkupRetNotFwded, 2},
		{"ipv6 loopback", nil, 10, 1, []byte{0xfd, 15: 1}, 64, 0, helpers.FIBLkupRetFwdDisabled, 1},
		{"short", nil, 2, 1, nil, 63, 0, neg(22), 1},
		{"long", nil, 2, 1, nil, 72, 0, helpers.FIBLkupRetFwdDisabled, 1},
		{"flags", nil, 2, 1, nil, 64, 0x40, neg(22), 1},
		{"family", nil, 1, 1, nil, 64, 0, neg(97), 1},
		{"host devices", &hostNet{devices: map[uint32]bool{2: true}}, 2, 2, nil, 64, 0, helpers.FIBLkupRetFwdDisabled, 2},
		{"host FIB", &hostNet{fibRet: helpers.FIBLkupRetSuccess}, 2, 2, nil, 64, 0, 0, 7},
	} {
		for _, hook := range []helpers.Hook{helpers.HookTC, helpers.HookXDP} {
			t.Run(fmt.Sprintf("%s hook %d", tc.name, hook), func(t *testing.T) {
				h := newHarness(t)
				if tc.host != nil {
					h.run.Devices = tc.host
					if tc.host.devices == nil {
						h.run.FIB = tc.host
					}
				}
				f := newSkbFrame(t, h, hook, ipv4Frame())
				params := h.mem(72, true)
				params[0] = tc.family
				binary.NativeEndian.PutUint32(params[8:], tc.ifindex)
				copy(params[32:], tc.dst)
				if r0 := f.mustCall(helpers.IDFibLookup, addr(params), tc.plen, tc.flags); r0 != tc.want {
					t.Fatalf("r0 = %#x, want %#x", r0, tc.want)
				}
				if got := binary.NativeEndian.Uint32(params[8:]); got != tc.ifOut {
					t.Errorf("ifindex %d after the lookup, want %d", got, tc.ifOut)
				}
			})
		}
	}
}

// TestSkbHelpersRefuseXDP: the skb helpers fault on an XDP context (the
// verifier keeps them from XDP programs).
func TestSkbHelpersRefuseXDP(t *testing.T) {
	for _, id := range []int32{helpers.IDSkbVlanPush, helpers.IDSkbVlanPop, helpers.IDSkbChangeProto, helpers.IDSkbChangeTail,
		helpers.IDSkbChangeHead, helpers.IDSkbAdjustRoom, helpers.IDCloneRedirect} {
		h := newHarness(t)
		f := newSkbFrame(t, h, helpers.HookXDP, ipv4Frame())
		if _, err := f.call(id, 0, 0, 0); !errors.Is(err, helpers.ErrBadContext) {
			t.Errorf("helper %d on an XDP context: %v", id, err)
		}
	}
}

func BenchmarkSkbChangeProto(b *testing.B) {
	h := newHarness(b)
	pkt := ipv4Frame()
	mem := h.mem(4096, true)
	ctx := mem[:216]
	frame := mem[256:]
	copy(frame, pkt)
	data := addr(frame)
	h.run.Packet = &helpers.Packet{Ctx: addr(ctx), DataOff: 192, DataEndOff: 200, DataMetaOff: -1, Region: 0, Hook: helpers.HookTC,
		HardStart: addr(mem), HardEnd: addr(mem) + frameRoom}
	p := h.compile(fmt.Sprintf("lddw %%r6, %#x\nmov %%r1, %%r6\nmov %%r2, 0xdd86\nmov %%r3, 0\ncall 31\nmov %%r1, %%r6\nmov %%r2, 8\nmov %%r3, 0\ncall 31\nexit", addr(ctx)), interp.Checked)
	env := h.env(addr(ctx))
	env.Regions = append([]api.Region{{Addr: data, Size: uint64(len(pkt)), Writable: true}, {Addr: addr(ctx), Size: 216, Writable: true}}, env.Regions...)
	for b.Loop() {
		h.run.Reset()
		h.run.Packet.SetBounds(data, data, data+uint64(len(pkt)))
		binary.NativeEndian.PutUint32(ctx[16:], 8)
		if r0, err := p.Run(env); err != nil || r0 != 0 {
			b.Fatal(r0, err)
		}
	}
}
