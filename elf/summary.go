package elf

import "sort"

// Summary is an overview of a CollectionSpec for display, such as the
// output of "xebpf inspect".
type Summary struct {
	Programs   []ProgramSummary `json:"programs"`
	Maps       []MapSummary     `json:"maps"`
	Unresolved []UnresolvedItem `json:"unresolved,omitempty"`
	Warnings   []string         `json:"warnings,omitempty"`
	License    string           `json:"license,omitempty"`
}

// ProgramSummary describes one program.
type ProgramSummary struct {
	Name         string `json:"name"`
	Section      string `json:"section"`
	Type         string `json:"type"`
	AttachTo     string `json:"attach_to,omitempty"`
	Instructions int    `json:"instructions"` // instructions, an lddw counting once
	Slots        int    `json:"slots"`        // 8-byte slots, an lddw counting twice
	Functions    int    `json:"functions"`    // entry function plus linked subprograms
	SourceFile   string `json:"source_file,omitempty"`
}

// MapSummary describes one map.
type MapSummary struct {
	Name       string `json:"name"`
	Index      int    `json:"index"` // index in CollectionSpec.MapOrder
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	Flags      uint32 `json:"flags"`
	Section    string `json:"section"`
	InnerMap   string `json:"inner_map,omitempty"` // type of the inner map
	Entries    int    `json:"initial_entries,omitempty"`
}

// UnresolvedItem is a reference a program was left with poisoned.
type UnresolvedItem struct {
	Program string `json:"program"`
	Slot    int    `json:"slot"`
	Symbol  string `json:"symbol"`
	Reason  string `json:"reason"`
}

// Summary returns an overview of the spec, programs sorted by name and maps
// in MapOrder.
func (cs *CollectionSpec) Summary() Summary {
	s := Summary{Warnings: cs.Warnings, License: cs.License}
	names := make([]string, 0, len(cs.Programs))
	for name := range cs.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := cs.Programs[name]
		s.Programs = append(s.Programs, ProgramSummary{
			Name: name, Section: p.SectionName, Type: p.Type.String(), AttachTo: p.AttachTo,
			Instructions: len(p.Instructions), Slots: p.Slots(), Functions: len(p.Functions),
			SourceFile: p.SourceFile,
		})
		for _, u := range p.Unresolved {
			s.Unresolved = append(s.Unresolved, UnresolvedItem{Program: name, Slot: u.Slot, Symbol: u.Symbol, Reason: u.Reason})
		}
	}
	for i, name := range cs.MapOrder {
		m := cs.Maps[name]
		ms := MapSummary{
			Name: name, Index: i, Type: m.Type.String(), KeySize: m.KeySize, ValueSize: m.ValueSize,
			MaxEntries: m.MaxEntries, Flags: m.Flags, Section: m.Section, Entries: len(m.Contents),
		}
		if m.InnerMap != nil {
			ms.InnerMap = m.InnerMap.Type.String()
		}
		s.Maps = append(s.Maps, ms)
	}
	return s
}
