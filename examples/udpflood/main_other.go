//go:build !linux

// Command udpflood needs Linux: network namespaces, veth pairs and the
// daemon's XDP bridge.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "udpflood: runs on Linux only (network namespaces and the daemon's XDP bridge)")
	os.Exit(1)
}
