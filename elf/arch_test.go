package elf

import (
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestTargetArch(t *testing.T) {
	u64 := &btf.Int{Name: "unsigned long", Size: 8}
	regs := func(name string, members ...string) *btf.Struct {
		st := &btf.Struct{Name: name, Size: uint32(8 * len(members))}
		for i, m := range members {
			st.Members = append(st.Members, btf.Member{Name: m, Type: u64, Offset: btf.Bits(64 * i)})
		}
		return st
	}
	arm64Kernel := &btf.Struct{Name: "pt_regs", Size: 280, Members: []btf.Member{
		{Type: &btf.Union{Size: 272, Members: []btf.Member{{Name: "user_regs", Type: regs("user_pt_regs", "sp")}}}},
		{Name: "orig_x0", Type: u64, Offset: 272 * 8},
	}}
	tests := []struct {
		name  string
		types []btf.Type
		want  Arch
	}{
		{"none", nil, ArchUnknown},
		{"x86 kernel names", []btf.Type{regs("pt_regs", "r15", "di", "si", "ip", "sp")}, ArchX86_64},
		{"x86 user names", []btf.Type{regs("pt_regs", "rdi", "rsi", "rip", "rsp")}, ArchX86_64},
		{"x86 flavour", []btf.Type{regs("pt_regs___x86", "orig_ax")}, ArchX86_64},
		{"arm64 user_pt_regs", []btf.Type{regs("user_pt_regs", "sp", "pc")}, ArchARM64},
		{"arm64 flavour", []btf.Type{regs("pt_regs___arm64", "orig_x0")}, ArchARM64},
		{"arm64 kernel, anonymous union", []btf.Type{arm64Kernel}, ArchARM64},
		{"both", []btf.Type{regs("pt_regs", "di"), regs("user_pt_regs", "pc")}, ArchUnknown},
		{"only shared names", []btf.Type{regs("pt_regs", "sp")}, ArchUnknown},
		{"other structs", []btf.Type{regs("task_struct", "di", "pc")}, ArchUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec *btf.Spec
			if tt.types != nil {
				b, err := btf.NewBuilder(tt.types, nil)
				if err != nil {
					t.Fatal(err)
				}
				if spec, err = b.Spec(); err != nil {
					t.Fatal(err)
				}
			}
			if got := TargetArch(spec); got != tt.want {
				t.Errorf("TargetArch = %v, want %v", got, tt.want)
			}
		})
	}
}
