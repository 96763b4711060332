package xebpf_test

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps"
)

// TestReadOnlyMapsAreFrozen: the collection fills .rodata and .kconfig
// and then freezes them, as libbpf does: programs see the initial
// contents, and Go-side writes fail with EPERM.
func TestReadOnlyMapsAreFrozen(t *testing.T) {
	obj := buildC(t, "rodata", `#include "xebpf/bpf.h"
const volatile __u32 limit = 42;
extern __u32 LINUX_KERNEL_VERSION __attribute__((section(".kconfig")));
__u32 counter;
SEC("raw")
int f(void *ctx)
{
	counter++;
	return limit + (LINUX_KERNEL_VERSION != 0);
}
char LICENSE[] SEC("license") = "GPL";
`)
	c := mustCollection(t, obj, xebpf.CollectionOptions{})
	if ret, err := c.Programs["f"].Run(nil); err != nil || ret != 43 {
		t.Fatalf("run: %d, %v; want 43 (the initial .rodata and .kconfig values)", ret, err)
	}
	for _, tt := range []struct {
		name   string
		frozen bool
	}{
		{".rodata", true},
		{".kconfig", true},
		{".bss", false},
	} {
		m := c.Maps[tt.name]
		if m == nil {
			t.Fatalf("no map %s", tt.name)
		}
		if m.Frozen() != tt.frozen {
			t.Errorf("%s: Frozen() = %v, want %v", tt.name, m.Frozen(), tt.frozen)
		}
		if tt.frozen && m.Flags()&maps.FlagRdonlyProg == 0 {
			t.Errorf("%s: frozen without BPF_F_RDONLY_PROG (flags %#x)", tt.name, m.Flags())
		}
		val := make([]byte, m.ValueSize())
		if err := m.Lookup(uint32(0), val); err != nil {
			t.Errorf("%s: Lookup: %v", tt.name, err)
		}
		err := m.Update(uint32(0), val, maps.UpdateAny)
		if tt.frozen != errors.Is(err, maps.ErrFrozen) || tt.frozen != (maps.ErrnoOf(err) == maps.EPERM) {
			t.Errorf("%s: Update: %v, want ErrFrozen (EPERM): %v", tt.name, err, tt.frozen)
		}
		if err := m.Delete(uint32(0)); tt.frozen && !errors.Is(err, maps.ErrFrozen) {
			t.Errorf("%s: Delete: %v, want ErrFrozen", tt.name, err)
		}
	}
	bss := c.Maps[".bss"]
	if err := bss.Freeze(); err != nil {
		t.Fatalf("Freeze of .bss: %v", err)
	}
	if err := bss.Update(uint32(0), make([]byte, bss.ValueSize()), maps.UpdateAny); !errors.Is(err, maps.ErrFrozen) {
		t.Fatalf("Update of .bss after Freeze: %v, want ErrFrozen", err)
	}
	if err := bss.Freeze(); !errors.Is(err, maps.ErrBusy) {
		t.Fatalf("second Freeze: %v, want ErrBusy", err)
	}
	// Programs still write a frozen map without BPF_F_RDONLY_PROG.
	if _, err := c.Programs["f"].Run(nil); err != nil {
		t.Fatal(err)
	}
	var n uint32
	if err := bss.Lookup(uint32(0), &n); err != nil || n != 2 {
		t.Fatalf(".bss counter %d, %v; want 2", n, err)
	}
}
