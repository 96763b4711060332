package xebpf_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/maps/ringbuf"
)

// TestRingbufReader reads, from Go, the records a program submits, while
// the program runs on another goroutine.
func TestRingbufReader(t *testing.T) {
	obj := buildC(t, "rb", `#include "xebpf/bpf.h"
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *rec;
	if (data + 14 > end)
		return XDP_ABORTED;
	rec = bpf_ringbuf_reserve(&events, 8, 0);
	if (!rec)
		return XDP_DROP;
	rec[0] = (__u32)(end - data);
	rec[1] = 0xabcd;
	bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := xebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd, err := ringbuf.NewReader(c.Maps["events"].Underlying())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	produced := make(chan struct{})
	defer func() { <-produced }() // the runs end before the collection closes
	go func() {
		defer close(produced)
		for n := 14; n < 24; n++ {
			c.Programs["emit"].Run(&xebpf.RunOptions{Data: make([]byte, n)})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 14; n < 24; n++ {
		rec, err := rd.ReadContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, uint32(n)), 0xabcd)
		if !bytes.Equal(rec.RawSample, want) {
			t.Fatalf("record %d: %x, want %x", n, rec.RawSample, want)
		}
	}
	// Nothing more: the read must end with the context.
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := rd.ReadContext(short); err == nil {
		t.Fatal("read after the last record returned no error")
	}
}
