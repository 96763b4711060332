package interp

import (
	"math/bits"

	"github.com/xebpf/xebpf/api"
)

// runChecked is the checked interpreter loop. exec_fast.go is generated
// from it by gen_fast.go, which drops the lines marked //checked and the
// blocks between //checked:begin and //checked:end; edit this file only and
// run go generate.
//
// The run starts at slot pc in a fresh frame at call depth base and returns
// when that frame exits.
//
//go:generate go run gen_fast.go
func (p *Program) runChecked(m *machine, env *api.Env, args *[5]uint64, argTags *[5]api.Tag, pc int, base int) (uint64, error) {
	var reg [16]uint64
	copy(reg[1:6], args[:])
	top := m.top
	depth := base
	reg[10] = top - uint64(depth)*api.StackSize
	m.p = p
	m.call.Enter(env, true) //checked
	//fast: m.call.Enter(env, false)
	//checked:begin
	// tag[r] is the provenance of reg[r]: the object of m.objs it points
	// into, or NoTag.
	var tag [16]api.Tag
	copy(tag[1:6], argTags[:])
	tag[10] = StackTag + api.Tag(depth)
	m.enterFrame(depth)
	objs := m.objs.list
	stackBase := m.stackBase()
	// acc + pc is the number of slots the run has executed so far: acc
	// changes only at transfers of control, where the budget is checked,
	// so straight-line code pays nothing for it.
	acc := int64(m.executed) - int64(pc)
	budget := int64(p.budget)
	//checked:end
	code := p.code
	for {
		in := &code[pc]
		pc++
		switch in.op {
		case 0x07: // add dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d += s
			reg[in.dst&15] = d
		case 0x04: // add32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) + s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x0f: // add dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d += s
			reg[in.dst&15] = d
			tag[in.dst&15] = addTags(tag[in.dst&15], tag[in.src&15]) //checked
		case 0x0c: // add32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) + s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x17: // sub dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d -= s
			reg[in.dst&15] = d
		case 0x14: // sub32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) - s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x1f: // sub dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d -= s
			reg[in.dst&15] = d
			tag[in.dst&15] = subTags(tag[in.dst&15], tag[in.src&15]) //checked
		case 0x1c: // sub32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) - s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x27: // mul dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d *= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x24: // mul32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) * s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x2f: // mul dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d *= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x2c: // mul32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) * s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x37: // div dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			if s != 0 {
				d /= s
			} else {
				d = 0
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x34: // div32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			if s != 0 {
				d = uint64(uint32(d) / s)
			} else {
				d = 0
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x3f: // div dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			if s != 0 {
				d /= s
			} else {
				d = 0
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x3c: // div32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			if s != 0 {
				d = uint64(uint32(d) / s)
			} else {
				d = 0
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x47: // or dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d |= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x44: // or32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) | s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x4f: // or dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d |= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x4c: // or32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) | s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x57: // and dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d &= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x54: // and32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) & s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x5f: // and dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d &= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x5c: // and32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) & s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x67: // lsh dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d <<= s & 63
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x64: // lsh32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) << (s & 31))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x6f: // lsh dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d <<= s & 63
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x6c: // lsh32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) << (s & 31))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x77: // rsh dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d >>= s & 63
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x74: // rsh32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) >> (s & 31))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x7f: // rsh dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d >>= s & 63
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x7c: // rsh32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) >> (s & 31))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x97: // mod dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			if s != 0 {
				d %= s
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x94: // mod32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			if s != 0 {
				d = uint64(uint32(d) % s)
			} else {
				d = uint64(uint32(d))
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x9f: // mod dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			if s != 0 {
				d %= s
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x9c: // mod32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			if s != 0 {
				d = uint64(uint32(d) % s)
			} else {
				d = uint64(uint32(d))
			}
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xa7: // xor dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d ^= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xa4: // xor32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(d) ^ s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xaf: // xor dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d ^= s
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xac: // xor32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(d) ^ s)
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xb7: // mov dst, imm (64-bit)
			reg[in.dst&15] = uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
		case 0xb4: // mov32 dst, imm
			reg[in.dst&15] = uint64(uint32(in.imm))
			tag[in.dst&15] = api.NoTag //checked
		case 0xbf: // mov dst, reg (64-bit)
			reg[in.dst&15] = reg[in.src&15]
			tag[in.dst&15] = tag[in.src&15] //checked
		case 0xbc: // mov32 dst, reg
			reg[in.dst&15] = uint64(uint32(reg[in.src&15]))
			tag[in.dst&15] = api.NoTag //checked
		case 0xc7: // arsh dst, imm (64-bit)
			d, s := reg[in.dst&15], uint64(in.imm)
			d = uint64(int64(d) >> (s & 63))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xc4: // arsh32 dst, imm
			d, s := reg[in.dst&15], uint32(in.imm)
			d = uint64(uint32(int32(d) >> (s & 31)))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xcf: // arsh dst, reg (64-bit)
			d, s := reg[in.dst&15], reg[in.src&15]
			d = uint64(int64(d) >> (s & 63))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0xcc: // arsh32 dst, reg
			d, s := reg[in.dst&15], uint32(reg[in.src&15])
			d = uint64(uint32(int32(d) >> (s & 31)))
			reg[in.dst&15] = d
			tag[in.dst&15] = api.NoTag //checked
		case 0x15: // jeq dst, imm, +off
			if reg[in.dst&15] == uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x1d: // jeq dst, reg, +off
			if reg[in.dst&15] == reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x16: // jeq32 dst, imm, +off
			if uint32(reg[in.dst&15]) == uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x1e: // jeq32 dst, reg, +off
			if uint32(reg[in.dst&15]) == uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x25: // jgt dst, imm, +off
			if reg[in.dst&15] > uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x2d: // jgt dst, reg, +off
			if reg[in.dst&15] > reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x26: // jgt32 dst, imm, +off
			if uint32(reg[in.dst&15]) > uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x2e: // jgt32 dst, reg, +off
			if uint32(reg[in.dst&15]) > uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x35: // jge dst, imm, +off
			if reg[in.dst&15] >= uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x3d: // jge dst, reg, +off
			if reg[in.dst&15] >= reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x36: // jge32 dst, imm, +off
			if uint32(reg[in.dst&15]) >= uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x3e: // jge32 dst, reg, +off
			if uint32(reg[in.dst&15]) >= uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x45: // jset dst, imm, +off
			if reg[in.dst&15]&uint64(in.imm) != 0 {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x4d: // jset dst, reg, +off
			if reg[in.dst&15]&reg[in.src&15] != 0 {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x46: // jset32 dst, imm, +off
			if uint32(reg[in.dst&15])&uint32(in.imm) != 0 {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x4e: // jset32 dst, reg, +off
			if uint32(reg[in.dst&15])&uint32(reg[in.src&15]) != 0 {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x55: // jne dst, imm, +off
			if reg[in.dst&15] != uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x5d: // jne dst, reg, +off
			if reg[in.dst&15] != reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x56: // jne32 dst, imm, +off
			if uint32(reg[in.dst&15]) != uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x5e: // jne32 dst, reg, +off
			if uint32(reg[in.dst&15]) != uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x65: // jsgt dst, imm, +off
			if int64(reg[in.dst&15]) > in.imm {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x6d: // jsgt dst, reg, +off
			if int64(reg[in.dst&15]) > int64(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x66: // jsgt32 dst, imm, +off
			if int32(uint32(reg[in.dst&15])) > int32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x6e: // jsgt32 dst, reg, +off
			if int32(uint32(reg[in.dst&15])) > int32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x75: // jsge dst, imm, +off
			if int64(reg[in.dst&15]) >= in.imm {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x7d: // jsge dst, reg, +off
			if int64(reg[in.dst&15]) >= int64(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x76: // jsge32 dst, imm, +off
			if int32(uint32(reg[in.dst&15])) >= int32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x7e: // jsge32 dst, reg, +off
			if int32(uint32(reg[in.dst&15])) >= int32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xa5: // jlt dst, imm, +off
			if reg[in.dst&15] < uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xad: // jlt dst, reg, +off
			if reg[in.dst&15] < reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xa6: // jlt32 dst, imm, +off
			if uint32(reg[in.dst&15]) < uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xae: // jlt32 dst, reg, +off
			if uint32(reg[in.dst&15]) < uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xb5: // jle dst, imm, +off
			if reg[in.dst&15] <= uint64(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xbd: // jle dst, reg, +off
			if reg[in.dst&15] <= reg[in.src&15] {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xb6: // jle32 dst, imm, +off
			if uint32(reg[in.dst&15]) <= uint32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xbe: // jle32 dst, reg, +off
			if uint32(reg[in.dst&15]) <= uint32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xc5: // jslt dst, imm, +off
			if int64(reg[in.dst&15]) < in.imm {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xcd: // jslt dst, reg, +off
			if int64(reg[in.dst&15]) < int64(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xc6: // jslt32 dst, imm, +off
			if int32(uint32(reg[in.dst&15])) < int32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xce: // jslt32 dst, reg, +off
			if int32(uint32(reg[in.dst&15])) < int32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xd5: // jsle dst, imm, +off
			if int64(reg[in.dst&15]) <= in.imm {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xdd: // jsle dst, reg, +off
			if int64(reg[in.dst&15]) <= int64(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xd6: // jsle32 dst, imm, +off
			if int32(uint32(reg[in.dst&15])) <= int32(in.imm) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0xde: // jsle32 dst, reg, +off
			if int32(uint32(reg[in.dst&15])) <= int32(reg[in.src&15]) {
				acc += int64(pc) //checked
				pc = int(in.off)
				goto jumped //checked
			}
		case 0x61: // ldxw
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 4) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = load32(addr)
		case 0x81: // ldxsw
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 4) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = uint64(int64(int32(load32(addr))))
		case 0x62: // stw
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 4) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
				m.slots[(addr+3-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store32(addr, uint64(in.imm))
		case 0x63: // stxw
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 4) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
				m.slots[(addr+3-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store32(addr, reg[in.src&15])
		case 0x69: // ldxh
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 2) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = load16(addr)
		case 0x89: // ldxsh
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 2) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = uint64(int64(int16(load16(addr))))
		case 0x6a: // sth
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 2) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
				m.slots[(addr+1-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store16(addr, uint64(in.imm))
		case 0x6b: // stxh
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 2) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
				m.slots[(addr+1-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store16(addr, reg[in.src&15])
		case 0x71: // ldxb
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 1) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = load8(addr)
		case 0x91: // ldxsb
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if !objs[tag[in.src&15]].canRead(addr, 1) {
				goto memory
			}
			tag[in.dst&15] = api.NoTag
			//checked:end
			reg[in.dst&15] = uint64(int64(int8(load8(addr))))
		case 0x72: // stb
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 1) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store8(addr, uint64(in.imm))
		case 0x73: // stxb
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 1) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store8(addr, reg[in.src&15])
		case 0x79: // ldxdw
			addr := reg[in.src&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.src&15]; !objs[t].canRead(addr, 8) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth && addr&7 == 0 {
				tag[in.dst&15] = m.slots[(addr-stackBase)>>3&slotMask]
			} else {
				tag[in.dst&15] = api.NoTag
			}
			//checked:end
			reg[in.dst&15] = load64(addr)
		case 0x7a: // stdw
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 8) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
				m.slots[(addr+7-stackBase)>>3&slotMask] = api.NoTag
			}
			//checked:end
			store64(addr, uint64(in.imm))
		case 0x7b: // stxdw
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; !objs[t].canWrite(addr, 8) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				if addr&7 == 0 {
					m.slots[(addr-stackBase)>>3&slotMask] = tag[in.src&15]
				} else {
					m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
					m.slots[(addr+7-stackBase)>>3&slotMask] = api.NoTag
				}
			}
			//checked:end
			store64(addr, reg[in.src&15])
		case 0x84: // neg32
			reg[in.dst&15] = uint64(-uint32(reg[in.dst&15]))
			tag[in.dst&15] = api.NoTag //checked
		case 0x87: // neg
			reg[in.dst&15] = -reg[in.dst&15]
			tag[in.dst&15] = api.NoTag //checked
		case opSDiv64Imm, opSDiv64Reg:
			d, s := int64(reg[in.dst&15]), in.imm
			if in.op == opSDiv64Reg {
				s = int64(reg[in.src&15])
			}
			if s == 0 {
				d = 0
			} else if s != -1 {
				d /= s
			} else {
				d = -d // INT64_MIN / -1 wraps to INT64_MIN
			}
			reg[in.dst&15] = uint64(d)
			tag[in.dst&15] = api.NoTag //checked
		case opSDiv32Imm, opSDiv32Reg:
			d, s := int32(reg[in.dst&15]), int32(in.imm)
			if in.op == opSDiv32Reg {
				s = int32(reg[in.src&15])
			}
			if s == 0 {
				d = 0
			} else if s != -1 {
				d /= s
			} else {
				d = -d
			}
			reg[in.dst&15] = uint64(uint32(d))
			tag[in.dst&15] = api.NoTag //checked
		case opSMod64Imm, opSMod64Reg:
			d, s := int64(reg[in.dst&15]), in.imm
			if in.op == opSMod64Reg {
				s = int64(reg[in.src&15])
			}
			if s == -1 {
				d = 0
			} else if s != 0 {
				d %= s
			}
			reg[in.dst&15] = uint64(d)
			tag[in.dst&15] = api.NoTag //checked
		case opSMod32Imm, opSMod32Reg:
			d, s := int32(reg[in.dst&15]), int32(in.imm)
			if in.op == opSMod32Reg {
				s = int32(reg[in.src&15])
			}
			if s == -1 {
				d = 0
			} else if s != 0 {
				d %= s
			}
			reg[in.dst&15] = uint64(uint32(d))
			tag[in.dst&15] = api.NoTag //checked
		case opMovSX64x8:
			reg[in.dst&15] = uint64(int64(int8(reg[in.src&15])))
			tag[in.dst&15] = api.NoTag //checked
		case opMovSX64x16:
			reg[in.dst&15] = uint64(int64(int16(reg[in.src&15])))
			tag[in.dst&15] = api.NoTag //checked
		case opMovSX64x32:
			reg[in.dst&15] = uint64(int64(int32(reg[in.src&15])))
			tag[in.dst&15] = api.NoTag //checked
		case opMovSX32x8:
			reg[in.dst&15] = uint64(uint32(int32(int8(reg[in.src&15]))))
			tag[in.dst&15] = api.NoTag //checked
		case opMovSX32x16:
			reg[in.dst&15] = uint64(uint32(int32(int16(reg[in.src&15]))))
			tag[in.dst&15] = api.NoTag //checked
		case 0xd4: // le16/le32/le64: truncate (the host is little endian)
			switch in.imm {
			case 16:
				reg[in.dst&15] = uint64(uint16(reg[in.dst&15]))
			case 32:
				reg[in.dst&15] = uint64(uint32(reg[in.dst&15]))
			}
			tag[in.dst&15] = api.NoTag //checked
		case 0xdc, 0xd7: // be16/be32/be64, and bswap16/32/64
			switch in.imm {
			case 16:
				reg[in.dst&15] = uint64(bits.ReverseBytes16(uint16(reg[in.dst&15])))
			case 32:
				reg[in.dst&15] = uint64(bits.ReverseBytes32(uint32(reg[in.dst&15])))
			default:
				reg[in.dst&15] = bits.ReverseBytes64(reg[in.dst&15])
			}
			tag[in.dst&15] = api.NoTag //checked
		case 0x18: // lddw
			reg[in.dst&15] = uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opLDDWCode: // lddw dst, code +off: address of a function
			reg[in.dst&15] = p.codeAddr(int(in.off))
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opLDDWObj: // lddw dst, pointer into a static object
			reg[in.dst&15] = uint64(in.imm)
			tag[in.dst&15] = m.objs.staticBase + api.Tag(in.off) //checked
			pc++
		case 0x05: // ja
			acc += int64(pc) //checked
			pc = int(in.off)
			goto jumped //checked
		case 0x06: // ja32 (gotol)
			acc += int64(pc) //checked
			pc = int(in.off)
			goto jumped //checked
		case 0xc3: // lock ... 32-bit
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; addr&3 != 0 || !objs[t].canWrite(addr, 4) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
			}
			atomicTags(in.imm, &tag[in.src&15], &tag[0])
			//checked:end
			reg[in.src&15], reg[0] = atomicOp32(addr, in.imm, reg[in.src&15], reg[0])
		case 0xdb: // lock ... 64-bit
			addr := reg[in.dst&15] + uint64(in.off)
			//checked:begin
			if t := tag[in.dst&15]; addr&7 != 0 || !objs[t].canWrite(addr, 8) {
				goto memory
			} else if t-StackTag < api.MaxCallDepth {
				m.slots[(addr-stackBase)>>3&slotMask] = api.NoTag
			}
			atomicTags(in.imm, &tag[in.src&15], &tag[0])
			//checked:end
			reg[in.src&15], reg[0] = atomicOp64(addr, in.imm, reg[in.src&15], reg[0])
		case 0x20, 0x28, 0x30, 0x40, 0x48, 0x50: // legacy packet loads
			k := int32(in.imm)
			if in.op >= 0x40 {
				k = int32(uint32(reg[in.src&15]) + uint32(in.imm))
			}
			v, ok := loadPacket(env, in.op&0x18, k)
			if !ok { // out of the packet: the program ends with 0, as in Linux
				m.executed = uint64(acc + int64(pc)) //checked
				return 0, nil
			}
			reg[0] = v
			tag[0] = api.NoTag //checked
		case 0x85: // call helper, call local, call btf
			switch in.src {
			case 1:
				if depth+1 >= api.MaxCallDepth {
					m.executed = uint64(acc + int64(pc)) //checked
					return 0, p.fault(api.ErrCallDepth, pc-1)
				}
				depth++
				f := &m.frames[depth]
				f.ret = int32(pc)
				f.saved = [4]uint64{reg[6], reg[7], reg[8], reg[9]}
				f.savedTags = [4]api.Tag{tag[6], tag[7], tag[8], tag[9]} //checked
				reg[10] = top - uint64(depth)*api.StackSize
				//checked:begin
				tag[10] = StackTag + api.Tag(depth)
				objs[tag[10]].enable()
				if depth > m.deepest {
					m.deepest = depth
				}
				acc += int64(pc)
				//checked:end
				pc = int(in.off)
				goto jumped //checked
			default:
				h := p.helper(in)
				//checked:begin
				r0, err := p.callChecked(m, h, &reg, &tag, depth, acc+int64(pc))
				acc, objs = int64(m.executed)-int64(pc), m.objs.list
				//checked:end
				//fast: r0, stop, err := p.callHelperFast(m, depth, h, reg[1], reg[2], reg[3], reg[4], reg[5])
				if err != nil {
					m.executed = uint64(acc + int64(pc)) //checked
					return 0, p.helperFault(pc-1, err)
				}
				reg[0] = r0
				stop := m.call.Stopped() //checked
				if stop {
					m.executed = uint64(acc + int64(pc)) //checked
					return r0, nil
				}
			}
		case 0x8d: // callx
			target := reg[in.dst&15]
			if t, ok := p.localTarget(target); ok {
				if depth+1 >= api.MaxCallDepth {
					m.executed = uint64(acc + int64(pc)) //checked
					return 0, p.fault(api.ErrCallDepth, pc-1)
				}
				depth++
				f := &m.frames[depth]
				f.ret = int32(pc)
				f.saved = [4]uint64{reg[6], reg[7], reg[8], reg[9]}
				f.savedTags = [4]api.Tag{tag[6], tag[7], tag[8], tag[9]} //checked
				reg[10] = top - uint64(depth)*api.StackSize
				//checked:begin
				tag[10] = StackTag + api.Tag(depth)
				objs[tag[10]].enable()
				if depth > m.deepest {
					m.deepest = depth
				}
				acc += int64(pc)
				//checked:end
				pc = t
				goto jumped //checked
				//fast: break
			}
			h := p.helperByID(target)
			if h == nil {
				m.executed = uint64(acc + int64(pc)) //checked
				f := p.fault(api.ErrBadCallTarget, pc-1)
				f.Addr = target
				return 0, f
			}
			//checked:begin
			r0, err := p.callChecked(m, h, &reg, &tag, depth, acc+int64(pc))
			acc, objs = int64(m.executed)-int64(pc), m.objs.list
			//checked:end
			//fast: r0, stop, err := p.callHelperFast(m, depth, h, reg[1], reg[2], reg[3], reg[4], reg[5])
			if err != nil {
				m.executed = uint64(acc + int64(pc)) //checked
				return 0, p.helperFault(pc-1, err)
			}
			reg[0] = r0
			stop := m.call.Stopped() //checked
			if stop {
				m.executed = uint64(acc + int64(pc)) //checked
				return r0, nil
			}
		case 0x95: // exit
			if depth == base {
				m.executed = uint64(acc + int64(pc)) //checked
				return reg[0], nil
			}
			f := &m.frames[depth]
			reg[6], reg[7], reg[8], reg[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
			tag[6], tag[7], tag[8], tag[9] = f.savedTags[0], f.savedTags[1], f.savedTags[2], f.savedTags[3] //checked
			depth--
			//checked:begin
			objs[tag[10]].disable()
			tag[10] = StackTag + api.Tag(depth)
			acc += int64(pc)
			//checked:end
			reg[10] = top - uint64(depth)*api.StackSize
			pc = int(f.ret)
			goto jumped //checked
		case opMovAddImm:
			reg[in.dst&15] = reg[in.src&15] + uint64(in.imm)
			tag[in.dst&15] = tag[in.src&15] //checked
			pc++
		case opMovAndImm:
			reg[in.dst&15] = reg[in.src&15] & uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovOrImm:
			reg[in.dst&15] = reg[in.src&15] | uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovXorImm:
			reg[in.dst&15] = reg[in.src&15] ^ uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovLshImm:
			reg[in.dst&15] = reg[in.src&15] << (uint64(in.imm) & 63)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovRshImm:
			reg[in.dst&15] = reg[in.src&15] >> (uint64(in.imm) & 63)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovArshImm:
			reg[in.dst&15] = uint64(int64(reg[in.src&15]) >> (uint64(in.imm) & 63))
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovMulImm:
			reg[in.dst&15] = reg[in.src&15] * uint64(in.imm)
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opZext:
			reg[in.dst&15] = uint64(uint32(reg[in.dst&15]))
			tag[in.dst&15] = api.NoTag //checked
			pc++
		case opMovZext:
			reg[in.dst&15] = uint64(uint32(reg[in.src&15]))
			tag[in.dst&15] = api.NoTag //checked
			pc += 2
		case opFallOff:
			m.executed = uint64(acc + int64(pc)) //checked
			return 0, p.fault(api.ErrFellOffEnd, p.lastPC)
		default:
			m.executed = uint64(acc + int64(pc)) //checked
			return 0, p.fault(api.ErrInvalidInsn, pc-1)
		}
		//checked:begin
		continue
	jumped:
		// Every transfer of control comes here: the one budget check.
		if acc > budget {
			m.executed = uint64(acc)
			return 0, p.fault(api.ErrBudgetExceeded, p.codeIndex(in))
		}
		acc -= int64(pc)
		continue
	memory:
		// Every access the inline checks did not allow comes here: the
		// slow path performs it or returns the fault.
		if f := p.slowMemory(m, in, &reg, &tag); f != nil {
			m.executed = uint64(acc + int64(pc))
			return 0, f
		}
		//checked:end
	}
}
