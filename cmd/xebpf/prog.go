package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

const progSynopsis = `prog load OBJ PATH [type TYPE] [pinmaps DIR]
prog loadall OBJ DIR [type TYPE] [pinmaps DIR]
prog show [PROG]
prog dump xlated PROG
prog run PROG [data_in FILE] [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]
prog pin PROG PATH
  PROG := id ID | pinned PATH | name NAME
  options: -j/--json, -p/--pretty, --socket PATH (default $XEBPF_SOCKET)`

func init() {
	commands["prog"] = command{"load, show, dump, run and pin programs in the xebpf daemon, as bpftool prog",
		func(args []string, sio stdio) error {
			return bpfCommand("prog", progSynopsis, map[string]func(bpfOpts, []string, stdio) error{
				"load":    func(o bpfOpts, a []string, s stdio) error { return progLoad(o, a, s, false) },
				"loadall": func(o bpfOpts, a []string, s stdio) error { return progLoad(o, a, s, true) },
				"show":    progShow,
				"list":    progShow,
				"dump":    progDump,
				"run":     progRun,
				"pin":     pinVerb(func(a []string) (proto.Ref, []string, error) { return parseRef("PROG", a) }, (*client.Client).PinProgram),
			}, args, sio)
		}}
}

// progLoad is prog load OBJ PATH and prog loadall OBJ DIR.
func progLoad(o bpfOpts, args []string, sio stdio, all bool) error {
	if len(args) < 2 {
		return fmt.Errorf("expected OBJ and PATH: %w", errBadArgs)
	}
	obj, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read object: %w", err)
	}
	la := &proto.LoadArgs{Object: obj}
	if all {
		la.PinAllDir = args[1]
	} else {
		la.PinFirst = args[1]
	}
	for rest := args[2:]; len(rest) > 0; rest = rest[2:] {
		if len(rest) < 2 {
			return fmt.Errorf("%s needs a value: %w", rest[0], errBadArgs)
		}
		switch rest[0] {
		case "type":
			la.Type = rest[1]
		case "pinmaps":
			la.PinMapsDir = rest[1]
		default:
			return fmt.Errorf("unexpected argument %q: %w", rest[0], errBadArgs)
		}
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Load(la); err != nil {
		return err
	}
	return printDone(o, sio.out)
}

// progJSON is bpftool's prog show -j object.
type progJSON struct {
	ID            uint32   `json:"id"`
	Type          string   `json:"type"`
	Name          string   `json:"name"`
	Tag           string   `json:"tag"`
	GPLCompatible bool     `json:"gpl_compatible"`
	RunTimeNs     *uint64  `json:"run_time_ns,omitempty"`
	RunCnt        *uint64  `json:"run_cnt,omitempty"`
	LoadedAt      int64    `json:"loaded_at"`
	UID           uint32   `json:"uid"`
	BytesXlated   uint32   `json:"bytes_xlated"`
	Jited         bool     `json:"jited"`
	MapIDs        []uint32 `json:"map_ids,omitempty"`
	Pinned        []string `json:"pinned,omitempty"`
}

func toProgJSON(p proto.ProgInfo) progJSON {
	j := progJSON{ID: p.ID, Type: p.Type, Name: p.Name, Tag: p.Tag, GPLCompatible: p.GPLCompatible,
		LoadedAt: p.LoadedAt, UID: p.UID, BytesXlated: p.BytesXlated, MapIDs: p.MapIDs, Pinned: p.Pinned}
	if p.RunTimeNs != 0 {
		j.RunTimeNs, j.RunCnt = &p.RunTimeNs, &p.RunCnt
	}
	return j
}

// printProg prints a program as bpftool prog show does.
func printProg(w io.Writer, p proto.ProgInfo) {
	fmt.Fprintf(w, "%d: %s  name %s  tag %s", p.ID, p.Type, p.Name, p.Tag)
	if p.GPLCompatible {
		fmt.Fprint(w, "  gpl")
	}
	if p.RunTimeNs != 0 {
		fmt.Fprintf(w, " run_time_ns %d run_cnt %d", p.RunTimeNs, p.RunCnt)
	}
	fmt.Fprintf(w, "\n\tloaded_at %s  uid %d\n", time.Unix(p.LoadedAt, 0).UTC().Format("2006-01-02T15:04:05-0700"), p.UID)
	fmt.Fprintf(w, "\txlated %dB  not jited", p.BytesXlated)
	if len(p.MapIDs) > 0 {
		ids := make([]string, len(p.MapIDs))
		for i, id := range p.MapIDs {
			ids[i] = strconv.FormatUint(uint64(id), 10)
		}
		fmt.Fprintf(w, "  map_ids %s", strings.Join(ids, ","))
	}
	fmt.Fprintln(w)
	for _, pin := range p.Pinned {
		fmt.Fprintf(w, "\tpinned %s\n", pin)
	}
}

// progShow is prog show [PROG]: one object in JSON for a PROG that names
// one program, as bpftool, else an array.
func progShow(o bpfOpts, args []string, sio stdio) error {
	ref, err := optionalRef("PROG", args)
	if err != nil {
		return err
	}
	return showObjects(o, ref, sio, (*client.Client).Programs, toProgJSON, printProg)
}

// progDump is prog dump xlated PROG.
func progDump(o bpfOpts, args []string, sio stdio) error {
	if len(args) == 0 || args[0] != "xlated" {
		return fmt.Errorf("expected 'xlated' (xebpf has no JIT to dump): %w", errBadArgs)
	}
	ref, args, err := parseRef("PROG", args[1:])
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
	insns, err := c.Dump(ref)
	if err != nil {
		return err
	}
	if o.json {
		type insnJSON struct {
			Disasm string `json:"disasm"`
		}
		js := make([]insnJSON, len(insns))
		for i, in := range insns {
			js[i] = insnJSON{in.Disasm}
		}
		return writeJSON(sio.out, o, js)
	}
	for _, in := range insns {
		fmt.Fprintf(sio.out, "%4d: %s\n", in.PC, in.Disasm)
	}
	return nil
}

// readInput reads FILE, or standard input for "-".
func readInput(name string, sio stdio) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(sio.in)
	}
	return os.ReadFile(name)
}

// progRun is prog run PROG data_in FILE ..., as BPF_PROG_TEST_RUN.
func progRun(o bpfOpts, args []string, sio stdio) error {
	ref, args, err := parseRef("PROG", args)
	if err != nil {
		return err
	}
	ra := &proto.RunArgs{Ref: ref}
	files := map[string]string{}
	for ; len(args) > 0; args = args[2:] {
		if len(args) < 2 {
			return fmt.Errorf("%s needs a value: %w", args[0], errBadArgs)
		}
		switch args[0] {
		case "data_in", "data_out", "ctx_in", "ctx_out":
			files[args[0]] = args[1]
		case "repeat":
			n, err := strconv.ParseUint(args[1], 0, 32)
			if err != nil {
				return fmt.Errorf("can't parse repeat %q: %w", args[1], errBadArgs)
			}
			ra.Repeat = uint32(n)
		default:
			return fmt.Errorf("unexpected argument %q: %w", args[0], errBadArgs)
		}
	}
	if files["data_in"] == "-" && files["ctx_in"] == "-" {
		return fmt.Errorf("data_in and ctx_in cannot both be standard input: %w", errBadArgs)
	}
	if f, ok := files["data_in"]; ok {
		if ra.Data, err = readInput(f, sio); err != nil {
			return fmt.Errorf("data_in: %w", err)
		}
	}
	if f, ok := files["ctx_in"]; ok {
		if ra.Ctx, err = readInput(f, sio); err != nil {
			return fmt.Errorf("ctx_in: %w", err)
		}
	}
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Run(ra)
	if err != nil {
		return err
	}
	// bpftool's JSON: the outputs written to standard output, as byte
	// values, then retval and duration.
	var out struct {
		DataOut    []int  `json:"data_out,omitempty"`
		ContextOut []int  `json:"context_out,omitempty"`
		Retval     uint32 `json:"retval"`
		Duration   int64  `json:"duration"`
	}
	for _, f := range []struct {
		arg  string
		data []byte
		dst  *[]int
	}{{"data_out", res.DataOut, &out.DataOut}, {"ctx_out", res.CtxOut, &out.ContextOut}} {
		name, ok := files[f.arg]
		switch {
		case !ok:
		case name != "-":
			if err := os.WriteFile(name, f.data, 0o644); err != nil {
				return fmt.Errorf("%s: %w", f.arg, err)
			}
		case o.json:
			*f.dst = make([]int, len(f.data))
			for i, b := range f.data {
				(*f.dst)[i] = int(b)
			}
		default:
			hexDump(sio.out, f.data)
		}
	}
	if o.json {
		out.Retval, out.Duration = res.Retval, res.DurationNs
		return writeJSON(sio.out, o, &out)
	}
	avg := ""
	if ra.Repeat > 1 {
		avg = " (average)"
	}
	fmt.Fprintf(sio.out, "Return value: %d, duration%s: %dns\n", res.Retval, avg, res.DurationNs)
	return nil
}
