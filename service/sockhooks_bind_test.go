package service_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// bindMDCtx returns eBPF for Windows' bind_md of a bind to
// 127.0.0.1:port, app_id_start and app_id_end left to the run.
func bindMDCtx(port uint16) []byte {
	ctx := make([]byte, xebpf.BindMDSize)
	binary.NativeEndian.PutUint64(ctx[16:], 7) // process_id
	binary.NativeEndian.PutUint16(ctx[24:], 2) // AF_INET
	binary.BigEndian.PutUint16(ctx[26:], port)
	copy(ctx[28:32], []byte{127, 0, 0, 1})
	ctx[40] = 16 // socket_address_length
	ctx[48] = 6  // IPPROTO_TCP
	return ctx
}

// TestHookRunWindowsBind: prog load's type bind loads eBPF for Windows'
// bind programs, which prog show names "bind" and a sockhook link runs
// with the bind_md and the app id hook.run carries as data; without the
// type, the program is no socket hook's.
func TestHookRunWindowsBind(t *testing.T) {
	obj := buildObject(t, "bind_count")
	_, sock := startDaemon(t, func(d *service.Daemon) {
		if err := d.RegisterLinkProvider(service.SockHooks{}); err != nil {
			t.Fatal(err)
		}
	})
	c := dial(t, sock)
	if _, err := c.Load(&proto.LoadArgs{Object: obj, PinFirst: "/sys/fs/bpf/untyped"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach("sockhook", proto.Ref{Pinned: "/sys/fs/bpf/untyped"}, "cmd"); err == nil {
		t.Error("a program loaded without type bind was attached to a socket hook")
	}
	if _, err := c.Load(&proto.LoadArgs{Object: obj, Type: "bind", PinFirst: "/sys/fs/bpf/bc", PinMapsDir: "/sys/fs/bpf/bc_maps"}); err != nil {
		t.Fatal(err)
	}
	prog := proto.Ref{Pinned: "/sys/fs/bpf/bc"}
	if ps, err := c.Programs(prog); err != nil || ps[0].Type != "bind" {
		t.Errorf("prog show: %+v %v, want type bind", ps, err)
	}
	if err := c.Update(proto.Ref{Pinned: "/sys/fs/bpf/bc_maps/deny_port"}, u32(0), u32(7001), proto.UpdateAny); err != nil {
		t.Fatal(err)
	}
	l, err := c.Attach("sockhook", prog, "python3 server.py")
	if err != nil {
		t.Fatal(err)
	}
	runner := dial(t, sock)
	appID := []byte("/\x00b\x00i\x00n\x00\x00\x00")
	for _, tc := range []struct {
		port uint16
		data []byte
		want uint32
	}{{80, appID, xebpf.BindPermit}, {7001, appID, xebpf.BindDeny}, {80, nil, xebpf.BindPermit}} {
		ctx := bindMDCtx(tc.port)
		res, err := runner.HookRun(l.ID, ctx, tc.data, &proto.HookTask{PID: 7, TGID: 7})
		if err != nil || res.Retval != tc.want || len(res.CtxOut) != len(ctx) {
			t.Fatalf("port %d: %+v %v, want retval %d", tc.port, res, err, tc.want)
		}
		var n uint64
		d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/bc_maps/app_id_len"})
		if err == nil && len(d.Entries) == 1 {
			n = binary.NativeEndian.Uint64(d.Entries[0].Value)
		}
		if err != nil || n != uint64(len(tc.data)) {
			t.Errorf("port %d: app_id_len %d, %v; want %d, the data's length", tc.port, n, err, len(tc.data))
		}
	}
	if _, err := runner.HookRun(l.ID, bindMDCtx(80), make([]byte, 1<<16+1), nil); !errors.Is(err, proto.ErrInvalid) || err.Error() != "hook run: data of 65537 bytes: at most 65536" {
		t.Errorf("hook run with too much data: %v", err)
	}
	d, err := c.DumpMap(proto.Ref{Pinned: "/sys/fs/bpf/bc_maps/binds"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]uint64{}
	for _, e := range d.Entries {
		got[binary.NativeEndian.Uint32(e.Key)] = binary.NativeEndian.Uint64(e.Value)
	}
	if len(got) != 2 || got[80] != 2 || got[7001] != 1 {
		t.Errorf("binds: %v, want 80:2 7001:1", got)
	}
	if ps, err := c.Programs(prog); err != nil || ps[0].RunCnt != 3 {
		t.Errorf("prog show: %+v %v, want 3 runs", ps, err)
	}
}
