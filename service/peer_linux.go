package service

import (
	"net"
	"syscall"
)

// peerOf reads the credentials of a unix socket's peer as the socket
// holds them from its connect: SO_PEERCRED, and SO_PEERGROUPS for the
// supplementary groups.
func peerOf(c net.Conn) Peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}
	}
	var p Peer
	if err := raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err != nil {
			return
		}
		p = Peer{Known: true, PID: cred.Pid, UID: cred.Uid, GID: cred.Gid, Groups: peerGroups(int(fd))}
	}); err != nil {
		return Peer{}
	}
	return p
}

// ReadsPeerCredentials reports whether the daemon knows its peers'
// credentials on this system, which a Policy needs.
func ReadsPeerCredentials() bool { return true }
