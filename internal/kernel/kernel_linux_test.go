package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
)

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// run runs a program and fails the test on error.
func run(t *testing.T, c *Collection, prog string, in RunInput) RunResult {
	t.Helper()
	res, err := c.Run(prog, in)
	if err != nil {
		t.Fatalf("Run(%s): %v", prog, err)
	}
	return res
}

func dump(t *testing.T, c *Collection) map[string]MapState {
	t.Helper()
	maps, err := c.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range maps {
		if st.Error != "" {
			t.Errorf("map %s: %s", name, st.Error)
		}
	}
	return maps
}

func assertMap(t *testing.T, maps map[string]MapState, name string, want MapState) {
	t.Helper()
	got, ok := maps[name]
	if !ok {
		t.Errorf("map %s missing from dump", name)
		return
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := got.MarshalJSON()
		wj, _ := want.MarshalJSON()
		t.Errorf("map %s\n got %s\nwant %s", name, gj, wj)
	}
}

func TestAvailable(t *testing.T) {
	if err := Available(); err != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Available() = %v, does not wrap ErrUnavailable", err)
		}
		t.Skipf("kernel test-run unavailable: %v", err)
	}
}

func TestXDPCounter(t *testing.T) {
	c := loadObject(t, "xdp_counter", LoadOptions{})
	if errs := c.ProgramErrors(); errs != nil {
		t.Fatal(errs)
	}
	arp := udpPacket(42, 0)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	tcp := udpPacket(64, 80)
	tcp[14+9] = 6
	for _, tc := range []struct {
		desc string
		pkt  []byte
		want uint32
	}{
		{"UDP to port 53 passes", udpPacket(64, 53), 2},
		{"UDP to the discard port is dropped", udpPacket(64, 9), 1},
		{"a non-IPv4 frame passes", arp, 2},
		{"a truncated IPv4 header is dropped", udpPacket(42, 53)[:24], 1},
		{"TCP passes", tcp, 2},
	} {
		res := run(t, c, "xdp_parse", RunInput{Data: tc.pkt})
		if res.Retval != tc.want || !bytes.Equal(res.DataOut, tc.pkt) {
			t.Errorf("%s: retval %d data_out %x, want %d and the input", tc.desc, res.Retval, res.DataOut, tc.want)
		}
	}
	maps := dump(t, c)
	assertMap(t, maps, "proto_count", MapState{Type: "Hash", KeySize: 4, ValueSize: 8, MaxEntries: 64,
		Entries: []Entry{
			{Key: u32(6), Value: u64(1)},
			{Key: u32(0x10806), Value: u64(1)},
			{Key: u32(17), Value: u64(2)},
		}})
	assertMap(t, maps, "byte_count", MapState{Type: "Array", KeySize: 4, ValueSize: 8, MaxEntries: 2,
		Entries: []Entry{{Key: u32(0), Value: u64(64 + 42 + 64)}, {Key: u32(1), Value: u64(64 + 24)}}})
	if len(maps) != 2 {
		t.Errorf("dump has %d maps, want 2", len(maps))
	}
}

func TestXDPAdjust(t *testing.T) {
	c := loadObject(t, "xdp_adjust", LoadOptions{})
	pkt := udpPacket(64, 53)
	res := run(t, c, "xdp_encap", RunInput{Data: pkt})
	want := cat([]byte{0xde, 0xad, 0xbe, 0xef}, pkt, bytes.Repeat([]byte{0xaa}, 6))
	if res.Retval != 3 || !bytes.Equal(res.DataOut, want) {
		t.Errorf("xdp_encap: retval %d data_out\n%x, want XDP_TX and\n%x", res.Retval, res.DataOut, want)
	}
	// With Repeat, the runs share one frame: five runs prepend five tags
	// and append 30 bytes.
	res = run(t, c, "xdp_encap", RunInput{Data: pkt, Repeat: 5})
	want = cat(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 5), pkt, bytes.Repeat([]byte{0xaa}, 30))
	if res.Retval != 3 || !bytes.Equal(res.DataOut, want) {
		t.Errorf("xdp_encap x5: retval %d data_out\n%x, want\n%x", res.Retval, res.DataOut, want)
	}
	for _, tc := range []struct {
		in   []byte
		want []byte
	}{
		{pkt, pkt[14:60]},
		{pkt[:30], pkt[14:30]},
	} {
		res := run(t, c, "xdp_trim", RunInput{Data: tc.in})
		if res.Retval != 2 || !bytes.Equal(res.DataOut, tc.want) {
			t.Errorf("xdp_trim(%d bytes): retval %d data_out %x, want XDP_PASS and %x", len(tc.in), res.Retval, res.DataOut, tc.want)
		}
	}
}

func TestSocketFilter(t *testing.T) {
	c := loadObject(t, "socket_filter", LoadOptions{})
	tcp := udpPacket(80, 80)
	tcp[14+9] = 6
	for _, tc := range []struct {
		pkt        []byte
		ret, proto uint32
	}{{udpPacket(64, 53), 50, 17}, {tcp, 0, 6}} {
		res := run(t, c, "sock_udp", RunInput{Data: tc.pkt})
		wantOut := cat(make([]byte, 14), tc.pkt[14:])
		if res.Retval != tc.ret || !bytes.Equal(res.DataOut, wantOut) {
			t.Errorf("proto %d: retval %d data_out %x, want %d and %x", tc.proto, res.Retval, res.DataOut, tc.ret, wantOut)
		}
		assertMap(t, dump(t, c), "last", MapState{Type: "Array", KeySize: 4, ValueSize: 8, MaxEntries: 1,
			Entries: []Entry{{Key: u32(0), Value: cat(u32(uint32(len(tc.pkt)-14)), u32(tc.proto))}}})
	}
}

func TestTCClassifier(t *testing.T) {
	c := loadObject(t, "tc_classifier", LoadOptions{})
	arp := udpPacket(42, 0)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	for _, tc := range []struct {
		pkt            []byte
		ret            uint32
		mark, priority uint32
	}{
		{udpPacket(64, 53), 0, 53, 6},
		{udpPacket(64, 9), 2, 0, 0},
		{arp, 0xffffffff, 0, 0},
	} {
		res := run(t, c, "tc_classify", RunInput{Data: tc.pkt, Context: make([]byte, 192)})
		mark := binary.NativeEndian.Uint32(res.ContextOut[8:])
		prio := binary.NativeEndian.Uint32(res.ContextOut[32:])
		if res.Retval != tc.ret || mark != tc.mark || prio != tc.priority || !bytes.Equal(res.DataOut, tc.pkt) {
			t.Errorf("retval %#x mark %d priority %d, want %#x %d %d", res.Retval, mark, prio, tc.ret, tc.mark, tc.priority)
		}
	}
	st := dump(t, c)["verdicts"]
	if st.Type != "PerCPUArray" || len(st.Entries) != 3 {
		t.Fatalf("verdicts: %+v", st)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range st.Entries {
		if len(e.Values) != ncpu {
			t.Errorf("index %d: %d per-CPU values, want %d", i, len(e.Values), ncpu)
		}
		var sum uint64
		for _, v := range e.Values {
			sum += binary.NativeEndian.Uint64(v)
		}
		if !bytes.Equal(e.Key, u32(uint32(i))) || sum != 1 {
			t.Errorf("index %d: key %x, sum over CPUs %d, want 1", i, e.Key, sum)
		}
	}
}

func TestRingbuf(t *testing.T) {
	c := loadObject(t, "ringbuf", LoadOptions{})
	p1, p2 := udpPacket(64, 53), udpPacket(100, 9)
	run(t, c, "xdp_events", RunInput{Data: p1})
	run(t, c, "xdp_events", RunInput{Data: p2})
	maps := dump(t, c)
	assertMap(t, maps, "events", MapState{Type: "RingBuf", KeySize: 0, ValueSize: 0, MaxEntries: 4096,
		Records: [][]byte{
			cat(u32(1), u32(64), p1[:8]), {0xab, 0xcd, 1},
			cat(u32(2), u32(100), p2[:8]), {0xab, 0xcd, 2},
		}})
	// Records are consumed: the next dump is empty.
	assertMap(t, dump(t, c), "events", MapState{Type: "RingBuf", MaxEntries: 4096, Records: [][]byte{}})
}

func TestMapsZoo(t *testing.T) {
	route := cat(u32(32), []byte{10, 0, 0, 2})
	c := loadObject(t, "maps_zoo", LoadOptions{Maps: map[string]MapState{
		"routes":  {Entries: []Entry{{Key: route, Value: u32(7)}}},
		".rodata": {Entries: []Entry{{Key: u32(0), Value: u32(1000)}}},
		"fifo":    {ValuesInPopOrder: [][]byte{u32(1), u32(2)}},
		"lifo":    {Type: "Stack", ValuesInPopOrder: [][]byte{u32(5), u32(6)}},
	}})
	errs := c.ProgramErrors()
	var perr *ProgramError
	if len(errs) != 1 || !errors.As(errs[0], &perr) || perr.Program != "zoo_invalid" {
		t.Fatalf("program errors %v, want only zoo_invalid", errs)
	}
	if got := c.Programs(); !reflect.DeepEqual(got, []string{"zoo", "zoo_tail"}) {
		t.Errorf("loaded programs %v", got)
	}
	if _, err := c.Run("zoo_invalid", RunInput{Data: udpPacket(64, 1)}); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("running the rejected program: %v, want ErrNotLoaded", err)
	}
	if _, err := c.Run("nope", RunInput{Data: udpPacket(64, 1)}); !errors.Is(err, ErrUnknownProgram) {
		t.Errorf("running an unknown program: %v, want ErrUnknownProgram", err)
	}

	res := run(t, c, "zoo", RunInput{Data: udpPacket(64, 53)})
	if res.Retval != 3 {
		t.Errorf("zoo: retval %d, want XDP_TX from the tail call", res.Retval)
	}
	saddr := []byte{10, 0, 0, 1}
	for range 2 { // dumping leaves queue and stack as they were
		maps := dump(t, c)
		assertMap(t, maps, "fifo", MapState{Type: "Queue", ValueSize: 4, MaxEntries: 8,
			ValuesInPopOrder: [][]byte{u32(1), u32(2), u32(1006)}})
		assertMap(t, maps, "lifo", MapState{Type: "Stack", ValueSize: 4, MaxEntries: 8,
			ValuesInPopOrder: [][]byte{u32(1006), u32(5), u32(6)}})
		assertMap(t, maps, "routes", MapState{Type: "LPMTrie", KeySize: 8, ValueSize: 4, MaxEntries: 16,
			Entries: []Entry{{Key: route, Value: u32(7)}}})
		assertMap(t, maps, "recent", MapState{Type: "LRUHash", KeySize: 4, ValueSize: 4, MaxEntries: 16,
			Entries: []Entry{{Key: saddr, Value: u32(6)}}})
		assertMap(t, maps, "guarded", MapState{Type: "Hash", KeySize: 4, ValueSize: 8, MaxEntries: 4,
			Entries: []Entry{{Key: u32(0), Value: cat(u32(0), u32(1))}}})
		assertMap(t, maps, ".rodata", MapState{Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Entries: []Entry{{Key: u32(0), Value: u32(1000)}}})
		assertMap(t, maps, ".data", MapState{Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Entries: []Entry{{Key: u32(0), Value: u32(6)}}})
		assertMap(t, maps, ".bss", MapState{Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Entries: []Entry{{Key: u32(0), Value: u32(7)}}})
		assertMap(t, maps, "inner_a", MapState{Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Entries: []Entry{{Key: u32(0), Value: u32(1)}}})
		assertMap(t, maps, "outer", MapState{Type: "ArrayOfMaps", KeySize: 4, ValueSize: 4, MaxEntries: 2,
			Entries: []Entry{{Key: u32(1), Map: "inner_a"}}})
		assertMap(t, maps, "jumps", MapState{Type: "ProgramArray", KeySize: 4, ValueSize: 4, MaxEntries: 2,
			Entries: []Entry{{Key: u32(0), Program: "zoo_tail"}}})
		pc := maps["percpu"]
		if pc.Type != "PerCPUHash" || len(pc.Entries) != 1 || !bytes.Equal(pc.Entries[0].Key, saddr) {
			t.Fatalf("percpu: %+v", pc)
		}
		nonzero := 0
		for _, v := range pc.Entries[0].Values {
			if !bytes.Equal(v, u32(0)) {
				nonzero++
				if !bytes.Equal(v, u32(1006)) {
					t.Errorf("percpu value %x, want 1006 on the CPU that ran", v)
				}
			}
		}
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			t.Fatal(err)
		}
		if nonzero != 1 || len(pc.Entries[0].Values) != ncpu {
			t.Errorf("percpu values %x, want 1006 on exactly one CPU", pc.Entries[0].Values)
		}
	}

	masks := c.ValueMasks()
	if want := map[string][]ByteRange{"guarded": {{Off: 0, Len: 4}}}; !reflect.DeepEqual(masks, want) {
		t.Errorf("ValueMasks() = %v, want %v", masks, want)
	}

	// Preload program and map slots by name, and per-CPU values.
	if err := c.LoadMaps(map[string]MapState{
		"jumps":  {Entries: []Entry{{Key: u32(1), Program: "zoo_tail"}}},
		"outer":  {Entries: []Entry{{Key: u32(0), Map: "inner_a"}}},
		"percpu": {Entries: []Entry{{Key: u32(9), Values: [][]byte{u32(3)}}}},
	}); err != nil {
		t.Fatal(err)
	}
	maps := dump(t, c)
	assertMap(t, maps, "jumps", MapState{Type: "ProgramArray", KeySize: 4, ValueSize: 4, MaxEntries: 2,
		Entries: []Entry{{Key: u32(0), Program: "zoo_tail"}, {Key: u32(1), Program: "zoo_tail"}}})
	assertMap(t, maps, "outer", MapState{Type: "ArrayOfMaps", KeySize: 4, ValueSize: 4, MaxEntries: 2,
		Entries: []Entry{{Key: u32(0), Map: "inner_a"}, {Key: u32(1), Map: "inner_a"}}})
	// Key 09000000 sorts before 0a000001.
	if e := maps["percpu"].Entries[0]; !bytes.Equal(e.Key, u32(9)) || !bytes.Equal(e.Values[0], u32(3)) {
		t.Errorf("percpu preload: %x", e)
	}

	for _, tc := range []struct {
		desc  string
		state map[string]MapState
	}{
		{"an unknown map", map[string]MapState{"nope": {}}},
		{"a wrong type", map[string]MapState{"fifo": {Type: "Hash"}}},
		{"a short key", map[string]MapState{"recent": {Entries: []Entry{{Key: []byte{1}, Value: u32(1)}}}}},
		{"a long value", map[string]MapState{"recent": {Entries: []Entry{{Key: u32(1), Value: u64(1)}}}}},
		{"an unloaded program", map[string]MapState{"jumps": {Entries: []Entry{{Key: u32(0), Program: "zoo_invalid"}}}}},
		{"a frozen map", map[string]MapState{".rodata": {Entries: []Entry{{Key: u32(0), Value: u32(1)}}}}},
		{"too many queue values", map[string]MapState{"fifo": {ValuesInPopOrder: make([][]byte, 9)}}},
		{"a long plain value for a per-CPU map", map[string]MapState{"percpu": {Entries: []Entry{{Key: u32(1), Value: u64(1)}}}}},
	} {
		if err := c.LoadMaps(tc.state); err == nil {
			t.Errorf("LoadMaps with %s succeeded", tc.desc)
		}
	}

	// One plain value for a per-CPU map goes to every CPU, as bpftool
	// map update does.
	if err := c.LoadMaps(map[string]MapState{"percpu": {Entries: []Entry{{Key: u32(1), Value: u32(6)}}}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range dump(t, c)["percpu"].Entries {
		if !bytes.Equal(e.Key, u32(1)) {
			continue
		}
		if len(e.Values) == 0 {
			t.Errorf("percpu key 1: no values")
		}
		for cpu, v := range e.Values {
			if !bytes.Equal(v, u32(6)) {
				t.Errorf("percpu key 1, CPU %d: %x, want %x", cpu, v, u32(6))
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	requireKernel(t)
	if _, err := Load("testdata/does-not-exist.o", LoadOptions{}); err == nil {
		t.Error("loading a missing file succeeded")
	}
	path := buildObject(t, "xdp_counter")
	if _, err := Load(path, LoadOptions{Programs: []string{"nope"}}); !errors.Is(err, ErrUnknownProgram) {
		t.Errorf("selecting an unknown program: %v", err)
	}
	if _, err := Load(path, LoadOptions{Maps: map[string]MapState{"nope": {}}}); !errors.Is(err, ErrUnknownMap) {
		t.Errorf("preloading an unknown map: %v", err)
	}
}
