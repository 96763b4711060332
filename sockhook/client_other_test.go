//go:build !linux

package sockhook_test

// runClientIfRequested: the client runs on Linux only.
func runClientIfRequested() {}
