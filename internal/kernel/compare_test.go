package kernel

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	base := func() Outcome {
		return Outcome{
			Result: RunResult{Retval: 2, DataOut: []byte{1, 2, 3, 4}},
			Maps: map[string]MapState{
				"counts": {Type: "Hash", KeySize: 1, ValueSize: 2, MaxEntries: 8, Entries: []Entry{
					{Key: []byte{1}, Value: []byte{0, 1}},
					{Key: []byte{2}, Value: []byte{0, 2}},
				}},
				"pcpu": {Type: "PerCPUArray", KeySize: 4, ValueSize: 1, MaxEntries: 1, Entries: []Entry{
					{Key: []byte{0, 0, 0, 0}, Values: [][]byte{{0}, {5}}},
				}},
				"jumps": {Type: "ProgramArray", KeySize: 4, ValueSize: 4, MaxEntries: 2, Entries: []Entry{
					{Key: []byte{0, 0, 0, 0}, Program: "tail"},
				}},
				"q":      {Type: "Queue", ValueSize: 1, MaxEntries: 4, ValuesInPopOrder: [][]byte{{1}, {2}}},
				"events": {Type: "RingBuf", MaxEntries: 4096, Records: [][]byte{{9, 9}}},
				"locked": {Type: "Hash", KeySize: 1, ValueSize: 8, MaxEntries: 1, Entries: []Entry{
					{Key: []byte{0}, Value: []byte{0, 0, 0, 0, 7, 0, 0, 0}},
				}},
			},
		}
	}
	for _, tc := range []struct {
		desc   string
		change func(o *Outcome)
		opts   CompareOptions
		want   []string
	}{
		{desc: "Identical outcomes have no differences.", change: func(o *Outcome) {}},
		{desc: "Durations are not compared.", change: func(o *Outcome) { o.Result.Duration = 5 }},
		{
			desc:   "A different return value is reported in decimal and hex.",
			change: func(o *Outcome) { o.Result.Retval = 0xffffffff },
			want:   []string{"retval: kernel 2 (0x2), xebpf 4294967295 (0xffffffff)"},
		},
		{
			desc:   "Differing packet bytes are reported at the first differing offset.",
			change: func(o *Outcome) { o.Result.DataOut = []byte{1, 2, 9, 4} },
			want:   []string{"data_out: first difference at offset 2: kernel 0x03, xebpf 0x09"},
		},
		{
			desc:   "A shorter packet is reported with both lengths.",
			change: func(o *Outcome) { o.Result.DataOut = []byte{1, 2} },
			want:   []string{"data_out: xebpf's ends at offset 2, the kernel's goes on (kernel 4 bytes, xebpf 2 bytes)"},
		},
		{
			desc:   "Context out is compared only when both engines report one.",
			change: func(o *Outcome) { o.Result.ContextOut = []byte{1} },
		},
		{
			desc: "A changed value, a missing key and an extra key are reported per key.",
			change: func(o *Outcome) {
				o.Maps["counts"] = MapState{Type: "Hash", KeySize: 1, ValueSize: 2, MaxEntries: 8, Entries: []Entry{
					{Key: []byte{1}, Value: []byte{0, 3}},
					{Key: []byte{3}, Value: []byte{0, 2}},
				}}
			},
			want: []string{
				"map counts key 01: value first difference at offset 1: kernel 0x01, xebpf 0x03",
				"map counts key 02: only in the kernel: value 0002",
				"map counts key 03: only in xebpf: value 0002",
			},
		},
		{
			desc: "Shape differences are reported field by field.",
			change: func(o *Outcome) {
				m := o.Maps["counts"]
				m.Type, m.MaxEntries = "LRUHash", 16
				o.Maps["counts"] = m
			},
			want: []string{"map counts: type: kernel Hash, xebpf LRUHash", "map counts: max_entries: kernel 8, xebpf 16"},
		},
		{
			desc: "Per-CPU values compare by their non-zero values, whatever the CPU.",
			change: func(o *Outcome) {
				o.Maps["pcpu"].Entries[0].Values = [][]byte{{5}}
			},
		},
		{
			desc: "A per-CPU value that differs is reported.",
			change: func(o *Outcome) {
				o.Maps["pcpu"].Entries[0].Values = [][]byte{{6}, {0}}
			},
			want: []string{"map pcpu key 00000000: non-zero per-CPU values: kernel [05], xebpf [06]"},
		},
		{
			desc: "Program-array slots compare by program name.",
			change: func(o *Outcome) {
				o.Maps["jumps"].Entries[0].Program = "other"
			},
			want: []string{"map jumps key 00000000: kernel program tail, xebpf program other"},
		},
		{
			desc: "Queue contents compare in pop order.",
			change: func(o *Outcome) {
				o.Maps["q"] = MapState{Type: "Queue", ValueSize: 1, MaxEntries: 4, ValuesInPopOrder: [][]byte{{2}, {1}, {3}}}
			},
			want: []string{
				"map q: values_in_pop_order: kernel has 2, xebpf 3",
				"map q: values_in_pop_order[0]: first difference at offset 0: kernel 0x01, xebpf 0x02",
				"map q: values_in_pop_order[1]: first difference at offset 0: kernel 0x02, xebpf 0x01",
			},
		},
		{
			desc: "Missing ring buffer records are reported.",
			change: func(o *Outcome) {
				o.Maps["events"] = MapState{Type: "RingBuf", MaxEntries: 4096, Records: [][]byte{}}
			},
			want: []string{"map events: records: kernel has 1, xebpf 0"},
		},
		{
			desc: "A spin-lock word is ignored when masked.",
			change: func(o *Outcome) {
				o.Maps["locked"].Entries[0].Value = []byte{1, 0, 0, 0, 7, 0, 0, 0}
			},
			opts: CompareOptions{ValueMasks: map[string][]ByteRange{"locked": {{Off: 0, Len: 4}}}},
		},
		{
			desc: "A spin-lock word is reported when not masked.",
			change: func(o *Outcome) {
				o.Maps["locked"].Entries[0].Value = []byte{1, 0, 0, 0, 7, 0, 0, 0}
			},
			want: []string{"map locked key 00: value first difference at offset 0: kernel 0x00, xebpf 0x01"},
		},
		{
			desc:   "Ignored maps are not compared; missing maps are reported.",
			change: func(o *Outcome) { delete(o.Maps, "counts"); delete(o.Maps, "q"); o.Maps["extra"] = MapState{} },
			opts:   CompareOptions{IgnoreMaps: []string{"q"}},
			want:   []string{"map counts: missing from xebpf", "map extra: missing from the kernel"},
		},
		{
			desc: "A map one engine could not read is reported once.",
			change: func(o *Outcome) {
				o.Maps["counts"] = MapState{Type: "Hash", Error: "boom"}
			},
			want: []string{`map counts: unreadable: kernel "", xebpf "boom"`},
		},
	} {
		k, x := base(), base()
		tc.change(&x)
		var got []string
		for _, d := range Compare(k, x, tc.opts) {
			got = append(got, d.String())
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s\n got %q\nwant %q", tc.desc, got, tc.want)
		}
	}
}
