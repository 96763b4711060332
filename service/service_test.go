package service_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// buildObject compiles testdata/NAME.c with clang-19 and returns the
// object's bytes.
func buildObject(t testing.TB, name string) []byte {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	obj := filepath.Join(t.TempDir(), name+".o")
	inc, _ := filepath.Abs("../include")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", inc, "-c", filepath.Join("testdata", name+".c"), "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang-19: %v\n%s", err, out)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startDaemon serves a daemon, configured by configure, on a socket in a
// temporary directory until the test ends.
func startDaemon(t testing.TB, configure ...func(*service.Daemon)) (*service.Daemon, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "xebpf.sock")
	l, err := service.ListenUnix(sock, 0o660, -1)
	if err != nil {
		t.Fatal(err)
	}
	d := service.New()
	for _, f := range configure {
		f(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Errorf("socket %s left behind", sock)
		}
	})
	return d, sock
}

func dial(t testing.TB, sock string) *client.Client {
	t.Helper()
	c, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// status asks the daemon for its accounting.
func status(t testing.TB, c *client.Client) proto.StatusResult {
	t.Helper()
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	return *st
}

// waitStatus polls until the daemon has noticed a closed session.
func waitStatus(t testing.TB, c *client.Client, ok func(proto.StatusResult) bool) proto.StatusResult {
	t.Helper()
	var st proto.StatusResult
	for range 500 {
		st = status(t, c)
		if ok(st) {
			return st
		}
		waitABit()
	}
	t.Fatalf("daemon status never reached the expected state: %+v", st)
	return st
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// TestProofScenario is the proof without links: a loader pins an
// XDP object's programs and maps and a socket filter, runs a program and
// exits; another client still sees everything, and unpinning it all
// frees every id and the collections' memory.
func TestProofScenario(t *testing.T) {
	xdpObj, sockObj := buildObject(t, "xdp_count"), buildObject(t, "sock_len")
	_, sock := startDaemon(t)

	loader, err := client.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	xdp, err := loader.Load(&proto.LoadArgs{Object: xdpObj, PinAllDir: "/sys/fs/bpf/xdp", PinMapsDir: "/sys/fs/bpf/xdp/maps"})
	if err != nil {
		t.Fatal(err)
	}
	if len(xdp.Programs) != 2 || len(xdp.Maps) != 2 {
		t.Fatalf("loaded %d programs and %d maps, want 2 and 2", len(xdp.Programs), len(xdp.Maps))
	}
	sk, err := loader.Load(&proto.LoadArgs{Object: sockObj, PinFirst: "/sys/fs/bpf/sock"})
	if err != nil {
		t.Fatal(err)
	}
	// A program run counts; the packet is 60 bytes.
	res, err := loader.Run(&proto.RunArgs{Ref: proto.Ref{Pinned: "/sys/fs/bpf/xdp/xdp_count"}, Data: make([]byte, 60), Repeat: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retval != 2 || len(res.DataOut) != 60 {
		t.Errorf("run: retval %d, data_out %d bytes, want XDP_PASS (2) and 60", res.Retval, len(res.DataOut))
	}
	// A loaded, unpinned object lives while the loader's session does.
	if _, err := loader.Load(&proto.LoadArgs{Object: xdpObj}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, loader); st.Programs != 5 || st.Collections != 3 {
		t.Errorf("with the loader connected: %+v, want 5 programs in 3 collections", st)
	}
	loader.Close()

	c := dial(t, sock)
	// The unpinned object goes with its loader; the socket filter's map
	// stays, held by the program.
	st := waitStatus(t, c, func(st proto.StatusResult) bool { return st.Programs == 3 })
	if st.Maps != 3 || st.Pins != 5 || st.Collections != 2 || st.MemoryBytes <= 0 || st.Handles != 0 {
		t.Errorf("after the loader exits: %+v, want 3 programs, 3 maps, 5 pins, 2 collections with memory, no handles", st)
	}
	progs, err := c.Programs(proto.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range progs {
		names = append(names, p.Name+":"+p.Type+":"+strings.Join(p.Pinned, ","))
	}
	if got, want := strings.Join(names, " "), "xdp_count:xdp:/sys/fs/bpf/xdp/xdp_count xdp_drop:xdp:/sys/fs/bpf/xdp/xdp_drop sock_len:socket_filter:/sys/fs/bpf/sock"; got != want {
		t.Errorf("prog show: %s, want %s", got, want)
	}
	if p := progs[0]; p.RunCnt != 3 || p.RunTimeNs == 0 || len(p.MapIDs) != 2 || len(p.Tag) != 16 || !p.GPLCompatible {
		t.Errorf("xdp_count: %+v, want run_cnt 3, a run time, 2 map ids and a tag", p)
	}
	if p := progs[2]; p.ID != sk.Programs[0].ID || len(p.MapIDs) != 1 || p.MapIDs[0] != sk.Maps[0].ID {
		t.Errorf("sock_len: %+v, want id %d using map %d", p, sk.Programs[0].ID, sk.Maps[0].ID)
	}
	dump, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/xdp/maps/counts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dump.Entries) != 1 || !bytes.Equal(dump.Entries[0].Key, u32(60)) || !bytes.Equal(dump.Entries[0].Value, u64(3)) {
		t.Errorf("map dump counts: %+v, want 60 → 3", dump.Entries)
	}
	tot, err := c.DumpMap(proto.Ref{Name: "totals"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tot.Entries) != 1 || len(tot.Entries[0].Values) == 0 || tot.Entries[0].Value != nil {
		t.Fatalf("map dump totals: %+v, want one per-CPU element", tot.Entries)
	}
	var sum uint64
	for _, v := range tot.Entries[0].Values {
		sum += binary.LittleEndian.Uint64(v)
	}
	if sum != 3 {
		t.Errorf("totals over the CPUs: %d, want 3", sum)
	}

	// Unpinning the maps leaves them to the program that uses them.
	for _, p := range []string{"/sys/fs/bpf/xdp/maps/counts", "/sys/fs/bpf/xdp/maps/totals"} {
		if err := c.Unpin(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Maps(proto.Ref{Name: "counts"}); err != nil {
		t.Errorf("counts after unpinning it, while xdp_count uses it: %v", err)
	}
	for _, p := range []string{"/sys/fs/bpf/xdp/xdp_count", "/sys/fs/bpf/xdp/xdp_drop", "/sys/fs/bpf/sock"} {
		if err := c.Unpin(p); err != nil {
			t.Fatal(err)
		}
	}
	st = waitStatus(t, c, func(st proto.StatusResult) bool {
		if st.UnreturnedBytes != 0 {
			runtime.GC() // run states freed by cleanups
		}
		return st.UnreturnedBytes == 0
	})
	if st != (proto.StatusResult{}) {
		t.Errorf("after unpinning everything: %+v, want nothing left", st)
	}
	for _, p := range progs {
		if _, err := c.Programs(proto.Ref{ID: p.ID}); !errors.Is(err, proto.ErrNotFound) {
			t.Errorf("program id %d after unpinning: %v, want not found", p.ID, err)
		}
	}
	for _, m := range append(xdp.Maps, sk.Maps...) {
		if _, err := c.Maps(proto.Ref{ID: m.ID}); !errors.Is(err, proto.ErrNotFound) {
			t.Errorf("map id %d after unpinning: %v, want not found", m.ID, err)
		}
	}
}
