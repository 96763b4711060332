//go:build !linux

package main

import "github.com/xebpf/xebpf/service/client"

// dialHookSession connects to the daemon for hook runs (xebpf exec runs
// hooks on Linux only).
func dialHookSession(path string) (*client.Client, error) { return client.Dial(path) }
