package helpers_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// arena lays out test data in program-visible memory.
type arena struct {
	b   []byte
	off int
}

func (a *arena) put(p []byte) uint64 {
	a.off = (a.off + 7) &^ 7
	copy(a.b[a.off:], p)
	at := addr(a.b) + uint64(a.off)
	a.off += len(p)
	return at
}

func (a *arena) str(s string) uint64 { return a.put(append([]byte(s), 0)) }

// ip marks a printf argument that is a pointer to these bytes.
type ip []byte

// bad is an argument pointing nowhere readable.
const bad = uint64(0x10)

// args lays out printf arguments: strings and ip become pointers.
func (a *arena) args(vals []any) (uint64, int) {
	var data []byte
	for _, v := range vals {
		var x uint64
		switch v := v.(type) {
		case string:
			x = a.str(v)
		case ip:
			x = a.put(v)
		case int:
			x = uint64(v)
		case uint64:
			x = v
		case rune:
			x = uint64(v)
		}
		data = binary.NativeEndian.AppendUint64(data, x)
	}
	if len(data) == 0 {
		return 0, 0
	}
	return a.put(data), len(data)
}

func TestTraceVprintk(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		format string
		args   []any
		want   string // output, or "errno N"
	}{
		{"hello %d\n", []any{42}, "hello 42\n"},
		{"%d %i", []any{-1, -2}, "-1 -2"},
		{"%d", []any{uint64(0x1_0000_0005)}, "5"},
		{"%u", []any{-1}, "4294967295"},
		{"%ld %lld", []any{-5, -6}, "-5 -6"},
		{"%lu", []any{-1}, "18446744073709551615"},
		{"%x %X", []any{0x1234abcd, 0x1234abcd}, "1234abcd 1234ABCD"},
		{"%lx %llX", []any{0xdeadbeef00, -1}, "deadbeef00 FFFFFFFFFFFFFFFF"},
		{"%x", []any{-1}, "ffffffff"},
		{"[%5d]", []any{42}, "[   42]"},
		{"[%-5d]", []any{42}, "[42   ]"},
		{"[%05d]", []any{-42}, "[-0042]"},
		{"[%+d] [% d] [%+u]", []any{7, 7, 7}, "[+7] [ 7] [7]"},
		{"[%08x] [%-08x]", []any{0xbeef, 0xbeef}, "[0000beef] [beef    ]"},
		{"%c%c", []any{'h', 'i'}, "hi"},
		{"[%3c] [%-3c]", []any{'x', 'y'}, "[  x] [y  ]"},
		{"%s!", []any{"world"}, "world!"},
		{"[%8s] [%-8s]", []any{"abc", "abc"}, "[     abc] [abc     ]"},
		{"[%s]", []any{bad}, "[]"},
		{"%pks %pus.", []any{"k", "u"}, "k u."},
		{"100%% %%d", nil, "100% %d"},
		{"%p %pK %px", []any{0x1234, 0x1234, 0x1234}, "0000000000001234 0000000000001234 0000000000001234"},
		{"[%8p]", []any{0xab}, "[      ab]"},
		{"%ps %pS %pB", []any{0x1234, 0x10, 0xff}, "0x1234 0x10 0xff"},
		{"%pI4", []any{ip{192, 168, 1, 10}}, "192.168.1.10"},
		{"%pi4", []any{ip{192, 168, 1, 10}}, "192.168.001.010"},
		{"%pI4", []any{bad}, "0.0.0.0"},
		{"[%16pI4]", []any{ip{10, 0, 0, 1}}, "[        10.0.0.1]"},
		{"%pI6", []any{ip{0x20, 0x01, 0x0d, 0xb8, 15: 1}}, "2001:0db8:0000:0000:0000:0000:0000:0001"},
		{"%pi6", []any{ip{0x20, 0x01, 0x0d, 0xb8, 15: 1}}, "20010db8000000000000000000000001"},
		{"%pI4abc|", []any{ip{1, 2, 3, 4}}, "1.2.3.4|"},
		{"%s%s", []any{long, long}, long + long[:210]},
		// Errors, as bpf_bprintf_prepare reports them.
		{"%s%s%s", []any{long, long, long}, "errno 28"},
		{"%d %d", []any{1}, "errno 22"},
		{"%hd", []any{1}, "errno 22"},
		{"%5.2d", []any{1}, "errno 22"},
		{"%q", []any{1}, "errno 22"},
		{"%#x", []any{1}, "errno 22"},
		{"%", []any{1}, "errno 22"},
		{"%sx", []any{"a"}, "errno 22"},
		{"%pZ", []any{1}, "errno 22"},
		{"%pI5", []any{1}, "errno 22"},
		{"caf\xc3\xa9", nil, "errno 22"},
		{"bell\x07", nil, "errno 22"},
	} {
		t.Run(fmt.Sprintf("%q", tc.format), func(t *testing.T) {
			h := newHarness(t)
			a := &arena{b: h.mem(4096, false)}
			f := a.str(tc.format)
			data, n := a.args(tc.args)
			r0 := h.mustExec(fmt.Sprintf("lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\nmov %%r4, %d\ncall 177\nexit",
				f, len(tc.format)+1, data, n))
			if e, ok := strings.CutPrefix(tc.want, "errno "); ok {
				if fmt.Sprint(-int64(r0)) != e || h.trace.Len() != 0 {
					t.Errorf("r0 = %d, trace %q; want -%s and no output", int64(r0), h.trace.String(), e)
				}
				return
			}
			if got := h.trace.String(); got != tc.want || r0 != uint64(len(tc.want)) {
				t.Errorf("output %q (r0 %d), want %q (%d)", got, int64(r0), tc.want, len(tc.want))
			}
		})
	}
}

func TestTracePrintk(t *testing.T) {
	h := newHarness(t)
	a := &arena{b: h.mem(256, false)}
	f := a.str("x=%d y=%s z=%pI4\n")
	s := a.str("why")
	ipAddr := a.put([]byte{127, 0, 0, 1})
	prog := "lddw %%r1, %#x\nmov %%r2, %d\nmov %%r3, -3\nlddw %%r4, %#x\nlddw %%r5, %#x\ncall 6\nexit"
	r0 := h.mustExec(fmt.Sprintf(prog, f, 18, s, ipAddr))
	if want := "x=-3 y=why z=127.0.0.1\n"; h.trace.String() != want || r0 != uint64(len(want)) {
		t.Errorf("output %q, r0 %d; want %q", h.trace.String(), r0, want)
	}
	// A format without NUL within fmt_size is -EINVAL; so is a fourth
	// conversion (trace_printk takes three arguments).
	h.trace.Reset()
	if r0 := h.mustExec(fmt.Sprintf(prog, f, 17, s, ipAddr)); r0 != neg(22) {
		t.Errorf("unterminated format: r0 = %d, want -EINVAL", int64(r0))
	}
	f4 := a.str("%d%d%d%d")
	if r0 := h.mustExec(fmt.Sprintf(prog, f4, 9, 0, 0)); r0 != neg(22) || h.trace.Len() != 0 {
		t.Errorf("four conversions: r0 = %d, want -EINVAL", int64(r0))
	}
	// Output beyond 1023 bytes is truncated; r0 counts it all.
	fw := a.str("%2000d")
	if r0 := h.mustExec(fmt.Sprintf(prog, fw, 7, 0, 0)); r0 != 2000 || h.trace.Len() != 1023 {
		t.Errorf("long output: r0 = %d, trace %d bytes; want 2000, 1023", r0, h.trace.Len())
	}
}

func TestSnprintf(t *testing.T) {
	h := newHarness(t)
	a := &arena{b: h.mem(256, false)}
	out := h.mem(16, true)
	f := a.str("value=%d")
	data, n := a.args([]any{12345})
	prog := "lddw %%r1, %#x\nmov %%r2, %d\nlddw %%r3, %#x\nlddw %%r4, %#x\nmov %%r5, %d\ncall 165\nexit"
	for _, tc := range []struct {
		size int
		want string
	}{{16, "value=12345\x00"}, {8, "value=1\x00"}, {1, "\x00"}, {0, ""}} {
		clear(out)
		out[0] = 0xff
		r0 := h.mustExec(fmt.Sprintf(prog, addr(out), tc.size, f, data, n))
		got := string(out[:len(tc.want)])
		if tc.size == 0 && out[0] != 0xff {
			got = "clobbered"
		}
		if r0 != 12 || got != tc.want {
			t.Errorf("size %d: r0 = %d, out %q; want 12, %q", tc.size, r0, got, tc.want)
		}
	}
	if r0 := h.mustExec(fmt.Sprintf(prog, addr(out), 16, f, data, 4)); r0 != neg(22) {
		t.Errorf("data_len 4: r0 = %d, want -EINVAL", int64(r0))
	}
}
