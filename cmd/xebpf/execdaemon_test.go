package main

import (
	"testing"

	"github.com/xebpf/xebpf/service/proto"
	"github.com/xebpf/xebpf/sockhook"
)

// TestParseAttachDaemon: --attach HOOK=pinned PATH, id N and name NAME
// name daemon programs; FILE.o:NAME stays a file's.
func TestParseAttachDaemon(t *testing.T) {
	for _, tc := range []struct {
		in     string
		hook   sockhook.Hook
		daemon bool
		ref    proto.Ref
		ok     bool
	}{
		{"connect4=pinned /sys/fs/bpf/cc", sockhook.Connect4, true, proto.Ref{Pinned: "/sys/fs/bpf/cc"}, true},
		{"cgroup/bind4=id 7", sockhook.Bind4, true, proto.Ref{ID: 7}, true},
		{"connect6=name connect_count", sockhook.Connect6, true, proto.Ref{Name: "connect_count"}, true},
		{"connect4=pinned.o:prog", sockhook.Connect4, false, proto.Ref{}, true},
		{"connect4=id x", 0, false, proto.Ref{}, false},
		{"connect4=id 0", 0, false, proto.Ref{}, false},
		{"connect4=name a b", 0, false, proto.Ref{}, false},
	} {
		a, err := parseAttach(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (a.hook != tc.hook || a.daemon != tc.daemon || a.ref != tc.ref)) {
			t.Errorf("parseAttach(%q) = %+v, %v", tc.in, a, err)
		}
	}
}
