package elf

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
	"github.com/xebpf/xebpf/isa"
)

// ctxTypesBTF is the raw BTF of the context types xebpf offers programs
// (struct xdp_md, struct __sk_buff, struct bpf_sock, struct bpf_sock_ops,
// struct pt_regs with x86-64 kernel names, arm64's struct user_pt_regs
// and struct pt_regs, ...), compiled by clang-19 from
// testdata/ctxtypes.c; see gen.go. CO-RE relocations resolve against it.
//
//go:embed ctxtypes.btf
var ctxTypesBTF []byte

// arm64PtRegs is the name of arm64's struct pt_regs in xebpf's context
// types, where struct pt_regs is x86-64's.
const arm64PtRegs = "xebpf_arm64_pt_regs"

var ctxTypes = sync.OnceValues(func() (*btf.Spec, error) {
	return btf.LoadSpecFromReader(bytes.NewReader(ctxTypesBTF))
})

// CO-RE relocation kinds, as Linux's enum bpf_core_relo_kind.
const (
	coreFieldByteOffset = 0
	coreFieldByteSize   = 1
	coreFieldExists     = 2
	coreFieldSigned     = 3
	coreFieldLShiftU64  = 4
	coreFieldRShiftU64  = 5
	coreTypeIDLocal     = 6
	coreTypeIDTarget    = 7
	coreTypeExists      = 8
	coreTypeSize        = 9
	coreEnumvalExists   = 10
	coreEnumvalValue    = 11
	coreTypeMatches     = 12
)

var coreKindNames = [...]string{"byte_off", "byte_sz", "field_exists", "signed", "lshift_u64",
	"rshift_u64", "local_type_id", "target_type_id", "type_exists", "type_size",
	"enumval_exists", "enumval_value", "type_matches"}

// errCOREMissing reports a relocation whose target is missing from xebpf's
// context types: the instruction is poisoned rather than the load failed.
var errCOREMissing = errors.New("not found in xebpf's context types")

// applyCORE resolves the CO-RE relocations of .BTF.ext against xebpf's
// context types. Like libbpf, a relocation whose type or field the target
// lacks poisons its instruction (a call to PoisonHelper, listed in
// ProgramSpec.Unresolved) so the program fails only if it reaches it; an
// lddw cannot be poisoned in place and fails the load instead, as does any
// malformed relocation.
func (ld *loader) applyCORE() error {
	if ld.ext == nil || len(ld.ext.core) == 0 {
		return nil
	}
	arch := TargetArch(ld.btfSpec)
	secs := make([]string, 0, len(ld.ext.core))
	for name := range ld.ext.core {
		secs = append(secs, name)
	}
	sort.Strings(secs)
	for _, name := range secs {
		relos := ld.ext.core[name]
		var sec *section
		for _, s := range ld.secs {
			if s.name == name && s.kind == kindCode {
				sec = s
			}
		}
		if sec == nil {
			return secErr(name, -1, ErrMalformed, "CO-RE relocations for a section that holds no code")
		}
		if ld.btfSpec == nil {
			return secErr(name, int64(relos[0].off), ErrUnsupported, "CO-RE relocations need the object's BTF types")
		}
		for _, r := range relos {
			if err := ld.applyRelo(sec, r, arch); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ld *loader) applyRelo(sec *section, r extCORE, arch Arch) error {
	fn := sec.findFunction(uint64(r.off))
	idx := -1
	if fn != nil && r.off%isa.InstructionSize == 0 {
		slot := int((uint64(r.off) - fn.off) / isa.InstructionSize)
		idx = sort.SearchInts(fn.slots, slot)
		if idx >= len(fn.slots) || fn.slots[idx] != slot {
			idx = -1
		}
	}
	if idx < 0 {
		return secErr(sec.name, int64(r.off), ErrMalformed, "CO-RE relocation not on an instruction")
	}
	ins := &fn.insns[idx]
	kind := "unknown"
	if r.kind < uint32(len(coreKindNames)) {
		kind = coreKindNames[r.kind]
	}
	fail := func(kindErr error, format string, args ...any) error {
		return secErr(sec.name, int64(r.off), kindErr, "function %q: CO-RE %s relocation %s: %s", fn.name, kind, r.access, fmt.Sprintf(format, args...))
	}
	local, err := ld.btfSpec.TypeByID(btf.TypeID(r.typeID))
	if err != nil {
		return fail(ErrMalformed, "local type %d: %v", r.typeID, err)
	}
	localVal, targetVal, desc, err := coreValues(local, btf.TypeID(r.typeID), r.kind, r.access, arch)
	if errors.Is(err, errCOREMissing) {
		if ins.IsLDDW() {
			return fail(ErrUnresolved, "%s: %v", desc, err)
		}
		*ins = isa.Instruction{OpCode: isa.OpCall, Src: isa.CallHelper, Constant: PoisonHelper}
		fn.unresolved = append(fn.unresolved, unresolvedRef{ins: idx, symbol: desc,
			reason: fmt.Sprintf("CO-RE %s relocation: %v", kind, err)})
		return nil
	}
	if err != nil {
		return fail(ErrMalformed, "%v", err)
	}
	return patchCORE(ins, r.kind, localVal, targetVal, fail)
}

// patchCORE rewrites the field of ins that holds localVal to targetVal.
func patchCORE(ins *isa.Instruction, kind uint32, localVal, targetVal uint64, fail func(error, string, ...any) error) error {
	switch cls := ins.OpCode.Class(); {
	case cls == isa.ClassLDX || cls == isa.ClassST || cls == isa.ClassSTX:
		if kind != coreFieldByteOffset {
			return fail(ErrMalformed, "relocation on a memory access")
		}
		if int64(ins.Offset) != int64(localVal) {
			return fail(ErrMalformed, "instruction offset %d, relocation expects %d", ins.Offset, localVal)
		}
		if targetVal > math.MaxInt16 {
			return fail(ErrUnsupported, "target offset %d does not fit an instruction", targetVal)
		}
		ins.Offset = int16(targetVal)
	case ins.IsLDDW():
		if uint64(ins.Constant) != localVal {
			return fail(ErrMalformed, "instruction constant %d, relocation expects %d", ins.Constant, localVal)
		}
		ins.Constant = int64(targetVal)
	case cls.IsALU() && ins.OpCode.Source() == isa.SourceImm:
		if uint64(uint32(ins.Constant)) != uint64(uint32(localVal)) {
			return fail(ErrMalformed, "instruction constant %d, relocation expects %d", ins.Constant, localVal)
		}
		if targetVal > math.MaxInt32 {
			return fail(ErrUnsupported, "target value %d does not fit an instruction", targetVal)
		}
		ins.Constant = int64(targetVal)
	default:
		return fail(ErrMalformed, "relocation on %v", ins.OpCode)
	}
	return nil
}

// coreValues computes what the relocated value is in the object (local) and
// must become for xebpf's context types (target). desc names the type or
// field the relocation wants.
//
// struct pt_regs resolves against x86-64's, or against arm64's for
// objects whose types say they were built for arm64 (TargetArch).
func coreValues(local btf.Type, localID btf.TypeID, kind uint32, access string, arch Arch) (localVal, targetVal uint64, desc string, err error) {
	acc, err := parseAccess(access)
	if err != nil {
		return 0, 0, access, err
	}
	name := essentialName(local.TypeName())
	desc = name
	if kind == coreTypeIDLocal {
		return uint64(localID), uint64(localID), desc, nil
	}
	targets, err := ctxTypes()
	if err != nil {
		return 0, 0, desc, fmt.Errorf("xebpf context types: %v", err)
	}
	var target btf.Type
	if name != "" {
		lookup := name
		if name == "pt_regs" && arch == ArchARM64 {
			lookup = arm64PtRegs
		}
		cands, _ := targets.AnyTypesByName(lookup)
		for _, c := range cands {
			if sameKind(local, c) {
				target = c
				break
			}
		}
	}
	switch kind {
	case coreTypeIDTarget, coreTypeExists, coreTypeSize, coreTypeMatches:
		lsize, _ := btf.Sizeof(local)
		switch kind {
		case coreTypeIDTarget:
			if target == nil {
				return uint64(localID), 0, desc, errCOREMissing
			}
			id, err := targets.TypeID(target)
			return uint64(localID), uint64(id), desc, err
		case coreTypeSize:
			if target == nil {
				return uint64(lsize), 0, desc, errCOREMissing
			}
			tsize, err := btf.Sizeof(target)
			return uint64(lsize), uint64(tsize), desc, err
		}
		return 1, boolVal(target != nil), desc, nil
	case coreEnumvalExists, coreEnumvalValue:
		le, ok := btf.UnderlyingType(local).(*btf.Enum)
		if !ok || len(acc) != 1 || acc[0] >= len(le.Values) {
			return 0, 0, desc, fmt.Errorf("enumerator %d of %v", acc[0], local)
		}
		lv := le.Values[acc[0]]
		desc = name + "::" + lv.Name
		var tv *btf.EnumValue
		if te, ok := btf.UnderlyingType(target).(*btf.Enum); ok && target != nil {
			for i := range te.Values {
				if essentialName(te.Values[i].Name) == essentialName(lv.Name) {
					tv = &te.Values[i]
				}
			}
		}
		if kind == coreEnumvalExists {
			return 1, boolVal(tv != nil), desc, nil
		}
		if tv == nil {
			return lv.Value, 0, desc, errCOREMissing
		}
		return lv.Value, tv.Value, desc, nil
	case coreFieldByteOffset, coreFieldByteSize, coreFieldExists, coreFieldSigned, coreFieldLShiftU64, coreFieldRShiftU64:
		lf, path, err := walkLocal(local, acc)
		desc = name + "::" + strings.Join(path, ".")
		if err != nil {
			return 0, 0, desc, err
		}
		lval, err := fieldValue(kind, lf)
		if err != nil {
			return 0, 0, desc, err
		}
		if target == nil {
			if kind == coreFieldExists {
				return 1, 0, desc, nil
			}
			return lval, 0, desc, errCOREMissing
		}
		tf, err := walkTarget(local, target, acc)
		if err != nil {
			if kind == coreFieldExists && errors.Is(err, errCOREMissing) {
				return 1, 0, desc, nil
			}
			return lval, 0, desc, err
		}
		tval, err := fieldValue(kind, tf)
		return lval, tval, desc, err
	}
	return 0, 0, desc, fmt.Errorf("unknown relocation kind %d", kind)
}

func boolVal(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func parseAccess(s string) ([]int, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 0 || len(parts) > 64 {
		return nil, fmt.Errorf("access string %q", s)
	}
	acc := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("access string %q: %v", s, err)
		}
		acc[i] = int(n)
	}
	return acc, nil
}

// essentialName drops a "___flavor" suffix, as libbpf does.
func essentialName(name string) string {
	if i := strings.Index(name, "___"); i > 0 {
		return name[:i]
	}
	return name
}

func sameKind(a, b btf.Type) bool {
	a, b = btf.UnderlyingType(a), btf.UnderlyingType(b)
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

// field is the position of an accessed field.
type field struct {
	bitOff  uint64 // from the start of the root object
	bitSize uint64 // 0 unless a bitfield
	typ     btf.Type
}

// walkLocal follows the accessor indices through the local type and returns
// the field with the member names it passed.
func walkLocal(root btf.Type, acc []int) (field, []string, error) {
	size, err := btf.Sizeof(root)
	if err != nil {
		return field{}, nil, err
	}
	f := field{bitOff: uint64(acc[0]) * uint64(size) * 8, typ: root}
	var path []string
	for _, i := range acc[1:] {
		switch t := btf.UnderlyingType(f.typ).(type) {
		case *btf.Struct, *btf.Union:
			members := composite(t)
			if i >= len(members) {
				return f, path, fmt.Errorf("member %d of %v", i, t)
			}
			m := members[i]
			f = field{bitOff: f.bitOff + uint64(m.Offset), bitSize: uint64(m.BitfieldSize), typ: m.Type}
			if m.Name != "" {
				path = append(path, m.Name)
			}
		case *btf.Array:
			esize, err := btf.Sizeof(t.Type)
			if err != nil {
				return f, path, err
			}
			f = field{bitOff: f.bitOff + uint64(i)*uint64(esize)*8, typ: t.Type}
			path = append(path, "["+strconv.Itoa(i)+"]")
		default:
			return f, path, fmt.Errorf("access into %v", t)
		}
	}
	return f, path, nil
}

// walkTarget follows the local access path through the target type by
// member name, looking into anonymous members as libbpf does.
func walkTarget(localRoot, targetRoot btf.Type, acc []int) (field, error) {
	size, err := btf.Sizeof(targetRoot)
	if err != nil {
		return field{}, err
	}
	lt := localRoot
	f := field{bitOff: uint64(acc[0]) * uint64(size) * 8, typ: targetRoot}
	for _, i := range acc[1:] {
		switch l := btf.UnderlyingType(lt).(type) {
		case *btf.Struct, *btf.Union:
			lm := composite(l)[i]
			lt = lm.Type
			if lm.Name == "" {
				// libbpf matches only named members: an anonymous local
				// member is found again by the names below it.
				continue
			}
			m, off, ok := findMember(btf.UnderlyingType(f.typ), essentialName(lm.Name), 0)
			if !ok {
				return f, fmt.Errorf("member %q: %w", lm.Name, errCOREMissing)
			}
			if !sameKind(lm.Type, m.Type) {
				return f, fmt.Errorf("member %q has another kind of type: %w", lm.Name, errCOREMissing)
			}
			f = field{bitOff: f.bitOff + off + uint64(m.Offset), bitSize: uint64(m.BitfieldSize), typ: m.Type}
		case *btf.Array:
			lt = l.Type
			ta, ok := btf.UnderlyingType(f.typ).(*btf.Array)
			if !ok || (ta.Nelems != 0 && uint32(i) >= ta.Nelems) {
				return f, fmt.Errorf("index %d: %w", i, errCOREMissing)
			}
			esize, err := btf.Sizeof(ta.Type)
			if err != nil {
				return f, err
			}
			f = field{bitOff: f.bitOff + uint64(i)*uint64(esize)*8, typ: ta.Type}
		default:
			return f, fmt.Errorf("access into %v", l)
		}
	}
	return f, nil
}

func composite(t btf.Type) []btf.Member {
	switch t := t.(type) {
	case *btf.Struct:
		return t.Members
	case *btf.Union:
		return t.Members
	}
	return nil
}

// findMember finds a named member of a struct or union, recursing into
// anonymous members; off is the bit offset of the anonymous container.
func findMember(t btf.Type, name string, depth int) (btf.Member, uint64, bool) {
	if depth > 8 {
		return btf.Member{}, 0, false
	}
	for _, m := range composite(t) {
		if m.Name == name {
			return m, 0, true
		}
		if m.Name == "" {
			if in, off, ok := findMember(btf.UnderlyingType(m.Type), name, depth+1); ok {
				return in, off + uint64(m.Offset), true
			}
		}
	}
	return btf.Member{}, 0, false
}

// fieldValue is the value a field relocation of the given kind yields.
func fieldValue(kind uint32, f field) (uint64, error) {
	size, err := btf.Sizeof(f.typ)
	if err != nil {
		return 0, err
	}
	byteSize := uint64(size)
	byteOff := f.bitOff / 8
	if f.bitSize != 0 {
		if byteSize == 0 || byteSize > 8 {
			return 0, fmt.Errorf("bitfield of %d-byte type", byteSize)
		}
		byteOff = f.bitOff / 8 / byteSize * byteSize
	}
	switch kind {
	case coreFieldByteOffset:
		return byteOff, nil
	case coreFieldByteSize:
		return byteSize, nil
	case coreFieldExists:
		return 1, nil
	case coreFieldSigned:
		switch t := btf.UnderlyingType(f.typ).(type) {
		case *btf.Int:
			return boolVal(t.Encoding&btf.Signed != 0), nil
		case *btf.Enum:
			return boolVal(t.Signed), nil
		}
		return 0, nil
	case coreFieldLShiftU64:
		if f.bitSize == 0 {
			return 64 - byteSize*8, nil
		}
		return 64 - (f.bitOff + f.bitSize - byteOff*8), nil
	case coreFieldRShiftU64:
		if f.bitSize == 0 {
			return 64 - byteSize*8, nil
		}
		return 64 - f.bitSize, nil
	}
	return 0, fmt.Errorf("unknown field relocation kind %d", kind)
}
