package verifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/maps"
)

var xdpContext = &ctxaccess.Layout{Name: "xdp_md", Size: 24, Fields: []ctxaccess.Field{
	{Name: "data", Offset: 0, Size: 4, Kind: ctxaccess.PacketStart},
	{Name: "data_end", Offset: 4, Size: 4, Kind: ctxaccess.PacketEnd},
	{Name: "data_meta", Offset: 8, Size: 4, Kind: ctxaccess.PacketMeta},
	{Name: "ingress_ifindex", Offset: 12, Size: 4},
	{Name: "rx_queue_index", Offset: 16, Size: 4},
	{Name: "egress_ifindex", Offset: 20, Size: 4},
}}

func linuxHelper(id int32) (api.Prototype, bool) {
	f, ok := helpers.ByID(id)
	return f.Proto, ok
}

func testConfig() *Config {
	return &Config{
		Context:        xdpContext,
		PacketWritable: true,
		Helper:         linuxHelper,
		ChangesPacket:  helpers.ChangesPacket,
		Maps: []*Map{
			{Name: "flows", Type: maps.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 16, SpinLock: -1},
			{Name: "events", Type: maps.RingBuf, MaxEntries: 4096, SpinLock: -1},
			{Name: "locked", Type: maps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1, SpinLock: 8},
			{Name: ".rodata", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, ReadOnly: true, SpinLock: -1, Data: []byte("%d\x00\x00\x00\x00\x00\x00")},
		},
	}
}

func verifyAsm(t *testing.T, src string) error {
	t.Helper()
	insns, err := asm.Assemble("test.s", []byte(src))
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	_, err = Verify(insns, testConfig())
	return err
}

// packetPrologue loads data into r2 and data_end into r3.
const packetPrologue = `
	ldxw %r2, [%r1+0]
	ldxw %r3, [%r1+4]
`

var cases = []struct {
	name   string
	src    string
	reject string // substring of the error; "" to accept
}{
	{"return constant", "mov %r0, 2\nexit", ""},
	{"uninitialized r0", "exit", "r0 is not initialized"},
	{"uninitialized register", "mov %r0, %r5\nexit", "r5 is not initialized"},
	{"return pointer", "mov %r0, %r10\nexit", "leaks a pointer"},
	{"stack spill fill", "stxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nldxw %r0, [%r0+12]\nexit", ""},
	{"stack uninitialized read", "ldxdw %r0, [%r10-8]\nexit", "uninitialized stack"},
	{"stack out of bounds", "stdw [%r10-520], 1\nmov %r0, 0\nexit", "outside the 512-byte stack"},
	{"stack above frame", "stdw [%r10+0], 1\nmov %r0, 0\nexit", "outside the 512-byte stack"},
	{"partial init", "stw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit", "uninitialized stack byte at offset -4"},
	{"packet checked", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	ldxh %r0, [%r2+12]
	exit
out:
	mov %r0, 1
	exit`, ""},
	// The packet's length as data_end - data, compared with 14: the
	// pattern of PREVAIL's correlated_branch.c, with the pointer kept in
	// a register that is NULL when the check failed.
	{"packet length difference", packetPrologue + `
	mov %r7, 0
	mov %r5, %r3
	sub %r5, %r2
	mov %r4, 14
	jsgt %r4, %r5, skip
	mov %r7, %r2
skip:
	jeq %r7, 0, out
	ldxh %r0, [%r7+12]
	exit
out:
	mov %r0, 1
	exit`, ""},
	{"packet length difference off by one", packetPrologue + `
	mov %r5, %r3
	sub %r5, %r2
	jlt %r5, 13, out
	ldxh %r0, [%r2+12]
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	{"packet length difference less an offset", packetPrologue + `
	mov %r6, %r2
	add %r6, 4
	mov %r5, %r3
	sub %r5, %r6
	jslt %r5, 10, out
	ldxw %r0, [%r2+10]
	exit
out:
	mov %r0, 1
	exit`, ""},
	{"packet length difference after a packet change", packetPrologue + `
	mov %r6, %r1
	mov %r5, %r3
	sub %r5, %r2
	stxdw [%r10-8], %r5
	mov %r1, %r6
	mov %r2, 0
	call 44
	ldxdw %r5, [%r10-8]
	ldxw %r2, [%r6+0]
	jlt %r5, 14, out
	ldxh %r0, [%r2+12]
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	// A loop over the packet's first 64 bytes after one check: the
	// pointer's variable part stays within what is proven from the start.
	{"packet loop after one check", packetPrologue + `
	mov %r4, %r2
	add %r4, 64
	jgt %r4, %r3, out
	mov %r5, 0
loop:
	mov %r4, %r2
	add %r4, %r5
	ldxb %r0, [%r4+0]
	add %r5, 1
	jne %r5, 64, loop
	exit
out:
	mov %r0, 1
	exit`, ""},
	{"packet loop one past the check", packetPrologue + `
	mov %r4, %r2
	add %r4, 64
	jgt %r4, %r3, out
	mov %r5, 0
loop:
	mov %r4, %r2
	add %r4, %r5
	ldxb %r0, [%r4+0]
	add %r5, 1
	jne %r5, 65, loop
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	// The checksum loop: p = data + 1 + i checked against data_end, and
	// p[-1] read; the variable part never exceeds a packet's length.
	{"packet byte behind a checked pointer", packetPrologue + `
	mov %r4, %r2
	add %r4, 1
	mov %r5, 0
loop:
	jgt %r4, %r3, out
	ldxb %r0, [%r4-1]
	add %r4, 1
	add %r5, 1
	jne %r5, 1500, loop
out:
	mov %r0, 1
	exit`, ""},
	{"packet two bytes behind a checked pointer", packetPrologue + `
	mov %r4, %r2
	add %r4, 1
	mov %r5, 0
loop:
	jgt %r4, %r3, out
	ldxh %r0, [%r4-2]
	add %r4, 1
	add %r5, 1
	jne %r5, 1500, loop
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	// A zero extension of a negative number is not the number.
	{"zero extension of a negative value", `
	mov %r2, -1
	lsh %r2, 32
	rsh %r2, 32
	mov %r3, %r10
	add %r3, -8
	jgt %r2, 7, out
	stb [%r3+0], 0
out:
	mov %r0, 0
	exit`, ""},
	{"zero extension keeps a small value", `
	ldxw %r2, [%r1+12]
	and %r2, 7
	lsh %r2, 32
	rsh %r2, 32
	mov %r3, %r10
	add %r3, -8
	add %r3, %r2
	stb [%r3+0], 0
	mov %r0, 0
	exit`, ""},
	{"zero extension of a wide value", `
	ldxw %r2, [%r1+12]
	add %r2, -4
	lsh %r2, 32
	rsh %r2, 32
	mov %r3, %r10
	add %r3, -8
	add %r3, %r2
	stb [%r3+0], 0
	mov %r0, 0
	exit`, "pointer arithmetic with an unbounded scalar"},
	// Regression (found by the long soundness run): a stack pointer
	// whose variable part a loop widened to the int64 minimum, then moved
	// by a constant: its access bounds overflowed, passed the stack
	// check and indexed the stack with a huge negative slot (a panic).
	{"widened stack pointer moved down", `
	stdw [%r10-8], 0
	mov %r6, %r10
	add %r6, -8
	ldxw %r7, [%r1+12]
loop:
	add %r6, -1
	add %r7, -1
	jne %r7, 0, loop
	add %r6, -8
	lddw %r1, map_idx 0
	mov %r2, %r6
	call 1
	mov %r0, 0
	exit`, "whose offset or size is not bounded"},
	{"widened stack pointer read", `
	stdw [%r10-8], 0
	mov %r6, %r10
	add %r6, -8
	ldxw %r7, [%r1+12]
loop:
	add %r6, -1
	add %r7, -1
	jne %r7, 0, loop
	ldxb %r0, [%r6-8]
	exit`, "whose offset is not bounded"},
	{"packet off by one", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	ldxh %r0, [%r2+13]
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	{"packet unchecked", packetPrologue + "ldxb %r0, [%r2+0]\nexit", "not proven inside the packet"},
	{"packet wrong branch", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	mov %r0, 0
	exit
out:
	ldxb %r0, [%r2+0]
	exit`, "not proven inside the packet"},
	{"packet variable offset", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	ldxb %r5, [%r2+0]
	and %r5, 15
	lsh %r5, 2
	add %r2, %r5
	mov %r4, %r2
	add %r4, 8
	jgt %r4, %r3, out
	ldxdw %r0, [%r2+0]
	exit
out:
	mov %r0, 1
	exit`, ""},
	{"packet variable offset unchecked", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	ldxb %r5, [%r2+0]
	and %r5, 15
	add %r2, %r5
	ldxb %r0, [%r2+0]
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	{"packet end arithmetic", packetPrologue + "add %r3, 1\nmov %r0, 0\nexit", "arithmetic on packet_end"},
	{"map lookup checked", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	jeq %r0, 0, out
	ldxdw %r0, [%r0+8]
	exit
out:
	mov %r0, 0
	exit`, ""},
	{"map lookup unchecked", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	ldxdw %r0, [%r0+8]
	exit`, "not checked for NULL"},
	{"map value overrun", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	jeq %r0, 0, out
	ldxdw %r0, [%r0+9]
	exit
out:
	mov %r0, 0
	exit`, "outside the 16-byte value"},
	{"map key uninitialized", `
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	mov %r0, 0
	exit`, "uninitialized stack byte"},
	{"map pointer is a handle", `
	lddw %r1, map_idx 0
	ldxdw %r0, [%r1+0]
	exit`, "map_ptr"},
	{"null check through copy", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	mov %r6, %r0
	jne %r0, 0, ok
	mov %r0, 0
	exit
ok:
	ldxdw %r0, [%r6+0]
	exit`, ""},
	{"spilled copy is NULL on the NULL branch", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	stxdw [%r10-16], %r0
	jne %r0, 0, ok
	ldxdw %r1, [%r10-16]
	ldxdw %r0, [%r1+0]
	exit
ok:
	mov %r0, 0
	exit`, "not a pointer"},
	{"spilled copy is checked on the other branch", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	stxdw [%r10-16], %r0
	jeq %r0, 0, out
	ldxdw %r1, [%r10-16]
	ldxdw %r0, [%r1+0]
	exit
out:
	mov %r0, 0
	exit`, ""},
	{"a check proves nothing on its failing branch", packetPrologue + `
	mov %r4, %r2
	add %r4, 1
	jgt %r4, %r3, out
	ldxb %r5, [%r2+0]
	and %r5, 15
	add %r5, %r2
	stxdw [%r10-8], %r5
	mov %r4, %r5
	add %r4, 4
	jle %r4, %r3, out
	ldxdw %r6, [%r10-8]
	ldxb %r0, [%r6+0]
	exit
out:
	mov %r0, 1
	exit`, "not proven inside the packet"},
	{"metadata checked", `
	ldxw %r2, [%r1+8]
	ldxw %r3, [%r1+0]
	mov %r4, %r2
	add %r4, 4
	jgt %r4, %r3, out
	stw [%r2+0], 1
out:
	mov %r0, 2
	exit`, ""},
	{"metadata unchecked", `
	ldxw %r2, [%r1+8]
	ldxw %r3, [%r1+0]
	mov %r4, %r2
	add %r4, 2
	jgt %r4, %r3, out
	stw [%r2+0], 1
out:
	mov %r0, 2
	exit`, "not proven before the packet"},
	{"header length from two paths", packetPrologue + `
	mov %r4, %r2
	add %r4, 14
	jgt %r4, %r3, out
	ldxb %r5, [%r2+12]
	mov %r6, 14
	jeq %r5, 129, skip
	mov %r6, 18
skip:
	mov %r7, %r6
	add %r7, 4
	mov %r8, %r2
	add %r8, %r7
	jgt %r8, %r3, out
	mov %r8, %r2
	add %r8, %r6
	ldxw %r0, [%r8+0]
	exit
out:
	mov %r0, 1
	exit`, ""},
	{"pointer stored in map", `
	stw [%r10-4], 7
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 0
	call 1
	jeq %r0, 0, out
	stxdw [%r0+0], %r10
out:
	mov %r0, 0
	exit`, "leaks a pointer"},
	{"bounded loop", `
	mov %r1, 0
	stdw [%r10-64], 0
	stdw [%r10-56], 0
	stdw [%r10-48], 0
	stdw [%r10-40], 0
	stdw [%r10-32], 0
	stdw [%r10-24], 0
	stdw [%r10-16], 0
	stdw [%r10-8], 0
loop:
	mov %r2, %r10
	add %r2, -64
	add %r2, %r1
	ldxb %r3, [%r2+0]
	add %r1, 1
	jlt %r1, 64, loop
	mov %r0, 0
	exit`, ""},
	{"loop overrun", `
	mov %r1, 0
	stdw [%r10-64], 0
	stdw [%r10-56], 0
	stdw [%r10-48], 0
	stdw [%r10-40], 0
	stdw [%r10-32], 0
	stdw [%r10-24], 0
	stdw [%r10-16], 0
	stdw [%r10-8], 0
loop:
	mov %r2, %r10
	add %r2, -64
	add %r2, %r1
	ldxb %r3, [%r2+0]
	add %r1, 1
	jle %r1, 64, loop
	mov %r0, 0
	exit`, "outside the 512-byte stack"},
	{"ringbuf submit", `
	lddw %r1, map_idx 1
	mov %r2, 8
	mov %r3, 0
	call 131
	jeq %r0, 0, out
	stdw [%r0+0], 1
	mov %r1, %r0
	mov %r2, 0
	call 132
out:
	mov %r0, 0
	exit`, ""},
	{"ringbuf leak", `
	lddw %r1, map_idx 1
	mov %r2, 8
	mov %r3, 0
	call 131
	jeq %r0, 0, out
	stdw [%r0+0], 1
out:
	mov %r0, 0
	exit`, "neither submitted nor discarded"},
	{"ringbuf double submit", `
	lddw %r1, map_idx 1
	mov %r2, 8
	mov %r3, 0
	call 131
	jeq %r0, 0, out
	mov %r6, %r0
	mov %r1, %r0
	mov %r2, 0
	call 132
	mov %r1, %r6
	mov %r2, 0
	call 132
out:
	mov %r0, 0
	exit`, "not initialized"},
	{"ringbuf record overrun", `
	lddw %r1, map_idx 1
	mov %r2, 8
	mov %r3, 0
	call 131
	jeq %r0, 0, out
	stdw [%r0+4], 1
	mov %r1, %r0
	mov %r2, 0
	call 133
out:
	mov %r0, 0
	exit`, "outside a 8-byte ring-buffer record"},
	{"spin lock", `
	stw [%r10-4], 0
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 2
	call 1
	jeq %r0, 0, out
	mov %r6, %r0
	mov %r1, %r0
	add %r1, 8
	call 93
	stdw [%r6+0], 1
	mov %r1, %r6
	add %r1, 8
	call 94
out:
	mov %r0, 0
	exit`, ""},
	{"spin lock not released", `
	stw [%r10-4], 0
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 2
	call 1
	jeq %r0, 0, out
	mov %r1, %r0
	add %r1, 8
	call 93
out:
	mov %r0, 0
	exit`, "holding the bpf_spin_lock"},
	{"spin lock word written", `
	stw [%r10-4], 0
	mov %r2, %r10
	add %r2, -4
	lddw %r1, map_idx 2
	call 1
	jeq %r0, 0, out
	stw [%r0+8], 1
out:
	mov %r0, 0
	exit`, "bpf_spin_lock"},
	{"read-only map write", `
	lddw %r1, map_idx_value 3, 0
	stb [%r1+0], 1
	mov %r0, 0
	exit`, "read-only map"},
	{"ctx field not writable", "stw [%r1+12], 1\nmov %r0, 0\nexit", "may only read"},
	{"ctx out of fields", "ldxw %r0, [%r1+24]\nexit", "not a field"},
	{"ctx variable offset", "ldxw %r2, [%r1+12]\nand %r2, 4\nadd %r1, %r2\nldxw %r0, [%r1+12]\nexit", "variable offset added to the context"},
	{"helper not allowed", "call 9999\nmov %r0, 0\nexit", "not available"},
	{"helper arg uninit", "call 6\nmov %r0, 0\nexit", "uninitialized"},
	{"division keeps bounds", `
	ldxw %r1, [%r1+12]
	mod %r1, 8
	mov %r2, %r10
	add %r2, -8
	add %r2, %r1
	stb [%r2+0], 1
	mov %r0, 0
	exit`, ""},
	{"unbounded stack index", `
	ldxw %r1, [%r1+12]
	mov %r2, %r10
	add %r2, -8
	add %r2, %r1
	stb [%r2+0], 1
	mov %r0, 0
	exit`, "unbounded scalar"},
	{"subprogram", `
	mov %r1, 5
	call local double
	exit
double:
	mov %r0, %r1
	add %r0, %r1
	exit`, ""},
	{"subprogram writes caller stack", `
	mov %r1, %r10
	add %r1, -8
	call local fill
	ldxdw %r0, [%r10-8]
	exit
fill:
	stdw [%r1+0], 3
	mov %r0, 0
	exit`, ""},
	{"recursion", `
	call local f
	exit
f:
	call local f
	mov %r0, 0
	exit`, "recursive"},
	{"returns own stack", `
	call local f
	ldxdw %r0, [%r0+0]
	exit
f:
	stdw [%r10-8], 1
	mov %r0, %r10
	add %r0, -8
	exit`, "own stack"},
	{"32-bit pointer arithmetic", "add32 %r1, 4\nmov %r0, 0\nexit", "32-bit arithmetic on a pointer"},
	{"helper memory size unbounded", `
	ldxw %r2, [%r1+12]
	mov %r1, %r10
	add %r1, -16
	stdw [%r10-16], 0
	stdw [%r10-8], 0
	call 6
	mov %r0, 0
	exit`, "may be 0"},
	{"trace_printk", `
	stdw [%r10-8], 0x6425
	mov %r1, %r10
	add %r1, -8
	mov %r2, 8
	mov %r3, 1
	call 6
	mov %r0, 0
	exit`, ""},
	{"dead code is not checked", `
	mov %r1, 1
	jeq %r1, 1, ok
	ldxdw %r0, [%r5+0]
ok:
	mov %r0, 0
	exit`, ""},
	{"linked scalar bounds", `
	ldxw %r1, [%r1+12]
	mov %r2, %r1
	jgt %r1, 7, out
	mov %r3, %r10
	add %r3, -8
	add %r3, %r2
	stb [%r3+0], 1
out:
	mov %r0, 0
	exit`, ""},
	{"spilled scalar bounds", `
	ldxw %r1, [%r1+12]
	stxdw [%r10-16], %r1
	jgt %r1, 7, out
	ldxdw %r2, [%r10-16]
	mov %r3, %r10
	add %r3, -8
	add %r3, %r2
	stb [%r3+0], 1
out:
	mov %r0, 0
	exit`, ""},
}

func TestVerify(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyAsm(t, tc.src)
			switch {
			case tc.reject == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.reject != "" && err == nil:
				t.Fatalf("accepted; want a rejection with %q", tc.reject)
			case tc.reject != "" && !strings.Contains(err.Error(), tc.reject):
				t.Fatalf("rejected with %v; want %q", err, tc.reject)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error is %T, not *Error", err)
				}
			}
		})
	}
}

// TestLower checks that lowering a verified program rewrites its context
// accesses as the loader's own analysis does, and resolves map references.
func TestLower(t *testing.T) {
	src := packetPrologue + `
	mov %r6, %r1
	ldxw %r4, [%r6+12]
	stxdw [%r10-8], %r6
	ldxdw %r7, [%r10-8]
	ldxw %r5, [%r7+16]
	lddw %r1, map_idx 0
	mov %r0, 2
	exit`
	insns, err := asm.Assemble("lower.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Verify(insns, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	lp, err := p.Lower(func(i int, ins isa.Instruction) (uint64, error) { return 0x1000 + uint64(ins.Constant), nil }, xdpContext)
	if err != nil {
		t.Fatal(err)
	}
	// The permissive analysis, which rewrites unverified programs,
	// rewrites the same accesses.
	facts, err := Analyze(insns, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	want, err := facts.RewriteContext(insns, xdpContext)
	if err != nil {
		t.Fatal(err)
	}
	got := lp.Instructions()
	for i := range want {
		if want[i].IsLDDW() && want[i].Src == isa.PseudoMapIndex {
			if got[i].Src != isa.PseudoImm64 || got[i].Constant != 0x1000 {
				t.Errorf("insn %d: %v, want the resolved map address", i, got[i])
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("insn %d: %v, want %v", i, got[i], want[i])
		}
	}
	if len(p.ContextAccesses()) != 4 {
		t.Errorf("context accesses %v, want 4", p.ContextAccesses())
	}
	if _, err := lp.Lower(nil, nil); err == nil {
		t.Error("lowered twice")
	}
}

// TestLoopHeadConverges is a regression test: a loop whose counter lives
// on the stack (a volatile C counter) kept a linked scalar whose proven
// range shrank by one byte per iteration, so the loop head never stopped
// changing and the analysis ran into its step limit after 40 s. The loop
// must converge in a few iterations, not in its trip count.
func TestLoopHeadConverges(t *testing.T) {
	insns, err := asm.Assemble("volatile.s", []byte(`
	mov %r1, 0
	stxw [%r10-4], %r1
	ldxw %r1, [%r10-4]
	jgt %r1, 5999, out
	mov %r1, 6000
loop:
	ldxw %r2, [%r10-4]
	add %r2, 1
	stxw [%r10-4], %r2
	ldxw %r2, [%r10-4]
	jgt %r1, %r2, loop
out:
	mov %r0, 0
	exit`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxSteps = 100_000
	p, err := Verify(insns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if steps := p.Stats().Steps; steps > 200 {
		t.Errorf("%d instructions processed for a 12-instruction loop, want a few iterations' worth", steps)
	}
}

// TestReturnRange checks the return values a program type allows.
func TestReturnRange(t *testing.T) {
	tests := []struct {
		src    string
		reject bool
	}{
		{"mov %r0, 2\nexit", false},
		{"mov %r0, 3\nexit", true},
		{"ldxw %r0, [%r1+12]\nexit", true},
		{"ldxw %r0, [%r1+12]\nand %r0, 1\nexit", false},
		{"ldxw %r0, [%r1+12]\njgt %r0, 2, +1\nexit\nmov %r0, 0\nexit", false},
		{"mov %r0, -1\nexit", true},
		{"lddw %r0, 0x100000001\nexit", false}, // the low 32 bits are 1
	}
	for _, tt := range tests {
		insns, err := asm.Assemble("t.s", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.Returns = &[2]uint32{0, 2}
		_, err = Verify(insns, cfg)
		if (err != nil) != tt.reject || err != nil && !strings.Contains(err.Error(), "outside [0, 2]") {
			t.Errorf("%q: %v, want rejected %v", tt.src, err, tt.reject)
		}
	}
}

// TestNullErrorNamesTheLookup checks that a missing NULL check names the
// map and the lookup's source line, as a user reads them.
func TestNullErrorNamesTheLookup(t *testing.T) {
	insns, err := asm.Assemble("t.s", []byte(`
	stw [%r10-4], 0
	lddw %r1, map_idx 0
	mov %r2, %r10
	add %r2, -4
	call 1
	ldxdw %r0, [%r0+0]
	exit`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.LineInfo = func(pc int) (Line, bool) { return Line{File: "flows.c", Line: 40 + pc}, true }
	_, err = Verify(insns, cfg)
	want := `pc 6: ldxdw %r0, [%r0+0]: r0 is map_value_or_null of map "flows": the lookup at flows.c:45 (pc 5) is not checked for NULL`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
