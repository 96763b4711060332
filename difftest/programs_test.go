package difftest

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// XDP and TC verdicts used in the expectations below.
const (
	aborted = 0
	drop    = 1
	pass    = 2
	tx      = 3
	tcOK    = 0
	tcShot  = 2
	tcPipe  = 3
	tcUnset = 0xffffffff
)

// skbContextSize is sizeof(struct __sk_buff).
const skbContextSize = 192

// skbContext returns a struct __sk_buff for run i with the fields a test
// run may set: mark, priority and cb[].
func skbContext(i int) []byte {
	c := make([]byte, skbContextSize)
	binary.NativeEndian.PutUint32(c[8:], uint32(i*7+1)) // mark
	binary.NativeEndian.PutUint32(c[32:], uint32(i%8))  // priority
	for j := range 5 {
		binary.NativeEndian.PutUint32(c[48+4*j:], uint32(i*100+j)) // cb[j]
	}
	return c
}

// loopsRetval is xdp_loops.c's return value, computed in Go.
func loopsRetval(p []byte) uint32 {
	h := uint32(2166136261)
	for i := 0; i < 256 && i < len(p); i++ {
		h = (h ^ uint32(p[i])) * 16777619
	}
	n := min(len(p), 64)
	var sum uint32
	for i := range 100 {
		if i >= 64 || i >= n || (i > 40 && p[i] == 0) {
			break
		}
		sum = sum*31 + uint32(p[i])
	}
	return (h ^ sum) & 3
}

// progCase is one program of testdata and what is known of its results.
type progCase struct {
	file, program string
	// ctx gives every other run a struct __sk_buff (TC).
	ctx bool
	// want holds return values fixed by the program's logic, by packet.
	want map[string]uint32
	// wantFunc computes the return value of any packet.
	wantFunc func(p []byte) uint32
}

var progCases = []progCase{
	{file: "xdp_parse", program: "xdp_parse", want: map[string]uint32{
		"udp4-64-port9": drop, "udp4-60-port53": pass, "tcp4-ack-23": drop, "icmp4-echo": tx,
		"icmp4-reply": pass, "icmp6-echo": tx, "ip4-ihl3": aborted, "tcp4-baddoff": aborted,
		"udp4-badlen": aborted, "arp": pass, "qinq-udp4-9": drop, "vlan-tcp4-23": drop,
		"udp6-hopbyhop": pass, "tcp6-syn-23": drop, "ip4-truncated-20": drop, "vlan-truncated": drop,
		"udp4-fragment": pass, "udp4-ihl15": drop, "ip4-version6": aborted, "tcp6-ext3": pass,
	}},
	{file: "xdp_flows", program: "xdp_flows", want: map[string]uint32{
		"udp4-42-port53": tx, "udp4-60-port53": pass, "arp": pass, "eth-only-14": pass,
	}},
	{file: "xdp_lpm", program: "xdp_lpm", want: map[string]uint32{
		"udp4-42-port53": drop, "udp4-tos10": drop, "udp4-192.168": drop, "udp4-other-net": pass, "arp": pass,
	}},
	{file: "xdp_queue", program: "xdp_queue", want: map[string]uint32{"udp4-42-port53": pass}},
	{file: "xdp_map_in_map", program: "xdp_map_in_map", want: map[string]uint32{
		"arp": pass, "udp4-64-port9": tx, "udp4-333-port4789": drop,
	}},
	{file: "xdp_tail", program: "xdp_tail_entry", want: map[string]uint32{
		"udp4-60-port53": drop, "tcp4-syn-80": tx, "udp6-53": 7, "vlan-udp4-53": pass, "arp": pass,
	}},
	{file: "xdp_subprog", program: "xdp_subprog"},
	{file: "xdp_globals", program: "xdp_globals", want: map[string]uint32{"icmp4-unreach-ttl1": drop, "eth-only-14": pass}},
	{file: "xdp_loops", program: "xdp_loops", wantFunc: loopsRetval},
	{file: "xdp_ringbuf", program: "xdp_ringbuf", want: map[string]uint32{"udp4-42-port53": pass, "udp4-64-port9": tx, "udp4-333-port4789": pass}},
	{file: "xdp_adjust", program: "xdp_adjust", want: map[string]uint32{
		"udp4-60-port53": tx, "vlan-udp4-53": pass, "tcp4-1500": pass, "icmp4-echo": tx,
		"udp6-53": pass, "arp": drop, "eth-only-14": aborted,
	}},
	{file: "xdp_csum", program: "xdp_csum", want: map[string]uint32{
		"udp4-badsum": drop, "udp4-60-port53": tx, "icmp4-unreach-ttl1": aborted, "arp": pass,
	}},
	{file: "socket_filter", program: "sock_filter", want: map[string]uint32{
		"udp4-128-port53": 114, "udp4-64-port9": 0, "tcp4-syn-80": 0, "tcp4-1500": 64, "arp": 0, "udp6-53": 100,
	}},
	{file: "tc_classifier", program: "tc_classify", ctx: true, want: map[string]uint32{
		"udp4-60-port53": tcOK, "udp4-64-port9": tcShot, "udp4-64-port7": tcPipe, "arp": tcUnset,
	}},
}

// TestPrograms runs every packet through each program of testdata, in
// sequence, in xebpf and in the kernel, and compares the return value, the
// output packet and context, and all maps after every run.
func TestPrograms(t *testing.T) {
	kerr := kernelSide()
	if kerr != nil {
		t.Logf("kernel side skipped, xebpf results checked alone: %v", kerr)
	}
	pkts := packets()
	dir := t.TempDir()
	total, runs := 0, 0
	for _, pc := range progCases {
		t.Run(pc.file, func(t *testing.T) {
			pinCPU(t)
			e, err := open(compile(t, dir, pc.file), kerr == nil)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			if e.k != nil {
				if errs := e.k.ProgramErrors(); len(errs) > 0 {
					t.Fatalf("the kernel rejects programs of %s: %v", pc.file, errs)
				}
			}
			var diffs []string
			for i, pk := range pkts {
				var ctx []byte
				if pc.ctx && i%2 == 1 {
					ctx = skbContext(i)
				}
				x, k := e.run(pc.program, pk.data, ctx)
				runs++
				if x.err != nil && e.k == nil {
					t.Errorf("%s: %v", pk.name, x.err)
					continue
				}
				if want, ok := pc.want[pk.name]; ok && x.err == nil && x.res.Retval != want {
					t.Errorf("%s: xebpf returned %d, want %d", pk.name, x.res.Retval, want)
				}
				if pc.wantFunc != nil && x.err == nil {
					if want := pc.wantFunc(pk.data); x.res.Retval != want {
						t.Errorf("%s: xebpf returned %d, want %d", pk.name, x.res.Retval, want)
					}
				}
				if e.k == nil {
					continue
				}
				for _, d := range append(e.diff(x, k), e.diffMaps()...) {
					diffs = append(diffs, fmt.Sprintf("#%d %s: %s", i, pk.name, d))
				}
			}
			total += len(diffs)
			report(t, diffs, 40)
		})
	}
	t.Logf("%d programs, %d packets, %d runs compared: %d differences", len(progCases), len(pkts), runs, total)
}
