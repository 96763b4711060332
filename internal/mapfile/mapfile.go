// Package mapfile reads and writes the maps file of xebpf run: every map's
// contents as JSON, in the form package kernel defines, so that xebpf and
// the kernel produce comparable dumps.
package mapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/maps"
)

// Dump returns every map's contents in the maps-file form.
func Dump(c *xebpf.Collection) (map[string]kernel.MapState, error) {
	progName := map[api.Program]string{}
	for name, p := range c.Programs {
		progName[p.Interp()] = name
	}
	mapName := map[maps.Map]string{}
	for name, m := range c.Maps {
		mapName[m.Underlying()] = name
	}
	out := map[string]kernel.MapState{}
	for name, m := range c.Maps {
		u := m.Underlying()
		st := kernel.MapState{Type: u.Type().String(), KeySize: uint32(u.KeySize()), ValueSize: uint32(u.ValueSize()), MaxEntries: uint32(u.MaxEntries())}
		var err error
		switch u.Type() {
		case maps.Queue, maps.Stack:
			err = u.Iterate(func(e maps.Entry) bool {
				st.ValuesInPopOrder = append(st.ValuesInPopOrder, e.Value)
				return true
			})
		case maps.RingBuf:
			err = u.Iterate(func(e maps.Entry) bool {
				st.Records = append(st.Records, e.Value)
				return true
			})
		case maps.PerfEventArray:
			// Samples are not part of the maps file.
		default:
			err = u.Iterate(func(e maps.Entry) bool {
				en := kernel.Entry{Key: e.Key}
				switch {
				case e.PerCPU != nil:
					en.Values = e.PerCPU
				case u.Type() == maps.ProgramArray:
					if e.Program != nil {
						en.Program = progName[e.Program]
					}
				case u.Type() == maps.ArrayOfMaps || u.Type() == maps.HashOfMaps:
					if e.Inner != nil {
						en.Map = mapName[e.Inner]
					}
				default:
					en.Value = e.Value
				}
				st.Entries = append(st.Entries, en)
				return true
			})
		}
		if err != nil {
			st.Error = err.Error()
		}
		st.Normalize()
		out[name] = st
	}
	return out, nil
}

// Preload writes the states of the maps the collection freezes after
// filling them (.rodata, .kconfig: MapSpec.ReadOnly) into spec's initial
// contents, as cilium/ebpf's users set read-only data before loading, and
// returns the other states, for Load once the collection exists.
func Preload(spec *xebpf.CollectionSpec, states map[string]kernel.MapState) (map[string]kernel.MapState, error) {
	late := map[string]kernel.MapState{}
	for name, st := range states {
		ms, ok := spec.Maps[name]
		if !ok || !ms.ReadOnly {
			late[name] = st
			continue
		}
		if st.Type != "" && st.Type != maps.Type(ms.Type).String() {
			return nil, fmt.Errorf("map %s is %s, the file says %s", name, maps.Type(ms.Type), st.Type)
		}
		contents := slices.Clone(ms.Contents)
		for _, e := range st.Entries {
			if err := checkIndex(maps.Type(ms.Type).String(), e.Key, ms.MaxEntries); err != nil {
				return nil, fmt.Errorf("map %s: %w", name, err)
			}
			if e.Values != nil || e.Program != "" || e.Map != "" || len(e.Key) != int(ms.KeySize) || len(e.Value) != int(ms.ValueSize) {
				return nil, fmt.Errorf("read-only map %s: key %x: want a %d-byte key and a %d-byte value", name, e.Key, ms.KeySize, ms.ValueSize)
			}
			kv := elf.MapKV{Key: slices.Clone(e.Key), Value: slices.Clone(e.Value)}
			i := slices.IndexFunc(contents, func(c elf.MapKV) bool { return c.Ref == nil && bytes.Equal(c.Key, e.Key) })
			if i >= 0 {
				contents[i] = kv
			} else {
				contents = append(contents, kv)
			}
		}
		ms.Contents = contents
		// The section's variables are written over its contents when the
		// collection is created: give them the preloaded bytes.
		for _, kv := range contents {
			if kv.Ref != nil || len(kv.Key) != 4 || binary.NativeEndian.Uint32(kv.Key) != 0 {
				continue
			}
			for _, v := range spec.Variables {
				if v.SectionName == name && int(v.Offset)+len(v.Value) <= len(kv.Value) {
					v.Value = slices.Clone(kv.Value[v.Offset : int(v.Offset)+len(v.Value)])
				}
			}
		}
	}
	return late, nil
}

// Load preloads map contents from a maps file: for each named map, its
// entries replace what the object loaded. A missing map or field is left
// as loaded. Frozen maps refuse it: Preload their states. A per-CPU map's
// entry with one "value" sets it on every CPU, as bpftool map update does.
func Load(c *xebpf.Collection, states map[string]kernel.MapState) error {
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		st := states[name]
		m, ok := c.Maps[name]
		if !ok {
			return fmt.Errorf("no map %q in the object", name)
		}
		u := m.Underlying()
		if st.Type != "" && st.Type != u.Type().String() {
			return fmt.Errorf("map %s is %s, the file says %s", name, u.Type(), st.Type)
		}
		for _, v := range st.ValuesInPopOrder {
			if err := u.Update(nil, v, maps.UpdateAny); err != nil {
				return fmt.Errorf("map %s: push: %w", name, err)
			}
		}
		for _, e := range st.Entries {
			if err := checkIndex(u.Type().String(), e.Key, uint32(u.MaxEntries())); err != nil {
				return fmt.Errorf("map %s: %w", name, err)
			}
			var err error
			switch {
			case e.Program != "":
				p, ok := c.Programs[e.Program]
				_, isPA := u.(maps.ProgramArrayMap)
				if !ok || !isPA || len(e.Key) != 4 {
					return fmt.Errorf("map %s: slot %x: program %q", name, e.Key, e.Program)
				}
				// Through Map.Update, which checks the program's type
				// against the array's.
				err = c.Maps[name].Update(e.Key, p, maps.UpdateAny)
			case e.Map != "":
				inner, ok := c.Maps[e.Map]
				mm, isMM := u.(maps.MapOfMaps)
				if !ok || !isMM {
					return fmt.Errorf("map %s: slot %x: map %q", name, e.Key, e.Map)
				}
				err = mm.SetMap(e.Key, inner.Underlying(), maps.UpdateAny)
			case e.Values != nil:
				err = u.Update(e.Key, bytes.Join(padValues(e.Values, u.ValueSize()), nil), maps.UpdateAny)
			case kernel.IsPerCPU(u.Type().String()):
				if len(e.Value) != u.ValueSize() {
					err = fmt.Errorf("%w: a %d-byte value for a %s map of %d-byte values (give one value, which every CPU gets, or \"values\" with one per CPU)", errValueSize, len(e.Value), u.Type(), u.ValueSize())
					break
				}
				err = u.Update(e.Key, bytes.Join(padValues(slices.Repeat([][]byte{e.Value}, maps.NumCPU()), u.ValueSize()), nil), maps.UpdateAny)
			default:
				err = u.Update(e.Key, e.Value, maps.UpdateAny)
			}
			if err != nil {
				return fmt.Errorf("map %s: key %x: %w", name, e.Key, err)
			}
		}
	}
	return nil
}

// errValueSize reports a value whose size is not the map's.
var errValueSize = errors.New("wrong value size")

// checkIndex refuses a key of an array-like map outside [0, max_entries),
// which the map would report as full.
func checkIndex(mapType string, key []byte, maxEntries uint32) error {
	if !kernel.IsArrayLike(mapType) || len(key) != 4 {
		return nil
	}
	if i := binary.NativeEndian.Uint32(key); i >= maxEntries {
		return fmt.Errorf("key %x: index %d out of range [0, %d)", key, i, maxEntries)
	}
	return nil
}

// padValues rounds each per-CPU value up to 8 bytes, the Go-side layout.
func padValues(vs [][]byte, size int) [][]byte {
	stride := (size + 7) &^ 7
	out := make([][]byte, maps.NumCPU())
	for i := range out {
		out[i] = make([]byte, stride)
		if i < len(vs) {
			copy(out[i], vs[i])
		}
	}
	return out
}
