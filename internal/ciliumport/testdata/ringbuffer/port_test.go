package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	ebpf "github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/ringbuf"
)

// TestPort runs the ringbuffer example's kprobe program for a task and
// reads its events with the ringbuf package, as the example's main.go
// does.
func TestPort(t *testing.T) {
	var objs bpfObjects
	if err := loadBpfObjects(&objs, nil); err != nil {
		t.Fatalf("loading objects: %v", err)
	}
	defer objs.Close()
	rd, err := ringbuf.NewReader(objs.Events)
	if err != nil {
		t.Fatalf("opening ringbuf reader: %s", err)
	}
	defer rd.Close()

	task := &helpers.Task{PID: 4242, TGID: 4242}
	copy(task.Comm[:], "bash")
	if ret, err := objs.KprobeExecve.Run(&ebpf.RunOptions{Task: task}); err != nil || ret != 0 {
		t.Fatalf("run: %d, %v", ret, err)
	}
	record, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the reserved size: struct event is a u32 and 16 bytes.
	if len(record.RawSample) != 20 {
		t.Fatalf("record of %d bytes, want 20", len(record.RawSample))
	}
	var event bpfEvent
	if err := binary.Read(bytes.NewBuffer(record.RawSample), binary.LittleEndian, &event); err != nil {
		t.Fatalf("parsing ringbuf event: %s", err)
	}
	comm := string(bytes.TrimRight(event.Comm[:], "\x00"))
	if event.Pid != 4242 || comm != "bash" {
		t.Fatalf("event pid %d comm %q, want 4242 bash", event.Pid, comm)
	}
	rd.SetDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read of an empty ring: %v, want a deadline error", err)
	}
}
