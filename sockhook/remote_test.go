package sockhook_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/sockhook"
)

// nport is a port as bpf_sock_addr.user_port holds it: in network order
// in the low 16 bits of a host-order word.
func nport(p uint16) uint32 {
	return uint32(binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, p)))
}

// TestAttachFunc: a RunFunc decides as a program would: it sees the
// bpf_sock_addr and the task, its rewrites of the context apply, its
// deny denies, its errors deny and reach OnError, and its runs count.
func TestAttachFunc(t *testing.T) {
	var set sockhook.Set
	var errs []error
	set.OnError = func(_ *sockhook.Attachment, err error) { errs = append(errs, err) }
	var tasks []uint32
	run := func(opts *xebpf.RunOptions) (uint32, error) {
		ctx, out := opts.Context.([]byte), opts.ContextOut.([]byte)
		if len(ctx) != xebpf.SockAddrSize || len(out) != len(ctx) {
			return 0, errors.New("bad context")
		}
		if opts.Task != nil {
			tasks = append(tasks, opts.Task.TGID)
		}
		copy(out, ctx)
		switch port := binary.NativeEndian.Uint32(ctx[24:]); port {
		case nport(7001):
			return xebpf.SockAddrDeny, nil
		case nport(7002):
			binary.NativeEndian.PutUint32(out[24:], nport(7003))
		case nport(7009):
			return 0, errors.New("the daemon is gone")
		}
		return xebpf.SockAddrAllow, nil
	}
	at, err := set.AttachFunc(sockhook.Connect4, run, true)
	if err != nil {
		t.Fatal(err)
	}
	if !set.NeedsTask(&sockhook.Request{Op: sockhook.OpConnect, Family: 2}) {
		t.Error("NeedsTask is false for a RunFunc that uses the task")
	}
	lo := [4]byte{127, 0, 0, 1}
	task := helpers.Task{PID: 100, TGID: 100}
	for _, tc := range []struct {
		name  string
		port  uint16
		allow bool
		addr  []byte
	}{
		{"allowed", 80, true, sockaddrIn(lo, 80)},
		{"denied", 7001, false, sockaddrIn(lo, 7001)},
		{"rewritten", 7002, true, sockaddrIn(lo, 7003)},
		{"failed run", 7009, false, sockaddrIn(lo, 7009)},
	} {
		v := set.Decide(&sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, tc.port), Task: task})
		if v.Allow != tc.allow || string(v.Addr) != string(tc.addr) || v.Runs != 1 {
			t.Errorf("%s: %+v, want allow %v, addr %x, 1 run", tc.name, v, tc.allow, tc.addr)
		}
	}
	if at.RunCount() != 4 || len(errs) != 1 || len(tasks) != 4 || tasks[0] != 100 {
		t.Errorf("runs %d, errors %v, tasks %v", at.RunCount(), errs, tasks)
	}
}

// TestAttachFuncWindowsBind: eBPF for Windows' bind hook runs RunFuncs
// too: the RunFunc gets the bind_md as bytes and the app id as Data (here
// it runs the program in the process, as the daemon would), and the
// context it leaves redirects the bind as a local program's would.
func TestAttachFuncWindowsBind(t *testing.T) {
	c := loadHooks(t)
	setConfig(t, c, 4, 7004)
	setConfig(t, c, 7, 7007)
	setConfig(t, c, 2, 7008)
	var set sockhook.Set
	var datas [][]byte
	remote := func(name string) sockhook.RunFunc {
		return func(opts *xebpf.RunOptions) (uint32, error) {
			ctx, ok := opts.Context.([]byte)
			if out, ok2 := opts.ContextOut.([]byte); !ok || !ok2 || len(ctx) != xebpf.BindMDSize || len(out) != len(ctx) {
				return 0, errors.New("bad context")
			}
			datas = append(datas, opts.Data)
			return c.Programs[name].Run(opts)
		}
	}
	deny, err := set.AttachFunc(sockhook.WindowsBind, remote("winbind"), false)
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := set.AttachFunc(sockhook.WindowsBind, remote("winbind_redirect"), false)
	if err != nil {
		t.Fatal(err)
	}
	lo := [4]byte{127, 0, 0, 1}
	appID := []byte("/\x00b\x00i\x00n\x00\x00\x00") // "/bin" in UTF-16 with its NUL
	for _, tc := range []struct {
		name     string
		family   uint32
		in, want []byte
		allow    bool
		runs     int
	}{
		{"denied", 2, sockaddrIn(lo, 7004), sockaddrIn(lo, 7004), false, 1},
		{"redirected", 2, sockaddrIn(lo, 7007), sockaddrIn(lo, 7008), true, 2},
		{"permitted", 2, sockaddrIn(lo, 7009), sockaddrIn(lo, 7009), true, 2},
		{"IPv6 redirected", 10, sockaddrIn6(7007), sockaddrIn6(7008), true, 2},
	} {
		v := set.Decide(&sockhook.Request{Op: sockhook.OpBind, Family: tc.family, Type: 1, Addr: tc.in, AppID: appID, Task: helpers.Task{TGID: 42}})
		if v.Allow != tc.allow || string(v.Addr) != string(tc.want) || v.Runs != tc.runs {
			t.Errorf("%s: allow %v, addr %x, %d runs; want %v, %x, %d", tc.name, v.Allow, v.Addr, v.Runs, tc.allow, tc.want, tc.runs)
		}
	}
	if deny.RunCount() != 4 || redirect.RunCount() != 3 {
		t.Errorf("runs %d and %d, want 4 and 3", deny.RunCount(), redirect.RunCount())
	}
	for i, d := range datas {
		if string(d) != string(appID) {
			t.Errorf("run %d: Data %q, want the app id %q", i, d, appID)
		}
	}
	var n uint64
	if err := c.Maps["app_ids"].Lookup(uint64(42), &n); err != nil || n != uint64(len(appID)) {
		t.Errorf("app_ids[42] = %d, %v; want %d", n, err, len(appID))
	}
}
