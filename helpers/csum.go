package helpers

import (
	"encoding/binary"

	"github.com/xebpf/xebpf/api"
)

// csumDiffMax is sizeof(struct bpf_scratchpad), the most bytes
// bpf_csum_diff sums before Linux 6.13.
const csumDiffMax = 512

// bpf_csum_diff(from, from_size, to, to_size, seed), as Linux up to 6.12
// on x86-64 (net/core/filter.c:bpf_csum_diff): sizes must be multiples of
// 4 and total at most 512 bytes (else -EINVAL); the result is
// csum_partial of the complemented from words followed by the to words,
// seeded with seed: a 32-bit one's-complement sum of little-endian words,
// not folded. CsumDiffUnfolded selects it; the default is csumDiffFolded,
// the semantics of current kernels.
func csumDiff(c *api.HelperCall) (uint64, error) {
	fs, ts := uint32(c.Args[1]), uint32(c.Args[3])
	if (fs|ts)&3 != 0 || fs+ts > csumDiffMax {
		return errno(eINVAL), nil
	}
	from, err := c.ArgMemory(0, uint64(fs), false)
	if err != nil {
		return 0, err
	}
	to, err := c.ArgMemory(2, uint64(ts), false)
	if err != nil {
		return 0, err
	}
	sum := uint64(uint32(c.Args[4]))
	for i := 0; i+4 <= len(from); i += 4 {
		sum += uint64(^binary.LittleEndian.Uint32(from[i:]))
	}
	for i := 0; i+4 <= len(to); i += 4 {
		sum += uint64(binary.LittleEndian.Uint32(to[i:]))
	}
	return uint64(fold32(sum)), nil
}

// fold32 folds a 64-bit sum of 32-bit words into 32 bits with end-around
// carry, as x86-64's add32_with_carry.
func fold32(s uint64) uint32 {
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return uint32(s)
}

// csumPartial is x86-64's csum_partial: the one's-complement sum of
// little-endian 32-bit words (a short tail zero-padded) plus seed.
func csumPartial(b []byte, seed uint32) uint32 {
	sum := uint64(seed)
	i := 0
	for ; i+4 <= len(b); i += 4 {
		sum += uint64(binary.LittleEndian.Uint32(b[i:]))
	}
	if i < len(b) {
		var t [4]byte
		copy(t[:], b[i:])
		sum += uint64(binary.LittleEndian.Uint32(t[:]))
	}
	return fold32(sum)
}

func csumAdd(a, b uint32) uint32 {
	s := a + b
	if s < b {
		s++
	}
	return s
}

// csumFrom32To16 is include/net/checksum.h:csum_from32to16.
func csumFrom32To16(s uint32) uint16 {
	s += s>>16 | s<<16
	return uint16(s >> 16)
}

// csumDiffFolded is bpf_csum_diff since Linux 6.13: any sizes, and a
// result folded to 16 bits (not complemented).
func csumDiffFolded(c *api.HelperCall) (uint64, error) {
	fs, ts := uint64(uint32(c.Args[1])), uint64(uint32(c.Args[3]))
	from, err := c.ArgMemory(0, fs, false)
	if err != nil {
		return 0, err
	}
	to, err := c.ArgMemory(2, ts, false)
	if err != nil {
		return 0, err
	}
	ret := uint32(c.Args[4])
	switch {
	case fs != 0 && ts != 0:
		ret = csumAdd(csumPartial(to, ret), ^csumPartial(from, 0))
	case ts != 0:
		ret = csumPartial(to, ret)
	case fs != 0:
		ret = ^csumPartial(from, ^ret)
	}
	return uint64(csumFrom32To16(ret)), nil
}

// CsumDiffUnfolded returns bpf_csum_diff with the semantics of Linux up
// to 6.12 on x86-64, to replace the default (Linux 6.13 and later) in a
// helper set.
func CsumDiffUnfolded() Func {
	f, _ := ByID(IDCsumDiff)
	f.Impl = csumDiff
	return f
}
