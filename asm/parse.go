package asm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xebpf/xebpf/isa"
)

// kind is the operand syntax of a mnemonic.
type kind uint8

const (
	kALU   kind = iota // op %dst, %src|imm
	kNeg               // neg %dst
	kEnd               // le16 %dst
	kMovSX             // movsx832 %dst, %src
	kJump              // jeq %dst, %src|imm, target
	kJA                // ja target
	kJA32              // ja32 target
	kCall              // call imm | call %reg | call local target | call btf imm
	kCallX             // callx %reg (legacy: register in imm)
	kExit              // exit
	kLDDW              // lddw %dst, imm64 | lddw %dst, map_fd imm[, imm]
	kLDAbs             // ldabsw imm
	kLDInd             // ldindw %src, imm
	kLDX               // ldxw %dst, [%src+off]
	kST                // stw [%dst+off], imm
	kSTX               // stxw [%dst+off], %src
	kLock              // lock [fetch] op[32] [%dst+off], %src
)

// form is what a mnemonic fixes of the instruction.
type form struct {
	kind kind
	op   isa.OpCode // without the source bit for kALU and kJump
	off  int16
	imm  int32
}

var mnemonics = buildMnemonics()

func buildMnemonics() map[string]form {
	m := make(map[string]form)
	alu := []struct {
		name string
		op   isa.ALUOp
		off  int16
	}{
		{"add", isa.Add, 0}, {"sub", isa.Sub, 0}, {"mul", isa.Mul, 0}, {"div", isa.Div, 0},
		{"sdiv", isa.Div, 1}, {"or", isa.Or, 0}, {"and", isa.And, 0}, {"lsh", isa.LSh, 0},
		{"rsh", isa.RSh, 0}, {"mod", isa.Mod, 0}, {"smod", isa.Mod, 1}, {"xor", isa.Xor, 0},
		{"mov", isa.Mov, 0}, {"arsh", isa.ArSh, 0},
	}
	for _, a := range alu {
		m[a.name] = form{kind: kALU, op: isa.OpCode(isa.ClassALU64) | isa.OpCode(a.op), off: a.off}
		m[a.name+"32"] = form{kind: kALU, op: isa.OpCode(isa.ClassALU) | isa.OpCode(a.op), off: a.off}
	}
	m["neg"] = form{kind: kNeg, op: isa.OpCode(isa.ClassALU64) | isa.OpCode(isa.Neg)}
	m["neg32"] = form{kind: kNeg, op: isa.OpCode(isa.ClassALU) | isa.OpCode(isa.Neg)}
	for _, w := range []int32{16, 32, 64} {
		s := strconv.Itoa(int(w))
		end := isa.OpCode(isa.End)
		m["le"+s] = form{kind: kEnd, op: isa.OpCode(isa.ClassALU) | end, imm: w}
		m["be"+s] = form{kind: kEnd, op: isa.OpCode(isa.ClassALU) | end | isa.OpCode(isa.SourceReg), imm: w}
		m["swap"+s] = form{kind: kEnd, op: isa.OpCode(isa.ClassALU64) | end, imm: w}
		m["bswap"+s] = m["swap"+s]
	}
	for _, from := range []int16{8, 16, 32} {
		s := "movsx" + strconv.Itoa(int(from))
		mov := isa.OpCode(isa.Mov) | isa.OpCode(isa.SourceReg)
		if from < 32 { // no 32-bit source into a 32-bit register
			m[s+"32"] = form{kind: kMovSX, op: isa.OpCode(isa.ClassALU) | mov, off: from}
		}
		m[s+"64"] = form{kind: kMovSX, op: isa.OpCode(isa.ClassALU64) | mov, off: from}
	}
	for _, j := range []isa.JumpOp{isa.JEq, isa.JGT, isa.JGE, isa.JSet, isa.JNE, isa.JSGT, isa.JSGE, isa.JLT, isa.JLE, isa.JSLT, isa.JSLE} {
		m[j.String()] = form{kind: kJump, op: isa.OpCode(isa.ClassJMP) | isa.OpCode(j)}
		m[j.String()+"32"] = form{kind: kJump, op: isa.OpCode(isa.ClassJMP32) | isa.OpCode(j)}
	}
	m["ja"] = form{kind: kJA, op: isa.OpJA}
	m["ja32"] = form{kind: kJA32, op: isa.OpJA32}
	m["call"] = form{kind: kCall, op: isa.OpCall}
	m["callx"] = form{kind: kCallX, op: isa.OpCallX}
	m["exit"] = form{kind: kExit, op: isa.OpExit}
	m["lddw"] = form{kind: kLDDW, op: isa.OpLDDW}
	m["lock"] = form{kind: kLock}
	for _, sz := range []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW, isa.SizeDW} {
		s := sz.String()
		m["ldx"+s] = form{kind: kLDX, op: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMem) | isa.OpCode(sz)}
		m["st"+s] = form{kind: kST, op: isa.OpCode(isa.ClassST) | isa.OpCode(isa.ModeMem) | isa.OpCode(sz)}
		m["stx"+s] = form{kind: kSTX, op: isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeMem) | isa.OpCode(sz)}
		if sz == isa.SizeDW {
			continue
		}
		m["ldxs"+s] = form{kind: kLDX, op: isa.OpCode(isa.ClassLDX) | isa.OpCode(isa.ModeMemSX) | isa.OpCode(sz)}
		m["ldabs"+s] = form{kind: kLDAbs, op: isa.OpCode(isa.ClassLD) | isa.OpCode(isa.ModeAbs) | isa.OpCode(sz)}
		m["ldind"+s] = form{kind: kLDInd, op: isa.OpCode(isa.ClassLD) | isa.OpCode(isa.ModeInd) | isa.OpCode(sz)}
	}
	return m
}

var atomicOps = map[string]int32{
	"add": isa.AtomicAdd, "or": isa.AtomicOr, "and": isa.AtomicAnd, "xor": isa.AtomicXor,
	"xchg": isa.AtomicXchg, "cmpxchg": isa.AtomicCmpXchg,
}

// parser assembles one line.
type parser struct {
	a        *assembler
	line     int
	mnemonic string
}

func (p *parser) errorf(format string, args ...any) *Error {
	return p.a.errorf(p.line, "%s: %s", p.mnemonic, fmt.Sprintf(format, args...))
}

func (p *parser) instruction(rest string) (isa.Instruction, error) {
	f, ok := mnemonics[p.mnemonic]
	if !ok {
		return isa.Instruction{}, p.a.errorf(p.line, "unknown mnemonic %q", p.mnemonic)
	}
	ins := isa.Instruction{OpCode: f.op, Offset: f.off, Constant: int64(f.imm)}
	var ops []string
	if f.kind != kCall && f.kind != kLock {
		var err error
		if ops, err = p.operands(rest); err != nil {
			return ins, err
		}
	}
	var err error
	switch f.kind {
	case kALU:
		err = p.want(ops, 2)
		if err == nil {
			ins.Dst, err = p.register(ops[0])
		}
		if err == nil {
			err = p.source(&ins, ops[1])
		}
	case kNeg, kEnd:
		err = p.want(ops, 1)
		if err == nil {
			ins.Dst, err = p.register(ops[0])
		}
	case kMovSX:
		err = p.want(ops, 2)
		if err == nil {
			ins.Dst, err = p.register(ops[0])
		}
		if err == nil {
			ins.Src, err = p.register(ops[1])
		}
	case kJump:
		err = p.want(ops, 3)
		if err == nil {
			ins.Dst, err = p.register(ops[0])
		}
		if err == nil {
			err = p.source(&ins, ops[1])
		}
		if err == nil {
			err = p.target(&ins, ops[2], fixOffset)
		}
	case kJA:
		err = p.want(ops, 1)
		if err == nil {
			err = p.target(&ins, ops[0], fixOffset)
		}
	case kJA32:
		err = p.want(ops, 1)
		if err == nil {
			err = p.target(&ins, ops[0], fixImm)
		}
	case kCall:
		err = p.call(&ins, rest)
	case kCallX:
		err = p.want(ops, 1)
		var r isa.Register
		if err == nil {
			r, err = p.register(ops[0])
		}
		ins.Constant = int64(r)
	case kExit:
		err = p.want(ops, 0)
	case kLDDW:
		err = p.lddw(&ins, ops)
	case kLDAbs:
		err = p.want(ops, 1)
		if err == nil {
			ins.Constant, err = p.imm32(ops[0])
		}
	case kLDInd:
		err = p.want(ops, 2)
		if err == nil {
			ins.Src, err = p.register(ops[0])
		}
		if err == nil {
			ins.Constant, err = p.imm32(ops[1])
		}
	case kLDX:
		err = p.want(ops, 2)
		if err == nil {
			ins.Dst, err = p.register(ops[0])
		}
		if err == nil {
			ins.Src, ins.Offset, err = p.memory(ops[1])
		}
	case kST:
		err = p.want(ops, 2)
		if err == nil {
			ins.Dst, ins.Offset, err = p.memory(ops[0])
		}
		if err == nil {
			ins.Constant, err = p.imm32(ops[1])
		}
	case kSTX:
		err = p.want(ops, 2)
		if err == nil {
			ins.Dst, ins.Offset, err = p.memory(ops[0])
		}
		if err == nil {
			ins.Src, err = p.register(ops[1])
		}
	case kLock:
		err = p.lock(&ins, rest)
	}
	return ins, err
}

// operands splits comma-separated operands.
func (p *parser) operands(rest string) ([]string, error) {
	if rest == "" {
		return nil, nil
	}
	ops := strings.Split(rest, ",")
	for i := range ops {
		ops[i] = strings.TrimSpace(ops[i])
		if ops[i] == "" {
			return nil, p.errorf("empty operand %d", i+1)
		}
	}
	return ops, nil
}

func (p *parser) want(ops []string, n int) error {
	if len(ops) != n {
		return p.errorf("want %d operands, have %d", n, len(ops))
	}
	return nil
}

// register parses %r0 to %r10.
func (p *parser) register(s string) (isa.Register, error) {
	digits, ok := strings.CutPrefix(s, "%r")
	if !ok || digits == "" || len(digits) > 2 || digits[0] == '+' || digits[0] == '-' {
		return 0, p.errorf("bad register %q", s)
	}
	n, err := strconv.ParseUint(digits, 10, 8)
	if err != nil {
		return 0, p.errorf("bad register %q", s)
	}
	if n > uint64(isa.MaxRegister) {
		return 0, p.errorf("register %s out of range (%%r0 to %%r10)", s)
	}
	return isa.Register(n), nil
}

// source parses a register or 32-bit immediate operand and sets the
// opcode's source bit accordingly.
func (p *parser) source(ins *isa.Instruction, s string) error {
	if strings.HasPrefix(s, "%") {
		r, err := p.register(s)
		ins.Src = r
		ins.OpCode |= isa.OpCode(isa.SourceReg)
		return err
	}
	v, err := p.imm32(s)
	ins.Constant = v
	return err
}

// imm32 parses an immediate that fits in 32 bits, signed or unsigned
// (0xffffffff is -1), and returns it sign-extended.
func (p *parser) imm32(s string) (int64, error) {
	v, err := p.number(s, -1<<31, 1<<32-1)
	if err != nil {
		return 0, err
	}
	return int64(int32(uint32(v))), nil
}

// number parses a decimal or 0x-prefixed hexadecimal integer with an
// optional sign, and checks that it lies in [lo, hi].
func (p *parser) number(s string, lo int64, hi uint64) (uint64, error) {
	mag, neg, err := parseMagnitude(s)
	if err != nil {
		return 0, p.errorf("bad number %q", s)
	}
	if neg {
		if mag > uint64(-(lo+1))+1 {
			return 0, p.errorf("immediate %s out of %s range", s, rangeName(hi))
		}
		return -mag, nil
	}
	if mag > hi {
		return 0, p.errorf("immediate %s out of %s range", s, rangeName(hi))
	}
	return mag, nil
}

func rangeName(hi uint64) string {
	switch hi {
	case 1<<32 - 1:
		return "32-bit"
	case 1<<64 - 1:
		return "64-bit"
	}
	return fmt.Sprintf("[..%d]", hi)
}

// parseMagnitude splits an optionally signed decimal or hexadecimal integer.
func parseMagnitude(s string) (mag uint64, neg bool, err error) {
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	base := 10
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		base, s = 16, h
	} else if h, ok := strings.CutPrefix(s, "0X"); ok {
		base, s = 16, h
	}
	if s == "" || s[0] == '+' || s[0] == '-' || s[0] == '_' {
		return 0, false, strconv.ErrSyntax
	}
	mag, err = strconv.ParseUint(s, base, 64)
	return mag, neg, err
}

// target parses a jump target: a signed slot offset (+3, -2, 0x10) or a
// label, resolved once all labels are known.
func (p *parser) target(ins *isa.Instruction, s string, kind fixupKind) error {
	if c := s[0]; c == '+' || c == '-' || c >= '0' && c <= '9' {
		mag, neg, err := parseMagnitude(s)
		if err != nil {
			return p.errorf("bad jump target %q", s)
		}
		limit := uint64(1<<31 - 1)
		if kind == fixOffset {
			limit = 1<<15 - 1
		}
		if neg && mag > limit+1 || !neg && mag > limit {
			if kind == fixOffset {
				return p.errorf("jump offset %s beyond int16 range", s)
			}
			return p.errorf("jump offset %s beyond int32 range", s)
		}
		off := int64(mag)
		if neg {
			off = -off
		}
		switch kind {
		case fixOffset:
			ins.Offset = int16(off)
		case fixImm:
			ins.Constant = off
		case fixLDDWLo:
			ins.Constant = int64(uint64(ins.Constant)&^0xffffffff | uint64(uint32(int32(off))))
		}
		return nil
	}
	if !isLabel(s) {
		return p.errorf("bad jump target %q", s)
	}
	p.a.fixups = append(p.a.fixups, fixup{index: len(p.a.insns), slot: p.a.slots, line: p.line, label: s, kind: kind})
	return nil
}

// call parses `call imm`, `call NAME#imm`, `call %reg`, `call helper
// imm`, `call local target`, `call btf imm` and `call runtime imm`.
func (p *parser) call(ins *isa.Instruction, rest string) error {
	if rest == "" || strings.ContainsRune(rest, ',') {
		return p.errorf("want 1 operand")
	}
	mode, arg := splitWord(rest)
	if arg == "" {
		if strings.HasPrefix(mode, "%") {
			r, err := p.register(mode)
			ins.OpCode, ins.Dst = isa.OpCallX, r
			return err
		}
		if name, id, ok := strings.Cut(mode, "#"); ok {
			// bpftool's form: the helper's name, then its id.
			if name == "" || !isLabel(name) || strings.ContainsAny(name, ".$") {
				return p.errorf("bad helper name %q", name)
			}
			mode = id
		}
		var err error
		ins.Constant, err = p.imm32(mode)
		return err
	}
	if strings.ContainsAny(arg, " \t") {
		return p.errorf("want 1 operand")
	}
	var err error
	switch mode {
	case "helper":
		ins.Constant, err = p.imm32(arg)
	case "local":
		ins.Src = isa.CallLocal
		err = p.target(ins, arg, fixImm)
	case "btf", "runtime":
		ins.Src = isa.CallBTF
		ins.Constant, err = p.imm32(arg)
	default:
		err = p.errorf("unknown call kind %q (want helper, local, btf or runtime)", mode)
	}
	return err
}

// lddw parses `lddw %dst, imm64` and the pseudo forms `lddw %dst, map_fd
// imm[, next_imm]` and `lddw %dst, code target[, next_imm]`.
func (p *parser) lddw(ins *isa.Instruction, ops []string) error {
	if len(ops) != 2 && len(ops) != 3 {
		return p.errorf("want 2 or 3 operands, have %d", len(ops))
	}
	var err error
	if ins.Dst, err = p.register(ops[0]); err != nil {
		return err
	}
	kw, arg := splitWord(ops[1])
	if arg == "" {
		if len(ops) == 3 {
			return p.errorf("want 2 operands for a plain 64-bit immediate, have 3")
		}
		v, err := p.number(kw, -1<<63, 1<<64-1)
		ins.Constant = int64(v)
		return err
	}
	src, ok := isa.PseudoSource(kw)
	if !ok || src == isa.PseudoImm64 {
		return p.errorf("unknown lddw kind %q", kw)
	}
	ins.Src = src
	var hi int64
	if len(ops) == 3 {
		if hi, err = p.imm32(ops[2]); err != nil {
			return err
		}
	}
	ins.Constant = int64(uint64(uint32(hi)) << 32)
	if src == isa.PseudoFunc {
		return p.target(ins, arg, fixLDDWLo)
	}
	lo, err := p.imm32(arg)
	ins.Constant |= int64(uint32(lo))
	return err
}

// memory parses [%reg], [%reg+off] and [%reg-off].
func (p *parser) memory(s string) (isa.Register, int16, error) {
	bad := func() error { return p.errorf("bad memory operand %q", s) }
	inner, ok := strings.CutPrefix(s, "[")
	if !ok {
		return 0, 0, bad()
	}
	if inner, ok = strings.CutSuffix(inner, "]"); !ok {
		return 0, 0, bad()
	}
	inner = strings.ReplaceAll(strings.ReplaceAll(inner, " ", ""), "\t", "")
	i := strings.IndexAny(inner, "+-")
	if i < 0 {
		r, err := p.register(inner)
		return r, 0, err
	}
	r, err := p.register(inner[:i])
	if err != nil {
		return 0, 0, err
	}
	mag, neg, err := parseMagnitude(inner[i:])
	if err != nil || strings.ContainsAny(inner[i+1:], "+-") {
		return 0, 0, bad()
	}
	if neg && mag > 1<<15 || !neg && mag > 1<<15-1 {
		return 0, 0, p.errorf("memory offset %s beyond int16 range", inner[i:])
	}
	off := int64(mag)
	if neg {
		off = -off
	}
	return r, int16(off), nil
}

// lock parses `lock [fetch] op[32] [%dst+off], %src`.
func (p *parser) lock(ins *isa.Instruction, rest string) error {
	words, src, ok := strings.Cut(rest, ",")
	if !ok || strings.Contains(src, ",") {
		return p.errorf("want `lock [fetch] op [%%reg+off], %%reg`")
	}
	fetch := false
	word, mem := splitWord(strings.TrimSpace(words))
	if word == "fetch" {
		fetch = true
		word, mem = splitWord(mem)
	}
	class := isa.OpCode(isa.SizeDW)
	name := word
	if n, ok := strings.CutSuffix(word, "32"); ok {
		class, name = isa.OpCode(isa.SizeW), n
	}
	op, ok := atomicOps[name]
	if !ok {
		return p.errorf("unknown atomic operation %q", word)
	}
	if fetch && op&isa.AtomicFetch == 0 {
		op |= isa.AtomicFetch
	}
	ins.OpCode = isa.OpCode(isa.ClassSTX) | isa.OpCode(isa.ModeAtomic) | class
	ins.Constant = int64(op)
	var err error
	if ins.Dst, ins.Offset, err = p.memory(mem); err != nil {
		return err
	}
	ins.Src, err = p.register(strings.TrimSpace(src))
	return err
}
