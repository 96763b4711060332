package kernel

import (
	"encoding/binary"
	"testing"
	"time"
)

// benchCase is one of the reference measurements other engines compare
// against: a program of testdata, its input, and the maps it starts with.
type benchCase struct {
	name, object, program string
	data                  []byte
	maps                  map[string]MapState
}

func benchCases() []benchCase {
	table := MapState{}
	for i := range uint32(256) {
		table.Entries = append(table.Entries, Entry{Key: u32(i), Value: u64(uint64(i))})
	}
	return []benchCase{
		{"empty_xdp", "../../testdata/bench/empty", "bench_empty", udpPacket(64, 53), nil},
		{"xdp_parse_hash_64B", "xdp_counter", "xdp_parse", udpPacket(64, 53), nil},
		{"checksum_1500B", "../../testdata/bench/checksum", "bench_checksum", udpPacket(1500, 53), nil},
		{"array_lookup_x1000", "../../testdata/bench/array_loop", "bench_array_loop", udpPacket(64, 53), map[string]MapState{"table": table}},
	}
}

// wantChecksum is testdata/bench/checksum.c's sum in Go.
func wantChecksum(p []byte) uint32 {
	var sum uint32
	for i, b := range p {
		if i&1 == 1 {
			sum += uint32(b)
		} else {
			sum += uint32(b) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^sum & 0xffff
}

// TestBench checks that the benchmark programs compute what they should and
// that Bench reports a plausible per-run time.
func TestBench(t *testing.T) {
	for _, bc := range benchCases() {
		c := loadObject(t, bc.object, LoadOptions{Programs: []string{bc.program}, Maps: bc.maps})
		d, err := c.Bench(bc.program, RunInput{Data: bc.data}, 1000)
		if err != nil {
			t.Fatalf("%s: %v", bc.name, err)
		}
		if d <= 0 || d > time.Millisecond {
			t.Errorf("%s: %v per run", bc.name, d)
		}
		maps := dump(t, c)
		switch bc.name {
		case "checksum_1500B":
			got := binary.NativeEndian.Uint32(maps[".bss"].Entries[0].Value)
			if want := wantChecksum(bc.data); got != want {
				t.Errorf("checksum %#x, want %#x", got, want)
			}
		case "array_lookup_x1000":
			got := binary.NativeEndian.Uint64(maps[".bss"].Entries[0].Value)
			// 1000 lookups of table[i&255] = i&255: 3*(0+..+255) + (0+..+231).
			if want := uint64(3*255*256/2 + 231*232/2); got != want {
				t.Errorf("sum %d, want %d", got, want)
			}
		case "xdp_parse_hash_64B":
			e := maps["proto_count"].Entries
			if len(e) != 1 || binary.NativeEndian.Uint64(e[0].Value) != 1000 {
				t.Errorf("proto_count after 1000 runs: %+v", e)
			}
		}
	}
	c := loadObject(t, "../../testdata/bench/empty", LoadOptions{})
	if _, err := c.Bench("bench_empty", RunInput{Data: udpPacket(64, 1)}, 0); err == nil {
		t.Error("Bench with repeat 0 succeeded")
	}
}

// BenchmarkKernel reports the kernel's own mean time per run (metric
// kernel-ns/run) for each reference program, from BPF_PROG_TEST_RUN with
// 100000 repetitions per iteration.
func BenchmarkKernel(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			c := loadObject(b, bc.object, LoadOptions{Programs: []string{bc.program}, Maps: bc.maps})
			const repeat = 100000
			var total time.Duration
			n := 0
			for b.Loop() {
				d, err := c.Bench(bc.program, RunInput{Data: bc.data}, repeat)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				n++
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(n), "kernel-ns/run")
		})
	}
}
