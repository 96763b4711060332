package main

import (
	"fmt"
	"strings"

	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/isa"
)

// insnText formats an instruction as isa.Instruction.String does, with the
// names of helpers (`call bpf_map_lookup_elem#1`, the form bpftool prints
// and xebpf asm reads back) and, given an object's map names by index
// (CollectionSpec.MapOrder), of maps: `lddw %r1, map flows` and, for global
// data, `lddw %r1, map_value .bss+16`.
func insnText(ins isa.Instruction, mapNames []string) string {
	switch {
	case ins.OpCode == isa.OpCall && ins.Src == isa.CallHelper:
		if name, ok := elf.HelperName(int32(ins.Constant)); ok {
			return fmt.Sprintf("call bpf_%s#%d", name, ins.Constant)
		}
	case ins.IsLDDW() && (ins.Src == isa.PseudoMapIndex || ins.Src == isa.PseudoMapIndexValue):
		idx := int(uint32(ins.Constant))
		if idx >= len(mapNames) {
			break
		}
		if ins.Src == isa.PseudoMapIndex {
			return fmt.Sprintf("lddw %%r%d, map %s", ins.Dst, mapNames[idx])
		}
		return fmt.Sprintf("lddw %%r%d, map_value %s+%d", ins.Dst, mapNames[idx], uint32(uint64(ins.Constant)>>32))
	}
	return ins.String()
}

// disassemble formats raw bytecode one instruction a line, as
// asm.Disassemble, or asm.Listing with slot numbers, do, with helper
// names: text xebpf asm reads back.
func disassemble(insns []isa.Instruction, mapNames []string, slots bool) string {
	var b strings.Builder
	pc := 0
	for _, ins := range insns {
		if slots {
			fmt.Fprintf(&b, "%4d: ", pc)
		}
		b.WriteString(insnText(ins, mapNames))
		b.WriteByte('\n')
		pc += ins.Slots()
	}
	return b.String()
}
