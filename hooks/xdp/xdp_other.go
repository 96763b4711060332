//go:build !linux

package xdp

// errOversize is a frame the port cannot hand to programs; no conn
// returns it outside Linux.
var errOversize error = ErrNotSupported

// openConn reports that the OS has no hook for XDP programs.
func openConn(ifname string) (conn, int, error) { return nil, 0, ErrNotSupported }
