package xebpf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
)

func TestContextFromJSON(t *testing.T) {
	le := func(vals ...any) []byte {
		var b []byte
		for _, v := range vals {
			b, _ = binary.Append(b, binary.NativeEndian, v)
		}
		return b
	}
	x86 := xebpf.KprobeKind(xebpf.ArchX86_64)
	arm := xebpf.KprobeKind(xebpf.ArchARM64)
	xdp := xebpf.KindOf(xebpf.XDP)
	skb := xebpf.KindOf(xebpf.SchedCLS)
	raw := xebpf.KindOf(xebpf.RawTracepoint)
	tests := []struct {
		name string
		kind *xebpf.ProgramKind
		js   string
		off  int    // where want starts
		want []byte // the bytes there
	}{
		{"pt_regs di si", x86, `{"di": 1, "si": 2}`, 104, le(uint64(2), uint64(1))},
		{"hex and negative", x86, `{"ax": "0xdeadbeef", "cx": -1}`, 80, le(uint64(0xdeadbeef), ^uint64(0))},
		{"full 64 bits", x86, `{"ip": 18446744073709551615}`, 128, le(^uint64(0))},
		{"arm64 regs array", arm, `{"regs": [1, 2, 3], "pc": 9}`, 0, le(uint64(1), uint64(2), uint64(3))},
		{"arm64 element by name", arm, `{"regs[30]": 7}`, 240, le(uint64(7))},
		{"arm64 s32", arm, `{"syscallno": -2}`, 280, le(int32(-2))},
		{"raw tracepoint args", raw, `{"args": [5, 6]}`, 0, le(uint64(5), uint64(6), uint64(0))},
		{"xdp_md", xdp, `{"ingress_ifindex": 3, "rx_queue_index": 1}`, 12, le(uint32(3), uint32(1))},
		{"__sk_buff cb", skb, `{"cb": [1, 2, 3, 4, 5], "mark": 7}`, 48, le(uint32(1), uint32(2), uint32(3), uint32(4), uint32(5))},
		{"__sk_buff ipv6 bytes", skb, `{"remote_ip6": [254, 128, 0, 1]}`, 100, []byte{254, 128, 0, 1, 0}},
		{"__sk_buff ipv6 string", skb, `{"local_ip6": "ab"}`, 116, []byte("ab\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.kind.ContextFromJSON([]byte(tt.js))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tt.kind.Context.Size {
				t.Errorf("%d bytes, want %d", len(b), tt.kind.Context.Size)
			}
			if got := b[tt.off : tt.off+len(tt.want)]; !bytes.Equal(got, tt.want) {
				t.Errorf("bytes at %d: % x, want % x", tt.off, got, tt.want)
			}
			// Nothing else is set.
			rest := append(append([]byte(nil), b[:tt.off]...), b[tt.off+len(tt.want):]...)
			nonzero := 0
			for _, c := range rest {
				if c != 0 {
					nonzero++
				}
			}
			if want := strings.Count(tt.js, ":") - 1; nonzero > 8*want {
				t.Errorf("%d other bytes set: % x", nonzero, b)
			}
		})
	}
}

func TestContextFromJSONErrors(t *testing.T) {
	x86 := xebpf.KprobeKind(xebpf.ArchX86_64)
	tests := []struct {
		name string
		kind *xebpf.ProgramKind
		js   string
		want string
	}{
		{"unknown field", x86, `{"rdi": 1}`, `pt_regs has no field "rdi"; its fields: r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss`},
		{"unknown arm64 field", xebpf.KprobeKind(xebpf.ArchARM64), `{"x0": 1}`, `its fields: regs[31], sp, pc, pstate, orig_x0, syscallno, unused2, sdei_ttbr1, pmr_save, stackframe[2], lockdep_hardirqs, exit_rcu`},
		{"too big", xebpf.KindOf(xebpf.XDP), `{"rx_queue_index": 4294967296}`, "does not fit 4 bytes"},
		{"too negative", xebpf.KindOf(xebpf.XDP), `{"rx_queue_index": -2147483649}`, "does not fit 4 bytes"},
		{"pointer field", xebpf.KindOf(xebpf.XDP), `{"data": 0}`, "data of xdp_md is a pointer the run sets"},
		{"float", x86, `{"di": 1.5}`, `"1.5" is not an integer`},
		{"not a number", x86, `{"di": true}`, "true is not an integer"},
		{"array too long", xebpf.KindOf(xebpf.RawTracepoint), `{"args": [1,2,3,4,5,6,7,8,9,10,11,12,13]}`, "args of bpf_raw_tracepoint_args has 12 elements, the JSON array 13"},
		{"array not an array", xebpf.KindOf(xebpf.RawTracepoint), `{"args": 1}`, "want a JSON array"},
		{"string too long", xebpf.KindOf(xebpf.SchedCLS), `{"remote_ip6": "01234567890123456"}`, "holds 16 bytes, the string has 17"},
		{"bad byte", xebpf.KindOf(xebpf.SchedCLS), `{"remote_ip6": [256]}`, `remote_ip6[0] of __sk_buff: "256" is not a byte value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.kind.ContextFromJSON([]byte(tt.js))
			if !errors.Is(err, xebpf.ErrContextField) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	for _, js := range []string{`[1]`, `{"di": `, `null`} {
		if _, err := x86.ContextFromJSON([]byte(js)); err == nil || !strings.Contains(err.Error(), "context JSON") {
			t.Errorf("%s: err = %v", js, err)
		}
	}
	if _, err := xebpf.KindOf(xebpf.UnspecifiedProgram).ContextFromJSON([]byte(`{}`)); err == nil || !strings.Contains(err.Error(), "raw memory, which has no named fields") {
		t.Errorf("raw kind: %v", err)
	}
}
