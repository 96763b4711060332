package verifier

import (
	"fmt"
	"math"
	"strings"
)

// kind is the type of an abstract value: what a register or a spilled
// stack slot holds on every path reaching a program point.
type kind uint8

const (
	kindUninit     kind = iota // never written (or clobbered by a call)
	kindScalar                 // a number
	kindCtx                    // the program's context + offset
	kindStack                  // a frame's stack + offset (aux: frame)
	kindPacket                 // the packet's first byte + offset
	kindPacketEnd              // one past the packet's last byte
	kindPacketMeta             // the packet metadata's first byte + offset
	kindMapValue               // a value of map aux + offset
	kindMapHandle              // map aux itself (lddw map reference)
	kindRingbuf                // a ring-buffer record of aux bytes + offset
	kindFunc                   // a code address (lddw src 4; aux: pc)
	kindMixed                  // different kinds on different paths
)

var kindNames = [...]string{"uninitialized", "scalar", "ctx", "stack", "packet", "packet_end",
	"packet_meta", "map_value", "map_ptr", "ringbuf_mem", "func", "mixed"}

func (k kind) String() string { return kindNames[k] }

// isPointer reports whether values of kind k are addresses the program
// must not leak.
func (k kind) isPointer() bool { return k >= kindCtx && k <= kindFunc }

// mayBePointer reports whether values of kind k may hold an address on
// some path: their bytes are not data.
func (k kind) mayBePointer() bool { return k.isPointer() || k == kindMixed }

// value is an abstract value. For scalars the interval fields bound the
// number; for pointers they bound the variable part of the offset, and
// off is the constant part (off + var is the offset into the object).
type value struct {
	smin, smax int64
	umin, umax uint64
	// off is the constant part of a pointer's offset.
	off int64
	// rng, for packet pointers, is how many bytes from the pointer's
	// variable base (the position with off = 0) are proven to be inside
	// the packet. Scalars linked to a base keep it too, for the packet
	// pointers later built on that base; for other kinds it is unused.
	rng int64
	// id links values: scalars with the same id are equal; packet
	// pointers with the same id share their variable part; pointers that
	// may be NULL with the same id are NULL together.
	id uint64
	// aux is the map (map values and handles), the frame (stack), the
	// record size (ring buffer) or the code address (func).
	aux  int32
	kind kind
	// null: the pointer may be NULL (not yet checked).
	null bool
	// defPC is where a maybe-NULL pointer was made, for messages.
	defPC int32
}

var (
	uninit  = value{kind: kindUninit}
	unknown = value{kind: kindScalar, smin: math.MinInt64, smax: math.MaxInt64, umax: math.MaxUint64}
)

func constant(c uint64) value {
	return value{kind: kindScalar, smin: int64(c), smax: int64(c), umin: c, umax: c}
}

// unsignedRange is a scalar in [lo, hi] (unsigned).
func unsignedRange(lo, hi uint64) value {
	v := value{kind: kindScalar, umin: lo, umax: hi, smin: math.MinInt64, smax: math.MaxInt64}
	v.deduce()
	return v
}

// signedRange is a scalar in [lo, hi] (signed).
func signedRange(lo, hi int64) value {
	v := value{kind: kindScalar, smin: lo, smax: hi, umin: 0, umax: math.MaxUint64}
	v.deduce()
	return v
}

// pointer is a pointer of kind k into object aux at constant offset off.
func pointer(k kind, aux int32, off int64) value {
	return value{kind: k, aux: aux, off: off}
}

// isConst reports whether the value is a known scalar.
func (v value) isConst() bool { return v.kind == kindScalar && v.umin == v.umax }

// deduce tightens the signed and unsigned bounds against each other, as
// Linux's __reg_deduce_bounds does. It leaves an empty range empty.
func (v *value) deduce() {
	if v.smin >= 0 {
		v.umin = max(v.umin, uint64(v.smin))
		v.umax = min(v.umax, uint64(v.smax))
	} else if v.smax < 0 {
		// All negative: as unsigned, in [2^63, 2^64).
		v.umin = max(v.umin, uint64(v.smin))
		v.umax = min(v.umax, uint64(v.smax))
	}
	if v.umax <= math.MaxInt64 {
		v.smin = max(v.smin, int64(v.umin))
		v.smax = min(v.smax, int64(v.umax))
	} else if v.umin > math.MaxInt64 {
		v.smin = max(v.smin, int64(v.umin))
		v.smax = min(v.smax, int64(v.umax))
	}
}

// empty reports whether no number satisfies the bounds (an infeasible
// path).
func (v value) empty() bool { return v.smin > v.smax || v.umin > v.umax }

// fits32 reports whether the scalar is known to be below 2^32, so that its
// low 32 bits are its value.
func (v value) fits32() bool { return v.umax <= math.MaxUint32 }

// low32 is the scalar's low 32 bits, as an unsigned range.
func (v value) low32() (lo, hi uint64) {
	if v.fits32() {
		return v.umin, v.umax
	}
	if v.smin >= math.MinInt32 && v.smax < 0 {
		// Negative and small: the low 32 bits are 2^32 + v.
		return uint64(uint32(int32(v.smin))), uint64(uint32(int32(v.smax)))
	}
	if lo, hi := uint32(v.umin), uint32(v.umax); v.umax-v.umin <= math.MaxUint32 && lo <= hi {
		// Fewer than 2^32 values whose low halves do not wrap.
		return uint64(lo), uint64(hi)
	}
	return 0, math.MaxUint32
}

// joinNum joins the numeric bounds of a and b into v.
func (v *value) joinNum(a, b value) {
	v.smin, v.smax = min(a.smin, b.smin), max(a.smax, b.smax)
	v.umin, v.umax = min(a.umin, b.umin), max(a.umax, b.umax)
}

func (v value) sameNum(o value) bool {
	return v.smin == o.smin && v.smax == o.smax && v.umin == o.umin && v.umax == o.umax
}

func (v value) String() string {
	var b strings.Builder
	switch v.kind {
	case kindUninit, kindMixed, kindPacketEnd:
		return v.kind.String()
	case kindScalar:
		if v.isConst() {
			return fmt.Sprintf("scalar %d", int64(v.umin))
		}
		return "scalar " + v.rangeString()
	}
	b.WriteString(v.kind.String())
	if v.null {
		b.WriteString("_or_null")
	}
	switch v.kind {
	case kindStack:
		fmt.Fprintf(&b, " of frame %d", v.aux)
	case kindRingbuf:
		fmt.Fprintf(&b, " of %d bytes", v.aux)
	case kindFunc:
		fmt.Fprintf(&b, " at pc %d", v.aux)
		return b.String()
	case kindMapValue, kindMapHandle:
		fmt.Fprintf(&b, " of map #%d", v.aux)
	}
	if v.smin == 0 && v.smax == 0 {
		fmt.Fprintf(&b, " offset %d", v.off)
	} else {
		fmt.Fprintf(&b, " offset %d+%s", v.off, v.rangeString())
	}
	if v.kind == kindPacket {
		fmt.Fprintf(&b, " (checked %d bytes)", v.rng)
	}
	return b.String()
}

func (v value) rangeString() string {
	if v.smin >= 0 || v.umax <= math.MaxInt64 {
		return fmt.Sprintf("[%d, %d]", v.smin, v.smax)
	}
	if v.smin == math.MinInt64 && v.smax == math.MaxInt64 && v.umin == 0 && v.umax == math.MaxUint64 {
		return "unknown"
	}
	return fmt.Sprintf("[%d, %d] (unsigned [%d, %d])", v.smin, v.smax, v.umin, v.umax)
}
