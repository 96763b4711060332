//go:build !linux

package service

import "net"

// peerOf does not know the peer outside Linux: xebpf reads SO_PEERCRED
// there only.
func peerOf(net.Conn) Peer { return Peer{} }

// ReadsPeerCredentials reports whether the daemon knows its peers'
// credentials on this system, which a Policy needs: not outside Linux,
// where the socket's mode is the only control.
func ReadsPeerCredentials() bool { return false }
