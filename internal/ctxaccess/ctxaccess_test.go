package ctxaccess

import (
	"strings"
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

func TestRewrite(t *testing.T) {
	tests := []struct {
		desc string
		src  string
		want string // the rewritten program, or the error
	}{
		{"Pointer fields become 64-bit loads of their words after the struct",
			"ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nldxw %r4, [%r1+12]\nmov %r0, 0\nexit",
			"ldxdw %r2, [%r1+24]\nldxdw %r3, [%r1+32]\nldxw %r4, [%r1+12]\nmov %r0, 0\nexit\n"},
		{"The context is followed through copies, constant offsets and stack spills",
			"mov %r6, %r1\nstxdw [%r10-8], %r6\nmov %r1, 0\nldxdw %r7, [%r10-8]\nadd %r7, 4\nldxw %r2, [%r7+0]\nexit",
			"mov %r6, %r1\nstxdw [%r10-8], %r6\nmov %r1, 0\nldxdw %r7, [%r10-8]\nadd %r7, 4\nldxdw %r2, [%r7+28]\nexit\n"},
		{"Subprograms see the context their caller passes",
			"call local +1\nexit\nldxw %r0, [%r1+8]\nexit",
			"call local +1\nexit\nldxdw %r0, [%r1+40]\nexit\n"},
		{"Loads through other pointers are left alone",
			"ldxw %r2, [%r1+0]\nldxw %r0, [%r2+0]\nexit",
			"ldxdw %r2, [%r1+24]\nldxw %r0, [%r2+0]\nexit\n"},
		{"A spill slot overwritten by a scalar no longer holds the context",
			"stxdw [%r10-8], %r1\nstdw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit",
			"stxdw [%r10-8], %r1\nstdw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit\n"},
		{"A constant or a scalar moved over the context makes a scalar",
			"mov %r6, %r1\nmov %r1, 0\nldxw %r0, [%r1+12]\nmov32 %r6, 7\nldxw %r0, [%r6+0]\nmovsx864 %r6, %r0\nldxw %r0, [%r6+0]\nexit",
			"mov %r6, %r1\nmov %r1, 0\nldxw %r0, [%r1+12]\nmov32 %r6, 7\nldxw %r0, [%r6+0]\nmovsx864 %r6, %r0\nldxw %r0, [%r6+0]\nexit\n"},
		{"A constant moved over the context on one path and loaded on the other makes a scalar",
			"jeq %r2, 0, +2\nmov %r1, 0\nja +2\nlddw %r1, 0x1000\nldxw %r0, [%r1+12]\nexit",
			"jeq %r2, 0, +2\nmov %r1, 0\nja +2\nlddw %r1, 0x1000\nldxw %r0, [%r1+12]\nexit\n"},
		{"Writing a pointer field is rejected",
			"stw [%r1+4], 0\nexit", "insn 0 (stw [%r1+4], 0): write to xdp_md pointer field data_end"},
		{"Writing a read-only scalar field is rejected",
			"stw [%r1+12], 0\nexit", "write to read-only xdp_md field ingress_ifindex"},
		{"Reading past the struct is rejected",
			"ldxw %r0, [%r1+24]\nexit", "xdp_md context access out of bounds: offset 24, size 4, struct size 24"},
		{"A narrow read of a pointer field is rejected",
			"ldxh %r0, [%r1+0]\nexit", "narrow or offset read of xdp_md pointer field data"},
		{"An access through a register that is the context on one path only is rejected",
			"jeq %r2, 0, +1\nmov %r1, %r10\nldxw %r0, [%r1+12]\nexit", "r1 is the context on some paths and another value on others"},
	}
	for _, tt := range tests {
		insns, err := asm.Assemble("t.s", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		out, err := Rewrite(insns, xdpMD)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = asm.Disassemble(out)
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.desc, got, tt.want)
		}
	}
}

func TestRawLayoutIsUntouched(t *testing.T) {
	insns := []isa.Instruction{{OpCode: 0x61, Dst: 0, Src: 1, Offset: 100}, {OpCode: isa.OpExit}}
	out, err := Rewrite(insns, &Layout{Name: "raw", Size: 8})
	if err != nil || out[0] != insns[0] {
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
