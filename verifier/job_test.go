package verifier

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/asm"
)

// inProcess is a Runner that serves the job in this process.
func inProcess(ctx context.Context, job []byte, log io.Writer) ([]byte, int64, error) {
	var out bytes.Buffer
	err := ServeJob(bytes.NewReader(job), &out, log, JobHost{PeakMemoryKB: func() int64 { return 1234 }})
	return out.Bytes(), 0, err
}

// TestVerifyElsewhere checks that a job serialized, served and answered
// gives what Verify gives: the same error, or the same facts.
func TestVerifyElsewhere(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			insns, err := asm.Assemble("test.s", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig()
			cfg.LineInfo = func(pc int) (Line, bool) { return Line{File: "t.c", Line: 10 + pc, Text: "x"}, true }
			want, werr := Verify(insns, cfg)
			got, gerr := VerifyElsewhere(context.Background(), inProcess, insns, cfg, 0)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("in process: %v; elsewhere: %v", werr, gerr)
			}
			if werr != nil {
				if werr.Error() != gerr.Error() || errors.Is(werr, ErrTooComplex) != errors.Is(gerr, ErrTooComplex) {
					t.Errorf("errors differ:\nin process: %v\nelsewhere:  %v", werr, gerr)
				}
				var e *Error
				if !errors.As(gerr, &e) || e.Stats.MaxRSSKB != 1234 || e.Insn != werr.(*Error).Insn {
					t.Errorf("elsewhere: %#v", gerr)
				}
				return
			}
			if !maps.Equal(want.ContextAccesses(), got.ContextAccesses()) || want.HasLoops() != got.HasLoops() ||
				len(want.Instructions()) != len(got.Instructions()) || got.Stats().MaxRSSKB != 1234 || got.Stats().Steps != want.Stats().Steps {
				t.Errorf("facts differ: %v %v / %v %v", want.ContextAccesses(), want.HasLoops(), got.ContextAccesses(), got.HasLoops())
			}
		})
	}
}

// TestVerifyElsewhereDistrustsGarbage checks the answers a broken child
// can give: each is an error, never a program.
func TestVerifyElsewhereDistrustsGarbage(t *testing.T) {
	insns, err := asm.Assemble("t.s", []byte("ldxw %r0, [%r1+16]\nexit"))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		"",
		"not json",
		`{"Stats":{},"Loops":false,"CtxBase":[[5,0]]}`,
		`{"Stats":{},"CtxBase":[[-1,0]]}`,
		`{"Stats":{},"Extra":1}`,
	} {
		run := func(context.Context, []byte, io.Writer) ([]byte, int64, error) { return []byte(out), 0, nil }
		if p, err := VerifyElsewhere(context.Background(), run, insns, testConfig(), 0); err == nil {
			t.Errorf("answer %q: accepted %v", out, p)
		}
	}
	failing := func(context.Context, []byte, io.Writer) ([]byte, int64, error) {
		return nil, 0, errors.New("child died")
	}
	if _, err := VerifyElsewhere(context.Background(), failing, insns, testConfig(), 0); err == nil || !strings.Contains(err.Error(), "child died") {
		t.Errorf("failing runner: %v", err)
	}
}

// TestServeJobRejectsBadJobs checks that a malformed job is an error of
// the serving process.
func TestServeJobRejectsBadJobs(t *testing.T) {
	for _, job := range []string{"", "{", `{"Code":"AQ=="}`, `{"Code":null}`} {
		var out bytes.Buffer
		err := ServeJob(strings.NewReader(job), &out, io.Discard, JobHost{})
		if err == nil && !strings.Contains(out.String(), "Error") {
			t.Errorf("job %q: no error, verdict %q", job, out.String())
		}
	}
}

// FuzzVerifyElsewhere feeds arbitrary answers to VerifyElsewhere and
// AnalyzeElsewhere: they decode what another process wrote and must never
// panic.
func FuzzVerifyElsewhere(f *testing.F) {
	f.Add([]byte(`{"Stats":{},"CtxBase":[[0,0]]}`))
	f.Add([]byte(`{"Error":{"PC":1,"Insn":"YQAQAAAAAAA=","Reason":"r","Line":{"File":"f","Line":1}}}`))
	f.Add([]byte(`{"Error":{"PC":0,"Insn":"","Reason":"r","Context":true,"Complex":true}}`))
	f.Add([]byte(`{"Stats":{},"CtxBase":[[7,0],[-1,9]],"Rejections":[null,{"PC":-5,"Insn":"AA=="}]}`))
	insns, err := asm.Assemble("t.s", []byte("ldxw %r0, [%r1+16]\nexit"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		run := func(context.Context, []byte, io.Writer) ([]byte, int64, error) { return out, 0, nil }
		VerifyElsewhere(context.Background(), run, insns, testConfig(), 0)
		AnalyzeElsewhere(context.Background(), run, insns, testConfig(), 0)
	})
}
