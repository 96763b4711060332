package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service/proto"
)

// TestParseBytes: BYTES as bpftool takes them — C notation per word, or
// hex words after "hex" — and its errors.
func TestParseBytes(t *testing.T) {
	tests := []struct {
		args string
		n    int
		want []byte
		rest string
		err  string
	}{
		{"0x0a 0 0 1", 4, []byte{10, 0, 0, 1}, "", ""},
		{"hex 0a 00 00 01", 4, []byte{10, 0, 0, 1}, "", ""},
		{"hex 0x0a ff", 2, []byte{10, 255}, "", ""},
		{"10 012 0X1f 255 value 1", 4, []byte{10, 10, 31, 255}, "value 1", ""},
		{"0", 1, []byte{0}, "", ""},
		{"", 0, []byte{}, "", ""},
		{"1 2", 3, nil, "", "key expected 3 bytes got 2"},
		{"256", 1, nil, "", "error parsing byte: 256"},
		{"0x100", 1, nil, "", "error parsing byte: 0x100"},
		{"-1", 1, nil, "", "error parsing byte: -1"},
		{"1_0", 1, nil, "", "error parsing byte: 1_0"},
		{"08", 1, nil, "", "error parsing byte: 08"},
		{"hex zz", 1, nil, "", "error parsing byte: zz"},
		{"hex 0x", 1, nil, "", "error parsing byte: 0x"},
		{"0b1", 1, nil, "", "error parsing byte: 0b1"},
	}
	for _, tt := range tests {
		got, rest, err := parseBytes("key", strings.Fields(tt.args), tt.n)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) || !errors.Is(err, errBadArgs) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) || strings.Join(rest, " ") != tt.rest {
			t.Errorf("%q: %v rest %q (%v), want %v rest %q", tt.args, got, rest, err, tt.want, tt.rest)
		}
	}
}

// TestParseRef: id N | pinned PATH | name NAME.
func TestParseRef(t *testing.T) {
	tests := []struct {
		args string
		want proto.Ref
		err  string
	}{
		{"id 3 x", proto.Ref{ID: 3}, ""},
		{"id 0x10", proto.Ref{ID: 16}, ""},
		{"pinned /sys/fs/bpf/a", proto.Ref{Pinned: "/sys/fs/bpf/a"}, ""},
		{"name counts", proto.Ref{Name: "counts"}, ""},
		{"id 0", proto.Ref{}, `can't parse PROG id "0"`},
		{"id x", proto.Ref{}, `can't parse PROG id "x"`},
		{"tag 0123", proto.Ref{}, `expected 'id', 'pinned' or 'name' for PROG, got "tag"`},
		{"id", proto.Ref{}, "expected PROG: id ID | pinned PATH | name NAME"},
	}
	for _, tt := range tests {
		got, _, err := parseRef("PROG", strings.Fields(tt.args))
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v (%v), want %+v", tt.args, got, err, tt.want)
		}
	}
}

// TestSplitOpts: bpftool's options anywhere on the line.
func TestSplitOpts(t *testing.T) {
	o, rest, err := splitOpts(strings.Fields("show -p id 1 --socket /s -f"))
	if err != nil || !o.json || !o.pretty || o.socket != "/s" || strings.Join(rest, " ") != "show id 1" {
		t.Errorf("got %+v %q %v", o, rest, err)
	}
	o, rest, _ = splitOpts(strings.Fields("--json --socket=/x show"))
	if !o.json || o.pretty || o.socket != "/x" || strings.Join(rest, " ") != "show" {
		t.Errorf("got %+v %q", o, rest)
	}
	if _, _, err := splitOpts([]string{"show", "--socket"}); !errors.Is(err, errBadArgs) {
		t.Errorf("--socket without a path: %v", err)
	}
}

// TestHexOutput: fprint_hex, the JSON byte arrays and hex_print.
func TestHexOutput(t *testing.T) {
	if got := hexWords([]byte{0x0a, 0, 0xff}); got != "0a 00 ff" {
		t.Errorf("hexWords: %q", got)
	}
	if got := strings.Join(hexJSON([]byte{0x0a, 0xff}), ","); got != "0x0a,0xff" {
		t.Errorf("hexJSON: %q", got)
	}
	var b bytes.Buffer
	hexDump(&b, []byte("Hello, world! 0123456789\x00\x7f"))
	want := "0000000\t4865 6c6c 6f2c 2077 6f72 6c64 2120 3031 | Hello, w orld! 01\n" +
		"0000010\t3233 3435 3637 3839 007f                | 23456789 ..\n"
	if b.String() != want {
		t.Errorf("hexDump:\n%q\nwant\n%q", b.String(), want)
	}
}

// TestEntryOutput: map elements as bpftool prints them — on one line
// when key and value are short, names on lines of their own past 16
// bytes, one value per CPU for per-CPU maps — in text and JSON.
func TestEntryOutput(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	var out bytes.Buffer
	for _, tt := range []struct {
		info  proto.MapInfo
		entry proto.Entry
	}{
		{proto.MapInfo{BytesKey: 4, BytesValue: 8}, proto.Entry{Key: seq(4), Value: seq(8)}},
		{proto.MapInfo{BytesKey: 4, BytesValue: 24}, proto.Entry{Key: seq(4), Value: seq(24)}},
		{proto.MapInfo{BytesKey: 12, BytesValue: 16}, proto.Entry{Key: seq(12), Value: seq(16)}},
		{proto.MapInfo{BytesKey: 4, BytesValue: 4, PerCPU: true}, proto.Entry{Key: seq(4), Values: [][]byte{seq(4), seq(4)}}},
		{proto.MapInfo{BytesKey: 4, BytesValue: 20, PerCPU: true}, proto.Entry{Key: seq(4), Values: [][]byte{seq(20)}}},
		// A queue's or a stack's value has no key.
		{proto.MapInfo{Type: "queue", BytesValue: 4}, proto.Entry{Key: []byte{}, Value: seq(4)}},
		// A map of maps' value is the inner map's id (inner_map_id).
		{proto.MapInfo{Type: "array_of_maps", BytesKey: 4, BytesValue: 4}, proto.Entry{Key: seq(4), Value: binary.NativeEndian.AppendUint32(nil, 7)}},
		{proto.MapInfo{Type: "hash_of_maps", BytesKey: 20, BytesValue: 4}, proto.Entry{Key: seq(20), Value: binary.NativeEndian.AppendUint32(nil, 300)}},
	} {
		printEntry(&out, tt.info, tt.entry)
		writeJSON(&out, bpfOpts{}, toEntryJSON(tt.entry, tt.info))
	}
	golden(t, "daemon_entries.txt", out.String())
}

// TestGlobalOptionsFirst checks that bpftool's habit of writing -j, -p
// and --socket before the command works.
func TestGlobalOptionsFirst(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-j", "prog", "show"}, []string{"prog", "show", "-j"}},
		{[]string{"-p", "--socket", "/s", "map", "dump", "id", "3"}, []string{"map", "dump", "id", "3", "-p", "--socket", "/s"}},
		{[]string{"--socket=/s", "link", "show"}, []string{"link", "show", "--socket=/s"}},
		{[]string{"prog", "show", "-j"}, []string{"prog", "show", "-j"}},
		{[]string{"-j"}, []string{"-j"}},
		{[]string{"run", "x.o"}, []string{"run", "x.o"}},
	} {
		if got := globalOptionsLast(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
	// End to end: the option before the command reaches it.
	_, errout, code := runCmd([]string{"--socket", filepath.Join(t.TempDir(), "none.sock"), "prog", "show"}, "")
	if code == 0 || !strings.Contains(errout, "none.sock") {
		t.Fatalf("--socket before the command: exit %d, %s", code, errout)
	}
}

// FuzzParseBytes feeds the BYTES grammar of the daemon's commands
// arbitrary words: it returns n bytes and the rest, or an error.
func FuzzParseBytes(f *testing.F) {
	f.Add("hex 0a 00 00 01 value 7", 4)
	f.Add("0x0a 0 012 255 256 -1", 4)
	f.Add("hex", 1)
	f.Fuzz(func(t *testing.T, line string, n int) {
		n = n & 0xff
		args := strings.Fields(line)
		out, rest, err := parseBytes("key", args, n)
		if err != nil {
			return
		}
		if len(out) != n || len(rest) > len(args) {
			t.Fatalf("%q, %d: %d bytes, %d words left of %d", line, n, len(out), len(rest), len(args))
		}
	})
}
