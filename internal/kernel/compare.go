package kernel

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
)

// Outcome is what one engine reports for a run: its result and the
// contents of its maps afterwards.
type Outcome struct {
	Result RunResult
	Maps   map[string]MapState
}

// ByteRange is a span of bytes within a map value.
type ByteRange struct {
	Off, Len uint32
}

// CompareOptions says what Compare leaves out.
type CompareOptions struct {
	// IgnoreMaps names maps not to compare.
	IgnoreMaps []string
	// ValueMasks gives, per map, the byte ranges of every value not to
	// compare: the kernel reports struct bpf_spin_lock (and timer, kptr, ...)
	// words as zero whatever their state.
	ValueMasks map[string][]ByteRange
}

// Difference is one way two outcomes disagree.
type Difference struct {
	// Where names what differs: "retval", "data_out", "context_out",
	// "map NAME" or "map NAME key HEX".
	Where string
	// Detail says how, naming the kernel's and xebpf's values.
	Detail string
}

func (d Difference) String() string { return d.Where + ": " + d.Detail }

// Compare returns the differences between the kernel's outcome and xebpf's,
// in a stable order: retval, data_out, context_out (when both have one),
// then maps by name. Run durations are not compared. Per-CPU values are
// compared as the sorted list of their non-zero values, because the kernel
// runs a test on whichever CPU the caller is on.
func Compare(kernel, xebpf Outcome, opts CompareOptions) []Difference {
	var diffs []Difference
	add := func(where, format string, args ...any) {
		diffs = append(diffs, Difference{Where: where, Detail: fmt.Sprintf(format, args...)})
	}
	if k, x := kernel.Result.Retval, xebpf.Result.Retval; k != x {
		add("retval", "kernel %d (%#x), xebpf %d (%#x)", k, k, x, x)
	}
	if d := diffBytes(kernel.Result.DataOut, xebpf.Result.DataOut); d != "" {
		add("data_out", "%s", d)
	}
	if kernel.Result.ContextOut != nil && xebpf.Result.ContextOut != nil {
		if d := diffBytes(kernel.Result.ContextOut, xebpf.Result.ContextOut); d != "" {
			add("context_out", "%s", d)
		}
	}

	names := make([]string, 0, len(kernel.Maps)+len(xebpf.Maps))
	for name := range kernel.Maps {
		names = append(names, name)
	}
	for name := range xebpf.Maps {
		if _, ok := kernel.Maps[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if slices.Contains(opts.IgnoreMaps, name) {
			continue
		}
		where := "map " + name
		k, kok := kernel.Maps[name]
		x, xok := xebpf.Maps[name]
		switch {
		case !xok:
			add(where, "missing from xebpf")
			continue
		case !kok:
			add(where, "missing from the kernel")
			continue
		}
		diffs = append(diffs, compareMap(where, k, x, opts.ValueMasks[name])...)
	}
	return diffs
}

// compareMap returns the differences between two states of one map.
func compareMap(where string, k, x MapState, masks []ByteRange) []Difference {
	var diffs []Difference
	add := func(where, format string, args ...any) {
		diffs = append(diffs, Difference{Where: where, Detail: fmt.Sprintf(format, args...)})
	}
	if k.Error != "" || x.Error != "" {
		if k.Error != x.Error {
			add(where, "unreadable: kernel %q, xebpf %q", k.Error, x.Error)
		}
		return diffs
	}
	if k.Type != x.Type {
		add(where, "type: kernel %s, xebpf %s", k.Type, x.Type)
	}
	for _, f := range []struct {
		name string
		k, x uint32
	}{{"key_size", k.KeySize, x.KeySize}, {"value_size", k.ValueSize, x.ValueSize}, {"max_entries", k.MaxEntries, x.MaxEntries}} {
		if f.k != f.x {
			add(where, "%s: kernel %d, xebpf %d", f.name, f.k, f.x)
		}
	}
	diffs = append(diffs, compareList(where, "values_in_pop_order", k.ValuesInPopOrder, x.ValuesInPopOrder, masks)...)
	diffs = append(diffs, compareList(where, "records", k.Records, x.Records, nil)...)

	kEntries, xEntries := byKey(k.Entries), byKey(x.Entries)
	keys := make([]string, 0, len(kEntries)+len(xEntries))
	for key := range kEntries {
		keys = append(keys, key)
	}
	for key := range xEntries {
		if _, ok := kEntries[key]; !ok {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys) // hex of the key bytes sorts like the bytes
	for _, key := range keys {
		ke, kok := kEntries[key]
		xe, xok := xEntries[key]
		kwhere := where + " key " + key
		switch {
		case !xok:
			add(kwhere, "only in the kernel: %s", describe(ke))
		case !kok:
			add(kwhere, "only in xebpf: %s", describe(xe))
		default:
			if d := compareEntry(ke, xe, masks); d != "" {
				add(kwhere, "%s", d)
			}
		}
	}
	return diffs
}

// compareList compares two ordered lists of values (queue contents or ring
// buffer records).
func compareList(where, what string, k, x [][]byte, masks []ByteRange) []Difference {
	if k == nil && x == nil {
		return nil
	}
	var diffs []Difference
	if len(k) != len(x) {
		diffs = append(diffs, Difference{Where: where, Detail: fmt.Sprintf("%s: kernel has %d, xebpf %d", what, len(k), len(x))})
	}
	for i := range min(len(k), len(x)) {
		if d := diffBytes(masked(k[i], masks), masked(x[i], masks)); d != "" {
			diffs = append(diffs, Difference{Where: where, Detail: fmt.Sprintf("%s[%d]: %s", what, i, d)})
		}
	}
	return diffs
}

func byKey(entries []Entry) map[string]Entry {
	m := make(map[string]Entry, len(entries))
	for _, e := range entries {
		m[hex.EncodeToString(e.Key)] = e
	}
	return m
}

// describe prints an entry's value in its JSON spelling.
func describe(e Entry) string {
	switch {
	case e.Program != "":
		return "program " + e.Program
	case e.Map != "":
		return "map " + e.Map
	case e.Values != nil:
		parts := make([]string, len(e.Values))
		for i, v := range e.Values {
			parts[i] = hex.EncodeToString(v)
		}
		return fmt.Sprintf("values %v", parts)
	}
	return "value " + hex.EncodeToString(e.Value)
}

// compareEntry returns how two entries of the same key differ, or "".
func compareEntry(k, x Entry, masks []ByteRange) string {
	kind := func(e Entry) int {
		switch {
		case e.Program != "":
			return 1
		case e.Map != "":
			return 2
		case e.Values != nil:
			return 3
		}
		return 0
	}
	if kind(k) != kind(x) {
		return fmt.Sprintf("kernel %s, xebpf %s", describe(k), describe(x))
	}
	switch kind(k) {
	case 1:
		if k.Program != x.Program {
			return fmt.Sprintf("kernel program %s, xebpf program %s", k.Program, x.Program)
		}
	case 2:
		if k.Map != x.Map {
			return fmt.Sprintf("kernel map %s, xebpf map %s", k.Map, x.Map)
		}
	case 3:
		kv, xv := nonZero(k.Values, masks), nonZero(x.Values, masks)
		if !slices.Equal(kv, xv) {
			return fmt.Sprintf("non-zero per-CPU values: kernel %v, xebpf %v", kv, xv)
		}
	default:
		if d := diffBytes(masked(k.Value, masks), masked(x.Value, masks)); d != "" {
			return "value " + d
		}
	}
	return ""
}

// nonZero returns the hex of the values that are not all zero, sorted.
func nonZero(values [][]byte, masks []ByteRange) []string {
	var out []string
	for _, v := range values {
		v = masked(v, masks)
		if slices.ContainsFunc(v, func(b byte) bool { return b != 0 }) {
			out = append(out, hex.EncodeToString(v))
		}
	}
	sort.Strings(out)
	return out
}

// masked returns v with the masked ranges zeroed (a copy when any apply).
func masked(v []byte, masks []ByteRange) []byte {
	if len(masks) == 0 {
		return v
	}
	out := slices.Clone(v)
	for _, r := range masks {
		start := min(uint64(r.Off), uint64(len(out)))
		end := min(uint64(r.Off)+uint64(r.Len), uint64(len(out)))
		clear(out[start:end])
	}
	return out
}

// diffBytes describes how two byte strings differ, or returns "".
func diffBytes(k, x []byte) string {
	if bytes.Equal(k, x) {
		return ""
	}
	i := 0
	for i < len(k) && i < len(x) && k[i] == x[i] {
		i++
	}
	var at string
	switch {
	case i < len(k) && i < len(x):
		at = fmt.Sprintf("first difference at offset %d: kernel %#02x, xebpf %#02x", i, k[i], x[i])
	case i == len(x):
		at = fmt.Sprintf("xebpf's ends at offset %d, the kernel's goes on", i)
	default:
		at = fmt.Sprintf("the kernel's ends at offset %d, xebpf's goes on", i)
	}
	if len(k) != len(x) {
		return fmt.Sprintf("%s (kernel %d bytes, xebpf %d bytes)", at, len(k), len(x))
	}
	return at
}
