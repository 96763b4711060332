package main

import (
	"encoding/binary"
	"net/netip"
	"testing"

	ebpf "github.com/xebpf/xebpf"
)

// ipv4From is an Ethernet frame carrying an IPv4 header from src.
func ipv4From(src string) []byte {
	p := make([]byte, 64)
	binary.BigEndian.PutUint16(p[12:], 0x0800)
	p[14] = 0x45
	a := netip.MustParseAddr(src).As4()
	copy(p[26:], a[:])
	return p
}

// TestPort runs the xdp example's program as its users' tests would, and
// reads its map the way the example's main.go does (netip.Addr keys).
func TestPort(t *testing.T) {
	var objs bpfObjects
	if err := loadBpfObjects(&objs, nil); err != nil {
		t.Fatalf("loading objects: %v", err)
	}
	defer objs.Close()
	for _, src := range []string{"192.0.2.1", "192.0.2.7", "192.0.2.1", "192.0.2.1"} {
		ret, err := objs.XdpProgFunc.Run(&ebpf.RunOptions{Data: ipv4From(src)})
		if err != nil || ret != 2 { // XDP_PASS
			t.Fatalf("run: %d, %v", ret, err)
		}
	}
	// A frame that is not IPv4 is not counted.
	if _, err := objs.XdpProgFunc.Run(&ebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]uint32{}
	var (
		key netip.Addr
		val uint32
	)
	iter := objs.XdpStatsMap.Iterate()
	for iter.Next(&key, &val) {
		got[key] = val
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]uint32{netip.MustParseAddr("192.0.2.1"): 3, netip.MustParseAddr("192.0.2.7"): 1}
	if len(got) != len(want) || got[netip.MustParseAddr("192.0.2.1")] != 3 || got[netip.MustParseAddr("192.0.2.7")] != 1 {
		t.Fatalf("xdp_stats_map = %v, want %v", got, want)
	}
	if err := objs.XdpStatsMap.Lookup(netip.MustParseAddr("192.0.2.7"), &val); err != nil || val != 1 {
		t.Fatalf("lookup by netip.Addr: %d, %v", val, err)
	}
	if err := objs.XdpStatsMap.Lookup(netip.MustParseAddr("192.0.2.99"), &val); err == nil {
		t.Fatal("lookup of an absent key: no error")
	}
}
