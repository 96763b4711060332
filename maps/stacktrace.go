package maps

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// stackTrace is StackTrace. xebpf runs programs without kernel or user
// call stacks, so bpf_get_stackid never stores a trace and the map stays
// empty: lookups are ErrKeyNotExist, updates ErrInvalid (as in Linux,
// where only the helper writes), deletes ErrKeyNotExist, or ErrMapFull
// (E2BIG) for an id beyond the roundup_pow_of_two(MaxEntries) buckets.
type stackTrace struct {
	base
	buckets uint64
}

func newStackTrace(s Spec, id uint32) *stackTrace {
	return &stackTrace{base: base{spec: s, id: id}, buckets: uint64(1) << bits.Len32(s.MaxEntries-1)}
}

func (m *stackTrace) id(key []byte) (uint32, error) {
	if err := m.checkKey(key); err != nil {
		return 0, err
	}
	if m.closed.Load() {
		return 0, ErrClosed
	}
	return binary.NativeEndian.Uint32(key), nil
}

func (m *stackTrace) Lookup(key, valueOut []byte) error {
	if _, err := m.id(key); err != nil {
		return err
	}
	if err := m.checkValue(valueOut); err != nil {
		return err
	}
	return ErrKeyNotExist
}

func (m *stackTrace) LookupAndDelete(key, valueOut []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	return m.Lookup(key, valueOut)
}

func (m *stackTrace) Update(key, value []byte, flags UpdateFlags) error {
	if err := m.writable(); err != nil {
		return err
	}
	if _, err := m.id(key); err != nil {
		return err
	}
	return fmt.Errorf("update of %v: %w", m.spec.Type, ErrInvalid)
}

func (m *stackTrace) Delete(key []byte) error {
	if err := m.writable(); err != nil {
		return err
	}
	i, err := m.id(key)
	if err != nil {
		return err
	}
	if uint64(i) >= m.buckets {
		return ErrMapFull
	}
	return ErrKeyNotExist
}

func (m *stackTrace) NextKey(key, nextOut []byte) error {
	if key != nil {
		if _, err := m.id(key); err != nil {
			return err
		}
	}
	if len(nextOut) != 4 {
		return fmt.Errorf("next key buffer of %d bytes, want 4: %w", len(nextOut), ErrInvalid)
	}
	return ErrKeyNotExist
}

func (m *stackTrace) Iterate(func(Entry) bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}

// UpdateAddr and DeleteAddr are refused like the kernel's verifier does
// (only bpf_get_stackid uses the map): they answer -EINVAL.
func (m *stackTrace) UpdateAddr(uintptr, uintptr, uint64) int64 { return -int64(EINVAL) }

func (m *stackTrace) UpdateAddrCPU(int, uintptr, uintptr, uint64) int64 { return -int64(EINVAL) }

func (m *stackTrace) DeleteAddr(uintptr) int64 { return -int64(EINVAL) }
