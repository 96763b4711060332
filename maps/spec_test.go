package maps

import (
	"errors"
	"testing"
)

func TestTypeStringMatchesCilium(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		id   uint32
		name string
	}{
		{Hash, 1, "Hash"}, {Array, 2, "Array"}, {ProgramArray, 3, "ProgramArray"},
		{PerfEventArray, 4, "PerfEventArray"}, {PerCPUHash, 5, "PerCPUHash"},
		{PerCPUArray, 6, "PerCPUArray"}, {LRUHash, 9, "LRUHash"}, {LRUPerCPUHash, 10, "LRUCPUHash"},
		{LPMTrie, 11, "LPMTrie"}, {ArrayOfMaps, 12, "ArrayOfMaps"}, {HashOfMaps, 13, "HashOfMaps"},
		{Queue, 22, "Queue"}, {Stack, 23, "Stack"}, {RingBuf, 27, "RingBuf"}, {Type(999), 999, "MapType(999)"},
	} {
		if uint32(tc.t) != tc.id || tc.t.String() != tc.name {
			t.Errorf("type %d %q, want %d %q", uint32(tc.t), tc.t, tc.id, tc.name)
		}
	}
}

func TestNewValidatesLikeTheKernel(t *testing.T) {
	inner := &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}
	for _, tc := range []struct {
		desc string
		spec Spec
		want error
	}{
		{"An array needs 4-byte keys.", Spec{Type: Array, KeySize: 8, ValueSize: 4, MaxEntries: 1}, ErrInvalid},
		{"An array needs a value.", Spec{Type: Array, KeySize: 4, MaxEntries: 1}, ErrInvalid},
		{"An array needs entries.", Spec{Type: Array, KeySize: 4, ValueSize: 4}, ErrInvalid},
		{"A valid array.", Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}, nil},
		{"A hash needs a key.", Spec{Type: Hash, ValueSize: 4, MaxEntries: 1}, ErrInvalid},
		{"Hash keys are at most 512 bytes.", Spec{Type: Hash, KeySize: 513, ValueSize: 4, MaxEntries: 1}, ErrTooBig},
		{"LRU maps must be preallocated.", Spec{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, ErrNotSupported},
		{"Unknown flags are refused.", Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: 1 << 20}, ErrInvalid},
		{"A valid stack.", Spec{Type: Stack, ValueSize: 4, MaxEntries: 1}, nil},
		{"A valid ring buffer.", Spec{Type: RingBuf, MaxEntries: 4096}, nil},
		{"Queue keys are empty.", Spec{Type: Queue, KeySize: 4, ValueSize: 4, MaxEntries: 1}, ErrInvalid},

		{"Ring buffers are a power of two.", Spec{Type: RingBuf, MaxEntries: 3 * 4096}, ErrInvalid},
		{"Ring buffers are whole pages.", Spec{Type: RingBuf, MaxEntries: 1024}, ErrInvalid},

		{"LPM tries need BPF_F_NO_PREALLOC.", Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1}, ErrInvalid},
		{"A valid LPM trie.", Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, nil},
		{"LPM keys hold a prefix length and data.", Spec{Type: LPMTrie, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, ErrInvalid},

		{"Program arrays hold 4-byte values.", Spec{Type: ProgramArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}, ErrInvalid},
		{"Map-in-map needs a template.", Spec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1}, ErrInvalid},
		{"A valid array of maps.", Spec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner}, nil},
		{"Inner maps cannot hold maps.", Spec{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1,
			InnerMap: &Spec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner}}, ErrInvalid},
		{"Spin locks only in hash and array values.", Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1, HasSpinLock: true}, ErrNotSupported},
		{"Spin locks lie inside the value.", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, SpinLockOffset: 8}, ErrInvalid},
		{"Spin locks are aligned.", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, SpinLockOffset: 2}, ErrInvalid},
		{"Absurd sizes are refused before allocating.", Spec{Type: Array, KeySize: 4, ValueSize: 1 << 20, MaxEntries: 1 << 20}, ErrTooBig},
		{"Absurd hashes are refused before allocating.", Spec{Type: Hash, KeySize: 512, ValueSize: 1 << 30, MaxEntries: 1<<32 - 1}, ErrTooBig},
		{"Unsupported types are refused.", Spec{Type: SockMap, KeySize: 4, ValueSize: 4, MaxEntries: 1}, ErrNotSupported},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			m, err := New(&tc.spec)
			if (err == nil) != (m != nil) {
				t.Fatalf("New = %v, %v: want exactly one of map and error", m, err)
			}
			if m != nil {
				defer m.Close()
			}
			wantErr(t, "New", err, tc.want)
		})
	}
}

func TestMemoryLimitOption(t *testing.T) {
	s := &Spec{Type: Array, KeySize: 4, ValueSize: 1024, MaxEntries: 1024}
	if _, err := New(s, WithMaxMemory(1<<19)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("1 MiB array under a 512 KiB limit: %v, want ErrTooBig", err)
	}
	m := mustNew(t, s, WithMaxMemory(1<<20))
	if m.MaxEntries() != 1024 {
		t.Fatalf("MaxEntries = %d", m.MaxEntries())
	}
}

func TestMemoryNeeded(t *testing.T) {
	cpus := uint64(NumCPU())
	for _, tc := range []struct {
		spec Spec
		want uint64
		err  error
	}{
		{Spec{Type: Array, KeySize: 4, ValueSize: 1024, MaxEntries: 1024}, 1 << 20, nil},
		{Spec{Type: Array, KeySize: 4, ValueSize: 1, MaxEntries: 1}, pageSize, nil}, // whole pages
		{Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 4096, MaxEntries: 256}, cpus << 20, nil},
		// 25 million entries and 4096 spare slots of 8 + 8 + 24 bytes.
		{Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 25_000_000}, ((25_000_000+4096)*40 + pageSize - 1) &^ (pageSize - 1), nil},
		{Spec{Type: RingBuf, MaxEntries: 1 << 20}, 1<<20 + pageSize, nil},
		{Spec{Type: Array, KeySize: 8, ValueSize: 8, MaxEntries: 1}, 0, ErrInvalid},
		{Spec{Type: Arena, MaxEntries: 1}, 0, ErrNotSupported},
	} {
		got, err := MemoryNeeded(&tc.spec)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%v %d×%d: MemoryNeeded = %d, %v; want %d, %v", tc.spec.Type, tc.spec.MaxEntries, tc.spec.ValueSize, got, err, tc.want, tc.err)
		}
	}
}

func TestErrnoOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Errno
	}{
		{nil, 0}, {ErrKeyNotExist, ENOENT}, {ErrKeyExist, EEXIST}, {ErrMapFull, E2BIG},
		{ErrInvalid, EINVAL}, {ErrNotSupported, EOPNOTSUPP}, {errors.New("x"), EINVAL},
	} {
		if got := ErrnoOf(tc.err); got != tc.want {
			t.Errorf("ErrnoOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
