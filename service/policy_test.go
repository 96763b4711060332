package service_test

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/xebpf/xebpf/service"
	"github.com/xebpf/xebpf/service/proto"
)

// TestPolicy: root, the daemon's user and the admin group may do
// everything; the read-only group may only show and dump; others
// nothing; refusals say who may not do what.
func TestPolicy(t *testing.T) {
	p := &service.Policy{AdminGID: 100, ReadGID: 200, Owner: 500}
	peer := func(uid, gid uint32, groups ...uint32) service.Peer {
		return service.Peer{Known: true, PID: 1, UID: uid, GID: gid, Groups: groups}
	}
	tests := []struct {
		peer service.Peer
		op   string
		err  string // "" allowed
	}{
		{peer(0, 0), proto.OpProgLoad, ""},
		{peer(500, 500), proto.OpUnpin, ""},
		{peer(1001, 100), proto.OpProgLoad, ""},
		{peer(1001, 1001, 7, 100), proto.OpMapUpdate, ""},
		{peer(1002, 200), proto.OpProgShow, ""},
		{peer(1002, 1002, 200), proto.OpMapDump, ""},
		{peer(1002, 200), proto.OpMapLookup, ""},
		{peer(1002, 200), proto.OpProgLoad, "permission denied: uid 1002 may not load programs (it is in the read-only group)"},
		{peer(1002, 200), proto.OpMapUpdate, "permission denied: uid 1002 may not update maps (it is in the read-only group)"},
		{peer(1002, 200), proto.OpProgRun, "permission denied: uid 1002 may not run programs (it is in the read-only group)"},
		{peer(1002, 200), proto.OpUnpin, "permission denied: uid 1002 may not unpin objects (it is in the read-only group)"},
		{peer(1002, 200), proto.OpMapPop, "permission denied: uid 1002 may not pop map elements (it is in the read-only group)"},
		{peer(1001, 100), proto.OpMapPop, ""},
		{peer(1001, 1001), proto.OpProgLoad, "permission denied: uid 1001 may not load programs"},
		{peer(1001, 1001, 300), proto.OpProgShow, "permission denied: uid 1001 may not show programs"},
		{service.Peer{}, proto.OpStatus, "permission denied: the peer's credentials are unknown; it may not read the daemon's status"},
	}
	for _, tt := range tests {
		err := p.Authorize(tt.peer, tt.op)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("uid %d groups %v, %s: %v, want allowed", tt.peer.UID, service.PeerGroups(tt.peer), tt.op, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err || !errors.Is(err, proto.ErrPermission)):
			t.Errorf("uid %d, %s: %v, want %q", tt.peer.UID, tt.op, err, tt.err)
		}
	}
	noGroups := &service.Policy{AdminGID: -1, ReadGID: -1, Owner: 500}
	if err := noGroups.Authorize(peer(1001, 0, 0), proto.OpProgShow); err == nil {
		t.Errorf("without groups, gid 0 is not an admin group")
	}
}

// TestPolicyOverSocket: the daemon applies its Authorize to the peer the
// socket reports (this process) and answers a refusal without closing
// the session.
func TestPolicyOverSocket(t *testing.T) {
	if !service.ReadsPeerCredentials() {
		t.Skip("peer credentials are read on Linux only")
	}
	var mu sync.Mutex
	var seen []service.Peer
	_, sock := startDaemon(t, func(d *service.Daemon) {
		d.Authorize = func(peer service.Peer, op string) error {
			mu.Lock()
			seen = append(seen, peer)
			mu.Unlock()
			if op == proto.OpProgShow {
				return nil
			}
			return (&service.Policy{AdminGID: -1, ReadGID: -1, Owner: 1 << 31}).Authorize(service.Peer{Known: true, UID: 4242, GID: 4242}, op)
		}
	})
	c := dial(t, sock)
	if _, err := c.Programs(proto.Ref{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateMap(&proto.MapCreateArgs{Path: "/sys/fs/bpf/m", Type: "hash", KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "m"})
	if err == nil || err.Error() != "permission denied: uid 4242 may not create maps" {
		t.Errorf("create map: %v", err)
	}
	if _, err := c.Programs(proto.Ref{}); err != nil {
		t.Errorf("after a refusal: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || !seen[0].Known || seen[0].PID <= 0 {
		t.Errorf("peers seen: %+v, want this process's credentials", seen)
	}
}

// rawCall sends raw lines and returns the daemon's answer lines.
func rawCall(t *testing.T, sock string, lines ...string) []string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	var out []string
	for _, l := range lines {
		if _, err := c.Write([]byte(l)); err != nil {
			out = append(out, "EOF")
			break
		}
		resp, err := r.ReadString('\n')
		if err != nil {
			out = append(out, "EOF")
			break
		}
		out = append(out, strings.TrimSpace(resp))
	}
	return out
}

// TestMalformedRequests: malformed, unknown and oversized requests get a
// clear error; the daemon keeps serving.
func TestMalformedRequests(t *testing.T) {
	_, sock := startDaemon(t, func(d *service.Daemon) { d.MaxRequest = 1024 })
	tests := []struct{ req, want string }{
		{"{\n", `{"error":{"code":"invalid","message":"malformed request: unexpected EOF"}}`},
		{"[1,2]\n", `{"error":{"code":"invalid","message":"malformed request: json: cannot unmarshal array into Go value of type proto.Request"}}`},
		{`{"op":"prog.nuke"}` + "\n", `{"error":{"code":"invalid","message":"unknown operation \"prog.nuke\""}}`},
		{`{"op":"prog.show","args":{"ref":{"id":"x"}}}` + "\n", `{"error":{"code":"invalid","message":"prog.show: malformed arguments: json: cannot unmarshal string into Go struct field Ref.ref.id of type uint32"}}`},
		{`{"op":"prog.show","args":{"bogus":1}}` + "\n", `{"error":{"code":"invalid","message":"prog.show: malformed arguments: json: unknown field \"bogus\""}}`},
		{`{"op":"prog.show"} {"op":"map.show"}` + "\n", `{"error":{"code":"invalid","message":"malformed request: data after the request object"}}`},
		{`{"op":"prog.dump","args":{"ref":{}}}` + "\n", `{"error":{"code":"invalid","message":"name a program by id, pinned path or name"}}`},
		{`{"op":"prog.load","args":{"object":"AAAA"}}` + "\n", ""},
		{`{"op":"map.pin","args":{"ref":{"id":1},"path":"/sys/fs/bpf/../x"}}` + "\n", `{"error":{"code":"not_found","message":"map id 1: no such map"}}`},
		{`{"op":"unpin","args":{"path":"/sys/fs/bpf/../x"}}` + "\n", `{"error":{"code":"not_found","message":"unpin /sys/fs/bpf/../x: no such pin"}}`},
		{`{"op":"status"}` + "\n", `{"result":{"programs":0,"maps":0,"links":0,"pins":0,"collections":0,"memory_bytes":0,"unreturned_bytes":0,"handles":0}}`},
	}
	var lines []string
	for _, tt := range tests {
		lines = append(lines, tt.req)
	}
	got := rawCall(t, sock, lines...)
	for i, tt := range tests {
		if i >= len(got) {
			t.Fatalf("no answer to %q", tt.req)
		}
		if tt.want == "" {
			if !strings.Contains(got[i], `"code":"invalid"`) {
				t.Errorf("%q: %s, want an invalid-request error", tt.req, got[i])
			}
			continue
		}
		if got[i] != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.req, got[i], tt.want)
		}
	}
	// An oversized request is refused and its connection closed; the
	// daemon serves the next.
	got = rawCall(t, sock, `{"op":"status","args":"`+strings.Repeat("x", 2000)+"\"}\n", `{"op":"status"}`+"\n")
	if len(got) != 2 || got[0] != `{"error":{"code":"invalid","message":"request larger than 1024 bytes: the connection is closed"}}` || got[1] != "EOF" {
		t.Errorf("oversized request: %q", got)
	}
	if got := rawCall(t, sock, `{"op":"status"}`+"\n"); !strings.HasPrefix(got[0], `{"result":`) {
		t.Errorf("after an oversized request: %q", got)
	}
}

// FuzzDecodeRequest: the request decoder returns a request or an
// invalid-request error for any input, never panics, and every request
// it accepts names a known operation.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"status"}`,
		`{"op":"prog.load","args":{"object":"f0VMRg==","type":"xdp","pin_first":"/sys/fs/bpf/a"}}`,
		`{"op":"map.update","args":{"ref":{"pinned":"/sys/fs/bpf/m"},"key":"AAAAAA==","value":"AQ==","flags":1}}`,
		`{"op":"prog.run","args":{"ref":{"id":1},"data":"","repeat":4294967295}}`,
		`{"op":"map.create","args":{"path":"/sys/fs/bpf/x","type":"hash","key_size":4}}`,
		`{"op":"unpin","args":null}`, `{}`, `[]`, `"`, `{"op":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, args, err := service.DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, proto.ErrInvalid) {
				t.Fatalf("%q: error %v is not an invalid-request error", b, err)
			}
			return
		}
		if op == "" || (args == nil && op != proto.OpStatus) {
			t.Fatalf("%q: op %q args %v", b, op, args)
		}
	})
}
