package elf

//go:generate sh -c "clang-19 -g -O2 -target bpf -I/usr/include/$(gcc -dumpmachine) -c testdata/ctxtypes.c -o testdata/ctxtypes.o && llvm-objcopy-19 --dump-section .BTF=ctxtypes.btf testdata/ctxtypes.o && rm testdata/ctxtypes.o"
