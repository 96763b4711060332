//go:build ignore

// gen_fast writes exec_fast.go from exec_checked.go: the same loop without
// bounds checks and instruction budget.
package main

import (
	"log"
	"os"

	"github.com/xebpf/xebpf/interp/internal/genfast"
)

func main() {
	src, err := os.ReadFile("exec_checked.go")
	if err != nil {
		log.Fatal(err)
	}
	out, err := genfast.Generate(src)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("exec_fast.go", out, 0o644); err != nil {
		log.Fatal(err)
	}
}
