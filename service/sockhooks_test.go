package service_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// sockAddrCtx returns a struct bpf_sock_addr of a TCP connect to
// 127.0.0.1:port.
func sockAddrCtx(port uint16) []byte {
	ctx := make([]byte, xebpf.SockAddrSize)
	binary.NativeEndian.PutUint32(ctx[0:], 2)
	copy(ctx[4:8], []byte{127, 0, 0, 1})
	binary.NativeEndian.PutUint32(ctx[24:], uint32(binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, port))))
	binary.NativeEndian.PutUint32(ctx[28:], 2)
	binary.NativeEndian.PutUint32(ctx[32:], 1)
	binary.NativeEndian.PutUint32(ctx[36:], 6)
	return ctx
}

// TestHookRun: a sockhook link lets a client run a daemon program for
// each call of a hooked command: the program counts in the daemon's
// maps, its verdicts come back, the runs count in prog show; other
// links, detached links and other programs are refused.
func TestHookRun(t *testing.T) {
	obj, xdpObj := buildObject(t, "connect_count"), buildObject(t, "xdp_count")
	_, sock := startDaemon(t, func(d *service.Daemon) {
		if err := d.RegisterLinkProvider(service.SockHooks{}); err != nil {
			t.Fatal(err)
		}
		if err := d.RegisterLinkProvider(&fakeHooks{attached: map[string]*fakeLink{}}); err != nil {
			t.Fatal(err)
		}
	})
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/cc", PinMapsDir: "/sys/fs/bpf/cc_maps"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(&proto.LoadArgs{Object: xdpObj}); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(proto.Ref{Pinned: "/sys/fs/bpf/cc_maps/deny_port"}, u32(0), u32(7001), proto.UpdateAny); err != nil {
		t.Fatal(err)
	}
	prog := proto.Ref{Pinned: "/sys/fs/bpf/cc"}
	if _, err := c.Attach("sockhook", proto.Ref{Name: "xdp_count"}, "cmd"); err == nil {
		t.Error("an XDP program was attached to a socket hook")
	}
	l, err := c.Attach("sockhook", prog, "curl example.com")
	if err != nil {
		t.Fatal(err)
	}
	xl, err := c.Attach("xdp", proto.Ref{Name: "xdp_count"}, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	runner := dial(t, sock) // another session of the same command
	task := &proto.HookTask{PID: 7, TGID: 7, Comm: []byte("curl")}
	for _, tc := range []struct {
		port uint16
		want uint32
	}{{80, 1}, {7001, 0}, {80, 1}, {443, 1}} {
		ctx := sockAddrCtx(tc.port)
		res, err := runner.HookRun(l.ID, ctx, nil, task)
		if err != nil || res.Retval != tc.want || string(res.CtxOut) != string(ctx) {
			t.Errorf("port %d: %+v %v, want retval %d and the context unchanged", tc.port, res, err, tc.want)
		}
	}
	for _, tc := range []struct {
		link uint32
		ctx  []byte
		want error
		msg  string
	}{
		{xl.ID, sockAddrCtx(80), proto.ErrInvalid, "hook run: link id 2 is a xdp link, not a sockhook one"},
		{99, sockAddrCtx(80), proto.ErrNotFound, "hook run: link id 99: no such link"},
		{l.ID, make([]byte, 300), proto.ErrInvalid, "hook run: context of 300 bytes: at most 256"},
	} {
		if _, err := runner.HookRun(tc.link, tc.ctx, nil, nil); !errors.Is(err, tc.want) || err.Error() != tc.msg {
			t.Errorf("hook run of link %d: %v, want %q", tc.link, err, tc.msg)
		}
	}
	d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/cc_maps/connects"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]uint64{}
	for _, e := range d.Entries {
		got[binary.NativeEndian.Uint32(e.Key)] = binary.NativeEndian.Uint64(e.Value)
	}
	if len(got) != 3 || got[80] != 2 || got[7001] != 1 || got[443] != 1 {
		t.Errorf("connects: %v, want 80:2 7001:1 443:1", got)
	}
	if ps, err := c.Programs(prog); err != nil || ps[0].RunCnt != 4 || ps[0].RunTimeNs == 0 {
		t.Errorf("prog show: %+v %v, want 4 runs", ps, err)
	}
	if ls, err := c.Links(proto.Ref{ID: l.ID}); err != nil || ls[0].Type != "sockhook" || ls[0].Target != "curl example.com" {
		t.Errorf("link show: %+v %v", ls, err)
	}
	if err := c.Detach(proto.Ref{ID: l.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.HookRun(l.ID, sockAddrCtx(80), nil, nil); !errors.Is(err, proto.ErrNotFound) {
		t.Errorf("hook run of a detached link: %v", err)
	}
}

// BenchmarkHookRun is the cost of a socket hook's decision by the
// daemon (one hook.run round trip over the unix socket) against running
// the program in the process.
func BenchmarkHookRun(b *testing.B) {
	obj := buildObject(b, "connect_count")
	_, sock := startDaemon(b, func(d *service.Daemon) { d.RegisterLinkProvider(service.SockHooks{}) })
	c := dial(b, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/cc"}); err != nil {
		b.Fatal(err)
	}
	l, err := c.Attach("sockhook", proto.Ref{Pinned: "/sys/fs/bpf/cc"}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx := sockAddrCtx(80)
	b.Run("daemon", func(b *testing.B) {
		for range b.N {
			if _, err := c.HookRun(l.ID, ctx, nil, &proto.HookTask{PID: 1, TGID: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("local", func(b *testing.B) {
		coll, err := xebpf.LoadCollection(writeTemp(b, obj))
		if err != nil {
			b.Fatal(err)
		}
		defer coll.Close()
		out := make([]byte, len(ctx))
		for range b.N {
			if _, err := coll.Programs["connect_count"].Run(&xebpf.RunOptions{Context: ctx, ContextOut: out}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// writeTemp writes b to a temporary file and returns its path.
func writeTemp(tb testing.TB, b []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "obj.o")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
