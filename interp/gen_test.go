package interp

import (
	"bytes"
	"os"
	"testing"

	"github.com/xebpf/xebpf/interp/internal/genfast"
)

// TestFastLoopIsGenerated fails when exec_fast.go is stale: run go generate.
func TestFastLoopIsGenerated(t *testing.T) {
	src, err := os.ReadFile("exec_checked.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := genfast.Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("exec_fast.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("exec_fast.go is stale: run go generate ./interp")
	}
	for _, checked := range []string{"canRead", "canWrite", "goto memory", "goto jumped", "tag[", "acc "} {
		if bytes.Contains(got, []byte(checked)) {
			t.Fatalf("exec_fast.go still checks accesses, tracks tags or budgets instructions (%q)", checked)
		}
	}
}
