// Package asm assembles and disassembles eBPF programs in the text syntax of
// the bpf_conformance suite:
//
//	mov %r1, 5              # 64-bit ALU, immediate source
//	add32 %r0, %r1          # 32-bit ALU, register source
//	ldxw %r0, [%r1+4]       # load
//	stxdw [%r10-8], %r1     # store
//	lddw %r0, 0x1122334455667788
//	jeq %r1, 5, done        # jump to a label
//	ja -2                   # jump by a signed slot offset
//	lock fetch add [%r10-8], %r1
//	call local func1
//	done:
//	exit
//
// The syntax is the one isa.Instruction.String prints, and Assemble accepts
// everything String prints, so Assemble(Disassemble(p)) encodes to the same
// bytes as p for every valid program p. Assemble also reads a helper call
// as bpftool and xebpf disasm print it, `call bpf_map_lookup_elem#1`: the
// number after '#' is the helper's id, the name before it is not checked.
package asm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xebpf/xebpf/isa"
)

// Error is a problem in assembly text, located by file name and line.
type Error struct {
	File string // name given to Assemble
	Line int    // 1-based line number
	Msg  string // what is wrong
	Err  error  // underlying cause, such as an *isa.Reason; may be nil
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Unwrap returns the underlying cause, so errors.Is(err, isa.ErrFramePointerWrite) works.
func (e *Error) Unwrap() error { return e.Err }

// Assemble translates assembly text into instructions. name is used only in
// error messages (`name:line: message`). Every instruction is checked with
// isa.Instruction.Validate; the control flow of the whole program (jumps
// landing inside it) is left to isa.CheckProgram. Errors are *Error.
func Assemble(name string, src []byte) ([]isa.Instruction, error) {
	a, err := assemble(name, src)
	if err != nil {
		return nil, err
	}
	return a.insns, nil
}

// AssembleProgram is Assemble followed by the checks of a whole program
// (isa.CheckProgram): every jump, local call and code address must land on
// an instruction of the program. Its errors too are *Error, at the line of
// the instruction at fault.
func AssembleProgram(name string, src []byte) ([]isa.Instruction, error) {
	a, err := assemble(name, src)
	if err != nil {
		return nil, err
	}
	if err := isa.CheckProgram(a.insns); err != nil {
		var ie *isa.Error
		if !errors.As(err, &ie) {
			return nil, &Error{File: name, Line: 1, Msg: err.Error(), Err: err}
		}
		line, text := 1, ""
		pc := 0
		for i, ins := range a.insns {
			if pc == ie.PC {
				line, text = a.lines[i], ins.String()+": "
				break
			}
			pc += ins.Slots()
		}
		msg := text + ie.Reason.Error()
		if ie.Detail != "" {
			msg += ": " + ie.Detail
		}
		return nil, &Error{File: name, Line: line, Msg: msg, Err: err}
	}
	return a.insns, nil
}

func assemble(name string, src []byte) (*assembler, error) {
	a := &assembler{file: name, labels: make(map[string]label), firstExit: -1}
	text := string(src)
	for lineNo := 1; text != ""; lineNo++ {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if err := a.line(lineNo, line); err != nil {
			return nil, err
		}
	}
	if err := a.resolve(); err != nil {
		return nil, err
	}
	if len(a.insns) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "no instructions"}
	}
	return a, nil
}

// Disassemble formats instructions one per line in the syntax Assemble
// reads, with jump targets as signed slot offsets (`ja +3`).
func Disassemble(insns []isa.Instruction) string {
	var b strings.Builder
	for _, ins := range insns {
		b.WriteString(ins.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Listing formats instructions one per line prefixed with their slot number
// (`   4: exit`). Assemble reads listings too: the prefixes are labels.
func Listing(insns []isa.Instruction) string {
	var b strings.Builder
	pc := 0
	for _, ins := range insns {
		fmt.Fprintf(&b, "%4d: %s\n", pc, ins)
		pc += ins.Slots()
	}
	return b.String()
}

type label struct {
	slot int
	line int
}

// fixupKind says which field of an instruction a label reference fills.
type fixupKind uint8

const (
	fixOffset fixupKind = iota // 16-bit jump offset
	fixImm                     // 32-bit immediate (ja32, call local)
	fixLDDWLo                  // low half of an lddw constant (code)
)

type fixup struct {
	index int // in insns
	slot  int // pc of the instruction
	line  int
	label string
	kind  fixupKind
}

type assembler struct {
	file      string
	insns     []isa.Instruction
	lines     []int // source line of each instruction
	slots     int
	labels    map[string]label
	fixups    []fixup
	firstExit int // slot of the first exit, the implicit label "exit"
}

func (a *assembler) errorf(line int, format string, args ...any) *Error {
	return &Error{File: a.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (a *assembler) line(lineNo int, line string) error {
	if i := commentStart(line); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return nil
	}
	first, rest := splitWord(line)
	if strings.HasSuffix(first, ":") {
		name := first[:len(first)-1]
		if !isLabel(name) {
			return a.errorf(lineNo, "bad label %q", name)
		}
		if prev, ok := a.labels[name]; ok {
			return a.errorf(lineNo, "duplicate label %q (first defined on line %d)", name, prev.line)
		}
		a.labels[name] = label{slot: a.slots, line: lineNo}
		if rest == "" {
			return nil
		}
		first, rest = splitWord(rest)
	}
	p := parser{a: a, line: lineNo, mnemonic: first}
	ins, err := p.instruction(rest)
	if err != nil {
		return err
	}
	if err := ins.Validate(); err != nil {
		return &Error{File: a.file, Line: lineNo, Msg: first + ": " + err.Error(), Err: err}
	}
	if ins.OpCode == isa.OpExit && a.firstExit < 0 {
		a.firstExit = a.slots
	}
	if a.slots+ins.Slots() > isa.MaxInstructions {
		return a.errorf(lineNo, "program exceeds %d slots", isa.MaxInstructions)
	}
	a.insns = append(a.insns, ins)
	a.lines = append(a.lines, lineNo)
	a.slots += ins.Slots()
	return nil
}

// resolve fills label references once all labels are known.
func (a *assembler) resolve() error {
	for _, f := range a.fixups {
		l, ok := a.labels[f.label]
		target := l.slot
		if !ok {
			if f.label != "exit" || a.firstExit < 0 {
				return a.errorf(f.line, "undefined label %q", f.label)
			}
			target = a.firstExit // bpf_conformance: "exit" names the first exit
		}
		off := target - f.slot - 1
		ins := &a.insns[f.index]
		switch f.kind {
		case fixOffset:
			if off < -1<<15 || off >= 1<<15 {
				return a.errorf(f.line, "jump offset %d to label %q beyond int16 range", off, f.label)
			}
			ins.Offset = int16(off)
		case fixImm:
			ins.Constant = int64(off) // |off| < MaxInstructions fits in 32 bits
		case fixLDDWLo:
			ins.Constant = int64(uint64(ins.Constant)&^0xffffffff | uint64(uint32(int32(off))))
		}
	}
	return nil
}

// commentStart returns where a '#' comment starts in line, or -1. The '#'
// of a helper call's `NAME#ID` (a name, '#', a digit) starts none.
func commentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] != '#' {
			continue
		}
		if i > 0 && isIdentByte(line[i-1]) && i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9' {
			if w := strings.Fields(line[:i]); len(w) >= 2 && w[len(w)-2] == "call" {
				continue
			}
		}
		return i
	}
	return -1
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func splitWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// isLabel reports whether s is a valid label name: letters, digits, '_', '.'
// and '$'. A name of digits only is allowed (listings use slot numbers).
func isLabel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '$') {
			return false
		}
	}
	return true
}
