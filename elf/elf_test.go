package elf

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

//go:generate make -C testdata

func load(t *testing.T, name string) *CollectionSpec {
	t.Helper()
	spec, err := LoadCollectionSpec(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func program(t *testing.T, spec *CollectionSpec, name string) *ProgramSpec {
	t.Helper()
	p := spec.Programs[name]
	if p == nil {
		t.Fatalf("no program %q; have %v", name, spec.Summary().Programs)
	}
	return p
}

// insAt returns the instruction starting at slot pc.
func insAt(t *testing.T, p *ProgramSpec, pc int) isa.Instruction {
	t.Helper()
	slot := 0
	for _, ins := range p.Instructions {
		if slot == pc {
			return ins
		}
		slot += ins.Slots()
	}
	t.Fatalf("no instruction starts at slot %d", pc)
	return isa.Instruction{}
}

func mapIndex(t *testing.T, spec *CollectionSpec, name string) int64 {
	t.Helper()
	i, ok := spec.MapIndex(name)
	if !ok {
		t.Fatalf("no map %q in %v", name, spec.MapOrder)
	}
	return int64(i)
}

func checkMap(t *testing.T, spec *CollectionSpec, name string, typ MapType, key, value, max, flags uint32) *MapSpec {
	t.Helper()
	m := spec.Maps[name]
	if m == nil {
		t.Fatalf("no map %q", name)
	}
	if m.Type != typ || m.KeySize != key || m.ValueSize != value || m.MaxEntries != max || m.Flags != flags {
		t.Errorf("map %q: type %d key %d value %d max %d flags %#x, want %d %d %d %d %#x",
			name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Flags, typ, key, value, max, flags)
	}
	return m
}

func TestXDPGlobalData(t *testing.T) {
	spec := load(t, "xdp_global.o")
	if got := strings.Join(spec.MapOrder, ","); got != ".bss,.data,.rodata,counts" {
		t.Fatalf("MapOrder %s", got)
	}
	checkMap(t, spec, "counts", MapTypeHash, 4, 8, 128, 0)
	data := checkMap(t, spec, ".data", MapTypeArray, 4, 8, 1, 0)
	if !bytes.Equal(data.Contents[0].Value, []byte{7, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf(".data value %v", data.Contents[0].Value)
	}
	ro := checkMap(t, spec, ".rodata", MapTypeArray, 4, 4, 1, flagRdonlyProg)
	if !ro.ReadOnly || !bytes.Equal(ro.Contents[0].Value, []byte{42, 0, 0, 0}) {
		t.Errorf(".rodata read-only %v value %v", ro.ReadOnly, ro.Contents[0].Value)
	}
	checkMap(t, spec, ".bss", MapTypeArray, 4, 4, 1, 0)

	if len(spec.Programs) != 1 {
		t.Errorf("programs %v, want only xdp_count (classify is a subprogram)", spec.Summary().Programs)
	}
	p := program(t, spec, "xdp_count")
	if p.Type != XDP || p.AttachType != AttachXDP || p.SectionName != "xdp" || p.License != "GPL" {
		t.Errorf("program type %v attach %d section %q license %q", p.Type, p.AttachType, p.SectionName, p.License)
	}
	if len(p.Functions) != 2 || p.Functions[1].Name != "classify" || p.Functions[1].Section != ".text" || p.Functions[1].Slot != 33 {
		t.Fatalf("functions %+v", p.Functions)
	}
	tests := []struct {
		desc string
		pc   int
		want isa.Instruction
	}{
		{"The map counts is loaded by index.", 5,
			isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R1, Src: isa.PseudoMapIndex, Constant: mapIndex(t, spec, "counts")}},
		{"The variable packets is offset 0 of the .data value.", 12,
			isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R1, Src: isa.PseudoMapIndexValue, Constant: mapIndex(t, spec, ".data")}},
		{"The variable dropped is offset 0 of the .bss value.", 26,
			isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R1, Src: isa.PseudoMapIndexValue, Constant: mapIndex(t, spec, ".bss")}},
		{"The call to classify lands on its first slot, 33.", 20,
			isa.Instruction{OpCode: isa.OpCall, Src: isa.CallLocal, Constant: 33 - 20 - 1}},
		{"The subprogram's reference to limit is relocated too.", 33,
			isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R2, Src: isa.PseudoMapIndexValue, Constant: mapIndex(t, spec, ".rodata")}},
	}
	for _, tt := range tests {
		if got := insAt(t, p, tt.pc); got != tt.want {
			t.Errorf("%s slot %d: got %+v, want %+v", tt.desc, tt.pc, got, tt.want)
		}
	}
	if err := isa.CheckProgram(p.Instructions); err != nil {
		t.Errorf("linked program: %v", err)
	}
	if filepath.Base(p.SourceFile) != "xdp_global.c" {
		t.Errorf("source file %q", p.SourceFile)
	}
	lines := []struct {
		pc   int
		line int
		text string
	}{
		{1, 29, "__u32 key = ctx->ingress_ifindex;"},
		{7, 30, "__u64 *v = bpf_map_lookup_elem(&counts, &key);"},
		{13, 33, "packets++;"}, // second slot of an lddw
		{33, 21, "if (len > limit)"},
	}
	for _, l := range lines {
		got, ok := p.LineInfo(l.pc)
		if !ok || got.Line != l.line || strings.TrimSpace(got.Text) != l.text || filepath.Base(got.File) != "xdp_global.c" {
			t.Errorf("LineInfo(%d) = %+v, %v; want line %d %q", l.pc, got, ok, l.line, l.text)
		}
	}
}

func TestLegacySocket(t *testing.T) {
	spec := load(t, "legacy_socket.o")
	m := checkMap(t, spec, "my_map", MapTypeArray, 4, 8, 256, 0)
	o := checkMap(t, spec, "other_map", MapTypeHash, 8, 16, 1024, 1)
	if m.Legacy == nil || m.Legacy.DefSize != 28 || m.Legacy.Iproute2 || o.NumaNode != 3 {
		t.Errorf("legacy fields %+v, numa %d", m.Legacy, o.NumaNode)
	}
	p := program(t, spec, "bpf_prog1")
	if p.Type != SocketFilter || p.SectionName != "socket1" || spec.KernelVersion != 0x040f00 || p.KernelVersion != 0x040f00 {
		t.Errorf("type %v section %q version %#x", p.Type, p.SectionName, spec.KernelVersion)
	}
	want := isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R1, Src: isa.PseudoMapIndex, Constant: mapIndex(t, spec, "my_map")}
	if got := insAt(t, p, 6); got != want {
		t.Errorf("slot 6: %+v, want %+v", got, want)
	}
	if len(p.Instructions) != 13 || p.Slots() != 14 {
		t.Errorf("%d instructions in %d slots", len(p.Instructions), p.Slots())
	}
}

func TestLoopCallback(t *testing.T) {
	spec := load(t, "loop_cb.o")
	p := program(t, spec, "sum_loop")
	if p.Type != SchedCLS || len(spec.Programs) != 1 {
		t.Fatalf("type %v, programs %d", p.Type, len(spec.Programs))
	}
	if len(p.Functions) != 2 || p.Functions[1].Name != "add_one" || p.Functions[1].Slot != 11 {
		t.Fatalf("functions %+v", p.Functions)
	}
	// The callback's address: lddw src 4, relative to the next slot.
	want := isa.Instruction{OpCode: isa.OpLDDW, Dst: isa.R2, Src: isa.PseudoFunc, Constant: 11 - 5 - 1}
	if got := insAt(t, p, 5); got != want {
		t.Errorf("slot 5: %+v, want %+v", got, want)
	}
	if got := insAt(t, p, 8); got.Constant != 181 || got.Src != isa.CallHelper {
		t.Errorf("slot 8 %+v, want call bpf_loop", got)
	}
	if err := isa.CheckProgram(p.Instructions); err != nil {
		t.Errorf("linked program: %v", err)
	}
}

func TestCORE(t *testing.T) {
	spec := load(t, "core.o")
	p := program(t, spec, "core_read")
	tests := []struct {
		desc string
		pc   int
		want isa.Instruction
	}{
		{"field_exists of a field struct __sk_buff lacks yields 0.", 0,
			isa.Instruction{OpCode: 0xb7, Dst: isa.R2, Constant: 0}},
		{"Reading the missing field is poisoned.", 2,
			isa.Instruction{OpCode: isa.OpCall, Constant: PoisonHelper}},
		{"len is at offset 0 of the real struct __sk_buff (4 locally).", 4,
			isa.Instruction{OpCode: 0x61, Dst: isa.R2, Src: isa.R1, Offset: 0}},
		{"mark is at offset 8 of the real struct __sk_buff (0 locally).", 5,
			isa.Instruction{OpCode: 0x61, Dst: isa.R0, Src: isa.R1, Offset: 8}},
	}
	for _, tt := range tests {
		if got := insAt(t, p, tt.pc); got != tt.want {
			t.Errorf("%s slot %d: got %+v, want %+v", tt.desc, tt.pc, got, tt.want)
		}
	}
	if len(p.Unresolved) != 1 || p.Unresolved[0].Slot != 2 || p.Unresolved[0].Symbol != "__sk_buff::no_such_field" {
		t.Errorf("unresolved %+v", p.Unresolved)
	}
	if s := spec.Summary(); len(s.Unresolved) != 1 || s.Unresolved[0].Program != "core_read" {
		t.Errorf("summary unresolved %+v", s.Unresolved)
	}
}

func TestBTFMapsAndKconfig(t *testing.T) {
	spec := load(t, "maps_btf.o")
	outer := checkMap(t, spec, "outer", MapTypeArrayOfMaps, 4, 4, 3, 0)
	if outer.InnerMap == nil || outer.InnerMap.Type != MapTypeArray || outer.InnerMap.MaxEntries != 4 {
		t.Errorf("inner map %+v", outer.InnerMap)
	}
	refs := func(m *MapSpec) string {
		var s []string
		for _, kv := range m.Contents {
			s = append(s, string(rune('0'+kv.Key[0]))+"="+kv.Ref.Kind.String()+":"+kv.Ref.Name)
		}
		return strings.Join(s, ",")
	}
	if got := refs(outer); got != "0=map:inner_a,2=map:inner_b" {
		t.Errorf("outer contents %s", got)
	}
	jumps := checkMap(t, spec, "jumps", MapTypeProgArray, 4, 4, 2, 0)
	if got := refs(jumps); got != "1=program:tail" {
		t.Errorf("jumps contents %s", got)
	}
	kc := checkMap(t, spec, ".kconfig", MapTypeArray, 4, 16, 1, flagRdonlyProg)
	want := []byte{0, 1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // KERNEL_VERSION(6,1,0), then CONFIG_NOT_THERE = 0
	if !bytes.Equal(kc.Contents[0].Value, want) {
		t.Errorf(".kconfig value %v, want %v", kc.Contents[0].Value, want)
	}
	p := program(t, spec, "tail")
	idx := mapIndex(t, spec, ".kconfig")
	if got := insAt(t, p, 3); got.Src != isa.PseudoMapIndexValue || got.Constant != idx|8<<32 {
		t.Errorf("CONFIG_NOT_THERE reference %+v, want offset 8 of map %d", got, idx)
	}
	if len(spec.Programs) != 2 || program(t, spec, "entry").Type != SocketFilter {
		t.Errorf("programs %+v", spec.Summary().Programs)
	}
}

func TestClassifySection(t *testing.T) {
	tests := []struct {
		section  string
		typ      ProgramType
		attach   AttachType
		attachTo string
	}{
		{"xdp", XDP, AttachXDP, ""},
		{"xdp/devmap", XDP, AttachXDPDevMap, ""},
		{"xdp_prog", XDP, AttachXDP, ""},
		{"socket", SocketFilter, AttachNone, ""},
		{"socket1", SocketFilter, AttachNone, ""},
		{"kprobe/sys_execve", Kprobe, AttachNone, "sys_execve"},
		{"kretprobe/tcp_v4_connect", Kprobe, AttachNone, "tcp_v4_connect"},
		{"uprobe", Kprobe, AttachNone, ""},
		{"tracepoint/xdp/xdp_exception", TracePoint, AttachNone, "xdp/xdp_exception"},
		{"tp/syscalls/sys_enter_open", TracePoint, AttachNone, "syscalls/sys_enter_open"},
		{"raw_tracepoint/sched_switch", RawTracepoint, AttachNone, "sched_switch"},
		{"cgroup_skb/ingress", CGroupSKB, AttachCGroupInetIngress, ""},
		{"cgroup/skb", CGroupSKB, AttachNone, ""},
		{"cgroup/sock1", CGroupSock, AttachCGroupInetSockCreate, ""},
		{"sockops", SockOps, AttachCGroupSockOps, ""},
		{"sk_skb/stream_parser", SkSKB, AttachSkSKBStreamParser, ""},
		{"sk_msg", SkMsg, AttachSkMsgVerdict, ""},
		{"lwt_xmit", LWTXmit, AttachNone, ""},
		{"perf_event", PerfEvent, AttachNone, ""},
		{"fentry/tcp_close", Tracing, AttachTraceFEntry, "tcp_close"},
		{"classifier", SchedCLS, AttachNone, ""},
		{"tc", SchedCLS, AttachNone, ""},
		{"action", SchedACT, AttachNone, ""},
		{"lsm/file_open", LSM, AttachLSMMac, "file_open"},
		{"from-netdev", SchedCLS, AttachNone, ""},
		{"from-container", SchedCLS, AttachNone, ""},
		{"to-host", SchedCLS, AttachNone, ""},
		{"from-overlay", SchedCLS, AttachNone, ""},
		{"ingress", SchedCLS, AttachNone, ""},
		{"egress", SchedCLS, AttachNone, ""},
	}
	for _, tt := range tests {
		typ, attach, to, ok := ClassifySection(tt.section)
		if !ok || typ != tt.typ || attach != tt.attach || to != tt.attachTo {
			t.Errorf("ClassifySection(%q) = %v, %d, %q, %v; want %v, %d, %q", tt.section, typ, attach, to, ok, tt.typ, tt.attach, tt.attachTo)
		}
	}
	for _, s := range []string{"test", "from-netdev2", "2/1", "tcx", "ingress_redirect"} {
		if typ, _, _, ok := ClassifySection(s); ok {
			t.Errorf("ClassifySection(%q) = %v, want no match", s, typ)
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		desc string
		data []byte
		want error
	}{
		{"An empty file is no ELF object.", nil, ErrMalformed},
		{"Garbage is no ELF object.", []byte("not an elf file at all, really"), ErrMalformed},
	}
	for _, tt := range tests {
		spec, err := LoadCollectionSpecFromReader(bytes.NewReader(tt.data))
		if spec != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: spec %v, error %v, want %v", tt.desc, spec != nil, err, tt.want)
		}
	}
}

func BenchmarkLoadCollectionSpec(b *testing.B) {
	valid, _ := corpusFiles(b)
	var path string
	for _, p := range valid {
		if strings.HasSuffix(p, "bpf_lxc.o") {
			path = p
		}
	}
	if path == "" {
		b.Skip("bpf_lxc.o not in the corpus")
	}
	for b.Loop() {
		if _, err := LoadCollectionSpec(path); err != nil {
			b.Fatal(err)
		}
	}
}
