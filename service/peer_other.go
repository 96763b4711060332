//go:build !linux

package service

import "net"

// peerOf does not know the peer outside Linux: xebpf reads SO_PEERCRED
// there only.
func peerOf(net.Conn) Peer { return Peer{} }
