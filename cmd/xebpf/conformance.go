package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xebpf/xebpf/internal/conformance"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
)

func parseMode(s string) (interp.Mode, error) {
	switch s {
	case "checked":
		return interp.Checked, nil
	case "fast":
		return interp.Fast, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want checked or fast)", s)
}

func cmdConformance(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	fs := newFlags("conformance", "[--mode checked|fast] [-v] DIR|FILE.data ...", stderr)
	modeName := fs.String("mode", "checked", "interpreter mode: checked or fast")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	mode, err := parseMode(*modeName)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fs.Usage()
		return errUsage
	}
	files, err := conformance.Files(paths)
	if err != nil {
		return err
	}
	passed, failed := 0, 0
	for _, f := range files {
		name := filepath.Base(f)
		t, err := conformance.ParseFile(f)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", name, err)
			continue
		}
		o := conformance.Run(t, mode)
		if o.Passed {
			passed++
			if *verbose {
				fmt.Fprintf(stdout, "PASS %s\n", name)
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s: %s\n", name, o.Reason)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return &exitError{1}
	}
	return nil
}

// cmdPlugin implements the bpf_conformance plugin protocol: the program on
// stdin as hex bytes, the input memory as the first non-flag argument, r0
// printed in hex. The runner puts the memory before the command name;
// runnerOrder moves it after.
func cmdPlugin(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	var memHex string
	isELF := false
	for _, a := range args {
		switch {
		case a == "--elf":
			isELF = true
		case a == "-h" || a == "--help":
			fmt.Fprintln(stderr, "usage: xebpf conformance-plugin [MEMORY_HEX] [--elf] < PROGRAM_HEX\n       xebpf MEMORY_HEX conformance-plugin [--elf] < PROGRAM_HEX  (the runner's order)")
			return nil
		case strings.HasPrefix(a, "--"):
			// Other runner options (such as --cpu_version) do not change xebpf.
		case memHex == "":
			memHex = a
		}
	}
	in, err := io.ReadAll(bufio.NewReader(sio.in))
	if err != nil {
		return err
	}
	code, err := conformance.ParseHexBytes(string(in))
	if err != nil {
		return fmt.Errorf("program: %w", err)
	}
	if isELF {
		if code, err = elfText(code); err != nil {
			return err
		}
	}
	mem, err := conformance.ParseHexBytes(memHex)
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	prog, err := isa.Decode(code)
	if err != nil {
		return err
	}
	r0, _, err := conformance.Exec(prog, mem, interp.Checked)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%x\n", r0)
	return nil
}

// elfText extracts the code of function main (or the whole .text or xdp
// section) from a small ELF object.
func elfText(b []byte) ([]byte, error) {
	f, err := elf.NewFile(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("elf: %w", err)
	}
	var sec *elf.Section
	for _, name := range []string{".text", "xdp"} {
		if s := f.Section(name); s != nil && s.Size > 0 {
			sec = s
			break
		}
	}
	if sec == nil {
		return nil, errors.New("elf: no .text or xdp section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("elf: section %q: %w", sec.Name, err)
	}
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == "main" && int(s.Section) < len(f.Sections) && f.Sections[s.Section] == sec {
			end := s.Value + s.Size
			if s.Size == 0 || end > uint64(len(data)) {
				end = uint64(len(data))
			}
			if s.Value <= end {
				return data[s.Value:end], nil
			}
		}
	}
	return data, nil
}
