package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/xebpf/xebpf"
)

func cmdInspect(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	fs := newFlags("inspect", "FILE.o [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	spec, err := xebpf.LoadCollectionSpec(pos[0])
	if err != nil {
		return err
	}
	sum := spec.Summary()
	if *asJSON {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tSECTION\tTYPE\tINSNS\tSOURCE")
	for _, p := range sum.Programs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Name, p.Section, p.Type, p.Instructions, p.SourceFile)
	}
	tw.Flush()
	if len(sum.Maps) > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprintln(tw, "MAP\tTYPE\tKEY\tVALUE\tMAX_ENTRIES\tFLAGS")
		for _, m := range sum.Maps {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%#x\n", m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Flags)
		}
		tw.Flush()
	}
	if len(sum.Unresolved) > 0 {
		fmt.Fprintln(stdout, "\nunresolved:")
		for _, u := range sum.Unresolved {
			fmt.Fprintf(stdout, "  %s insn %d: %s: %s\n", u.Program, u.Slot, u.Symbol, u.Reason)
		}
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}

// isELF reports whether b starts with the ELF magic.
func isELF(b []byte) bool { return bytes.HasPrefix(b, []byte("\x7fELF")) }

// disasmELF prints every program of an object with its source lines.
func disasmELF(w io.Writer, path string, only string) error {
	spec, err := xebpf.LoadCollectionSpec(path)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		if only == "" || n == only {
			names = append(names, n)
		}
	}
	if only != "" && len(names) == 0 {
		return fmt.Errorf("no program %q", only)
	}
	sort.Strings(names)
	for i, n := range names {
		p := spec.Programs[n]
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (section %s, %s):\n", n, p.SectionName, p.Type)
		lastLine := ""
		pc := 0
		funcs := map[int]string{}
		for _, f := range p.Functions {
			funcs[f.Slot] = f.Name
		}
		for _, ins := range p.Instructions {
			if f, ok := funcs[pc]; ok && pc != 0 {
				fmt.Fprintf(w, "%s:\n", f)
			}
			if l, ok := p.LineInfo(pc); ok {
				key := fmt.Sprintf("%s:%d", l.File, l.Line)
				if key != lastLine {
					fmt.Fprintf(w, "  ; %s  [%s]\n", strings.TrimSpace(l.Text), key)
					lastLine = key
				}
			}
			fmt.Fprintf(w, "%6d: %s\n", pc, insnText(ins, spec.MapOrder))
			pc += ins.Slots()
		}
	}
	return nil
}
