package elf

import (
	stdelf "debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// kconfigMapName is the map holding resolved extern variables, as in libbpf.
const kconfigMapName = ".kconfig"

// KernelVersion is the LINUX_KERNEL_VERSION that __kconfig externs see:
// xebpf is no kernel, so it claims the version whose helper and context
// semantics it follows, 6.1.0, encoded as KERNEL_VERSION(6, 1, 0).
const KernelVersion = 6<<16 | 1<<8 // KERNEL_VERSION(6, 1, 0)

// kconfigValues are the values xebpf decides for the extern variables it
// knows. A CONFIG_ option not listed here is "not set": a __weak extern
// reads 0, and a strong one fails the load, as libbpf does for options
// missing from the kernel config.
var kconfigValues = map[string]uint64{
	"LINUX_KERNEL_VERSION":      KernelVersion,
	"LINUX_HAS_BPF_COOKIE":      1,
	"LINUX_HAS_SYSCALL_WRAPPER": 0,
	"CONFIG_BPF":                1, // tristate y
	"CONFIG_BPF_SYSCALL":        1,
	"CONFIG_BPF_JIT":            1,
	"CONFIG_BPF_EVENTS":         1,
	"CONFIG_HZ":                 1000,
	"CONFIG_BPF_JIT_ALWAYS_ON":  0,
	"CONFIG_DEBUG_INFO_BTF":     0,
	"CONFIG_64BIT":              1,
}

// defaultExternSizes are used when the object has no BTF to give the size.
var defaultExternSizes = map[string]uint32{
	"LINUX_KERNEL_VERSION":      4,
	"LINUX_HAS_BPF_COOKIE":      1,
	"LINUX_HAS_SYSCALL_WRAPPER": 1,
}

type kconfigVar struct {
	name string
	off  uint32
	size uint32
	val  uint64
}

type kconfigMap struct {
	vars []kconfigVar
	size uint32
}

// kconfigVar returns the offset of an extern variable in the .kconfig map,
// adding it on first use.
func (ld *loader) kconfigVar(sym *symbol) (uint32, error) {
	if ld.kconfig == nil {
		ld.kconfig = &kconfigMap{}
	}
	for _, v := range ld.kconfig.vars {
		if v.name == sym.Name {
			return v.off, nil
		}
	}
	if ld.btfSpec != nil {
		var ksyms *btf.Datasec
		if ld.btfSpec.TypeByName(".ksyms", &ksyms) == nil {
			for _, vs := range ksyms.Vars {
				if v, ok := vs.Type.(*btf.Var); ok && v.Name == sym.Name {
					return 0, fmt.Errorf("extern %q is a kernel symbol (__ksym): %w", sym.Name, ErrUnsupported)
				}
			}
		}
	}
	val, known := kconfigValues[sym.Name]
	weak := sym.bind() == stdelf.STB_WEAK
	switch {
	case known:
	case strings.HasPrefix(sym.Name, "CONFIG_") && weak:
		val = 0
	case strings.HasPrefix(sym.Name, "CONFIG_"):
		return 0, fmt.Errorf("extern %q: kernel config option not set in xebpf (declare it __weak to read 0)", sym.Name)
	default:
		return 0, fmt.Errorf("extern %q: unknown extern variable", sym.Name)
	}
	size, err := ld.externSize(sym.Name)
	if err != nil {
		return 0, err
	}
	if size == 0 || size > 8 {
		return 0, fmt.Errorf("extern %q: size %d, want 1 to 8 bytes", sym.Name, size)
	}
	off := (ld.kconfig.size + 7) &^ 7
	ld.kconfig.vars = append(ld.kconfig.vars, kconfigVar{name: sym.Name, off: off, size: size, val: val})
	ld.kconfig.size = off + size
	return off, nil
}

// externSize returns the size of an extern from the .kconfig BTF data
// section, or a default for the few externs with a fixed type.
func (ld *loader) externSize(name string) (uint32, error) {
	if ld.btfSpec != nil {
		var ds *btf.Datasec
		if ld.btfSpec.TypeByName(kconfigMapName, &ds) == nil {
			for _, vs := range ds.Vars {
				if v, ok := vs.Type.(*btf.Var); ok && v.Name == name {
					n, err := btf.Sizeof(v.Type)
					if err != nil {
						return 0, fmt.Errorf("extern %q: %v", name, err)
					}
					return uint32(n), nil
				}
			}
		}
	}
	if n, ok := defaultExternSizes[name]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("extern %q: no BTF gives its type", name)
}

// spec returns the array map holding every resolved extern.
func (k *kconfigMap) spec() *MapSpec {
	size := (k.size + 7) &^ 7
	if size == 0 {
		size = 8
	}
	val := make([]byte, size)
	for _, v := range k.vars {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v.val)
		copy(val[v.off:v.off+v.size], b[:v.size])
	}
	return &MapSpec{
		Name: kconfigMapName, Section: kconfigMapName, Type: MapTypeArray, KeySize: 4,
		ValueSize: size, MaxEntries: 1, Flags: flagRdonlyProg, ReadOnly: true,
		Contents: []MapKV{{Key: le32(0), Value: val}},
	}
}
