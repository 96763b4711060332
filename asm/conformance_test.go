package asm

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xebpf/xebpf/isa"
)

// sharedDir returns the shared test data directory that sits beside the
// repository root, or skips the test when it is absent.
func sharedDir(tb testing.TB, sub string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("go.mod not found above the working directory")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", sub)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test data %s absent: %v", p, err)
	}
	return p
}

// sections splits a bpf_conformance .data file into its `-- name` sections.
func sections(data string) map[string]string {
	out := make(map[string]string)
	name := ""
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = b.String()
		}
		b.Reset()
	}
	for line := range strings.Lines(data) {
		if n, ok := strings.CutPrefix(line, "-- "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		b.WriteString(line)
	}
	flush()
	return out
}

func conformanceFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(sharedDir(tb, "conformance/tests"), "*.data"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no conformance .data files")
	}
	return files
}

// TestConformanceAssemble assembles every `-- asm` section of the
// bpf_conformance suite, checks that the result passes isa.Decode, and that
// its disassembly re-assembles to the same bytes.
func TestConformanceAssemble(t *testing.T) {
	files := conformanceFiles(t)
	raws := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sec := sections(string(data))
		src, ok := sec["asm"]
		if !ok {
			t.Errorf("%s: no asm section", file)
			continue
		}
		name := filepath.Base(file)
		insns, err := Assemble(name, []byte(src))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		code := isa.Encode(nil, insns)
		if _, err := isa.Decode(code); err != nil {
			t.Errorf("%s: assembled program does not decode: %v", name, err)
		}
		again, err := Assemble(name+".dis", []byte(Disassemble(insns)))
		if err != nil {
			t.Errorf("%s: disassembly does not re-assemble: %v", name, err)
		} else if !bytes.Equal(isa.Encode(nil, again), code) {
			t.Errorf("%s: disassembly re-assembles to different bytes", name)
		}
		if raw, ok := sec["raw"]; ok {
			raws++
			want := parseRaw(t, name, raw)
			if !bytes.Equal(code, want) {
				t.Errorf("%s: assembled\n% x\nwant raw section\n% x", name, code, want)
			}
		}
	}
	if raws == 0 {
		t.Error("no file has a raw section to compare with (lddw.data expected)")
	}
	t.Logf("assembled %d conformance programs, %d compared with raw bytes", len(files), raws)
}

// parseRaw decodes a raw section: one 64-bit little-endian slot per line.
func parseRaw(t *testing.T, name, raw string) []byte {
	t.Helper()
	var out []byte
	for line := range strings.Lines(raw) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseUint(line, 0, 64)
		if err != nil {
			t.Fatalf("%s: raw line %q: %v", name, line, err)
		}
		out = binary.LittleEndian.AppendUint64(out, v)
	}
	return out
}
