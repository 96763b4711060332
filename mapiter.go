package xebpf

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/xebpf/xebpf/internal/binenc"
	"github.com/xebpf/xebpf/maps"
)

// ErrIterationAborted is returned by MapIterator.Err when the walk of a
// hash map that other goroutines or programs change could not finish: it
// kept restarting, as cilium/ebpf reports it.
var ErrIterationAborted = errors.New("iteration aborted")

// MapIterator walks a map's elements with BPF_MAP_GET_NEXT_KEY semantics,
// as cilium/ebpf's: elements added or deleted during the walk may or may
// not be seen, and an element deleted under the cursor restarts a hash
// map's walk. Queue and Stack are walked by popping.
type MapIterator struct {
	m     *Map
	cur   []byte // the last key yielded; nil before the first
	done  bool
	steps uint64
	err   error
}

// Iterate returns an iterator over the map's elements.
func (m *Map) Iterate() *MapIterator { return &MapIterator{m: m} }

// Next decodes the next element into keyOut and valueOut (as Lookup
// decodes them; keyOut is ignored for Queue and Stack) and reports whether
// there was one. At the end, and after an error, it returns false: Err
// tells which.
func (it *MapIterator) Next(keyOut, valueOut any) bool {
	if it.done || it.err != nil {
		return false
	}
	m := it.m
	if err := m.enter(); err != nil {
		it.err = err
		return false
	}
	defer m.life.release()
	val := make([]byte, m.m.UserValueSize())
	if m.m.KeySize() == 0 { // Queue, Stack
		switch err := m.m.LookupAndDelete(nil, val); {
		case errors.Is(err, maps.ErrKeyNotExist):
			it.done = true
			return false
		case err != nil:
			it.err = m.wrap(err)
			return false
		}
		return it.decode(nil, val, nil, valueOut)
	}
	// A walk of more steps than this keeps restarting (its cursor is
	// deleted under it), as cilium/ebpf bounds it.
	limit := 4*uint64(m.m.MaxEntries()) + 16
	next := make([]byte, m.m.KeySize())
	for {
		it.steps++
		if it.steps > limit {
			it.err = fmt.Errorf("map %s: %w", m.name, ErrIterationAborted)
			return false
		}
		switch err := m.m.NextKey(it.cur, next); {
		case errors.Is(err, maps.ErrKeyNotExist):
			it.done = true
			return false
		case err != nil:
			it.err = m.wrap(err)
			return false
		}
		it.cur = append(it.cur[:0], next...)
		switch err := m.m.Lookup(next, val); {
		case errors.Is(err, maps.ErrKeyNotExist):
			continue // deleted since NextKey found it
		case err != nil:
			it.err = m.wrap(err)
			return false
		}
		return it.decode(next, val, keyOut, valueOut)
	}
}

func (it *MapIterator) decode(key, val []byte, keyOut, valueOut any) bool {
	if key != nil && keyOut != nil {
		if err := binenc.Unmarshal(keyOut, key); err != nil {
			it.err = fmt.Errorf("map %s: key: %w", it.m.name, err)
			return false
		}
	}
	if valueOut != nil {
		if err := it.m.decodeValue(val, valueOut); err != nil {
			it.err = err
			return false
		}
	}
	return true
}

// Err returns the error that ended the walk, nil at its normal end.
func (it *MapIterator) Err() error { return it.err }

// MapBatchCursor is the position of a batch walk (BatchLookup,
// BatchLookupAndDelete); its zero value starts at the beginning.
type MapBatchCursor struct {
	last []byte // the last key returned; nil at the start
	done bool
}

// BatchOptions are the flags of batch operations, as cilium/ebpf's.
type BatchOptions struct {
	// ElemFlags are the flags of each element's update (UpdateAny, ...)
	// or lookup (UpdateLock).
	ElemFlags uint64
	// Flags must be 0.
	Flags uint64
}

// BatchLookup copies up to n elements after cursor into keysOut and
// valuesOut (slices of n keys and n values: []K and []V, or []byte of
// n×size) and returns how many it copied. At the end of the map it
// returns ErrKeyNotExist with the count of the last batch, as cilium/ebpf
// does.
func (m *Map) BatchLookup(cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions) (int, error) {
	return m.batchLookup(cursor, keysOut, valuesOut, opts, false)
}

// BatchLookupAndDelete is BatchLookup that deletes what it returns.
func (m *Map) BatchLookupAndDelete(cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions) (int, error) {
	return m.batchLookup(cursor, keysOut, valuesOut, opts, true)
}

func (m *Map) batchLookup(cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions, del bool) (int, error) {
	if cursor == nil {
		return 0, fmt.Errorf("map %s: batch lookup: nil cursor", m.name)
	}
	if err := checkBatchOptions(opts); err != nil {
		return 0, fmt.Errorf("map %s: batch lookup: %w", m.name, err)
	}
	if m.m.KeySize() == 0 {
		return 0, fmt.Errorf("map %s: batch lookup of a %s: %w", m.name, m.Type(), ErrNotSupported)
	}
	if cursor.done {
		return 0, fmt.Errorf("map %s: %w", m.name, ErrKeyNotExist)
	}
	ks, vs := m.m.KeySize(), m.m.UserValueSize()
	n, err := batchLen(keysOut, ks)
	if err != nil {
		return 0, fmt.Errorf("map %s: batch keys: %w", m.name, err)
	}
	if nv, err := m.valuesLen(valuesOut); err != nil || nv != n {
		if err == nil {
			err = fmt.Errorf("%d values for %d keys", nv, n)
		}
		return 0, fmt.Errorf("map %s: batch values: %w", m.name, err)
	}
	if err := m.enter(); err != nil {
		return 0, err
	}
	defer m.life.release()
	keys, vals := make([]byte, n*ks), make([]byte, n*vs)
	got := 0
	next := make([]byte, ks)
	for got < n {
		err := m.m.NextKey(cursor.last, next)
		if errors.Is(err, maps.ErrKeyNotExist) {
			cursor.done = true
			break
		}
		if err != nil {
			return 0, m.wrap(err)
		}
		cursor.last = append(cursor.last[:0], next...)
		lookup := m.m.Lookup
		if del {
			lookup = m.m.LookupAndDelete
		}
		if err := lookup(next, vals[got*vs:(got+1)*vs]); errors.Is(err, maps.ErrKeyNotExist) {
			continue
		} else if err != nil {
			return 0, m.wrap(err)
		}
		copy(keys[got*ks:], next)
		got++
	}
	if err := decodeBatch(keysOut, keys[:got*ks], ks, got); err != nil {
		return 0, fmt.Errorf("map %s: batch keys: %w", m.name, err)
	}
	if err := m.decodeValues(valuesOut, vals[:got*vs], got); err != nil {
		return 0, fmt.Errorf("map %s: batch values: %w", m.name, err)
	}
	if cursor.done {
		return got, fmt.Errorf("map %s: %w", m.name, ErrKeyNotExist)
	}
	return got, nil
}

// BatchUpdate sets keys[i] to values[i] for each i (slices of keys and
// values, or []byte of n×size) and returns how many it set; it stops at
// the first error, as Linux does. A map of maps takes a []*Map of inner
// maps, each put in its slot as Update puts one.
func (m *Map) BatchUpdate(keys, values any, opts *BatchOptions) (int, error) {
	if err := checkBatchOptions(opts); err != nil {
		return 0, fmt.Errorf("map %s: batch update: %w", m.name, err)
	}
	if inner, ok := values.([]*Map); ok {
		if err := m.enter(); err != nil {
			return 0, err
		}
		defer m.life.release()
		var flags MapUpdateFlags
		if opts != nil {
			flags = MapUpdateFlags(opts.ElemFlags)
		}
		return m.setMaps(keys, inner, flags)
	}
	ks, vs := m.m.KeySize(), m.m.UserValueSize()
	kb, n, err := encodeBatch(keys, ks)
	if err != nil {
		return 0, fmt.Errorf("map %s: batch keys: %w", m.name, err)
	}
	vb, nv, err := m.encodeValues(values)
	if err != nil {
		return 0, fmt.Errorf("map %s: batch values: %w", m.name, err)
	}
	if nv != n {
		return 0, fmt.Errorf("map %s: batch update: %d values for %d keys", m.name, nv, n)
	}
	if err := m.enter(); err != nil {
		return 0, err
	}
	defer m.life.release()
	var flags MapUpdateFlags
	if opts != nil {
		flags = MapUpdateFlags(opts.ElemFlags)
	}
	for i := range n {
		if err := m.m.Update(kb[i*ks:(i+1)*ks], vb[i*vs:(i+1)*vs], flags); err != nil {
			return i, m.wrap(err)
		}
	}
	return n, nil
}

// BatchDelete deletes keys (a slice of keys, or []byte of n×size) and
// returns how many it deleted; it stops at the first key that is not in
// the map, with ErrKeyNotExist, as Linux does.
func (m *Map) BatchDelete(keys any, opts *BatchOptions) (int, error) {
	if err := checkBatchOptions(opts); err != nil {
		return 0, fmt.Errorf("map %s: batch delete: %w", m.name, err)
	}
	ks := m.m.KeySize()
	kb, n, err := encodeBatch(keys, ks)
	if err != nil {
		return 0, fmt.Errorf("map %s: batch keys: %w", m.name, err)
	}
	if err := m.enter(); err != nil {
		return 0, err
	}
	defer m.life.release()
	for i := range n {
		if err := m.m.Delete(kb[i*ks : (i+1)*ks]); err != nil {
			return i, m.wrap(err)
		}
	}
	return n, nil
}

func checkBatchOptions(opts *BatchOptions) error {
	if opts != nil && opts.Flags != 0 {
		return fmt.Errorf("flags %#x: %w", opts.Flags, ErrNotSupported)
	}
	return nil
}

// batchLen is the number of elements of size bytes a batch buffer holds.
func batchLen(buf any, size int) (int, error) {
	if b, ok := buf.([]byte); ok {
		if size == 0 || len(b)%size != 0 {
			return 0, fmt.Errorf("%d bytes is not a multiple of %d", len(b), size)
		}
		return len(b) / size, nil
	}
	rv := reflect.ValueOf(buf)
	if rv.Kind() != reflect.Slice {
		return 0, fmt.Errorf("%T is not a slice", buf)
	}
	return rv.Len(), nil
}

// encodeBatch marshals a batch of elements of size bytes: a []byte of
// n×size, or a slice of n elements.
func encodeBatch(elems any, size int) ([]byte, int, error) {
	n, err := batchLen(elems, size)
	if err != nil {
		return nil, 0, err
	}
	if b, ok := elems.([]byte); ok {
		return b, n, nil
	}
	out := make([]byte, n*size)
	rv := reflect.ValueOf(elems)
	for i := range n {
		if _, err := binenc.MarshalInto(out[i*size:(i+1)*size], rv.Index(i).Interface()); err != nil {
			return nil, 0, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, n, nil
}

// decodeBatch decodes n elements of size bytes into out.
func decodeBatch(out any, b []byte, size, n int) error {
	if ob, ok := out.([]byte); ok {
		copy(ob, b)
		return nil
	}
	rv := reflect.ValueOf(out)
	for i := range n {
		if err := binenc.Unmarshal(rv.Index(i).Addr().Interface(), b[i*size:(i+1)*size]); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

// valuesLen is the number of map values a batch buffer holds. A per-CPU
// map's values are, as in cilium/ebpf, one flat slice of n×NumCPU
// elements (CPU values of the first key, then of the second, ...).
func (m *Map) valuesLen(values any) (int, error) {
	if _, ok := values.([]byte); ok || !m.perCPU() {
		return batchLen(values, m.m.UserValueSize())
	}
	n, err := batchLen(values, 1)
	if err != nil {
		return 0, err
	}
	if ncpu := maps.NumCPU(); n%ncpu != 0 {
		return 0, fmt.Errorf("%d per-CPU values is not a multiple of %d CPUs", n, ncpu)
	}
	return n / maps.NumCPU(), nil
}

// encodeValues marshals a batch of values.
func (m *Map) encodeValues(values any) ([]byte, int, error) {
	if _, ok := values.([]byte); ok || !m.perCPU() {
		return encodeBatch(values, m.m.UserValueSize())
	}
	n, err := m.valuesLen(values)
	if err != nil {
		return nil, 0, err
	}
	ncpu, size, stride := maps.NumCPU(), m.m.ValueSize(), perCPUStride(m.m.ValueSize())
	out := make([]byte, n*m.m.UserValueSize())
	rv := reflect.ValueOf(values)
	for i := range n * ncpu {
		at := i * stride
		if _, err := binenc.MarshalInto(out[at:at+size], rv.Index(i).Interface()); err != nil {
			return nil, 0, fmt.Errorf("value %d of CPU %d: %w", i/ncpu, i%ncpu, err)
		}
	}
	return out, n, nil
}

// decodeValues decodes n values into out.
func (m *Map) decodeValues(out any, b []byte, n int) error {
	if _, ok := out.([]byte); ok || !m.perCPU() {
		return decodeBatch(out, b, m.m.UserValueSize(), n)
	}
	ncpu, size, stride := maps.NumCPU(), m.m.ValueSize(), perCPUStride(m.m.ValueSize())
	rv := reflect.ValueOf(out)
	for i := range n * ncpu {
		at := i * stride
		if err := binenc.Unmarshal(rv.Index(i).Addr().Interface(), b[at:at+size]); err != nil {
			return fmt.Errorf("value %d of CPU %d: %w", i/ncpu, i%ncpu, err)
		}
	}
	return nil
}
