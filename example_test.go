package xebpf_test

import (
	"fmt"
	"os"

	"github.com/xebpf/xebpf"
)

// Run the XDP filter of examples/xdpfilter on a packet from a blocked
// address, then read the map it counts drops in.
func Example() {
	spec, err := xebpf.LoadCollectionSpec("examples/xdpfilter/xdpfilter.o")
	if err != nil {
		panic(err)
	}
	coll, err := xebpf.NewCollection(spec)
	if err != nil {
		panic(err)
	}
	defer coll.Close()

	if err := coll.Maps["blocklist"].Update([4]byte{10, 0, 0, 66}, uint64(0), 0); err != nil {
		panic(err)
	}
	packet, err := os.ReadFile("examples/xdpfilter/packet.bin") // from 10.0.0.66
	if err != nil {
		panic(err)
	}
	ret, err := coll.Programs["xdp_filter"].Run(&xebpf.RunOptions{Data: packet})
	if err != nil {
		panic(err)
	}
	var dropped uint64
	if err := coll.Maps["blocklist"].Lookup([4]byte{10, 0, 0, 66}, &dropped); err != nil {
		panic(err)
	}
	fmt.Println(xebpf.KindOf(xebpf.XDP).Result(ret), dropped)
	// Output: XDP_DROP 1
}
