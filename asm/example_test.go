package asm_test

import (
	"fmt"

	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/isa"
)

func ExampleAssemble() {
	src := `
	mov %r0, 0
loop:
	add %r0, 1
	jne %r0, 10, loop   # count to ten
	exit
`
	insns, err := asm.Assemble("count.s", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", isa.Encode(nil, insns[2:3]))
	fmt.Print(asm.Disassemble(insns))
	// Output:
	// 55 00 fe ff 0a 00 00 00
	// mov %r0, 0
	// add %r0, 1
	// jne %r0, 10, -2
	// exit
}

func ExampleAssemble_error() {
	_, err := asm.Assemble("prog.s", []byte("mov %r0, 0\nldxw %r0, [%r1+]\nexit\n"))
	fmt.Println(err)
	// Output:
	// prog.s:2: ldxw: bad memory operand "[%r1+]"
}

func ExampleListing() {
	insns, _ := asm.Assemble("l.s", []byte("lddw %r0, 0x100000000\nexit\n"))
	fmt.Print(asm.Listing(insns))
	// Output:
	//    0: lddw %r0, 0x100000000
	//    2: exit
}
