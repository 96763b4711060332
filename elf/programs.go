package elf

import (
	stdelf "debug/elf"
	"fmt"
	"sort"
	"strings"

	"github.com/xebpf/xebpf/isa"
)

// function is one function of a code section: a program entry point, a
// subprogram or both.
type function struct {
	sec        *section
	name       string
	off, size  uint64 // byte range in the section
	insns      []isa.Instruction
	slots      []int       // slot of each instruction within the function
	targets    []codeRef   // code references (calls, code addresses)
	mapRefs    []mapRef    // map references to patch once maps are ordered
	refs       []*function // other functions it references
	unresolved []unresolvedRef
	program    bool
}

// PoisonHelper is the helper id given to calls to undefined functions that
// name no helper; it is libbpf's CO-RE poison value 0xbad2310, which no
// helper has. ProgramSpec.Unresolved lists such calls.
const PoisonHelper = 0xbad2310

// unresolvedRef is an instruction whose reference was left unresolved.
type unresolvedRef struct {
	ins    int
	symbol string
	reason string
}

// codeRef is a call or code address in instruction ins that targets byte
// offset off of section sec.
type codeRef struct {
	ins int
	sec *section
	off uint64
	fn  *function // the function containing off, set by resolveAll
}

// mapRef is an lddw in instruction ins that loads the address of map name
// (value: the address of its value plus off).
type mapRef struct {
	ins   int
	name  string
	off   uint32
	value bool
}

// loadFunctions splits every code section into functions and decodes them.
func (ld *loader) loadFunctions() error {
	for _, s := range ld.secs {
		if s.kind != kindCode || s.size == 0 {
			continue
		}
		d, err := ld.read(s)
		if err != nil {
			return err
		}
		if len(d)%isa.InstructionSize != 0 {
			return secErr(s.name, -1, ErrMalformed, "code size %d is not a multiple of %d", len(d), isa.InstructionSize)
		}
		if err := ld.splitFunctions(s); err != nil {
			return err
		}
		for _, fn := range s.funcs {
			if err := fn.decode(d); err != nil {
				return err
			}
		}
		ld.funcs = append(ld.funcs, s.funcs...)
	}
	return nil
}

// splitFunctions finds the functions of a code section from its symbols:
// function symbols, or for old objects whose program symbols are untyped or
// sized 0, global untyped symbols, each running to the next symbol. Code
// before the first symbol, or a section without symbols, becomes a function
// named after the section.
func (ld *loader) splitFunctions(s *section) error {
	var syms []*symbol
	for i := range ld.syms {
		sym := &ld.syms[i]
		if int(sym.Section) != s.idx || sym.Name == "" {
			continue
		}
		t := sym.typ()
		if t == stdelf.STT_FUNC || (t == stdelf.STT_NOTYPE && sym.bind() == stdelf.STB_GLOBAL) {
			syms = append(syms, sym)
		}
	}
	sort.SliceStable(syms, func(i, j int) bool {
		if syms[i].Value != syms[j].Value {
			return syms[i].Value < syms[j].Value
		}
		// Prefer a function symbol, then a global one, for aliases.
		return rank(syms[i]) < rank(syms[j])
	})
	var starts []*symbol
	for _, sym := range syms {
		if len(starts) > 0 && starts[len(starts)-1].Value == sym.Value {
			continue
		}
		if sym.Value%isa.InstructionSize != 0 || sym.Value >= s.size {
			return secErr(s.name, int64(sym.Value), ErrMalformed, "function %q does not start at an instruction of the section", sym.Name)
		}
		starts = append(starts, sym)
	}
	if len(starts) == 0 || starts[0].Value != 0 {
		end := s.size
		if len(starts) > 0 {
			end = starts[0].Value
		}
		s.funcs = append(s.funcs, &function{sec: s, name: s.name, off: 0, size: end})
	}
	for i, sym := range starts {
		end := s.size
		if i+1 < len(starts) {
			end = starts[i+1].Value
		}
		if sym.Size != 0 {
			if sym.Size > s.size-sym.Value {
				return secErr(s.name, int64(sym.Value), ErrMalformed, "function %q of %d bytes extends past the section end", sym.Name, sym.Size)
			}
			if sym.Value+sym.Size > end {
				return secErr(s.name, int64(sym.Value), ErrMalformed, "function %q of %d bytes overlaps the next function", sym.Name, sym.Size)
			}
			if sym.Size%isa.InstructionSize != 0 {
				return secErr(s.name, int64(sym.Value), ErrMalformed, "function %q size %d is not a multiple of %d", sym.Name, sym.Size, isa.InstructionSize)
			}
			end = sym.Value + sym.Size
		}
		s.funcs = append(s.funcs, &function{sec: s, name: sym.Name, off: sym.Value, size: end - sym.Value})
	}
	return nil
}

func rank(s *symbol) int {
	r := 0
	if s.typ() != stdelf.STT_FUNC {
		r += 2
	}
	if s.bind() != stdelf.STB_GLOBAL {
		r++
	}
	return r
}

// decode decodes the function's instructions from the section contents,
// checking only structure: the verifier judges the rest.
func (fn *function) decode(d []byte) error {
	if fn.size == 0 {
		return secErr(fn.sec.name, int64(fn.off), ErrMalformed, "function %q is empty", fn.name)
	}
	code := d[fn.off : fn.off+fn.size]
	n := len(code) / isa.InstructionSize
	fn.insns = make([]isa.Instruction, 0, n)
	fn.slots = make([]int, 0, n)
	for pc := 0; pc < n; pc++ {
		op, dst, src, off, imm := isa.DecodeSlot(code[pc*isa.InstructionSize:])
		ins := isa.Instruction{OpCode: op, Dst: dst, Src: src, Offset: off, Constant: int64(imm)}
		if op == isa.OpLDDW {
			at := int64(fn.off) + int64(pc*isa.InstructionSize)
			if pc+1 >= n {
				return secErr(fn.sec.name, at, ErrMalformed, "function %q: %v", fn.name, isa.ErrTruncatedLDDW)
			}
			op2, dst2, src2, off2, imm2 := isa.DecodeSlot(code[(pc+1)*isa.InstructionSize:])
			if op2 != 0 || dst2 != 0 || src2 != 0 || off2 != 0 {
				return secErr(fn.sec.name, at+8, ErrMalformed, "function %q: %v", fn.name, isa.ErrBadLDDWSecondHalf)
			}
			ins.Constant = int64(uint64(uint32(imm)) | uint64(uint32(imm2))<<32)
		}
		fn.insns = append(fn.insns, ins)
		fn.slots = append(fn.slots, pc)
		pc += ins.Slots() - 1
	}
	return nil
}

// findFunction returns the function of a code section containing byte
// offset off.
func (s *section) findFunction(off uint64) *function {
	i := sort.Search(len(s.funcs), func(i int) bool { return s.funcs[i].off+s.funcs[i].size > off })
	if i < len(s.funcs) && s.funcs[i].off <= off {
		return s.funcs[i]
	}
	return nil
}

// resolveAll resolves the relocations and local references of every
// function, and decides which functions are programs: every function of a
// code section other than .text, and the functions of .text that no other
// function calls or takes the address of.
func (ld *loader) resolveAll() error {
	for _, fn := range ld.funcs {
		if err := ld.resolve(fn); err != nil {
			return err
		}
	}
	referenced := map[*function]bool{}
	for _, fn := range ld.funcs {
		for _, r := range fn.refs {
			if r != fn {
				referenced[r] = true
			}
		}
	}
	for _, fn := range ld.funcs {
		fn.program = fn.sec.name != ".text" || !referenced[fn]
	}
	return nil
}

func (ld *loader) resolve(fn *function) error {
	s := fn.sec
	for i := range fn.insns {
		ins := &fn.insns[i]
		at := fn.off + uint64(fn.slots[i])*isa.InstructionSize
		fail := func(kind error, format string, args ...any) error {
			return secErr(s.name, int64(at), kind, "function %q: insn %d: %s", fn.name, fn.slots[i], fmt.Sprintf(format, args...))
		}
		r, hasReloc := s.relocAt(at)
		if hasReloc && r.typ == 0 && ld.f.Machine != stdelf.EM_NONE {
			// R_BPF_NONE. Objects of toolchains that predate EM_BPF
			// (e_machine EM_NONE, like OVS's datapath.o) give every
			// relocation type 0, and those must be applied.
			hasReloc = false
		}
		if hasReloc {
			if err := ld.relocate(fn, i, r, fail); err != nil {
				return err
			}
		} else if ins.OpCode == isa.OpCall && ins.Src == isa.CallLocal ||
			ins.OpCode == isa.OpLDDW && ins.Src == isa.PseudoFunc {
			// Local reference within the section, relative to the next slot.
			t := int64(at) + (int64(int32(ins.Constant))+1)*isa.InstructionSize
			if t < 0 || uint64(t) >= s.size {
				return fail(ErrMalformed, "call target %d outside the section", t)
			}
			fn.targets = append(fn.targets, codeRef{ins: i, sec: s, off: uint64(t)})
		}
		// A relocation may not point into the second half of an lddw.
		if ins.IsLDDW() {
			if _, bad := s.relocAt(at + 8); bad {
				return secErr(s.name, int64(at+8), ErrMalformed, "function %q: relocation on the second half of an lddw", fn.name)
			}
		}
	}
	for j := range fn.targets {
		t := &fn.targets[j]
		tf := t.sec.findFunction(t.off)
		if tf == nil {
			return secErr(s.name, -1, ErrMalformed, "function %q: reference to offset %d of section %q, which holds no function", fn.name, t.off, t.sec.name)
		}
		t.fn = tf
		fn.refs = append(fn.refs, tf)
	}
	return nil
}

// relocate applies relocation r to instruction i of fn.
func (ld *loader) relocate(fn *function, i int, r reloc, fail func(error, string, ...any) error) error {
	ins := &fn.insns[i]
	sym := ld.sym(r.sym)
	if sym == nil {
		return fail(ErrMalformed, "relocation against symbol %d", r.sym)
	}
	if sym.undefined() {
		return ld.relocateExtern(fn, i, sym, fail)
	}
	ts := ld.symSection(sym)
	if ts == nil {
		return fail(ErrMalformed, "relocation against symbol %q in special section %#x", sym.Name, uint16(sym.Section))
	}
	imm := int64(int32(ins.Constant))
	switch ts.kind {
	case kindLegacyMaps, kindBTFMaps:
		if !ins.IsLDDW() {
			return fail(ErrMalformed, "map %q referenced by %v, not lddw", sym.Name, ins.OpCode)
		}
		off := sym.Value
		if sym.isSection() {
			off += uint64(uint32(imm))
		}
		name, ok := ts.mapsByOff[off]
		if !ok {
			return fail(ErrMalformed, "reference to offset %d of %q, where no map starts", off, ts.name)
		}
		fn.mapRefs = append(fn.mapRefs, mapRef{ins: i, name: name})
	case kindData:
		if !ins.IsLDDW() {
			return fail(ErrMalformed, "global data %q referenced by %v, not lddw", sym.Name, ins.OpCode)
		}
		off := int64(sym.Value) + imm
		if _, ok := ld.maps[ts.name]; !ok || off < 0 || uint64(off) > ts.size {
			return fail(ErrMalformed, "reference to offset %d of %d-byte section %q", off, ts.size, ts.name)
		}
		fn.mapRefs = append(fn.mapRefs, mapRef{ins: i, name: ts.name, off: uint32(off), value: true})
	case kindCode:
		var off int64
		switch {
		case ins.OpCode == isa.OpCall:
			// libbpf: the target is the symbol plus imm+1 slots; imm is -1
			// for a function symbol, and the offset for a section symbol.
			off = int64(sym.Value) + (imm+1)*isa.InstructionSize
			ins.Src = isa.CallLocal
		case ins.IsLDDW():
			off = int64(sym.Value) + imm // a byte offset, as libbpf reads it
			ins.Src = isa.PseudoFunc
		default:
			return fail(ErrMalformed, "code %q referenced by %v", sym.Name, ins.OpCode)
		}
		if off < 0 || uint64(off) >= ts.size || off%isa.InstructionSize != 0 {
			return fail(ErrMalformed, "reference to offset %d of %d-byte code section %q", off, ts.size, ts.name)
		}
		fn.targets = append(fn.targets, codeRef{ins: i, sec: ts, off: uint64(off)})
	default:
		return fail(ErrUnsupported, "relocation against %q in section %q, which holds neither maps, global data nor code", sym.Name, ts.name)
	}
	return nil
}

// relocateExtern resolves a reference to an undefined symbol: a call to a
// helper declared by name (old samples declare helpers as externs), or the
// address of a __kconfig variable.
func (ld *loader) relocateExtern(fn *function, i int, sym *symbol, fail func(error, string, ...any) error) error {
	ins := &fn.insns[i]
	switch {
	case ins.OpCode == isa.OpCall:
		id, ok := helperIDs[strings.TrimPrefix(sym.Name, "bpf_")]
		if !ok {
			// Like libbpf's poisoning of failed CO-RE relocations: the call
			// becomes a call to a helper that does not exist, so the spec
			// loads and the verifier rejects the program if it runs.
			ins.Src, ins.Constant = isa.CallHelper, PoisonHelper
			fn.unresolved = append(fn.unresolved, unresolvedRef{ins: i, symbol: sym.Name,
				reason: "call to undefined function, which is no helper"})
			return nil
		}
		ins.Src, ins.Constant = isa.CallHelper, int64(id)
		return nil
	case ins.IsLDDW():
		off, err := ld.kconfigVar(sym)
		if err != nil {
			return fail(ErrUnresolved, "%v", err)
		}
		fn.mapRefs = append(fn.mapRefs, mapRef{ins: i, name: kconfigMapName, off: off, value: true})
		return nil
	}
	return fail(ErrUnresolved, "undefined symbol %q referenced by %v", sym.Name, ins.OpCode)
}

// link builds a ProgramSpec for every program function, appending the
// subprograms it reaches and rewriting calls and code addresses to be
// relative within the program.
func (ld *loader) link(cs *CollectionSpec) error {
	for _, fn := range ld.funcs {
		for _, mr := range fn.mapRefs {
			idx, ok := cs.MapIndex(mr.name)
			if !ok {
				return secErr(fn.sec.name, -1, ErrMalformed, "function %q: unknown map %q", fn.name, mr.name)
			}
			ins := &fn.insns[mr.ins]
			if mr.value {
				ins.Src, ins.Constant = isa.PseudoMapIndexValue, int64(uint64(uint32(idx))|uint64(mr.off)<<32)
			} else {
				ins.Src, ins.Constant = isa.PseudoMapIndex, int64(idx)
			}
		}
	}
	if err := ld.applyCORE(); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, fn := range ld.funcs {
		if !fn.program {
			continue
		}
		p, err := ld.linkProgram(fn, cs)
		if err != nil {
			return err
		}
		p.Name = fn.name
		if used[p.Name] {
			p.Name = fn.sec.name + "/" + fn.name
			for n := 2; used[p.Name]; n++ {
				p.Name = fmt.Sprintf("%s/%s#%d", fn.sec.name, fn.name, n)
			}
		}
		used[p.Name] = true
		cs.Programs[p.Name] = p
	}
	return nil
}

func (ld *loader) linkProgram(entry *function, cs *CollectionSpec) (*ProgramSpec, error) {
	typ, attach, attachTo, _ := ClassifySection(entry.sec.name)
	if entry.sec.name == ".text" {
		typ, attach, attachTo = Unspec, AttachNone, ""
	}
	p := &ProgramSpec{
		SectionName: entry.sec.name, Type: typ, AttachType: attach, AttachTo: attachTo,
		License: cs.License, KernelVersion: cs.KernelVersion,
	}
	start := map[*function]int{}
	order := []*function{entry}
	start[entry] = 0
	total := int(entry.size / isa.InstructionSize)
	for k := 0; k < len(order); k++ {
		for _, t := range order[k].targets {
			if _, ok := start[t.fn]; !ok {
				start[t.fn] = total
				total += int(t.fn.size / isa.InstructionSize)
				if total > isa.MaxInstructions {
					return nil, secErr(entry.sec.name, -1, ErrMalformed, "program %q: more than %d instructions after linking", entry.name, isa.MaxInstructions)
				}
				order = append(order, t.fn)
			}
		}
	}
	p.Instructions = make([]isa.Instruction, 0, total)
	for _, fn := range order {
		base := start[fn]
		first := len(p.Instructions)
		p.Instructions = append(p.Instructions, fn.insns...)
		for _, t := range fn.targets {
			from := base + fn.slots[t.ins]
			to := start[t.fn] + int((t.off-t.fn.off)/isa.InstructionSize)
			ins := &p.Instructions[first+t.ins]
			if ins.IsLDDW() {
				ins.Constant = int64(uint64(uint32(int32(to - from - 1))))
			} else {
				ins.Constant = int64(int32(to - from - 1))
			}
		}
		p.Functions = append(p.Functions, Function{Name: fn.name, Section: fn.sec.name, Slot: base})
		for _, u := range fn.unresolved {
			p.Unresolved = append(p.Unresolved, Unresolved{Slot: base + fn.slots[u.ins], Symbol: u.symbol, Reason: u.reason})
		}
		if ld.ext != nil {
			for _, l := range ld.ext.lines[fn.sec.name] {
				if uint64(l.off) >= fn.off && uint64(l.off) < fn.off+fn.size && l.off%isa.InstructionSize == 0 {
					p.lines = append(p.lines, lineEntry{slot: base + int((uint64(l.off)-fn.off)/isa.InstructionSize), line: l.line})
				}
			}
		}
	}
	sort.SliceStable(p.lines, func(i, j int) bool { return p.lines[i].slot < p.lines[j].slot })
	if l, ok := p.LineInfo(0); ok {
		p.SourceFile = l.File
	}
	return p, nil
}
