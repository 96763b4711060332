package maps

import "encoding/binary"

// hashKey hashes a key with a per-map seed (0 with BPF_F_ZERO_SEED).
func hashKey(seed uint64, k []byte) uint32 {
	h := seed ^ (uint64(len(k)) * 0x9e3779b97f4a7c15)
	for len(k) >= 8 {
		h = mix64(h ^ binary.LittleEndian.Uint64(k))
		k = k[8:]
	}
	if len(k) >= 4 {
		h = mix64(h ^ uint64(binary.LittleEndian.Uint32(k)))
		k = k[4:]
	}
	for _, c := range k {
		h = mix64(h ^ uint64(c))
	}
	return uint32(h ^ h>>32)
}

func mix64(x uint64) uint64 {
	x ^= x >> 31
	x *= 0xd6e8feb86659fd93
	x ^= x >> 32
	return x
}
