package main

import (
	"testing"

	ebpf "github.com/xebpf/xebpf"
)

// TestPort runs the tcx example's two programs and reads the global
// counters they keep, through the generated Variables.
func TestPort(t *testing.T) {
	var objs bpfObjects
	if err := loadBpfObjects(&objs, nil); err != nil {
		t.Fatalf("loading objects: %v", err)
	}
	defer objs.Close()
	pkt := make([]byte, 60)
	pkt[12], pkt[13] = 0x08, 0x00
	run := func(p *ebpf.Program, n int) {
		for range n {
			ret, err := p.Run(&ebpf.RunOptions{Data: pkt})
			if err != nil || ret != 0 { // TC_ACT_OK
				t.Fatalf("%v: %d, %v", p, ret, err)
			}
		}
	}
	run(objs.IngressProgFunc, 3)
	run(objs.EgressProgFunc, 5)
	var in, out uint64
	if err := objs.IngressPktCount.Get(&in); err != nil {
		t.Fatal(err)
	}
	if err := objs.EgressPktCount.Get(&out); err != nil {
		t.Fatal(err)
	}
	if in != 3 || out != 5 {
		t.Fatalf("ingress %d, egress %d; want 3 and 5", in, out)
	}
	if err := objs.IngressPktCount.Set(uint64(100)); err != nil {
		t.Fatal(err)
	}
	run(objs.IngressProgFunc, 1)
	if err := objs.IngressPktCount.Get(&in); err != nil || in != 101 {
		t.Fatalf("after Set(100) and a run: %d, %v", in, err)
	}
}
