package xebpf_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/isa"
)

// ctxProgram returns a program of type typ that reads the 32-bit context
// word at off and returns it.
func ctxProgram(t *testing.T, typ xebpf.ProgramType, off int16) *xebpf.Program {
	t.Helper()
	insns := []isa.Instruction{
		{OpCode: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(isa.SizeW), Dst: isa.R0, Src: isa.R1, Offset: off},
		{OpCode: isa.OpExit},
	}
	spec := &xebpf.CollectionSpec{Maps: map[string]*xebpf.MapSpec{},
		Programs: map[string]*xebpf.ProgramSpec{"p": {Name: "p", SectionName: "s", Type: typ, Instructions: insns, License: "GPL"}}}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Programs["p"]
}

func words(size int, kv ...uint32) []byte {
	b := make([]byte, size)
	for i := 0; i+1 < len(kv); i += 2 {
		binary.NativeEndian.PutUint32(b[kv[i]:], kv[i+1])
	}
	return b
}

// TestTestRunContextChecks pins the context checks of BPF_PROG_TEST_RUN
// that Program.Run applies (difftest's TestTestRunContexts compares them
// with the kernel), and what the program reads and ctx_out holds.
func TestTestRunContextChecks(t *testing.T) {
	pkt := make([]byte, 60)
	pkt[12], pkt[13] = 0x08, 0x00
	for i := 14; i < len(pkt); i++ {
		pkt[i] = 0x45
	}
	for _, tc := range []struct {
		name    string
		typ     xebpf.ProgramType
		off     int16 // context word the program returns
		ctx     []byte
		err     error
		ret     uint32
		outWord int // ctx_out word to check
		out     uint32
	}{
		{"socket: zero context: wire_len is skb->len", elf.SocketFilter, 0, words(192), nil, 46, 160, 46},
		{"tc: zero context: wire_len is the frame", elf.SchedCLS, 0, words(192), nil, 60, 160, 60},
		{"socket: pkt_type 4", elf.SocketFilter, 0, words(192, 4, 4), xebpf.ErrInvalidContext, 0, 0, 0},
		{"socket: len set", elf.SocketFilter, 0, words(192, 0, 60), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: tc_index set", elf.SchedCLS, 0, words(192, 44, 1), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: wire_len below len", elf.SchedCLS, 0, words(192, 160, 59), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: wire_len 65537", elf.SchedCLS, 0, words(192, 160, 65537), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: gso_segs 65536", elf.SchedCLS, 0, words(192, 164, 65536), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: ifindex 2", elf.SchedCLS, 0, words(192, 40, 2), xebpf.ErrInvalidContext, 0, 0, 0},
		{"tc: mark and gso_size kept", elf.SchedCLS, 8, words(192, 8, 9, 176, 1400), nil, 9, 176, 1400},
		{"tc: 196 bytes, zero tail", elf.SchedCLS, 0, words(196), nil, 60, 160, 60},
		{"tc: 196 bytes, tail not zero", elf.SchedCLS, 0, words(196, 192, 1), xebpf.ErrContextTooLarge, 0, 0, 0},
		{"xdp: ingress_ifindex 0 reads 1, ctx_out keeps 0", elf.XDP, 12, words(24, 4, 60), nil, 1, 12, 0},
		{"xdp: 8 bytes of metadata", elf.XDP, 16, words(24, 0, 8, 4, 60), nil, 0, 0, 8},
		{"xdp: data_end before the end", elf.XDP, 16, words(24, 4, 40), nil, 0, 4, 40},
		{"xdp: data_end past the data", elf.XDP, 16, words(24, 4, 61), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: metadata not a multiple of 4", elf.XDP, 16, words(24, 0, 6, 4, 60), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: data_meta set", elf.XDP, 16, words(24, 4, 60, 8, 4), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: egress_ifindex", elf.XDP, 16, words(24, 4, 60, 20, 1), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: rx queue without ingress", elf.XDP, 16, words(24, 4, 60, 16, 1), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: loopback rx queue 1", elf.XDP, 16, words(24, 4, 60, 12, 1, 16, 1), xebpf.ErrInvalidContext, 0, 0, 0},
		{"xdp: 13 bytes after the metadata", elf.XDP, 16, words(24, 0, 48, 4, 60), xebpf.ErrShortPacket, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ctxProgram(t, tc.typ, tc.off)
			opts := &xebpf.RunOptions{Data: pkt, DataOut: make([]byte, 4096), Context: tc.ctx, ContextOut: make([]byte, 256)}
			ret, err := p.Run(opts)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			out := opts.ContextOut.([]byte)
			if ret != tc.ret || binary.NativeEndian.Uint32(out[tc.outWord:]) != tc.out {
				t.Errorf("retval %d, ctx_out word %d = %d; want %d and %d", ret, tc.outWord, binary.NativeEndian.Uint32(out[tc.outWord:]), tc.ret, tc.out)
			}
		})
	}
}
