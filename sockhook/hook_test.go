package sockhook_test

import (
	"encoding/binary"
	"testing"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/sockhook"
)

// sockaddrIn returns a struct sockaddr_in.
func sockaddrIn(ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint16(b, 2)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

// sockaddrIn6 returns a struct sockaddr_in6 for ::1.
func sockaddrIn6(port uint16) []byte {
	b := make([]byte, 28)
	binary.NativeEndian.PutUint16(b, 10)
	binary.BigEndian.PutUint16(b[2:], port)
	b[23] = 1
	return b
}

// TestDecide checks the decision logic without seccomp: the verdicts and
// rewrites of the test programs for given requests, and the run counts.
func TestDecide(t *testing.T) {
	c := loadHooks(t)
	setConfig(t, c, 0, 7001) // deny
	setConfig(t, c, 1, 7002) // rewrite 7002...
	setConfig(t, c, 2, 7003) // ...to 7003
	setConfig(t, c, 3, 2)    // two binds a process
	setConfig(t, c, 4, 7004) // Windows: deny binds to 7004
	var set sockhook.Set
	var errs []error
	set.OnError = func(_ *sockhook.Attachment, err error) { errs = append(errs, err) }
	att := map[string]*sockhook.Attachment{}
	for _, a := range []struct {
		h    sockhook.Hook
		prog string
	}{{sockhook.Connect4, "connect4"}, {sockhook.Connect6, "connect6"}, {sockhook.Bind4, "bind4"}, {sockhook.WindowsBind, "winbind"}} {
		at, err := set.Attach(a.h, c.Programs[a.prog])
		if err != nil {
			t.Fatal(err)
		}
		att[a.prog] = at
	}
	lo := [4]byte{127, 0, 0, 1}
	task := helpers.Task{PID: 100, TGID: 100}
	other := helpers.Task{PID: 201, TGID: 200}
	for _, tc := range []struct {
		name  string
		req   sockhook.Request
		allow bool
		addr  []byte
		runs  int
	}{
		{"connect allowed", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, 80), Task: task}, true, sockaddrIn(lo, 80), 1},
		{"connect denied", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, 7001), Task: task}, false, sockaddrIn(lo, 7001), 1},
		{"connect rewritten", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 2, Protocol: 17, Addr: sockaddrIn(lo, 7002), Task: task}, true, sockaddrIn(lo, 7003), 1},
		{"other host not rewritten", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Addr: sockaddrIn([4]byte{127, 0, 0, 2}, 7002), Task: task}, true, sockaddrIn([4]byte{127, 0, 0, 2}, 7002), 1},
		{"connect6 denied", sockhook.Request{Op: sockhook.OpConnect, Family: 10, Type: 1, Addr: sockaddrIn6(7001), Task: task}, false, sockaddrIn6(7001), 1},
		{"connect6 rewritten", sockhook.Request{Op: sockhook.OpConnect, Family: 10, Type: 1, Addr: sockaddrIn6(7002), Task: task}, true, sockaddrIn6(7003), 1},
		{"short address: not hooked", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Addr: sockaddrIn(lo, 7001)[:8], Task: task}, true, sockaddrIn(lo, 7001)[:8], 0},
		{"AF_UNSPEC: a disconnect", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 2, Addr: make([]byte, 16), Task: task}, true, make([]byte, 16), 0},
		{"raw socket: not hooked", sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 3, Addr: sockaddrIn(lo, 7001), Task: task}, true, sockaddrIn(lo, 7001), 0},
		{"bind 1", sockhook.Request{Op: sockhook.OpBind, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, 0), Task: task}, true, sockaddrIn(lo, 0), 2},
		{"bind 2", sockhook.Request{Op: sockhook.OpBind, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, 0), Task: task}, true, sockaddrIn(lo, 0), 2},
		{"bind 3: over the quota", sockhook.Request{Op: sockhook.OpBind, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn(lo, 0), Task: task}, false, sockaddrIn(lo, 0), 1},
		{"another process's bind", sockhook.Request{Op: sockhook.OpBind, Family: 2, Type: 2, Protocol: 17, Addr: sockaddrIn(lo, 0), Task: other}, true, sockaddrIn(lo, 0), 2},
		{"Windows hook denies", sockhook.Request{Op: sockhook.OpBind, Family: 2, Type: 2, Protocol: 17, Addr: sockaddrIn(lo, 7004), Task: other, AppID: []byte("a\x00b\x00\x00\x00")}, false, sockaddrIn(lo, 7004), 2},
		{"bind6: Windows hook only", sockhook.Request{Op: sockhook.OpBind, Family: 10, Type: 1, Addr: sockaddrIn6(7005), Task: other, AppID: []byte("x\x00\x00\x00")}, true, sockaddrIn6(7005), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := set.Decide(&tc.req)
			if v.Allow != tc.allow || string(v.Addr) != string(tc.addr) || v.Runs != tc.runs {
				t.Errorf("got allow %v, addr %x, %d runs; want %v, %x, %d", v.Allow, v.Addr, v.Runs, tc.allow, tc.addr, tc.runs)
			}
		})
	}
	if len(errs) > 0 {
		t.Fatalf("program errors: %v", errs)
	}
	for prog, want := range map[string]uint64{"connect4": 4, "connect6": 2, "bind4": 5, "winbind": 5} {
		if got := att[prog].RunCount(); got != want {
			t.Errorf("%s ran %d times, want %d", prog, got, want)
		}
	}
	var n uint32
	if err := c.Maps["binds"].Lookup(uint32(100), &n); err != nil || n != 2 {
		t.Errorf("binds[100] = %d, %v; want 2", n, err)
	}
	var appLen uint64
	if err := c.Maps["app_ids"].Lookup(uint64(200), &appLen); err != nil || appLen != 4 {
		t.Errorf("app_ids[200] = %d, %v; want 4", appLen, err)
	}
}

func TestParseHook(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sockhook.Hook
		ok   bool
	}{
		{"cgroup/connect4", sockhook.Connect4, true}, {"connect6", sockhook.Connect6, true},
		{"cgroup/bind4", sockhook.Bind4, true}, {"bind6", sockhook.Bind6, true},
		{"bind", sockhook.WindowsBind, true}, {"cgroup/sendmsg4", 0, false}, {"", 0, false},
	} {
		h, err := sockhook.ParseHook(tc.in)
		if (err == nil) != tc.ok || (tc.ok && h != tc.want) {
			t.Errorf("ParseHook(%q) = %v, %v", tc.in, h, err)
		}
		if tc.ok && h.String() != tc.in && "cgroup/"+tc.in != h.String() {
			t.Errorf("%v.String() does not name %q", h, tc.in)
		}
	}
}

// TestDecideBindRedirect: an eBPF for Windows bind program that returns
// BIND_REDIRECT moves the bind to the address it left in socket_address;
// the family stays Linux's.
func TestDecideBindRedirect(t *testing.T) {
	c := loadHooks(t)
	setConfig(t, c, 7, 7007)
	setConfig(t, c, 2, 7008)
	var set sockhook.Set
	a, err := set.Attach(sockhook.WindowsBind, c.Programs["winbind_redirect"])
	if err != nil {
		t.Fatal(err)
	}
	lo := [4]byte{127, 0, 0, 1}
	for _, tc := range []struct {
		name     string
		family   uint32
		in, want []byte
	}{
		{"redirected", 2, sockaddrIn(lo, 7007), sockaddrIn(lo, 7008)},
		{"permitted", 2, sockaddrIn(lo, 7009), sockaddrIn(lo, 7009)},
		{"IPv6 redirected", 10, sockaddrIn6(7007), sockaddrIn6(7008)},
	} {
		v := set.Decide(&sockhook.Request{Op: sockhook.OpBind, Family: tc.family, Type: 1, Addr: tc.in})
		if !v.Allow || string(v.Addr) != string(tc.want) {
			t.Errorf("%s: allow %v, addr %x; want %x", tc.name, v.Allow, v.Addr, tc.want)
		}
	}
	if a.RunCount() != 3 {
		t.Errorf("ran %d times, want 3", a.RunCount())
	}
}

// BenchmarkDecide is the decision alone: connect4 on a request, without
// seccomp (compare TestConnectLatency's added time per connect).
func BenchmarkDecide(b *testing.B) {
	c := loadHooks(b)
	setConfig(b, c, 0, 7001)
	var set sockhook.Set
	if _, err := set.Attach(sockhook.Connect4, c.Programs["connect4"]); err != nil {
		b.Fatal(err)
	}
	req := &sockhook.Request{Op: sockhook.OpConnect, Family: 2, Type: 1, Protocol: 6, Addr: sockaddrIn([4]byte{127, 0, 0, 1}, 80)}
	b.ReportAllocs()
	for b.Loop() {
		if v := set.Decide(req); !v.Allow {
			b.Fatal("denied")
		}
	}
}

// FuzzDecide hands the hooks what a hostile process controls: the
// address bytes of its call (any length and family), its socket's type
// and protocol, its app id. Decide must answer without a crash, and an
// address it returns is no longer than the largest sockaddr the hooks
// read (sockaddr_in6) or the caller's.
func FuzzDecide(f *testing.F) {
	c := loadHooks(f)
	var set sockhook.Set
	set.OnError = func(*sockhook.Attachment, error) {}
	for _, a := range []struct {
		h    sockhook.Hook
		prog string
	}{{sockhook.Connect4, "connect4"}, {sockhook.Connect6, "connect6"}, {sockhook.Bind4, "bind4"}, {sockhook.WindowsBind, "winbind_redirect"}} {
		if _, err := set.Attach(a.h, c.Programs[a.prog]); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(uint8(0), uint32(2), uint32(1), sockaddrIn([4]byte{127, 0, 0, 1}, 7001), []byte("a\x00"))
	f.Add(uint8(1), uint32(10), uint32(2), sockaddrIn6(7007), []byte{})
	f.Add(uint8(1), uint32(2), uint32(1), []byte{2, 0}, []byte(nil))
	f.Fuzz(func(t *testing.T, op uint8, family, typ uint32, addr, appID []byte) {
		r := sockhook.Request{Op: sockhook.Op(op % 2), Family: family, Type: typ, Addr: addr, AppID: appID}
		if !r.Applies() {
			return
		}
		v := set.Decide(&r)
		if len(v.Addr) > max(len(addr), 28) {
			t.Fatalf("a %d-byte address came back as %d bytes", len(addr), len(v.Addr))
		}
	})
}
