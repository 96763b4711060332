package kernel

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xebpf/xebpf/elf"
)

// loadSpecObject builds testdata/NAME.c, parses it with xebpf's ELF loader
// and loads it with LoadSpec, closing it with the test.
func loadSpecObject(t *testing.T, name string, opts LoadOptions) *Collection {
	t.Helper()
	requireKernel(t)
	spec, err := elf.LoadCollectionSpec(buildObject(t, name))
	if err != nil {
		t.Fatalf("elf.LoadCollectionSpec(%s): %v", name, err)
	}
	c, err := LoadSpec(spec, opts)
	if err != nil {
		t.Fatalf("LoadSpec(%s): %v", name, err)
	}
	t.Cleanup(c.Close)
	return c
}

func errorPrograms(c *Collection) []string {
	var names []string
	for _, err := range c.ProgramErrors() {
		var pe *ProgramError
		if errors.As(err, &pe) {
			names = append(names, pe.Program)
		}
	}
	return names
}

// TestLoadSpecMatchesLoad loads each object of testdata both ways and
// checks that the same programs load and that every run and every map
// dump agree.
func TestLoadSpecMatchesLoad(t *testing.T) {
	arp := udpPacket(42, 0)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	pkts := [][]byte{udpPacket(64, 53), udpPacket(64, 9), udpPacket(300, 80), arp}
	for _, name := range []string{"xdp_counter", "xdp_adjust", "socket_filter", "tc_classifier", "ringbuf", "maps_zoo", "env_probe"} {
		t.Run(name, func(t *testing.T) {
			viaCilium := loadObject(t, name, LoadOptions{})
			viaSpec := loadSpecObject(t, name, LoadOptions{})
			if a, b := viaCilium.Programs(), viaSpec.Programs(); !slices.Equal(a, b) || len(a) == 0 {
				t.Fatalf("programs loaded: Load %v, LoadSpec %v", a, b)
			}
			if a, b := errorPrograms(viaCilium), errorPrograms(viaSpec); !slices.Equal(a, b) {
				t.Fatalf("programs rejected: Load %v, LoadSpec %v", a, b)
			}
			for _, prog := range viaSpec.Programs() {
				if a, b := viaCilium.ProgramType(prog), viaSpec.ProgramType(prog); a != b {
					t.Errorf("%s: type %s, LoadSpec %s", prog, a, b)
				}
				for i, p := range pkts {
					a, errA := viaCilium.Run(prog, RunInput{Data: p})
					b, errB := viaSpec.Run(prog, RunInput{Data: p})
					if (errA == nil) != (errB == nil) {
						t.Fatalf("%s packet %d: Load run error %v, LoadSpec %v", prog, i, errA, errB)
					}
					for _, d := range Compare(Outcome{Result: a}, Outcome{Result: b}, CompareOptions{}) {
						t.Errorf("%s packet %d: %s", prog, i, d)
					}
				}
			}
			ma, mb := dump(t, viaCilium), dump(t, viaSpec)
			// cilium/ebpf folds an unused .rodata into the programs.
			for name := range mb {
				if _, ok := ma[name]; !ok && frozenAtLoad(name) {
					delete(mb, name)
				}
			}
			for _, d := range Compare(Outcome{Maps: ma}, Outcome{Maps: mb}, CompareOptions{ValueMasks: viaCilium.ValueMasks()}) {
				t.Errorf("maps: %s", d)
			}
			if a, b := viaCilium.ValueMasks(), viaSpec.ValueMasks(); len(a) != len(b) {
				t.Errorf("value masks: Load %v, LoadSpec %v", a, b)
			}
		})
	}
}

// TestLoadSpecLegacy loads a legacy map section, global data and a program
// whose section implies no type, typed through LoadOptions.Types.
func TestLoadSpecLegacy(t *testing.T) {
	c := loadSpecObject(t, "legacy_globals", LoadOptions{
		Types: map[string]elf.ProgramType{"tc_custom": elf.SchedCLS},
		Maps:  map[string]MapState{".rodata": {Entries: []Entry{{Key: u32(0), Value: u32(60)}}}},
	})
	if errs := c.ProgramErrors(); errs != nil {
		t.Fatal(errs)
	}
	if got := c.ProgramType("tc_custom"); got != "SchedCLS" {
		t.Errorf("tc_custom type %q, want SchedCLS", got)
	}
	for _, tc := range []struct {
		prog string
		size int
		want uint32
	}{{"count_len", 42, 2}, {"count_len", 64, 1}, {"count_len", 42, 2}, {"tc_custom", 42, 0}, {"tc_custom", 100, 2}} {
		if res := run(t, c, tc.prog, RunInput{Data: udpPacket(tc.size, 53)}); res.Retval != tc.want {
			t.Errorf("%s on %d bytes: retval %d, want %d (threshold preloaded to 60)", tc.prog, tc.size, res.Retval, tc.want)
		}
	}
	maps := dump(t, c)
	assertMap(t, maps, "seen", MapState{Type: "Hash", KeySize: 4, ValueSize: 8, MaxEntries: 16,
		Entries: []Entry{{Key: u32(42), Value: u64(2)}, {Key: u32(64), Value: u64(1)}}})
	assertMap(t, maps, ".data", MapState{Type: "Array", KeySize: 4, ValueSize: 8, MaxEntries: 1,
		Entries: []Entry{{Key: u32(0), Value: u64(7 + 42 + 64 + 42)}}})
	assertMap(t, maps, ".bss", MapState{Type: "Array", KeySize: 4, ValueSize: 4, MaxEntries: 1,
		Entries: []Entry{{Key: u32(0), Value: u32(100)}}}) // TC: skb->len is the whole frame
	if err := c.LoadMaps(map[string]MapState{".rodata": {Entries: []Entry{{Key: u32(0), Value: u32(1)}}}}); err == nil {
		t.Error(".rodata is writable after LoadSpec: it should be frozen")
	}

	// Without the override, the classifier's section gives no type.
	c2 := loadSpecObject(t, "legacy_globals", LoadOptions{})
	if got := errorPrograms(c2); !slices.Equal(got, []string{"tc_custom"}) {
		t.Errorf("without Types, rejected programs %v, want [tc_custom]", got)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	requireKernel(t)
	if _, err := LoadSpec(nil, LoadOptions{}); err == nil {
		t.Error("LoadSpec(nil) succeeded")
	}
	spec, err := elf.LoadCollectionSpec(buildObject(t, "xdp_counter"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSpec(spec, LoadOptions{Programs: []string{"nope"}}); !errors.Is(err, ErrUnknownProgram) {
		t.Errorf("selecting an unknown program: %v", err)
	}
	if _, err := LoadSpec(spec, LoadOptions{Maps: map[string]MapState{"nope": {}}}); !errors.Is(err, ErrUnknownMap) {
		t.Errorf("preloading an unknown map: %v", err)
	}
	// A map the kernel refuses fails the programs that use it, not the load.
	bad := *spec
	bad.Maps = map[string]*elf.MapSpec{}
	for name, ms := range spec.Maps {
		cp := *ms
		if name == "proto_count" {
			cp.KeySize = 0 // a hash map needs a key
		}
		bad.Maps[name] = &cp
	}
	c, err := LoadSpec(&bad, LoadOptions{})
	if err != nil {
		t.Fatalf("LoadSpec with a refused map: %v", err)
	}
	defer c.Close()
	errs := c.ProgramErrors()
	if len(errs) != 1 || !errors.Is(errs[0], errMapNotCreated) {
		t.Errorf("program errors %v, want one wrapping errMapNotCreated", errs)
	}
}

// TestLoadSpecCPUMapSize: CPU maps and perf event arrays keep the
// max_entries of their definition, as libbpf creates them (cilium/ebpf
// would clamp it to the possible CPUs); a perf event array without one
// gets one entry per possible CPU.
func TestLoadSpecCPUMapSize(t *testing.T) {
	requireKernel(t)
	spec := &elf.CollectionSpec{
		Maps: map[string]*elf.MapSpec{
			"cpus":   {Name: "cpus", Type: elf.MapTypeCPUMap, KeySize: 4, ValueSize: 4, MaxEntries: 64},
			"events": {Name: "events", Type: elf.MapTypePerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 128},
			"auto":   {Name: "auto", Type: elf.MapTypePerfEventArray},
		},
		MapOrder: []string{"auto", "cpus", "events"},
		Programs: map[string]*elf.ProgramSpec{},
	}
	c, err := LoadSpec(spec, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	maps, err := c.DumpMaps()
	if err != nil {
		t.Fatal(err)
	}
	if got := maps["cpus"]; got.Type != "CPUMap" || got.MaxEntries != 64 {
		t.Errorf("cpus: type %s, max_entries %d; want CPUMap with 64", got.Type, got.MaxEntries)
	}
	if got := maps["events"]; got.Type != "PerfEventArray" || got.MaxEntries != 128 || got.ValueSize != 4 {
		t.Errorf("events: %+v, want a PerfEventArray of 128 4-byte values", got)
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	if got := maps["auto"]; got.MaxEntries != uint32(n) {
		t.Errorf("auto: max_entries %d, want %d possible CPUs", got.MaxEntries, n)
	}
}

// TestDumpPerfEventArray dumps a legacy perf event array: its slots hold
// perf events, which lookups refuse, and the dump leaves them out, as
// xebpf's maps files do, rather than failing the map.
func TestDumpPerfEventArray(t *testing.T) {
	requireKernel(t)
	spec := &elf.CollectionSpec{
		Maps: map[string]*elf.MapSpec{"events": {Name: "events", Type: elf.MapTypePerfEventArray,
			KeySize: 4, ValueSize: 4, MaxEntries: 4, Legacy: &elf.LegacyMapFields{DefSize: 20}}},
		MapOrder: []string{"events"},
		Programs: map[string]*elf.ProgramSpec{},
	}
	c, err := LoadSpec(spec, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	assertMap(t, dump(t, c), "events", MapState{Type: "PerfEventArray", KeySize: 4, ValueSize: 4, MaxEntries: 4})
}
