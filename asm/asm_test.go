package asm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// golden pairs canonical assembly text with its encoding. The text is what
// isa.Instruction.String prints, so each row is checked in both directions.
var golden = []struct {
	text string
	raw  []byte
}{
	// ALU64, immediate source.
	{"add %r1, 22", []byte{0x07, 0x01, 0, 0, 0x16, 0, 0, 0}},
	{"sub %r2, -1", []byte{0x17, 0x02, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	{"mul %r3, 256", []byte{0x27, 0x03, 0, 0, 0x00, 0x01, 0, 0}},
	{"div %r4, 7", []byte{0x37, 0x04, 0, 0, 0x07, 0, 0, 0}},
	{"sdiv %r4, -7", []byte{0x37, 0x04, 0x01, 0, 0xf9, 0xff, 0xff, 0xff}},
	{"or %r5, 1", []byte{0x47, 0x05, 0, 0, 0x01, 0, 0, 0}},
	{"and %r6, 255", []byte{0x57, 0x06, 0, 0, 0xff, 0, 0, 0}},
	{"lsh %r7, 63", []byte{0x67, 0x07, 0, 0, 0x3f, 0, 0, 0}},
	{"rsh %r8, 1", []byte{0x77, 0x08, 0, 0, 0x01, 0, 0, 0}},
	{"neg %r9", []byte{0x87, 0x09, 0, 0, 0, 0, 0, 0}},
	{"mod %r0, 10", []byte{0x97, 0x00, 0, 0, 0x0a, 0, 0, 0}},
	{"smod %r0, 10", []byte{0x97, 0x00, 0x01, 0, 0x0a, 0, 0, 0}},
	{"xor %r1, 2147483647", []byte{0xa7, 0x01, 0, 0, 0xff, 0xff, 0xff, 0x7f}},
	{"mov %r0, -2147483648", []byte{0xb7, 0x00, 0, 0, 0, 0, 0, 0x80}},
	{"arsh %r2, 3", []byte{0xc7, 0x02, 0, 0, 0x03, 0, 0, 0}},
	{"swap16 %r3", []byte{0xd7, 0x03, 0, 0, 0x10, 0, 0, 0}},
	{"swap32 %r3", []byte{0xd7, 0x03, 0, 0, 0x20, 0, 0, 0}},
	{"swap64 %r3", []byte{0xd7, 0x03, 0, 0, 0x40, 0, 0, 0}},
	// ALU64, register source.
	{"add %r1, %r2", []byte{0x0f, 0x21, 0, 0, 0, 0, 0, 0}},
	{"sub %r9, %r10", []byte{0x1f, 0xa9, 0, 0, 0, 0, 0, 0}},
	{"mul %r0, %r0", []byte{0x2f, 0x00, 0, 0, 0, 0, 0, 0}},
	{"div %r1, %r3", []byte{0x3f, 0x31, 0, 0, 0, 0, 0, 0}},
	{"sdiv %r1, %r3", []byte{0x3f, 0x31, 0x01, 0, 0, 0, 0, 0}},
	{"or %r2, %r4", []byte{0x4f, 0x42, 0, 0, 0, 0, 0, 0}},
	{"and %r2, %r4", []byte{0x5f, 0x42, 0, 0, 0, 0, 0, 0}},
	{"lsh %r2, %r4", []byte{0x6f, 0x42, 0, 0, 0, 0, 0, 0}},
	{"rsh %r2, %r4", []byte{0x7f, 0x42, 0, 0, 0, 0, 0, 0}},
	{"mod %r2, %r4", []byte{0x9f, 0x42, 0, 0, 0, 0, 0, 0}},
	{"smod %r2, %r4", []byte{0x9f, 0x42, 0x01, 0, 0, 0, 0, 0}},
	{"xor %r2, %r4", []byte{0xaf, 0x42, 0, 0, 0, 0, 0, 0}},
	{"mov %r6, %r10", []byte{0xbf, 0xa6, 0, 0, 0, 0, 0, 0}},
	{"arsh %r2, %r4", []byte{0xcf, 0x42, 0, 0, 0, 0, 0, 0}},
	{"movsx864 %r1, %r2", []byte{0xbf, 0x21, 0x08, 0, 0, 0, 0, 0}},
	{"movsx1664 %r1, %r2", []byte{0xbf, 0x21, 0x10, 0, 0, 0, 0, 0}},
	{"movsx3264 %r1, %r2", []byte{0xbf, 0x21, 0x20, 0, 0, 0, 0, 0}},
	// ALU32.
	{"add32 %r0, -3", []byte{0x04, 0x00, 0, 0, 0xfd, 0xff, 0xff, 0xff}},
	{"sub32 %r0, %r1", []byte{0x1c, 0x10, 0, 0, 0, 0, 0, 0}},
	{"mul32 %r0, 3", []byte{0x24, 0x00, 0, 0, 0x03, 0, 0, 0}},
	{"div32 %r0, %r1", []byte{0x3c, 0x10, 0, 0, 0, 0, 0, 0}},
	{"sdiv32 %r0, 3", []byte{0x34, 0x00, 0x01, 0, 0x03, 0, 0, 0}},
	{"or32 %r0, 3", []byte{0x44, 0x00, 0, 0, 0x03, 0, 0, 0}},
	{"and32 %r0, %r1", []byte{0x5c, 0x10, 0, 0, 0, 0, 0, 0}},
	{"lsh32 %r0, 31", []byte{0x64, 0x00, 0, 0, 0x1f, 0, 0, 0}},
	{"rsh32 %r0, %r1", []byte{0x7c, 0x10, 0, 0, 0, 0, 0, 0}},
	{"neg32 %r5", []byte{0x84, 0x05, 0, 0, 0, 0, 0, 0}},
	{"mod32 %r0, 3", []byte{0x94, 0x00, 0, 0, 0x03, 0, 0, 0}},
	{"smod32 %r0, %r1", []byte{0x9c, 0x10, 0x01, 0, 0, 0, 0, 0}},
	{"xor32 %r0, %r1", []byte{0xac, 0x10, 0, 0, 0, 0, 0, 0}},
	{"mov32 %r0, 1", []byte{0xb4, 0x00, 0, 0, 0x01, 0, 0, 0}},
	{"mov32 %r0, %r1", []byte{0xbc, 0x10, 0, 0, 0, 0, 0, 0}},
	{"arsh32 %r0, 5", []byte{0xc4, 0x00, 0, 0, 0x05, 0, 0, 0}},
	{"movsx832 %r0, %r1", []byte{0xbc, 0x10, 0x08, 0, 0, 0, 0, 0}},
	{"movsx1632 %r0, %r1", []byte{0xbc, 0x10, 0x10, 0, 0, 0, 0, 0}},
	{"le16 %r1", []byte{0xd4, 0x01, 0, 0, 0x10, 0, 0, 0}},
	{"le32 %r1", []byte{0xd4, 0x01, 0, 0, 0x20, 0, 0, 0}},
	{"le64 %r1", []byte{0xd4, 0x01, 0, 0, 0x40, 0, 0, 0}},
	{"be16 %r1", []byte{0xdc, 0x01, 0, 0, 0x10, 0, 0, 0}},
	{"be32 %r1", []byte{0xdc, 0x01, 0, 0, 0x20, 0, 0, 0}},
	{"be64 %r1", []byte{0xdc, 0x01, 0, 0, 0x40, 0, 0, 0}},
	// Jumps.
	{"ja +3", []byte{0x05, 0x00, 0x03, 0, 0, 0, 0, 0}},
	{"ja -2", []byte{0x05, 0x00, 0xfe, 0xff, 0, 0, 0, 0}},
	{"ja32 +65536", []byte{0x06, 0x00, 0, 0, 0x00, 0x00, 0x01, 0x00}},
	{"ja32 -1", []byte{0x06, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	{"jeq %r1, 5, +1", []byte{0x15, 0x01, 0x01, 0, 0x05, 0, 0, 0}},
	{"jeq %r1, %r2, -1", []byte{0x1d, 0x21, 0xff, 0xff, 0, 0, 0, 0}},
	{"jgt %r1, 5, +32767", []byte{0x25, 0x01, 0xff, 0x7f, 0x05, 0, 0, 0}},
	{"jgt %r1, %r10, -32768", []byte{0x2d, 0xa1, 0x00, 0x80, 0, 0, 0, 0}},
	{"jge %r1, 5, +0", []byte{0x35, 0x01, 0, 0, 0x05, 0, 0, 0}},
	{"jge %r1, %r2, +0", []byte{0x3d, 0x21, 0, 0, 0, 0, 0, 0}},
	{"jset %r1, 8, +2", []byte{0x45, 0x01, 0x02, 0, 0x08, 0, 0, 0}},
	{"jset %r1, %r2, +2", []byte{0x4d, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jne %r10, -8, +2", []byte{0x55, 0x0a, 0x02, 0, 0xf8, 0xff, 0xff, 0xff}},
	{"jne %r1, %r2, +2", []byte{0x5d, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jsgt %r1, -1, +2", []byte{0x65, 0x01, 0x02, 0, 0xff, 0xff, 0xff, 0xff}},
	{"jsgt %r1, %r2, +2", []byte{0x6d, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jsge %r1, 1, +2", []byte{0x75, 0x01, 0x02, 0, 0x01, 0, 0, 0}},
	{"jsge %r1, %r2, +2", []byte{0x7d, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jlt %r1, 1, +2", []byte{0xa5, 0x01, 0x02, 0, 0x01, 0, 0, 0}},
	{"jlt %r1, %r2, +2", []byte{0xad, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jle %r1, 1, +2", []byte{0xb5, 0x01, 0x02, 0, 0x01, 0, 0, 0}},
	{"jle %r1, %r2, +2", []byte{0xbd, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jslt %r1, 1, +2", []byte{0xc5, 0x01, 0x02, 0, 0x01, 0, 0, 0}},
	{"jslt %r1, %r2, +2", []byte{0xcd, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jsle %r1, 1, +2", []byte{0xd5, 0x01, 0x02, 0, 0x01, 0, 0, 0}},
	{"jsle %r1, %r2, +2", []byte{0xdd, 0x21, 0x02, 0, 0, 0, 0, 0}},
	{"jeq32 %r1, 5, +1", []byte{0x16, 0x01, 0x01, 0, 0x05, 0, 0, 0}},
	{"jne32 %r1, %r2, +3", []byte{0x5e, 0x21, 0x03, 0, 0, 0, 0, 0}},
	{"jsle32 %r1, -5, -4", []byte{0xd6, 0x01, 0xfc, 0xff, 0xfb, 0xff, 0xff, 0xff}},
	{"jset32 %r1, %r2, +1", []byte{0x4e, 0x21, 0x01, 0, 0, 0, 0, 0}},
	// Calls and exit.
	{"call 5", []byte{0x85, 0x00, 0, 0, 0x05, 0, 0, 0}},
	{"call -1", []byte{0x85, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	{"call local +4", []byte{0x85, 0x10, 0, 0, 0x04, 0, 0, 0}},
	{"call local -7", []byte{0x85, 0x10, 0, 0, 0xf9, 0xff, 0xff, 0xff}},
	{"call btf 1234", []byte{0x85, 0x20, 0, 0, 0xd2, 0x04, 0, 0}},
	{"call %r2", []byte{0x8d, 0x02, 0, 0, 0, 0, 0, 0}},
	{"callx %r9", []byte{0x8d, 0x00, 0, 0, 0x09, 0, 0, 0}},
	{"exit", []byte{0x95, 0x00, 0, 0, 0, 0, 0, 0}},
	// 64-bit immediate loads.
	{"lddw %r0, 0x1122334455667788", []byte{0x18, 0x00, 0, 0, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11}},
	{"lddw %r9, 0xffffffffffffffff", []byte{0x18, 0x09, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	{"lddw %r1, 0x0", []byte{0x18, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"lddw %r1, map_fd 5", []byte{0x18, 0x11, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"lddw %r1, map_value 5, 16", []byte{0x18, 0x21, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}},
	{"lddw %r2, var 7", []byte{0x18, 0x32, 0, 0, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"lddw %r3, code +2", []byte{0x18, 0x43, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"lddw %r3, code -3, 1", []byte{0x18, 0x43, 0, 0, 0xfd, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x01, 0, 0, 0}},
	{"lddw %r4, map_idx 0", []byte{0x18, 0x54, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"lddw %r4, map_idx_value 1, -1", []byte{0x18, 0x64, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	// Legacy packet loads.
	{"ldabsw 12", []byte{0x20, 0x00, 0, 0, 0x0c, 0, 0, 0}},
	{"ldabsh -4", []byte{0x28, 0x00, 0, 0, 0xfc, 0xff, 0xff, 0xff}},
	{"ldabsb 0", []byte{0x30, 0x00, 0, 0, 0, 0, 0, 0}},
	{"ldindw %r1, 4", []byte{0x40, 0x10, 0, 0, 0x04, 0, 0, 0}},
	{"ldindh %r10, 4", []byte{0x48, 0xa0, 0, 0, 0x04, 0, 0, 0}},
	{"ldindb %r6, -1", []byte{0x50, 0x60, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	// Loads.
	{"ldxw %r0, [%r1+4]", []byte{0x61, 0x10, 0x04, 0, 0, 0, 0, 0}},
	{"ldxh %r0, [%r10-2]", []byte{0x69, 0xa0, 0xfe, 0xff, 0, 0, 0, 0}},
	{"ldxb %r0, [%r1+0]", []byte{0x71, 0x10, 0, 0, 0, 0, 0, 0}},
	{"ldxdw %r9, [%r10-32768]", []byte{0x79, 0xa9, 0x00, 0x80, 0, 0, 0, 0}},
	{"ldxsw %r0, [%r1+32767]", []byte{0x81, 0x10, 0xff, 0x7f, 0, 0, 0, 0}},
	{"ldxsh %r0, [%r10-2]", []byte{0x89, 0xa0, 0xfe, 0xff, 0, 0, 0, 0}},
	{"ldxsb %r0, [%r10-1]", []byte{0x91, 0xa0, 0xff, 0xff, 0, 0, 0, 0}},
	// Stores.
	{"stw [%r1+2], 5", []byte{0x62, 0x01, 0x02, 0, 0x05, 0, 0, 0}},
	{"sth [%r10-8], -1", []byte{0x6a, 0x0a, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff}},
	{"stb [%r1+0], 255", []byte{0x72, 0x01, 0, 0, 0xff, 0, 0, 0}},
	{"stdw [%r10-16], 1", []byte{0x7a, 0x0a, 0xf0, 0xff, 0x01, 0, 0, 0}},
	{"stxw [%r1+4], %r2", []byte{0x63, 0x21, 0x04, 0, 0, 0, 0, 0}},
	{"stxh [%r1+4], %r2", []byte{0x6b, 0x21, 0x04, 0, 0, 0, 0, 0}},
	{"stxb [%r1+4], %r10", []byte{0x73, 0xa1, 0x04, 0, 0, 0, 0, 0}},
	{"stxdw [%r10-8], %r1", []byte{0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0}},
	// Atomics.
	{"lock add [%r10-8], %r1", []byte{0xdb, 0x1a, 0xf8, 0xff, 0x00, 0, 0, 0}},
	{"lock add32 [%r10-4], %r1", []byte{0xc3, 0x1a, 0xfc, 0xff, 0x00, 0, 0, 0}},
	{"lock fetch add [%r10-8], %r1", []byte{0xdb, 0x1a, 0xf8, 0xff, 0x01, 0, 0, 0}},
	{"lock fetch add32 [%r10-8], %r1", []byte{0xc3, 0x1a, 0xf8, 0xff, 0x01, 0, 0, 0}},
	{"lock or [%r1+0], %r2", []byte{0xdb, 0x21, 0, 0, 0x40, 0, 0, 0}},
	{"lock fetch or32 [%r1+0], %r2", []byte{0xc3, 0x21, 0, 0, 0x41, 0, 0, 0}},
	{"lock and [%r1+0], %r2", []byte{0xdb, 0x21, 0, 0, 0x50, 0, 0, 0}},
	{"lock fetch and32 [%r1+0], %r2", []byte{0xc3, 0x21, 0, 0, 0x51, 0, 0, 0}},
	{"lock xor32 [%r1+0], %r2", []byte{0xc3, 0x21, 0, 0, 0xa0, 0, 0, 0}},
	{"lock fetch xor [%r1+0], %r2", []byte{0xdb, 0x21, 0, 0, 0xa1, 0, 0, 0}},
	{"lock xchg [%r10-8], %r1", []byte{0xdb, 0x1a, 0xf8, 0xff, 0xe1, 0, 0, 0}},
	{"lock xchg32 [%r10-8], %r1", []byte{0xc3, 0x1a, 0xf8, 0xff, 0xe1, 0, 0, 0}},
	{"lock cmpxchg [%r10-8], %r1", []byte{0xdb, 0x1a, 0xf8, 0xff, 0xf1, 0, 0, 0}},
	{"lock cmpxchg32 [%r10-8], %r1", []byte{0xc3, 0x1a, 0xf8, 0xff, 0xf1, 0, 0, 0}},
}

// decodeOne turns the bytes of one instruction into an Instruction without
// the program-level checks of isa.Decode (a lone jump has no target).
func decodeOne(t *testing.T, raw []byte) isa.Instruction {
	t.Helper()
	op, dst, src, off, imm := isa.DecodeSlot(raw)
	ins := isa.Instruction{OpCode: op, Dst: dst, Src: src, Offset: off, Constant: int64(imm)}
	if op == isa.OpLDDW {
		if len(raw) != 16 {
			t.Fatalf("lddw needs 16 bytes, have %d", len(raw))
		}
		ins.Constant = int64(uint64(uint32(imm)) | uint64(binary.LittleEndian.Uint32(raw[12:]))<<32)
	} else if len(raw) != 8 {
		t.Fatalf("want 8 bytes, have %d", len(raw))
	}
	return ins
}

func TestGolden(t *testing.T) {
	for _, tt := range golden {
		t.Run(tt.text, func(t *testing.T) {
			insns, err := Assemble("golden.s", []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := isa.Encode(nil, insns); !bytes.Equal(got, tt.raw) {
				t.Errorf("Assemble(%q) = % x, want % x", tt.text, got, tt.raw)
			}
			ins := decodeOne(t, tt.raw)
			if err := ins.Validate(); err != nil {
				t.Fatalf("golden bytes invalid: %v", err)
			}
			if got := ins.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
		})
	}
}

// TestAlternateSyntax covers input spellings that String never prints.
func TestAlternateSyntax(t *testing.T) {
	tests := []struct{ in, canon string }{
		{"mov %r1, 0xffffffff", "mov %r1, -1"},
		{"mov %r1, 0x80000000", "mov %r1, -2147483648"},
		{"mov %r1, 4294967295", "mov %r1, -1"},
		{"mov %r1, -0x10", "mov %r1, -16"},
		{"mov %r1, +7", "mov %r1, 7"},
		{"add32 %r1, 0X1f", "add32 %r1, 31"},
		{"ldxw %r0, [%r1]", "ldxw %r0, [%r1+0]"},
		{"ldxw %r0, [ %r1 + 0x10 ]", "ldxw %r0, [%r1+16]"},
		{"stw [%r1-0], 5", "stw [%r1+0], 5"},
		{"bswap16 %r0", "swap16 %r0"},
		{"bswap64 %r0", "swap64 %r0"},
		{"call helper 5", "call 5"},
		{"call runtime 7", "call btf 7"},
		{"callx %r0", "call %r0"},
		{"lddw %r0, -1", "lddw %r0, 0xffffffffffffffff"},
		{"lddw %r0, 18446744073709551615", "lddw %r0, 0xffffffffffffffff"},
		{"lddw %r0, -9223372036854775808", "lddw %r0, 0x8000000000000000"},
		{"lddw %r1, map_fd 0xffffffff", "lddw %r1, map_fd -1"},
		{"lddw %r1, map_value 5, 0", "lddw %r1, map_value 5"},
		{"lock fetch xchg [%r1+0], %r2", "lock xchg [%r1+0], %r2"},
		{"ja 3", "ja +3"},
		{"ja +0x10", "ja +16"},
		{"\tjeq\t%r1,5,+1   # trailing comment", "jeq %r1, 5, +1"},
		{"  exit  ", "exit"},
		{"exit\r", "exit"},
	}
	for _, tt := range tests {
		insns, err := Assemble("alt.s", []byte(tt.in))
		if err != nil {
			t.Errorf("Assemble(%q): %v", tt.in, err)
			continue
		}
		if got := strings.TrimSuffix(Disassemble(insns), "\n"); got != tt.canon {
			t.Errorf("Assemble(%q) disassembles to %q, want %q", tt.in, got, tt.canon)
		}
	}
}

func TestLabels(t *testing.T) {
	src := `
# a comment line
start:
	mov %r0, 0          # r0 = 0
	lddw %r1, 0x100000000
	jeq %r0, 1, done
loop:
	add %r0, 1
	call local func
	lddw %r2, code func
	jne32 %r0, 10, loop
	ja32 done
	ja start
done: exit
func:
	exit
`
	insns, err := Assemble("labels.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := `mov %r0, 0
lddw %r1, 0x100000000
jeq %r0, 1, +7
add %r0, 1
call local +6
lddw %r2, code +5
jne32 %r0, 10, -5
ja32 +1
ja -11
exit
exit
`
	if got := Disassemble(insns); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := isa.CheckProgram(insns); err != nil {
		t.Errorf("assembled program fails CheckProgram: %v", err)
	}
}

// TestImplicitExitLabel checks the bpf_conformance convention that "exit"
// names the first exit instruction when no label of that name exists.
func TestImplicitExitLabel(t *testing.T) {
	insns, err := Assemble("exit.s", []byte("ja exit\nmov %r0, 1\nexit\nexit\n"))
	if err != nil {
		t.Fatal(err)
	}
	if insns[0].Offset != 1 {
		t.Errorf("ja exit: offset %d, want 1", insns[0].Offset)
	}
	insns, err = Assemble("exit.s", []byte("ja exit\nexit\nexit:\nexit\n"))
	if err != nil {
		t.Fatal(err)
	}
	if insns[0].Offset != 1 {
		t.Errorf("explicit exit label: offset %d, want 1", insns[0].Offset)
	}
}

func TestListing(t *testing.T) {
	insns, err := Assemble("l.s", []byte("lddw %r0, 1\njeq %r0, 1, +1\nexit\nexit\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "   0: lddw %r0, 0x1\n   2: jeq %r0, 1, +1\n   3: exit\n   4: exit\n"
	got := Listing(insns)
	if got != want {
		t.Fatalf("Listing:\n%s\nwant\n%s", got, want)
	}
	again, err := Assemble("listing.s", []byte(got))
	if err != nil {
		t.Fatalf("listing does not re-assemble: %v", err)
	}
	if !bytes.Equal(isa.Encode(nil, again), isa.Encode(nil, insns)) {
		t.Errorf("listing re-assembles to different bytes")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"mov %r0, 1\nexit\nmovv %r0, 1", `prog.s:3: unknown mnemonic "movv"`},
		{"mov %r0, 1\n\n\n\nja foo\nexit", `prog.s:5: undefined label "foo"`},
		{"exit\nldxw %r0, [%r1+]", `prog.s:2: ldxw: bad memory operand "[%r1+]"`},
		{"ldxw %r0, [%r1", `prog.s:1: ldxw: bad memory operand "[%r1"`},
		{"ldxw %r0, %r1", `prog.s:1: ldxw: bad memory operand "%r1"`},
		{"ldxw %r0, [%r1+-2]", `prog.s:1: ldxw: bad memory operand "[%r1+-2]"`},
		{"ldxw %r0, [%r1+2+3]", `prog.s:1: ldxw: bad memory operand "[%r1+2+3]"`},
		{"ldxw %r0, [%r1+32768]", `prog.s:1: ldxw: memory offset +32768 beyond int16 range`},
		{"ldxw %r0, [5]", `prog.s:1: ldxw: bad register "5"`},
		{"mov %r11, 1", `prog.s:1: mov: register %r11 out of range (%r0 to %r10)`},
		{"mov %r1, %r99", `prog.s:1: mov: register %r99 out of range (%r0 to %r10)`},
		{"mov %rx, 1", `prog.s:1: mov: bad register "%rx"`},
		{"mov %r-1, 1", `prog.s:1: mov: bad register "%r-1"`},
		{"mov %r1, 0x100000000", `prog.s:1: mov: immediate 0x100000000 out of 32-bit range`},
		{"mov %r1, -2147483649", `prog.s:1: mov: immediate -2147483649 out of 32-bit range`},
		{"lddw %r1, 0x10000000000000000", `prog.s:1: lddw: bad number "0x10000000000000000"`},
		{"mov %r1, 1x", `prog.s:1: mov: bad number "1x"`},
		{"mov %r1, --1", `prog.s:1: mov: bad number "--1"`},
		{"mov %r1", `prog.s:1: mov: want 2 operands, have 1`},
		{"mov %r1, 1, 2", `prog.s:1: mov: want 2 operands, have 3`},
		{"mov %r1,", `prog.s:1: mov: empty operand 2`},
		{"exit %r0", `prog.s:1: exit: want 0 operands, have 1`},
		{"a:\nexit\na:\nexit", `prog.s:3: duplicate label "a" (first defined on line 1)`},
		{"bad-label:\nexit", `prog.s:1: bad label "bad-label"`},
		{":\nexit", `prog.s:1: bad label ""`},
		{"ja +32768\nexit", `prog.s:1: ja: jump offset +32768 beyond int16 range`},
		{"ja -32769\nexit", `prog.s:1: ja: jump offset -32769 beyond int16 range`},
		{"ja32 +2147483648\nexit", `prog.s:1: ja32: jump offset +2147483648 beyond int32 range`},
		{"ja far\n" + strings.Repeat("mov %r0, 0\n", 32768) + "far:\nexit", `prog.s:1: jump offset 32768 to label "far" beyond int16 range`},
		{"ja %r1", `prog.s:1: ja: bad jump target "%r1"`},
		{"ja +x", `prog.s:1: ja: bad jump target "+x"`},
		{"mov %r10, 1", `prog.s:1: mov: write to read-only frame pointer r10`},
		{"ldxw %r10, [%r1+0]", `prog.s:1: ldxw: write to read-only frame pointer r10`},
		{"movsx3232 %r1, %r2", `prog.s:1: unknown mnemonic "movsx3232"`},
		{"call local", `prog.s:1: call: bad number "local"`},
		{"call foo 5", `prog.s:1: call: unknown call kind "foo" (want helper, local, btf or runtime)`},
		{"call", `prog.s:1: call: want 1 operand`},
		{"call 1, 2", `prog.s:1: call: want 1 operand`},
		{"callx 5", `prog.s:1: callx: bad register "5"`},
		{"callx %r10", `prog.s:1: callx: reserved field is not zero`},
		{"lddw %r1, map_fd", `prog.s:1: lddw: bad number "map_fd"`},
		{"lddw %r1, maps 1", `prog.s:1: lddw: unknown lddw kind "maps"`},
		{"lddw %r1, 1, 2", `prog.s:1: lddw: want 2 operands for a plain 64-bit immediate, have 3`},
		{"lddw %r1, map_value 1, 0x100000000", `prog.s:1: lddw: immediate 0x100000000 out of 32-bit range`},
		{"lock", `prog.s:1: lock: want ` + "`lock [fetch] op [%reg+off], %reg`"},
		{"lock sub [%r1+0], %r2", `prog.s:1: lock: unknown atomic operation "sub"`},
		{"lock add [%r1+0], 5", `prog.s:1: lock: bad register "5"`},
		{"", `prog.s:1: no instructions`},
		{"# only a comment\n\n", `prog.s:1: no instructions`},
	}
	for _, tt := range tests {
		insns, err := Assemble("prog.s", []byte(tt.src))
		if err == nil {
			t.Errorf("Assemble(%q) = %v, want error %q", tt.src, insns, tt.want)
			continue
		}
		if insns != nil {
			t.Errorf("Assemble(%q) returned instructions with an error", tt.src)
		}
		if err.Error() != tt.want {
			t.Errorf("Assemble(%q) error\n got %q\nwant %q", tt.src, err, tt.want)
		}
		var ae *Error
		if !errors.As(err, &ae) {
			t.Errorf("Assemble(%q) error %T is not *asm.Error", tt.src, err)
		}
	}
}

func TestErrorUnwrapsReason(t *testing.T) {
	_, err := Assemble("r10.s", []byte("exit\nmov %r10, 1\n"))
	if !errors.Is(err, isa.ErrFramePointerWrite) {
		t.Fatalf("error %v does not wrap isa.ErrFramePointerWrite", err)
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Line != 2 || ae.File != "r10.s" {
		t.Fatalf("error %#v, want line 2 of r10.s", err)
	}
}
