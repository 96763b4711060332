package ctxaccess

import (
	"testing"

	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/isa"
)

var xdpMD = &Layout{Name: "xdp_md", Size: 24, Fields: []Field{
	{Name: "data", Offset: 0, Size: 4, Kind: PacketStart},
	{Name: "data_end", Offset: 4, Size: 4, Kind: PacketEnd},
	{Name: "data_meta", Offset: 8, Size: 4, Kind: PacketMeta},
	{Name: "ingress_ifindex", Offset: 12, Size: 4},
	{Name: "rx_queue_index", Offset: 16, Size: 4},
	{Name: "egress_ifindex", Offset: 20, Size: 4},
}}

// TestRewriteAccess: one access through a base k bytes into the context,
// rewritten or refused. Which accesses go through the context is the
// verifier's finding (verifier/permissive_test.go has the programs).
func TestRewriteAccess(t *testing.T) {
	for _, tc := range []struct {
		src  string
		k    int
		want string // the rewritten instruction, or the error
	}{
		{"ldxw %r2, [%r1+0]", 0, "ldxdw %r2, [%r1+24]\n"},
		{"ldxw %r3, [%r1+4]", 0, "ldxdw %r3, [%r1+32]\n"},
		{"ldxw %r3, [%r1+8]", 0, "ldxdw %r3, [%r1+40]\n"},
		{"ldxdw %r3, [%r1+8]", 0, "xdp_md context access at offset 8, size 8 crosses field data_meta"},
		{"ldxw %r2, [%r7+0]", 4, "ldxdw %r2, [%r7+28]\n"},
		{"ldxw %r4, [%r1+12]", 0, "ldxw %r4, [%r1+12]\n"},
		{"ldxh %r4, [%r1+2]", 10, "ldxh %r4, [%r1+2]\n"},
		{"stw [%r1+4], 0", 0, "write to xdp_md pointer field data_end"},
		{"stw [%r1+12], 0", 0, "write to read-only xdp_md field ingress_ifindex"},
		{"ldxw %r0, [%r1+24]", 0, "xdp_md context access out of bounds: offset 24, size 4, struct size 24"},
		{"ldxw %r0, [%r1-4]", 0, "xdp_md context access out of bounds: offset -4, size 4, struct size 24"},
		{"ldxh %r0, [%r1+0]", 0, "narrow or offset read of xdp_md pointer field data"},
		{"ldxsw %r0, [%r1+0]", 0, "narrow or offset read of xdp_md pointer field data"},
		{"ldxdw %r0, [%r1+12]", 0, "xdp_md context access at offset 12, size 8 crosses field ingress_ifindex"},
		{"lock add32 [%r1+12], %r2", 0, "atomic operation on the xdp_md context"},
	} {
		insns, err := asm.Assemble("t.s", []byte(tc.src))
		if err != nil {
			t.Fatal(err)
		}
		out, err := xdpMD.RewriteAccess(insns[0], tc.k)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = asm.Disassemble([]isa.Instruction{out})
		}
		if got != tc.want {
			t.Errorf("%s at %d: got %q, want %q", tc.src, tc.k, got, tc.want)
		}
	}
}

func TestRawLayoutIsUntouched(t *testing.T) {
	ins := isa.Instruction{OpCode: 0x61, Dst: 0, Src: 1, Offset: 100}
	out, err := (&Layout{Name: "raw", Size: 8}).RewriteAccess(ins, 0)
	if err != nil || out != ins {
		t.Fatalf("got %v, %v", out, err)
	}
}

func TestMemorySize(t *testing.T) {
	if got := xdpMD.MemorySize(); got != 48 {
		t.Fatalf("MemorySize = %d, want 48", got)
	}
	if off, ok := xdpMD.PointerOffset(PacketEnd); !ok || off != 32 {
		t.Fatalf("PointerOffset(PacketEnd) = %d, %v", off, ok)
	}
}
