package xebpf_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/internal/mapfile"
	"github.com/xebpf/xebpf/maps"
)

// apiProgram is a program with the global variables, maps and context
// use a cilium/ebpf user's program has: volatile const configuration,
// .data and .bss counters, a hash keyed by IPv4 address and a per-CPU
// array.
const apiProgram = `#include "xebpf/bpf.h"
volatile const __u32 threshold = 10;
volatile const __u8 mode = 1;
__u32 hits = 5;
__u64 total;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} by_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} events SEC(".maps");

SEC("xdp")
int count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 34 > end)
		return XDP_ABORTED;
	__u32 src = *(__u32 *)(data + 26);
	__u64 *n = bpf_map_lookup_elem(&by_addr, &src);
	if (n)
		__sync_fetch_and_add(n, 1);
	else {
		__u64 one = 1;
		bpf_map_update_elem(&by_addr, &src, &one, 0);
	}
	__u32 k = 0;
	__u32 *c = bpf_map_lookup_elem(&per_cpu, &k);
	if (c)
		*c += 1;
	hits++;
	total += end - data;
	bpf_map_push_elem(&events, &src, 0);
	return hits > threshold + mode ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
`

// ipv4 is the key wrapper cilium/ebpf documents for netip.Addr: the 4
// address bytes as a BinaryMarshaler.
type ipv4 struct{ netip.Addr }

func (a ipv4) MarshalBinary() ([]byte, error) {
	if !a.Is4() {
		return nil, fmt.Errorf("%v is not IPv4", a.Addr)
	}
	b := a.As4()
	return b[:], nil
}

func (a *ipv4) UnmarshalBinary(b []byte) error {
	if len(b) != 4 {
		return fmt.Errorf("%d bytes", len(b))
	}
	a.Addr = netip.AddrFrom4([4]byte(b))
	return nil
}

// apiObjects is what bpf2go generates for apiProgram.
type apiObjects struct {
	apiPrograms
	apiMaps
	apiVariables
}

type apiPrograms struct {
	Count *xebpf.Program `ebpf:"count"`
}

type apiMaps struct {
	ByAddr *xebpf.Map `ebpf:"by_addr"`
	PerCpu *xebpf.Map `ebpf:"per_cpu"`
	Events *xebpf.Map `ebpf:"events"`
}

type apiVariables struct {
	Threshold *xebpf.Variable `ebpf:"threshold"`
	Mode      *xebpf.Variable `ebpf:"mode"`
	Hits      *xebpf.Variable `ebpf:"hits"`
	Total     *xebpf.Variable `ebpf:"total"`
}

func (o *apiObjects) Close() error {
	return errors.Join(o.Count.Close(), o.ByAddr.Close(), o.PerCpu.Close(), o.Events.Close())
}

// packetFrom is an IPv4 packet from src.
func packetFrom(src string) []byte {
	p := make([]byte, 60)
	p[12], p[13] = 0x08, 0x00
	p[14] = 0x45
	a := netip.MustParseAddr(src).As4()
	copy(p[26:], a[:])
	return p
}

func loadAPI(t *testing.T) (*xebpf.CollectionSpec, *apiObjects) {
	t.Helper()
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "api", apiProgram))
	if err != nil {
		t.Fatal(err)
	}
	var objs apiObjects
	if err := spec.Copy().LoadAndAssign(&objs, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	return spec, &objs
}

func TestLoadAndAssign(t *testing.T) {
	_, objs := loadAPI(t)
	for _, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.1"} {
		ret, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom(src)})
		if err != nil || ret != xebpf.XDPPass {
			t.Fatalf("run: %d, %v", ret, err)
		}
	}
	var n uint64
	if err := objs.ByAddr.Lookup(ipv4{netip.MustParseAddr("10.0.0.1")}, &n); err != nil || n != 2 {
		t.Fatalf("by_addr[10.0.0.1] = %d, %v; want 2", n, err)
	}
	var hits uint32
	if err := objs.Hits.Get(&hits); err != nil || hits != 8 {
		t.Fatalf("hits = %d, %v; want 8", hits, err)
	}
	var total uint64
	if err := objs.Total.Get(&total); err != nil || total != 180 {
		t.Fatalf("total = %d, %v; want 180", total, err)
	}
	// Variables write what programs read: past threshold+mode the
	// program drops.
	if err := objs.Hits.Set(uint32(100)); err != nil {
		t.Fatal(err)
	}
	if ret, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("10.0.0.3")}); err != nil || ret != xebpf.XDPDrop {
		t.Fatalf("after Set: %d, %v; want XDP_DROP", ret, err)
	}
	// Constants are read-only after load, as in cilium/ebpf.
	if err := objs.Threshold.Set(uint32(1)); !errors.Is(err, xebpf.ErrReadOnly) || !strings.Contains(err.Error(), "threshold") {
		t.Fatalf("Set of a constant: %v, want ErrReadOnly naming it", err)
	}
	if !objs.Threshold.ReadOnly() || objs.Hits.ReadOnly() || objs.Threshold.Size() != 4 || objs.Mode.Size() != 1 {
		t.Fatalf("read-only %v %v, sizes %d %d", objs.Threshold.ReadOnly(), objs.Hits.ReadOnly(), objs.Threshold.Size(), objs.Mode.Size())
	}
	if err := objs.Hits.Set(uint64(1)); err == nil || !strings.Contains(err.Error(), "uint64 is 8 bytes, want 4") {
		t.Fatalf("Set of the wrong size: %v", err)
	}
}

// TestVariableSpecs configures volatile const values before load, as
// cilium/ebpf users do, and checks that programs see them.
func TestVariableSpecs(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "api", apiProgram))
	if err != nil {
		t.Fatal(err)
	}
	var th uint32
	if v := spec.Variables["threshold"]; v == nil || !v.Constant() || v.Get(&th) != nil || th != 10 {
		t.Fatalf("threshold spec %v: %d", v, th)
	}
	if v := spec.Variables["total"]; v == nil || v.Constant() || v.SectionName != ".bss" || v.Size() != 8 {
		t.Fatalf("total spec %v", v)
	}
	if err := spec.Variables["threshold"].Set(uint32(0)); err != nil {
		t.Fatal(err)
	}
	if err := spec.RewriteConstants(map[string]any{"mode": uint8(0)}); err != nil {
		t.Fatal(err)
	}
	if err := spec.RewriteConstants(map[string]any{"mode": uint8(0), "nope": 1}); !errors.Is(err, xebpf.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown constant: %v", err)
	}
	if err := spec.RewriteConstants(map[string]any{"hits": uint32(0)}); !errors.Is(err, xebpf.ErrNotFound) {
		t.Fatalf("a variable that is not constant: %v", err)
	}
	var objs apiObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	// hits starts at 5: 6 > 0+0 drops.
	if ret, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("10.0.0.1")}); err != nil || ret != xebpf.XDPDrop {
		t.Fatalf("run with threshold 0: %d, %v; want XDP_DROP", ret, err)
	}
	var got uint32
	if err := objs.Threshold.Get(&got); err != nil || got != 0 {
		t.Fatalf("threshold after load: %d, %v", got, err)
	}
	// The spec's own value is unchanged by the load.
	if err := spec.Variables["threshold"].Get(&got); err != nil || got != 0 {
		t.Fatalf("spec threshold: %d, %v", got, err)
	}
}

func TestAssignErrors(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "api", apiProgram))
	if err != nil {
		t.Fatal(err)
	}
	var missing struct {
		P *xebpf.Program `ebpf:"nope"`
	}
	if err := spec.LoadAndAssign(&missing, nil); !errors.Is(err, xebpf.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing program: %v", err)
	}
	var dup struct {
		A *xebpf.Map `ebpf:"by_addr"`
		B *xebpf.Map `ebpf:"by_addr"`
	}
	if err := spec.LoadAndAssign(&dup, nil); err == nil || !strings.Contains(err.Error(), "assigned to both A and B") {
		t.Fatalf("duplicate: %v", err)
	}
	if err := spec.LoadAndAssign(apiObjects{}, nil); err == nil || !strings.Contains(err.Error(), "not a pointer to a struct") {
		t.Fatalf("not a pointer: %v", err)
	}
	var bad struct {
		X *int `ebpf:"by_addr"`
	}
	if err := spec.Assign(&bad); err == nil || !strings.Contains(err.Error(), "want *ProgramSpec") {
		t.Fatalf("bad field type: %v", err)
	}
	var specs struct {
		P *xebpf.ProgramSpec  `ebpf:"count"`
		M *xebpf.MapSpec      `ebpf:"by_addr"`
		V *xebpf.VariableSpec `ebpf:"hits"`
	}
	if err := spec.Assign(&specs); err != nil || specs.P.Name != "count" || specs.M.MaxEntries != 64 || specs.V.Name != "hits" {
		t.Fatalf("Assign: %v %+v", err, specs)
	}
}

// TestAssignedOutliveCollection checks that LoadAndAssign's objects work
// after the collection behind them is closed, and that closing them all
// ends the variables too.
func TestAssignedOutliveCollection(t *testing.T) {
	_, objs := loadAPI(t)
	if _, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("10.0.0.9")}); err != nil {
		t.Fatal(err)
	}
	if err := objs.Close(); err != nil {
		t.Fatal(err)
	}
	var hits uint32
	if err := objs.Hits.Get(&hits); !errors.Is(err, xebpf.ErrClosed) {
		t.Fatalf("variable after every object is closed: %v, want ErrClosed", err)
	}
}

func TestMapAPI(t *testing.T) {
	_, objs := loadAPI(t)
	m := objs.ByAddr
	if m.KeySize() != 4 || m.ValueSize() != 8 || m.MaxEntries() != 64 || m.Type() != xebpf.Hash {
		t.Fatalf("map %v: key %d value %d max %d", m, m.KeySize(), m.ValueSize(), m.MaxEntries())
	}
	a := func(s string) ipv4 { return ipv4{netip.MustParseAddr(s)} }
	for i, s := range []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"} {
		if err := m.Put(a(s), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Update(a("1.1.1.1"), uint64(9), xebpf.UpdateNoExist); !errors.Is(err, xebpf.ErrKeyExist) || !errors.Is(err, maps.ErrKeyExist) || !strings.Contains(err.Error(), "by_addr") {
		t.Fatalf("UpdateNoExist of a present key: %v", err)
	}
	if err := m.Update(a("4.4.4.4"), uint64(9), xebpf.UpdateExist); !errors.Is(err, xebpf.ErrKeyNotExist) {
		t.Fatalf("UpdateExist of an absent key: %v", err)
	}
	got := map[netip.Addr]uint64{}
	var (
		k ipv4
		v uint64
	)
	it := m.Iterate()
	for it.Next(&k, &v) {
		got[k.Addr] = v
	}
	if it.Err() != nil || len(got) != 3 || got[netip.MustParseAddr("2.2.2.2")] != 2 {
		t.Fatalf("iterate: %v, %v", got, it.Err())
	}
	var first, second ipv4
	if err := m.NextKey(nil, &first); err != nil {
		t.Fatal(err)
	}
	if err := m.NextKey(first, &second); err != nil || second == first {
		t.Fatalf("NextKey: %v after %v, %v", second, first, err)
	}
	if err := m.LookupAndDelete(a("3.3.3.3"), &v); err != nil || v != 3 {
		t.Fatalf("LookupAndDelete: %d, %v", v, err)
	}
	if err := m.Lookup(a("3.3.3.3"), &v); !errors.Is(err, xebpf.ErrKeyNotExist) || !strings.Contains(err.Error(), "map by_addr") {
		t.Fatalf("lookup after delete: %v", err)
	}
	if err := m.Lookup(uint16(1), &v); err == nil || !strings.Contains(err.Error(), "map by_addr: key: uint16 is 2 bytes, want 4") {
		t.Fatalf("short key: %v", err)
	}

	// Batches.
	keys := []uint32{10, 11, 12, 13}
	vals := []uint64{100, 110, 120, 130}
	if n, err := m.BatchUpdate(keys, vals, nil); n != 4 || err != nil {
		t.Fatalf("BatchUpdate: %d, %v", n, err)
	}
	var (
		cursor xebpf.MapBatchCursor
		all    = map[uint32]uint64{}
		ks     = make([]uint32, 4)
		vs     = make([]uint64, 4)
	)
	for {
		n, err := m.BatchLookup(&cursor, ks, vs, nil)
		for i := range n {
			all[ks[i]] = vs[i]
		}
		if errors.Is(err, xebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(all) != 6 || all[12] != 120 {
		t.Fatalf("BatchLookup: %v", all)
	}
	if n, err := m.BatchDelete([]uint32{10, 11, 99}, nil); n != 2 || !errors.Is(err, xebpf.ErrKeyNotExist) {
		t.Fatalf("BatchDelete: %d, %v", n, err)
	}

	// Per-CPU values are one per CPU.
	pc := objs.PerCpu
	ncpu := maps.NumCPU()
	in := make([]uint32, ncpu)
	for i := range in {
		in[i] = uint32(i * 3)
	}
	if err := pc.Put(uint32(1), in); err != nil {
		t.Fatal(err)
	}
	var out []uint32
	if err := pc.Lookup(uint32(1), &out); err != nil || !slices.Equal(in, out) {
		t.Fatalf("per-CPU round trip: %v, %v", out, err)
	}
	if err := pc.Put(uint32(1), uint32(5)); err == nil || !strings.Contains(err.Error(), "per-CPU values need a slice") {
		t.Fatalf("per-CPU single value: %v", err)
	}

	// Queues are walked by popping.
	q := objs.Events
	for _, x := range []uint32{7, 8} {
		if err := q.Update(nil, x, xebpf.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	var popped []uint32
	var x uint32
	qi := q.Iterate()
	for qi.Next(nil, &x) {
		popped = append(popped, x)
	}
	if qi.Err() != nil || !slices.Equal(popped, []uint32{7, 8}) {
		t.Fatalf("queue walk: %v, %v", popped, qi.Err())
	}
}

// TestMapConcurrent runs programs and Go-side map operations at once:
// the race detector and the counts check that Map is safe for concurrent
// use as its doc says.
func TestMapConcurrent(t *testing.T) {
	_, objs := loadAPI(t)
	// The program's first run for an address inserts 1 with BPF_ANY, which
	// races with other first runs as it does in Linux: start from an
	// element, so that every run adds atomically.
	if err := objs.ByAddr.Put(ipv4{netip.MustParseAddr("9.9.9.9")}, uint64(0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const runs = 200
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range runs {
				if _, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("9.9.9.9")}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			var v uint64
			for i := range runs {
				k := uint32(g<<16 | i%8)
				if err := objs.ByAddr.Put(k, uint64(i)); err != nil {
					t.Error(err)
					return
				}
				if err := objs.ByAddr.Lookup(k, &v); err != nil {
					t.Error(err)
					return
				}
				it := objs.ByAddr.Iterate()
				var kk uint32
				for it.Next(&kk, &v) {
				}
				// A walk while other goroutines update elements may keep
				// meeting moved elements and give up, as cilium/ebpf's
				// does on the kernel: the only error allowed.
				if err := it.Err(); err != nil && !errors.Is(err, xebpf.ErrIterationAborted) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var n uint64
	if err := objs.ByAddr.Lookup(ipv4{netip.MustParseAddr("9.9.9.9")}, &n); err != nil || n != 4*runs {
		t.Fatalf("count %d, %v; want %d", n, err, 4*runs)
	}
}

func TestMapReplacements(t *testing.T) {
	spec, objs := loadAPI(t)
	if err := objs.ByAddr.Put(uint32(42), uint64(7)); err != nil {
		t.Fatal(err)
	}
	var other apiObjects
	opts := &xebpf.CollectionOptions{MapReplacements: map[string]*xebpf.Map{"by_addr": objs.ByAddr}}
	if err := spec.Copy().LoadAndAssign(&other, opts); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var v uint64
	if err := other.ByAddr.Lookup(uint32(42), &v); err != nil || v != 7 {
		t.Fatalf("shared map: %d, %v", v, err)
	}
	if _, err := other.Count.Run(&xebpf.RunOptions{Data: packetFrom("5.5.5.5")}); err != nil {
		t.Fatal(err)
	}
	if err := objs.ByAddr.Lookup(ipv4{netip.MustParseAddr("5.5.5.5")}, &v); err != nil || v != 1 {
		t.Fatalf("the first collection sees the second's update: %d, %v", v, err)
	}
	// Closing the lender keeps the map for the borrower.
	objs.Close()
	if err := other.ByAddr.Lookup(uint32(42), &v); err != nil || v != 7 {
		t.Fatalf("after the lender closed: %d, %v", v, err)
	}
	bad := &xebpf.CollectionOptions{MapReplacements: map[string]*xebpf.Map{"per_cpu": other.ByAddr}}
	var third apiObjects
	if err := spec.Copy().LoadAndAssign(&third, bad); !errors.Is(err, xebpf.ErrMapIncompatible) {
		t.Fatalf("incompatible replacement: %v", err)
	}
	unknown := &xebpf.CollectionOptions{MapReplacements: map[string]*xebpf.Map{"nope": other.ByAddr}}
	if err := spec.Copy().LoadAndAssign(&third, unknown); !errors.Is(err, xebpf.ErrNotFound) {
		t.Fatalf("unknown replacement: %v", err)
	}
}

func TestVerifierErrorLog(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "nullderef", `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

SEC("xdp")
int f(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &k);
	return *v;
}
char _license[] SEC("license") = "GPL";
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = xebpf.NewCollection(spec)
	var ve *xebpf.VerifierError
	if !errors.As(err, &ve) || len(ve.Log) == 0 || ve.Program != "f" {
		t.Fatalf("error %v: want a *VerifierError with a log", err)
	}
	if full := fmt.Sprintf("%+v", ve); !strings.Contains(full, "not checked for NULL") || strings.Count(full, "\n") < 3 {
		t.Fatalf("%%+v: %s", full)
	}
	_, err = xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Programs: xebpf.ProgramOptions{LogDisabled: true}})
	if !errors.As(err, &ve) || ve.Log != nil {
		t.Fatalf("LogDisabled: %v, log %d lines", err, len(ve.Log))
	}
	_, err = xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Programs: xebpf.ProgramOptions{LogSizeStart: 64}})
	if !errors.As(err, &ve) || !ve.Truncated || len(strings.Join(ve.Log, "\n")) > 64 {
		t.Fatalf("LogSizeStart 64: truncated %v, %d bytes", ve.Truncated, len(strings.Join(ve.Log, "\n")))
	}
}

func TestProgramVerifierLog(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "api", apiProgram))
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Programs: xebpf.ProgramOptions{LogLevel: xebpf.LogLevelInstruction | xebpf.LogLevelStats}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := c.Programs["count"].VerifierLog
	if !strings.Contains(log, "verified") || strings.Count(log, "\n") < 20 {
		t.Fatalf("verifier log of %d lines:\n%s", strings.Count(log, "\n"), log)
	}
	c2, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Programs["count"].VerifierLog != "" {
		t.Fatal("a log without LogLevel")
	}
}

func TestPinPathRefused(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "pinned", `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, 1);
} pinned SEC(".maps");
SEC("xdp")
int f(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&pinned, &k) ? 2 : 1; }
char _license[] SEC("license") = "GPL";
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Maps: xebpf.MapOptions{PinPath: "/sys/fs/bpf"}})
	if !errors.Is(err, xebpf.ErrNotSupported) || !strings.Contains(err.Error(), "map pinned") {
		t.Fatalf("pinning: %v", err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("without PinPath: %v", err)
	}
	c.Close()
}

// xdpMD is struct xdp_md, for RunOptions.Context as a Go struct.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

func TestRunContextStruct(t *testing.T) {
	_, objs := loadAPI(t)
	var out xdpMD
	opts := &xebpf.RunOptions{Data: packetFrom("1.2.3.4"), Context: xdpMD{DataEnd: 60, IngressIfindex: 1}, ContextOut: &out}
	if _, err := objs.Count.Run(opts); err != nil {
		t.Fatal(err)
	}
	if out.DataEnd-out.Data != 60 || out.IngressIfindex != 1 {
		t.Fatalf("context out %+v", out)
	}
	if _, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("1.2.3.4"), Context: "x"}); err == nil || !strings.Contains(err.Error(), "string is neither []byte nor of a fixed size") {
		t.Fatalf("bad context: %v", err)
	}
	ret, out2, err := objs.Count.Test(packetFrom("1.2.3.4"))
	if err != nil || ret != xebpf.XDPPass || len(out2) != 60 {
		t.Fatalf("Test: %d, %d bytes, %v", ret, len(out2), err)
	}
	resets := 0
	ret, dur, err := objs.Count.Benchmark(packetFrom("1.2.3.4"), 10, func() { resets++ })
	if err != nil || dur <= 0 || resets != 9 {
		t.Fatalf("Benchmark: %d, %v, %v, %d resets", ret, dur, err, resets)
	}
	if _, err := objs.Count.Run(&xebpf.RunOptions{Data: packetFrom("1.2.3.4"), Flags: 1}); !errors.Is(err, xebpf.ErrRunFlags) {
		t.Fatalf("flags: %v", err)
	}
}

func TestStandaloneMapAndProgram(t *testing.T) {
	m, err := xebpf.NewMap(&xebpf.MapSpec{Name: "counts", Type: xebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Put(uint32(1), uint64(2)); err != nil {
		t.Fatal(err)
	}
	c2, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	var v uint64
	if err := c2.Lookup(uint32(1), &v); err != nil || v != 2 {
		t.Fatalf("clone after the original closed: %d, %v", v, err)
	}
	if err := m.Lookup(uint32(1), &v); !errors.Is(err, xebpf.ErrClosed) {
		t.Fatalf("closed original: %v", err)
	}
	c2.Close()
	if err := m.Pin("/sys/fs/bpf/x"); !errors.Is(err, xebpf.ErrNotSupported) {
		t.Fatalf("Pin: %v", err)
	}
	if _, err := xebpf.NewMap(&xebpf.MapSpec{Name: "bad", Type: xebpf.Hash, KeySize: 0, ValueSize: 8, MaxEntries: 4}); err == nil {
		t.Fatal("a hash map with 0-byte keys: no error")
	}

	spec, err := xebpf.LoadCollectionSpec(buildC(t, "api", apiProgram))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xebpf.NewProgram(spec.Programs["count"]); !errors.Is(err, xebpf.ErrProgIncompatible) {
		t.Fatalf("NewProgram of a program using maps: %v", err)
	}
	ret0, err := xebpf.LoadCollectionSpec(buildC(t, "ret", `#include "xebpf/bpf.h"
SEC("xdp") int f(struct xdp_md *ctx) { return XDP_DROP; }
char _license[] SEC("license") = "GPL";
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := xebpf.NewProgram(ret0.Programs["f"])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if ret, err := p.Run(&xebpf.RunOptions{Data: make([]byte, 14)}); err != nil || ret != xebpf.XDPDrop {
		t.Fatalf("standalone program: %d, %v", ret, err)
	}
	if n, err := xebpf.PossibleCPU(); err != nil || n != maps.NumCPU() || xebpf.MustPossibleCPU() != n {
		t.Fatalf("PossibleCPU %d, %v", n, err)
	}
}

// TestKindOfIsACopy checks that changing what KindOf returns does not
// change the built-in kind.
func TestKindOfIsACopy(t *testing.T) {
	k := xebpf.KindOf(xebpf.XDP)
	k.Context.Fields[0].Size = 1
	k.Context.Size = 3
	k.Name = "changed"
	again := xebpf.KindOf(xebpf.XDP)
	if again.Name != "xdp" || again.Context.Size != 24 || again.Context.Fields[0].Size != 4 {
		t.Fatalf("the built-in kind changed: %+v %+v", again, again.Context)
	}
	kp := xebpf.KprobeKind(xebpf.ArchX86_64)
	kp.Context.Fields = nil
	if len(xebpf.KprobeKind(xebpf.ArchX86_64).Context.Fields) == 0 {
		t.Fatal("the built-in kprobe kind changed")
	}
}

// TestPerCPUBatch checks per-CPU batch values in cilium/ebpf's layout:
// one flat slice of n×NumCPU values.
func TestPerCPUBatch(t *testing.T) {
	_, objs := loadAPI(t)
	pc := objs.PerCpu
	ncpu := maps.NumCPU()
	vals := make([]uint32, 2*ncpu)
	for i := range vals {
		vals[i] = uint32(100 + i)
	}
	if n, err := pc.BatchUpdate([]uint32{0, 1}, vals, nil); n != 2 || err != nil {
		t.Fatalf("BatchUpdate: %d, %v", n, err)
	}
	var one []uint32
	if err := pc.Lookup(uint32(1), &one); err != nil || one[0] != uint32(100+ncpu) || one[ncpu-1] != uint32(100+2*ncpu-1) {
		t.Fatalf("key 1 after the batch: %v, %v", one, err)
	}
	var cursor xebpf.MapBatchCursor
	keys, out := make([]uint32, 2), make([]uint32, 2*ncpu)
	if n, err := pc.BatchLookup(&cursor, keys, out, nil); n != 2 || (err != nil && !errors.Is(err, xebpf.ErrKeyNotExist)) || !slices.Equal(out, vals) {
		t.Fatalf("BatchLookup: %d, %v, %v", n, err, out)
	}
	if _, err := pc.BatchUpdate([]uint32{0}, make([]uint32, ncpu+1), nil); err == nil || !strings.Contains(err.Error(), "not a multiple") {
		t.Fatalf("values not a multiple of the CPUs: %v", err)
	}
}

// TestKindPacketLayoutChecked checks that kinds whose context cannot
// describe their packet are refused at load, not when a run lays out the
// frame: a host kind with a packet start but no end, and a built-in
// packet kind given a context of another layout.
func TestKindPacketLayoutChecked(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "ret", `#include "xebpf/bpf.h"
SEC("xdp") int f(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] SEC("license") = "GPL";
`))
	if err != nil {
		t.Fatal(err)
	}
	noEnd := &xebpf.ProgramKind{Name: "half", Context: &xebpf.Context{Name: "half", Size: 8, Fields: []xebpf.ContextField{
		{Name: "data", Offset: 0, Size: 4, Kind: xebpf.PacketStart},
	}}}
	rawXDP := xebpf.KindOf(xebpf.XDP)
	rawXDP.Context = &xebpf.Context{Name: "raw", Size: 8}
	for _, k := range []*xebpf.ProgramKind{noEnd, rawXDP} {
		c, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Types: map[string]*xebpf.ProgramKind{"f": k}, Unverified: xebpf.RunUnverifiedChecked})
		if err == nil {
			// Whatever the load decides, a run must not panic.
			_, err = c.Programs["f"].Run(&xebpf.RunOptions{Data: make([]byte, 64), DataOut: make([]byte, 4096)})
			c.Close()
			t.Fatalf("kind %s: loaded (run: %v), want a load error", k.Name, err)
		}
		if !strings.Contains(err.Error(), "packet") {
			t.Errorf("kind %s: %v, want an error about its packet", k.Name, err)
		}
	}
}

// TestProgramArrayPut puts programs into a program array from Go, as
// cilium/ebpf users do (Put(index, *Program)), with Linux's rules: the
// array's program type, UpdateAny only; and xebpf's: the same collection.
func TestProgramArrayPut(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(buildC(t, "tail", `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

SEC("xdp") int entry(struct xdp_md *ctx) { bpf_tail_call(ctx, &jmp, 0); return 7; }
SEC("xdp") int target(struct xdp_md *ctx) { return XDP_DROP; }
SEC("socket") int sock(struct __sk_buff *skb) { return 0; }
char _license[] SEC("license") = "GPL";
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func() uint32 {
		ret, err := c.Programs["entry"].Run(&xebpf.RunOptions{Data: make([]byte, 64)})
		if err != nil {
			t.Fatal(err)
		}
		return ret
	}
	jmp := c.Maps["jmp"]
	if ret := run(); ret != 7 {
		t.Fatalf("empty slot: %d, want the fallback 7", ret)
	}
	if err := jmp.Put(uint32(0), c.Programs["target"]); err != nil {
		t.Fatal(err)
	}
	if ret := run(); ret != xebpf.XDPDrop {
		t.Fatalf("after Put: %d, want XDP_DROP from the target", ret)
	}
	if err := jmp.Put(uint32(1), c.Programs["sock"]); !errors.Is(err, xebpf.ErrProgramArrayType) {
		t.Fatalf("a socket filter in an XDP program array: %v", err)
	}
	if err := jmp.Update(uint32(1), c.Programs["target"], xebpf.UpdateNoExist); err == nil {
		t.Fatal("UpdateNoExist on a program array: no error")
	}
	other, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := jmp.Put(uint32(1), other.Programs["target"]); !errors.Is(err, xebpf.ErrProgIncompatible) {
		t.Fatalf("a program of another collection: %v", err)
	}
	if err := c.Maps["jmp"].Delete(uint32(0)); err != nil {
		t.Fatal(err)
	}
	if ret := run(); ret != 7 {
		t.Fatalf("after Delete: %d, want the fallback 7", ret)
	}
	// The maps file of xebpf run --maps-in goes through the same check.
	states := map[string]kernel.MapState{"jmp": {Entries: []kernel.Entry{{Key: []byte{1, 0, 0, 0}, Program: "sock"}}}}
	if err := mapfile.Load(c, states); !errors.Is(err, xebpf.ErrProgramArrayType) {
		t.Fatalf("a maps file putting a socket filter into the XDP array: %v", err)
	}
	hash, err := xebpf.NewMap(&xebpf.MapSpec{Name: "h", Type: xebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer hash.Close()
	if err := hash.Put(uint32(0), c.Programs["target"]); !errors.Is(err, xebpf.ErrInvalidType) {
		t.Fatalf("a program into a hash map: %v", err)
	}
}
