package main

import (
	"fmt"
	"io"
	"os"

	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/isa"
)

func cmdAsm(args []string, sio stdio) error {
	stderr := sio.errout
	fs := newFlags("asm", "FILE.s -o FILE.bin", stderr)
	out := fs.String("o", "", "output file for the raw bytecode (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		fs.Usage()
		return errUsage
	}
	src, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	insns, err := asm.AssembleProgram(pos[0], src)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, isa.Encode(nil, insns), 0o644)
}

func cmdDisasm(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	fs := newFlags("disasm", "FILE.o [--program NAME] | FILE.bin [--raw] [--pc]\n\n"+
		"Raw bytecode disassembles to text xebpf asm reads back; an ELF object to a\n"+
		"listing with source lines and map names, which is not assembler input.", stderr)
	listing := fs.Bool("pc", false, "prefix each instruction with its slot number (raw bytecode)")
	only := fs.String("program", "", "disassemble only this program of an ELF object")
	raw := fs.Bool("raw", false, "the file is raw bytecode (without it, a file that is not ELF is taken as raw bytecode with a note on stderr)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	code, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	if !*raw {
		if isELF(code) {
			return disasmELF(sio.out, pos[0], *only)
		}
		fmt.Fprintf(stderr, "xebpf disasm: %s is not an ELF object: disassembling it as raw bytecode (--raw skips this note)\n", pos[0])
	}
	insns, err := isa.Decode(code)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	_, err = io.WriteString(stdout, disassemble(insns, nil, *listing))
	return err
}
