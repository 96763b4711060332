package xebpf_test

import (
	"os"
	"testing"

	"github.com/xebpf/xebpf"
)

func TestVLog(t *testing.T) {
	spec, err := xebpf.LoadCollectionSpec(os.Getenv("OBJ"))
	for n, p := range spec.Programs {
		if p.SectionName == os.Getenv("PROG") {
			os.Setenv("PROG", n)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = xebpf.VerifyProgram(spec, os.Getenv("PROG"), xebpf.VerifyOptions{Type: xebpf.SchedCLS, Log: os.Stdout, LogLevel: 1})
	t.Log(err)
}
