package maps_test

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/maps"
)

// A helper-side view: the interpreter brackets a run with the epoch and
// passes raw addresses of keys in program memory.
func Example() {
	m, err := maps.New(&maps.Spec{Name: "counts", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	key := binary.NativeEndian.AppendUint32(nil, 7)
	if err := m.Update(key, make([]byte, 8), maps.UpdateNoExist); err != nil {
		panic(err)
	}
	err = m.Update(key, make([]byte, 8), maps.UpdateNoExist)
	fmt.Println(err, "errno", maps.ErrnoOf(err))

	v := make([]byte, 8)
	err = m.Lookup(binary.NativeEndian.AppendUint32(nil, 8), v)
	fmt.Println(err, "errno", maps.ErrnoOf(err))
	fmt.Println(m.Type(), m.Type() == maps.Type(1))
	// Output:
	// key already exists errno 17
	// key does not exist errno 2
	// Hash true
}
