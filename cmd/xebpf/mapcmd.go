package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

const mapSynopsis = `map show [MAP]
map dump MAP
map lookup MAP key BYTES
map getnext MAP [key BYTES]
map update MAP key BYTES value VALUE [any|exist|noexist]
map delete MAP key BYTES
map peek MAP
map push MAP value BYTES [any|exist]
map pop MAP
map enqueue MAP value BYTES [any|exist]
map dequeue MAP
map create PATH type TYPE key KEY_SIZE value VALUE_SIZE entries MAX_ENTRIES name NAME [flags FLAGS] [inner_map MAP]
map pin MAP PATH
  MAP := id ID | pinned PATH | name NAME
  inner_map: the template of a map of maps' inner maps (required for array_of_maps
             and hash_of_maps, whose value size is 4; not a map of maps)
  VALUE := BYTES | PROG (a program array's slot; PROG of the map's object, flag any)
           | MAP (a map of maps' slot: an inner map of any object, or map create's)
  PROG := id ID | pinned PATH | name NAME
  BYTES := BYTE [BYTE...] | hex HH [HH...] (a per-CPU map's value is stored for every CPU)
  options: -j/--json, -p/--pretty, --socket PATH (default $XEBPF_SOCKET)`

func init() {
	commands["map"] = command{"show, dump, look up, update, create and pin maps in the xebpf daemon, as bpftool map",
		func(args []string, sio stdio) error {
			return bpfCommand("map", mapSynopsis, map[string]func(bpfOpts, []string, stdio) error{
				"show":    mapShow,
				"list":    mapShow,
				"dump":    mapDump,
				"lookup":  mapLookup,
				"getnext": mapGetNext,
				"update":  mapUpdate,
				"delete":  mapDelete,
				"create":  mapCreate,
				"pin":     pinVerb(func(a []string) (proto.Ref, []string, error) { return parseRef("MAP", a) }, (*client.Client).PinMap),
				"peek":    mapPeek,
				"push":    mapPush,
				"enqueue": mapPush,
				"pop":     mapPop,
				"dequeue": mapPop,
			}, args, sio)
		}}
}

// mapJSON is bpftool's map show -j object.
type mapJSON struct {
	ID         uint32   `json:"id"`
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Flags      uint32   `json:"flags"`
	BytesKey   uint32   `json:"bytes_key"`
	BytesValue uint32   `json:"bytes_value"`
	MaxEntries uint32   `json:"max_entries"`
	Frozen     int      `json:"frozen"`
	Pinned     []string `json:"pinned,omitempty"`
}

func toMapJSON(m proto.MapInfo) mapJSON {
	j := mapJSON{ID: m.ID, Type: m.Type, Name: m.Name, Flags: m.Flags, BytesKey: m.BytesKey,
		BytesValue: m.BytesValue, MaxEntries: m.MaxEntries, Pinned: m.Pinned}
	if m.Frozen {
		j.Frozen = 1
	}
	return j
}

// printMap prints a map as bpftool map show does.
func printMap(w io.Writer, m proto.MapInfo) {
	fmt.Fprintf(w, "%d: %s  name %s  flags 0x%x\n", m.ID, m.Type, m.Name, m.Flags)
	fmt.Fprintf(w, "\tkey %dB  value %dB  max_entries %d", m.BytesKey, m.BytesValue, m.MaxEntries)
	if m.Frozen {
		fmt.Fprint(w, "  frozen")
	}
	fmt.Fprintln(w)
	for _, pin := range m.Pinned {
		fmt.Fprintf(w, "\tpinned %s\n", pin)
	}
}

func mapShow(o bpfOpts, args []string, sio stdio) error {
	ref, err := optionalRef("MAP", args)
	if err != nil {
		return err
	}
	return showObjects(o, ref, sio, (*client.Client).Maps, toMapJSON, printMap)
}

// cpuValueJSON is one CPU's value of a per-CPU map's element.
type cpuValueJSON struct {
	CPU   int      `json:"cpu"`
	Value []string `json:"value"`
}

// entryJSON is a map element as bpftool prints it without BTF.
type entryJSON struct {
	Key    []string       `json:"key"`
	Value  []string       `json:"value,omitempty"`
	Values []cpuValueJSON `json:"values,omitempty"`
	// InnerMapID is a map of maps' value as the inner map's id.
	InnerMapID *uint32 `json:"inner_map_id,omitempty"`
}

func toEntryJSON(e proto.Entry, info proto.MapInfo) entryJSON {
	j := entryJSON{Key: hexJSON(e.Key)}
	if !info.PerCPU {
		j.Value = hexJSON(e.Value)
		if id, ok := innerMapID(info, e); ok {
			j.InnerMapID = &id
		}
		return j
	}
	j.Values = []cpuValueJSON{}
	for i, v := range e.Values {
		j.Values = append(j.Values, cpuValueJSON{i, hexJSON(v)})
	}
	return j
}

// printEntry prints an element as bpftool's print_entry_plain.
func printEntry(w io.Writer, m proto.MapInfo, e proto.Entry) {
	if m.PerCPU {
		fmt.Fprintf(w, "key:\n%s\n", hexWords(e.Key))
		sep := " "
		if m.BytesValue > 16 {
			sep = "\n"
		}
		for i, v := range e.Values {
			fmt.Fprintf(w, "value (CPU %02d):%s%s\n", i, sep, hexWords(v))
		}
		return
	}
	id, mapOfMaps := innerMapID(m, e)
	breakNames := m.BytesKey > 16 || m.BytesValue > 16
	single := m.BytesKey+m.BytesValue <= 24 && !breakNames
	sep := " "
	if breakNames {
		sep = "\n"
	}
	if m.BytesKey > 0 {
		fmt.Fprintf(w, "key:%s%s", sep, hexWords(e.Key))
		if single {
			fmt.Fprint(w, "  ")
		} else {
			fmt.Fprintln(w)
		}
	}
	switch {
	case mapOfMaps:
		fmt.Fprintf(w, "inner_map_id:%s%d ", sep, id)
	case m.BytesValue > 0:
		fmt.Fprintf(w, "value:%s%s", sep, hexWords(e.Value))
	}
	fmt.Fprintln(w)
}

// isMapOfMaps reports whether the map's values are inner maps.
func isMapOfMaps(m proto.MapInfo) bool {
	return m.Type == "array_of_maps" || m.Type == "hash_of_maps"
}

// innerMapID returns the inner map id a map of maps' element holds, as
// bpftool prints it (inner_map_id).
func innerMapID(m proto.MapInfo, e proto.Entry) (uint32, bool) {
	if !isMapOfMaps(m) || len(e.Value) != 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(e.Value), true
}

func mapDump(o bpfOpts, args []string, sio stdio) error {
	ref, args, err := parseRef("MAP", args)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.DumpMap(ref)
	if err != nil {
		return err
	}
	if o.json {
		js := make([]entryJSON, len(d.Entries))
		for i, e := range d.Entries {
			js[i] = toEntryJSON(e, d.Info)
		}
		return writeJSON(sio.out, o, js)
	}
	for _, e := range d.Entries {
		printEntry(sio.out, d.Info, e)
	}
	s := "s"
	if len(d.Entries) == 1 {
		s = ""
	}
	fmt.Fprintf(sio.out, "Found %d element%s\n", len(d.Entries), s)
	return nil
}

// mapOf resolves MAP at the start of args and connects: the key and
// value sizes decide how many BYTES the rest holds.
func mapOf(o bpfOpts, args []string) (*client.Client, proto.Ref, proto.MapInfo, []string, error) {
	ref, args, err := parseRef("MAP", args)
	if err != nil {
		return nil, ref, proto.MapInfo{}, nil, err
	}
	c, err := dialDaemon(o)
	if err != nil {
		return nil, ref, proto.MapInfo{}, nil, err
	}
	ms, err := c.Maps(ref)
	if err == nil && len(ms) != 1 {
		err = fmt.Errorf("map %s: %d maps match; name one by id: %w", ref, len(ms), proto.ErrAmbiguous)
	}
	if err != nil {
		c.Close()
		return nil, ref, proto.MapInfo{}, nil, err
	}
	// Name the map by id from now on: a name could match another map
	// created in between.
	return c, proto.Ref{ID: ms[0].ID}, ms[0], args, nil
}

// parseKey parses "key BYTES" at the start of args, BYTES of the map's
// key size; a map without keys (a queue, a stack) takes none.
func parseKey(args []string, info proto.MapInfo) ([]byte, []string, error) {
	if info.BytesKey == 0 {
		if len(args) > 0 && args[0] == "key" {
			return nil, nil, fmt.Errorf("unnecessary key: a %s map has no keys: %w", info.Type, errBadArgs)
		}
		return nil, args, nil
	}
	args, err := parseKeyword("key", args)
	if err != nil {
		return nil, nil, err
	}
	return parseBytes("key", args, int(info.BytesKey))
}

// parseKeyword expects word at the start of args.
func parseKeyword(word string, args []string) ([]string, error) {
	if len(args) == 0 || args[0] != word {
		return nil, fmt.Errorf("did not find %s: %w", word, errBadArgs)
	}
	return args[1:], nil
}

func mapLookup(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := mapOf(o, args)
	if err != nil {
		return err
	}
	defer c.Close()
	return lookupRest(o, c, ref, info, args, sio)
}

// lookupRest is map lookup (and peek) after MAP.
func lookupRest(o bpfOpts, c *client.Client, ref proto.Ref, info proto.MapInfo, args []string, sio stdio) error {
	key, args, err := parseKey(args, info)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	r, err := c.Lookup(ref, key)
	if err != nil {
		return err
	}
	switch {
	case !r.Found && o.json:
		writeJSON(sio.out, o, nil)
		return &exitError{1}
	case !r.Found:
		fmt.Fprintf(sio.out, "key:\n%s\n\nNot found\n", hexWords(key))
		return &exitError{1}
	case o.json:
		return writeJSON(sio.out, o, toEntryJSON(r.Entry, info))
	}
	printEntry(sio.out, info, r.Entry)
	return nil
}

func mapGetNext(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := mapOf(o, args)
	if err != nil {
		return err
	}
	defer c.Close()
	var key []byte
	if len(args) > 0 {
		if key, args, err = parseKey(args, info); err != nil {
			return err
		}
	}
	if err := noArgs(args); err != nil {
		return err
	}
	r, err := c.NextKey(ref, key)
	if err != nil {
		return err
	}
	if !r.Found {
		return fmt.Errorf("can't get next key: %w", proto.ErrNotFound)
	}
	if o.json {
		out := struct {
			Key     []string `json:"key"`
			NextKey []string `json:"next_key"`
		}{NextKey: hexJSON(r.Next)}
		if key != nil {
			out.Key = hexJSON(key)
		}
		return writeJSON(sio.out, o, out)
	}
	if key != nil {
		fmt.Fprintf(sio.out, "key:\n%s\n", hexWords(key))
	} else {
		fmt.Fprintln(sio.out, "key: None")
	}
	fmt.Fprintf(sio.out, "next key:\n%s\n", hexWords(r.Next))
	return nil
}

func mapUpdate(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := mapOf(o, args)
	if err != nil {
		return err
	}
	defer c.Close()
	return updateRest(o, c, ref, info, args, sio)
}

// updateRest is map update (and push) after MAP.
func updateRest(o bpfOpts, c *client.Client, ref proto.Ref, info proto.MapInfo, args []string, sio stdio) error {
	key, args, err := parseKey(args, info)
	if err != nil {
		return err
	}
	if args, err = parseKeyword("value", args); err != nil {
		return err
	}
	if info.Type == "prog_array" && len(args) > 0 && (args[0] == "id" || args[0] == "pinned" || args[0] == "name") {
		return progArrayUpdate(o, c, ref, key, args, sio)
	}
	if isMapOfMaps(info) {
		return mapOfMapsUpdate(o, c, ref, key, args, sio)
	}
	value, args, err := parseBytes("value", args, int(info.BytesValue))
	if err != nil {
		return err
	}
	flags, args, err := parseUpdateFlags(args)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	if err := c.Update(ref, key, value, flags); err != nil {
		return fmt.Errorf("update failed: %w", err)
	}
	return printDone(o, sio.out)
}

func mapDelete(o bpfOpts, args []string, sio stdio) error {
	c, ref, info, args, err := mapOf(o, args)
	if err != nil {
		return err
	}
	defer c.Close()
	key, args, err := parseKey(args, info)
	if err != nil {
		return err
	}
	if err := noArgs(args); err != nil {
		return err
	}
	if err := c.Delete(ref, key); err != nil {
		return fmt.Errorf("delete failed: %w", err)
	}
	return printDone(o, sio.out)
}

func mapCreate(o bpfOpts, args []string, sio stdio) error {
	if len(args) == 0 {
		return fmt.Errorf("expected PATH: %w", errBadArgs)
	}
	ca := &proto.MapCreateArgs{Path: args[0]}
	seen := map[string]bool{}
	num := func(word, s string) (uint32, error) {
		n, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("error parsing %s %q: %w", word, s, errBadArgs)
		}
		return uint32(n), nil
	}
	for rest := args[1:]; len(rest) > 0; {
		if len(rest) < 2 {
			return fmt.Errorf("%s needs a value: %w", rest[0], errBadArgs)
		}
		if seen[rest[0]] {
			return fmt.Errorf("%s given twice: %w", rest[0], errBadArgs)
		}
		seen[rest[0]] = true
		var err error
		if rest[0] == "inner_map" { // inner_map id ID | pinned PATH | name NAME
			ref, tail, err := parseRef("inner_map", rest[1:])
			if err != nil {
				return err
			}
			ca.InnerMap, rest = &ref, tail
			continue
		}
		switch rest[0] {
		case "type":
			ca.Type = rest[1]
		case "name":
			ca.Name = rest[1]
		case "key":
			ca.KeySize, err = num("key", rest[1])
		case "value":
			ca.ValueSize, err = num("value", rest[1])
		case "entries":
			ca.MaxEntries, err = num("entries", rest[1])
		case "flags":
			ca.Flags, err = num("flags", rest[1])
		default:
			return fmt.Errorf("unexpected argument %q: %w", rest[0], errBadArgs)
		}
		if err != nil {
			return err
		}
		rest = rest[2:]
	}
	for _, w := range []string{"type", "name"} {
		if !seen[w] {
			return fmt.Errorf("map create needs %s: %w", w, errBadArgs)
		}
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CreateMap(ca); err != nil {
		return fmt.Errorf("map create failed: %w", err)
	}
	return printDone(o, sio.out)
}

// parseUpdateFlags parses the optional any | exist | noexist at the start
// of args (default any).
func parseUpdateFlags(args []string) (uint64, []string, error) {
	if len(args) == 0 {
		return proto.UpdateAny, args, nil
	}
	switch args[0] {
	case "any":
		return proto.UpdateAny, args[1:], nil
	case "noexist":
		return proto.UpdateNoExist, args[1:], nil
	case "exist":
		return proto.UpdateExist, args[1:], nil
	}
	return 0, nil, fmt.Errorf("unexpected argument %q: want any, exist or noexist: %w", args[0], errBadArgs)
}
