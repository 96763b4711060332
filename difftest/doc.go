// Package difftest is xebpf's differential test suite: it compiles the C
// programs of testdata with clang-19, runs each on a fixed set of generated
// packets in xebpf and in the Linux kernel (BPF_PROG_TEST_RUN, through
// internal/kernel), and fails on any difference in return value, output
// packet, output context or map contents. It also replays the packets
// through the XDP, socket-filter and TC programs of the shared corpus,
// loaded into the kernel from xebpf's own parse (kernel.LoadSpec), with
// programs in untyped sections typed as their object's loader types them.
//
// Every difference fails; the differences found so far, all fixed, have
// regression tests (knownbugs_test.go, testdata/known_bugs.c).
//
// The package holds tests only: go test ./difftest.
package difftest
