package xebpf_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/verifier"

	"github.com/xebpf/xebpf/api"
)

// buildC compiles a C program of the test with clang-19.
// mustCollection loads the object at path and instantiates it with opts;
// the collection is closed when the test ends.
func mustCollection(t testing.TB, path string, opts xebpf.CollectionOptions) *xebpf.Collection {
	t.Helper()
	spec, err := xebpf.LoadCollectionSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	// The programs of these tests are meant to fault: the verifier rejects
	// most, and checked mode must stop them.
	opts.Unverified, opts.Checked = xebpf.RunUnverifiedChecked, true
	c, err := xebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func buildC(t testing.TB, name, src string) string {
	t.Helper()
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Skip("clang-19 not installed")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, name+".o")
	inc, _ := filepath.Abs("include")
	if out, err := exec.Command("clang-19", "-target", "bpf", "-O2", "-g", "-I", inc, "-c", c, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	return obj
}

func TestFaultNamesSourceLine(t *testing.T) {
	obj := buildC(t, "oob", `#include "xebpf/bpf.h"
SEC("raw")
int peek(unsigned char *ctx)
{
	return ctx[100]; /* past the 8-byte context */
}
char LICENSE[] SEC("license") = "GPL";
`)
	c := mustCollection(t, obj, xebpf.CollectionOptions{})
	_, err := c.Programs["peek"].Run(&xebpf.RunOptions{Context: make([]byte, 8)})
	var f *api.Fault
	if !errors.As(err, &f) || !errors.Is(err, api.ErrOutOfBounds) {
		t.Fatalf("got %v, want an out-of-bounds fault", err)
	}
	msg := err.Error()
	for _, want := range []string{"pc 0", "read of 1 bytes", "oob.c:5", "return ctx[100];"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestContextRewriteErrorNamesSourceLine(t *testing.T) {
	obj := buildC(t, "ctxw", `#include "xebpf/bpf.h"
SEC("xdp")
int bad(struct xdp_md *ctx)
{
	ctx->ingress_ifindex = 7; /* read-only field */
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	// The verifier refuses it, naming the line.
	_, err = xebpf.NewCollection(spec)
	var ve *verifier.Error
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "write to xdp_md.ingress_ifindex, which this program type may only read") || !strings.Contains(err.Error(), "ctxw.c:5") {
		t.Fatalf("got %v", err)
	}
	// Unverified, the loader's own rewriting refuses it too.
	_, err = xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked})
	if err == nil || !strings.Contains(err.Error(), "write to read-only xdp_md field ingress_ifindex") || !strings.Contains(err.Error(), "ctxw.c:5") {
		t.Fatalf("got %v", err)
	}
}
