package main

import (
	"encoding/binary"
	"errors"
	"testing"

	ebpf "github.com/xebpf/xebpf"
)

func tcpTo(port uint16) []byte {
	p := make([]byte, 60)
	binary.BigEndian.PutUint16(p[12:], 0x0800)
	p[14], p[23] = 0x45, 6
	binary.BigEndian.PutUint16(p[36:], port)
	return p
}

// TestPort configures the program's volatile const values through the
// generated VariableSpecs before loading, then reads and writes its
// other globals through Variables.
func TestPort(t *testing.T) {
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	var specs bpfSpecs
	if err := spec.Assign(&specs); err != nil {
		t.Fatal(err)
	}
	var port uint16
	if err := specs.Port.Get(&port); err != nil || port != 80 || !specs.Port.Constant() {
		t.Fatalf("port spec: %d, %v", port, err)
	}
	if err := specs.Port.Set(uint16(8080)); err != nil {
		t.Fatal(err)
	}
	if err := specs.DropMatches.Set(uint8(1)); err != nil {
		t.Fatal(err)
	}
	var objs bpfObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		t.Fatalf("loading objects: %v", err)
	}
	defer objs.Close()
	for _, tc := range []struct {
		port uint16
		want uint32
	}{{80, 2}, {8080, 1}, {443, 2}, {8080, 1}} {
		ret, err := objs.Filter.Run(&ebpf.RunOptions{Data: tcpTo(tc.port)})
		if err != nil || ret != tc.want {
			t.Fatalf("port %d: %d, %v; want %d", tc.port, ret, err, tc.want)
		}
	}
	var matched, seen uint64
	var last uint32
	if err := objs.Matched.Get(&matched); err != nil {
		t.Fatal(err)
	}
	if err := objs.Seen.Get(&seen); err != nil {
		t.Fatal(err)
	}
	if err := objs.LastLen.Get(&last); err != nil {
		t.Fatal(err)
	}
	if matched != 2 || seen != 4 || last != 60 {
		t.Fatalf("matched %d seen %d last_len %d; want 2, 4, 60", matched, seen, last)
	}
	if err := objs.Port.Set(uint16(1)); !errors.Is(err, ebpf.ErrReadOnly) {
		t.Fatalf("Set of a constant after load: %v, want ErrReadOnly", err)
	}
	if err := objs.Matched.Set(uint64(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.Filter.Run(&ebpf.RunOptions{Data: tcpTo(8080)}); err != nil {
		t.Fatal(err)
	}
	if err := objs.Matched.Get(&matched); err != nil || matched != 1 {
		t.Fatalf("matched after Set(0) and one match: %d, %v", matched, err)
	}
}
