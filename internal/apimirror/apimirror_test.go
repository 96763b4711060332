package apimirror

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestExported(t *testing.T) {
	got, err := Exported(filepath.Join("testdata", "a"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"const C",
		"func (*T) M(string) (int)",
		"func (N) Value() ()",
		"func New(int, int, time.Time) (*T, error)",
		"type N int",
		"type T struct{A int; B int; D []byte}",
		"var ErrX",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if _, err := Exported(filepath.Join("testdata", "missing")); err == nil {
		t.Fatal("Exported of a missing directory succeeded")
	}
}
