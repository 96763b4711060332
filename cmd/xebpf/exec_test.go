package main

import (
	"testing"

	"github.com/xebpf/xebpf/sockhook"
)

func TestParseAttach(t *testing.T) {
	for _, tc := range []struct {
		in        string
		hook      sockhook.Hook
		file, prg string
		ok        bool
	}{
		{"cgroup/connect4=a.o:prog", sockhook.Connect4, "a.o", "prog", true},
		{"connect6=dir/b.o:p", sockhook.Connect6, "dir/b.o", "p", true},
		{"bind=c:\\x.o:p", sockhook.WindowsBind, "c:\\x.o", "p", true},
		{"cgroup/bind6=x.o:y", sockhook.Bind6, "x.o", "y", true},
		{"connect4=a.o", 0, "", "", false},
		{"connect4=a.o:", 0, "", "", false},
		{"connect4", 0, "", "", false},
		{"sendmsg4=a.o:p", 0, "", "", false},
	} {
		a, err := parseAttach(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (a.hook != tc.hook || a.file != tc.file || a.prg != tc.prg)) {
			t.Errorf("parseAttach(%q) = %+v, %v", tc.in, a, err)
		}
	}
}
