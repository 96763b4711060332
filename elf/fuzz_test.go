package elf

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// FuzzLoadCollectionSpec checks that no input panics, that an error comes
// with a nil spec and success with a non-nil one, and that a loaded spec can
// be summarised and looked up.
func FuzzLoadCollectionSpec(f *testing.F) {
	valid, invalid := corpusFiles(f)
	for _, path := range append(valid, invalid...) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := LoadCollectionSpecFromReader(bytes.NewReader(b))
		if (err == nil) != (spec != nil) {
			t.Fatalf("spec %v with error %v", spec != nil, err)
		}
		if spec == nil {
			return
		}
		if _, err := json.Marshal(spec.Summary()); err != nil {
			t.Fatal(err)
		}
		for _, p := range spec.Programs {
			for pc := range p.Slots() {
				p.LineInfo(pc)
			}
		}
	})
}
