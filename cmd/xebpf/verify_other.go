//go:build !linux

package main

import "os"

// maxRSSKB returns 0: xebpf reads the peak resident set size only on
// Linux.
func maxRSSKB() int64 { return 0 }

// childMaxRSSKB returns 0: xebpf reads the peak resident set size only on
// Linux.
func childMaxRSSKB(*os.ProcessState) int64 { return 0 }

// limitMemory does nothing: xebpf limits the verifier's memory only on
// Linux. The time limit still applies.
func limitMemory(uint64) error { return nil }
