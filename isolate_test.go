package xebpf_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/isolate"
	"github.com/xebpf/xebpf/verifier"
)

const isolatedSrc = `#include "xebpf/bpf.h"
SEC("xdp")
int checked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return XDP_DROP;
	return data[12] == 0x08 ? XDP_PASS : XDP_DROP;
}
SEC("xdp")
int unchecked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	return data[12] == 0x08 ? XDP_PASS : XDP_DROP;
}
char LICENSE[] SEC("license") = "GPL";
`

// buildVerifierChild builds cmd/xebpf-verifier for the tests.
func buildVerifierChild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xebpf-verifier")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/xebpf-verifier").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestIsolatedVerification verifies in a child process, through
// VerifyProgram and through NewCollection, and checks the verdicts, the
// engine and the limits.
func TestIsolatedVerification(t *testing.T) {
	obj := buildC(t, "isolated", isolatedSrc)
	child := buildVerifierChild(t)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	iso := &xebpf.Isolation{Command: []string{child}}
	p, err := xebpf.VerifyProgram(spec, "checked", xebpf.VerifyOptions{Isolate: iso})
	if err != nil {
		t.Fatalf("checked: %v", err)
	}
	if p.Stats().MaxRSSKB <= 0 && isolate.PeakMemoryKB() > 0 {
		t.Errorf("no peak memory from the child: %+v", p.Stats())
	}
	_, inErr := xebpf.VerifyProgram(spec, "unchecked", xebpf.VerifyOptions{})
	_, isoErr := xebpf.VerifyProgram(spec, "unchecked", xebpf.VerifyOptions{Isolate: iso})
	var ve *verifier.Error
	if !errors.As(isoErr, &ve) || inErr == nil || isoErr.Error() != inErr.Error() || ve.Line == nil || !strings.HasSuffix(ve.Line.File, "isolated.c") {
		t.Errorf("unchecked: isolated %v; in process %v", isoErr, inErr)
	}

	// Loading verifies in the child too, and the verified program runs
	// fast.
	one := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{"checked": spec.Programs["checked"]}, Maps: spec.Maps}
	c, err := xebpf.NewCollectionWithOptions(one, xebpf.CollectionOptions{VerifierIsolation: iso})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prog := c.Programs["checked"]
	if prog.Engine() != xebpf.EngineFast {
		t.Errorf("engine %v, want %v", prog.Engine(), xebpf.EngineFast)
	}
	pkt := make([]byte, 64)
	pkt[12] = 0x08
	if ret, err := prog.Run(&xebpf.RunOptions{Data: pkt}); err != nil || ret != 2 {
		t.Errorf("run: %d, %v; want XDP_PASS", ret, err)
	}
	if _, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{VerifierIsolation: iso}); !errors.As(err, &ve) {
		t.Errorf("NewCollection of the unchecked program: %v, want the verifier's error", err)
	}

	// Limits: a child killed by its deadline, one out of memory (on a
	// program whose verification needs more memory than the Go runtime
	// maps at its start), one that is not a verifier at all.
	var big strings.Builder
	big.WriteString("#include \"xebpf/bpf.h\"\nSEC(\"xdp\")\nint big(struct xdp_md *ctx)\n{\n" +
		"\tunsigned char *data = (void *)(long)ctx->data;\n\tunsigned char *end = (void *)(long)ctx->data_end;\n" +
		"\tint s = 0;\n\tif (data + 64 > end)\n\t\treturn XDP_DROP;\n")
	for i := range 1000 {
		fmt.Fprintf(&big, "\tif (data[%d] == %d) s += %d; else s ^= %d;\n", i%64, i%251, i, 7*i)
	}
	big.WriteString("\treturn s & 3;\n}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n")
	bigSpec, err := xebpf.LoadCollectionSpec(buildC(t, "big", big.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xebpf.VerifyProgram(bigSpec, "big", xebpf.VerifyOptions{Isolate: iso}); err != nil {
		t.Errorf("big: %v", err)
	}
	for _, tc := range []struct {
		iso  *xebpf.Isolation
		want error
		text string
	}{
		{&xebpf.Isolation{Command: []string{child}, Timeout: 1}, isolate.ErrKilled, ""},
		{&xebpf.Isolation{Command: []string{child}, MemoryLimit: 1 << 20}, verifier.ErrTooComplex, "needs more than its 1 MiB of memory"},
		{&xebpf.Isolation{Command: []string{"true"}}, nil, "no verdict"},
		{&xebpf.Isolation{Command: []string{filepath.Join(t.TempDir(), "missing")}}, nil, "missing"},
	} {
		_, err := xebpf.VerifyProgram(bigSpec, "big", xebpf.VerifyOptions{Isolate: tc.iso})
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) || tc.text != "" && !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%+v: %v, want %v %q", tc.iso, err, tc.want, tc.text)
		}
	}
}
