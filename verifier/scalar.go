package verifier

import (
	"math"
	"math/bits"

	"github.com/xebpf/xebpf/isa"
)

// concrete computes one ALU operation on known operands exactly as the
// interpreter does (RFC 9669: division by zero gives 0, modulo by zero
// keeps the dividend, shift amounts are masked).
func concrete(op isa.ALUOp, offset int16, alu64 bool, a, b uint64) uint64 {
	if !alu64 {
		a, b = uint64(uint32(a)), uint64(uint32(b))
	}
	var r uint64
	shift := b & 63
	if !alu64 {
		shift = b & 31
	}
	switch op {
	case isa.Add:
		r = a + b
	case isa.Sub:
		r = a - b
	case isa.Mul:
		r = a * b
	case isa.Div:
		switch {
		case b == 0:
			r = 0
		case offset == 1 && alu64:
			if int64(b) == -1 {
				r = -a
			} else {
				r = uint64(int64(a) / int64(b))
			}
		case offset == 1:
			if int32(b) == -1 {
				r = uint64(uint32(-int32(a)))
			} else {
				r = uint64(uint32(int32(a) / int32(b)))
			}
		default:
			r = a / b
		}
	case isa.Mod:
		switch {
		case b == 0:
			r = a
		case offset == 1 && alu64:
			if int64(b) == -1 {
				r = 0
			} else {
				r = uint64(int64(a) % int64(b))
			}
		case offset == 1:
			if int32(b) == -1 {
				r = 0
			} else {
				r = uint64(uint32(int32(a) % int32(b)))
			}
		default:
			r = a % b
		}
	case isa.Or:
		r = a | b
	case isa.And:
		r = a & b
	case isa.Xor:
		r = a ^ b
	case isa.LSh:
		r = a << shift
	case isa.RSh:
		r = a >> shift
	case isa.ArSh:
		if alu64 {
			r = uint64(int64(a) >> shift)
		} else {
			r = uint64(uint32(int32(a) >> shift))
		}
	case isa.Neg:
		r = -a
	case isa.Mov:
		switch offset {
		case 8:
			r = uint64(int64(int8(b)))
		case 16:
			r = uint64(int64(int16(b)))
		case 32:
			r = uint64(int64(int32(b)))
		default:
			r = b
		}
		if !alu64 && offset != 0 {
			r = uint64(uint32(r))
		}
	}
	if !alu64 {
		r = uint64(uint32(r))
	}
	return r
}

// scalarALU computes the bounds of dst op src for scalars. For 32-bit
// operations the operands' low 32 bits are used and the result is zero
// extended.
func scalarALU(op isa.ALUOp, offset int16, alu64 bool, dst, src value) value {
	if dst.isConst() && src.isConst() {
		return constant(concrete(op, offset, alu64, dst.umin, src.umin))
	}
	if op == isa.Mov {
		return movBounds(offset, alu64, src)
	}
	if !alu64 {
		return alu32(op, offset, dst, src)
	}
	var r value
	switch op {
	case isa.Add:
		r = addBounds(dst, src)
	case isa.Sub:
		r = subBounds(dst, src)
	case isa.Mul:
		r = unknown
		if dst.umax <= math.MaxUint32 && src.umax <= math.MaxUint32 {
			r = unsignedRange(dst.umin*src.umin, dst.umax*src.umax)
		}
	case isa.Div:
		r = unknown
		if offset == 0 {
			r = divBounds(dst, src)
		}
	case isa.Mod:
		r = unknown
		if offset == 0 {
			r = modBounds(dst, src)
		}
	case isa.And:
		r = unsignedRange(0, min(dst.umax, src.umax))
	case isa.Or, isa.Xor:
		hi := max(dst.umax, src.umax)
		top := uint64(math.MaxUint64)
		if hi < 1<<63 {
			top = 1<<bits.Len64(hi) - 1
		}
		lo := uint64(0)
		if op == isa.Or {
			lo = max(dst.umin, src.umin)
		}
		r = unsignedRange(lo, top)
	case isa.LSh:
		r = shiftBounds(dst, src, 63, func(a uint64, s uint) (uint64, bool) {
			if s >= 64 || bits.Len64(a)+int(s) > 64 {
				return 0, false
			}
			return a << s, true
		})
	case isa.RSh:
		r = unknown
		if src.umax <= 63 {
			r = unsignedRange(dst.umin>>src.umax, dst.umax>>src.umin)
		} else {
			r = unsignedRange(0, dst.umax)
		}
	case isa.ArSh:
		r = unknown
		if src.umax <= 63 {
			r = signedRange(min(dst.smin>>src.umin, dst.smin>>src.umax), max(dst.smax>>src.umin, dst.smax>>src.umax))
		}
	case isa.Neg:
		r = unknown
		if dst.smin != math.MinInt64 {
			r = signedRange(-dst.smax, -dst.smin)
		}
	default: // End is handled by the caller
		r = unknown
	}
	r.deduce()
	if r.empty() {
		return unknown
	}
	return r
}

func shiftBounds(dst, src value, mask uint64, f func(uint64, uint) (uint64, bool)) value {
	if src.umax > mask {
		return unknown
	}
	lo, ok1 := f(dst.umin, uint(src.umin))
	hi, ok2 := f(dst.umax, uint(src.umax))
	if !ok1 || !ok2 {
		return unknown
	}
	return unsignedRange(lo, hi)
}

func addBounds(a, b value) value {
	r := unknown
	if s, o1 := addOverflows(a.smin, b.smin); !o1 {
		if t, o2 := addOverflows(a.smax, b.smax); !o2 {
			r.smin, r.smax = s, t
		}
	}
	if lo, c1 := bits.Add64(a.umin, b.umin, 0); c1 == 0 {
		if hi, c2 := bits.Add64(a.umax, b.umax, 0); c2 == 0 {
			r.umin, r.umax = lo, hi
		}
	}
	r.deduce()
	return r
}

func subBounds(a, b value) value {
	r := unknown
	if s, o1 := subOverflows(a.smin, b.smax); !o1 {
		if t, o2 := subOverflows(a.smax, b.smin); !o2 {
			r.smin, r.smax = s, t
		}
	}
	if a.umin >= b.umax {
		r.umin, r.umax = a.umin-b.umax, a.umax-b.umin
	}
	r.deduce()
	return r
}

func addOverflows(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

func subOverflows(a, b int64) (int64, bool) {
	s := a - b
	return s, (a >= 0) != (b >= 0) && (s >= 0) != (a >= 0)
}

func divBounds(a, b value) value {
	if b.umin == 0 {
		// x/0 is 0, and x/d <= x.
		return unsignedRange(0, a.umax)
	}
	return unsignedRange(a.umin/b.umax, a.umax/b.umin)
}

func modBounds(a, b value) value {
	if b.umin == 0 {
		// x%0 is x.
		return unsignedRange(0, a.umax)
	}
	if a.umax < b.umin {
		return unsignedRange(a.umin, a.umax)
	}
	return unsignedRange(0, min(a.umax, b.umax-1))
}

// alu32 computes a 32-bit operation from the operands' low 32 bits.
func alu32(op isa.ALUOp, offset int16, dst, src value) value {
	dlo, dhi := dst.low32()
	slo, shi := src.low32()
	d, s := unsignedRange(dlo, dhi), unsignedRange(slo, shi)
	full := unsignedRange(0, math.MaxUint32)
	var r value
	switch op {
	case isa.Add:
		r = full
		if dhi+shi <= math.MaxUint32 {
			r = unsignedRange(dlo+slo, dhi+shi)
		}
	case isa.Sub:
		r = full
		if dlo >= shi {
			r = unsignedRange(dlo-shi, dhi-slo)
		}
	case isa.Mul:
		r = full
		if dhi <= math.MaxUint16 && shi <= math.MaxUint16 {
			r = unsignedRange(dlo*slo, dhi*shi)
		}
	case isa.Div:
		r = full
		if offset == 0 {
			r = divBounds(d, s)
		}
	case isa.Mod:
		r = full
		if offset == 0 {
			r = modBounds(d, s)
		}
	case isa.And:
		r = unsignedRange(0, min(dhi, shi))
	case isa.Or, isa.Xor:
		hi := max(dhi, shi)
		lo := uint64(0)
		if op == isa.Or {
			lo = max(dlo, slo)
		}
		r = unsignedRange(lo, 1<<bits.Len64(hi)-1)
	case isa.LSh:
		r = full
		if shi <= 31 && bits.Len64(dhi)+int(shi) <= 32 {
			r = unsignedRange(dlo<<slo, dhi<<shi)
		}
	case isa.RSh:
		r = full
		if shi <= 31 {
			r = unsignedRange(dlo>>shi, dhi>>slo)
		}
	default:
		r = full
	}
	if r.empty() || r.umax > math.MaxUint32 {
		return full
	}
	return r
}

// movBounds is mov or movsx of src, 64- or 32-bit.
func movBounds(offset int16, alu64 bool, src value) value {
	if offset == 0 {
		if alu64 {
			return src
		}
		lo, hi := src.low32()
		return unsignedRange(lo, hi)
	}
	// Sign extension from offset bits: values below 2^(offset-1) keep
	// their value.
	half := uint64(1) << (offset - 1)
	var r value
	if src.umax < half {
		r = unsignedRange(src.umin, src.umax)
	} else {
		r = signedRange(-int64(half), int64(half)-1)
	}
	if !alu64 {
		if r.smin >= 0 {
			return r
		}
		return unsignedRange(0, math.MaxUint32)
	}
	return r
}

// truncate bounds a scalar to the low width bytes, as a load of that
// width zero-extends.
func truncate(v value, width int) value {
	if width == 8 {
		return v
	}
	top := uint64(1)<<(8*width) - 1
	if v.kind == kindScalar && v.umax <= top {
		return v
	}
	return unsignedRange(0, top)
}

// signExtendLoad bounds a sign-extending load of width bytes.
func signExtendLoad(width int) value {
	half := int64(1) << (8*width - 1)
	return signedRange(-half, half-1)
}
