package elf

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildC compiles testdata/NAME.c with clang-19, or skips the test.
func buildC(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), name+".o")
	out, err := exec.Command("clang-19", "-O2", "-g", "-target", "bpf", "-Wall", "-c", filepath.Join("testdata", name+".c"), "-o", obj).CombinedOutput()
	if err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	return obj
}

// TestLegacyTailCalls checks the types legacy section names give: Cilium's
// entry sections (its XDP program in "from-netdev" told apart by the
// context it reads), and numbered tail-call sections typed by the
// programs that share their program array, filled from the section names
// for 28-byte iproute2 map definitions, hexadecimal keys included.
func TestLegacyTailCalls(t *testing.T) {
	spec, err := LoadCollectionSpec(buildC(t, "legacy_tail"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]ProgramType{
		"entry":     SchedCLS, // from-container
		"tail7":     SchedCLS, // 2/7, in calls, which entry uses
		"tail16":    SchedCLS, // 2/0x10, in calls too
		"xdp_entry": XDP,      // from-netdev, reading xdp_md's data and data_end
		"tc_entry":  SchedCLS, // from-netdev, reading __sk_buff's data
		"xdp_tail":  XDP,      // 3/1, in xdp_calls, which xdp_entry uses
		"orphan":    Unspec,   // 4/0, in an array no program uses
		"contested": Unspec,   // 5/0, in an array both XDP and TC programs use
	} {
		if got := program(t, spec, name).Type; got != want {
			t.Errorf("%s (section %s): %v, want %v", name, spec.Programs[name].SectionName, got, want)
		}
	}
	slots := map[uint32]string{}
	for _, kv := range spec.Maps["calls"].Contents {
		slots[binary.LittleEndian.Uint32(kv.Key)] = kv.Ref.Name
	}
	if len(slots) != 2 || slots[7] != "tail7" || slots[16] != "tail16" {
		t.Errorf("calls holds %v, want tail7 at 7 and tail16 at 16", slots)
	}

	// A type set by hand flows to the members of the program's array.
	for _, n := range []string{"tail7", "tail16"} {
		spec.Programs[n].Type = Unspec
	}
	spec.Programs["entry"].Type = SchedACT
	InheritTailCallTypes(spec)
	for name, want := range map[string]ProgramType{"tail7": SchedACT, "tail16": SchedACT, "contested": Unspec, "xdp_tail": XDP} {
		if got := spec.Programs[name].Type; got != want {
			t.Errorf("after entry became SchedACT: %s is %v, want %v", name, got, want)
		}
	}
}

// TestLegacyCorpusTypes checks the types of Cilium's objects in the shared
// corpus: TC entry points and their tail calls, and the XDP objects whose
// entry point is in "from-netdev".
func TestLegacyCorpusTypes(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "corpus", "cilium")
	tests := []struct {
		object string
		want   ProgramType // of every program
		n      int         // programs
	}{
		{"bpf_lxc.o", SchedCLS, 13},
		{"bpf_netdev.o", SchedCLS, 6},
		{"bpf_overlay.o", SchedCLS, 6},
		{"bpf_lb.o", SchedCLS, 2},
		{"bpf_xdp.o", XDP, 1},
		{"bpf_xdp_dsr_linux.o", XDP, 12},
		{"bpf_xdp_snat_linux.o", XDP, 10},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			path := filepath.Join(dir, tt.object)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%v", err)
			}
			spec, err := LoadCollectionSpec(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(spec.Programs) != tt.n {
				t.Errorf("%d programs, want %d", len(spec.Programs), tt.n)
			}
			for name, ps := range spec.Programs {
				if ps.Type != tt.want {
					t.Errorf("%s (section %s): %v, want %v", name, ps.SectionName, ps.Type, tt.want)
				}
			}
		})
	}
}

func TestTailCallSection(t *testing.T) {
	tests := []struct {
		name    string
		id, key uint32
		ok      bool
	}{
		{"2/7", 2, 7, true},
		{"1/0x1010", 1, 0x1010, true},
		{"0x2/0X1f", 2, 31, true},
		{"2/", 0, 0, false},
		{"kprobe/0", 0, 0, false},
		{"2/7/1", 0, 0, false},
		{"2/0x", 0, 0, false},
		{"2/0x123456789", 0, 0, false},
		{"4294967296/1", 0, 0, false},
	}
	for _, tt := range tests {
		id, key, ok := tailCallSection(tt.name)
		if ok != tt.ok || ok && (id != tt.id || key != tt.key) {
			t.Errorf("tailCallSection(%q) = %d, %d, %v; want %d, %d, %v", tt.name, id, key, ok, tt.id, tt.key, tt.ok)
		}
	}
}
