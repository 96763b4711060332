package genfast

import (
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	src := `package p

//go:generate go run gen_fast.go
func (p *P) runChecked() int {
	x := 1
	y := 2 //checked
	//checked:begin
	if y > 0 {
		x++
	}
	//checked:end
	//fast: x += 10
	return x
}
`
	out, err := Generate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"DO NOT EDIT", "func (p *P) runFast() int", "x += 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, gone := range []string{"y := 2", "x++", "go:generate", "//fast:"} {
		if strings.Contains(got, gone) {
			t.Errorf("output still has %q:\n%s", gone, got)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, src := range []string{
		"package p\n//checked:begin\n//checked:begin\n",
		"package p\n//checked:end\n",
		"package p\n//checked:begin\n",
		"package p\nfunc {\n",
	} {
		if _, err := Generate([]byte(src)); err == nil {
			t.Errorf("no error for %q", src)
		}
	}
}
