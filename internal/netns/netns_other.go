//go:build !linux

// Package netns runs code inside a named network namespace, which only
// Linux has.
package netns

import "errors"

// ErrNotSupported is returned by Do outside Linux.
var ErrNotSupported = errors.New("network namespaces: not supported on this OS")

// Do returns ErrNotSupported: only Linux has network namespaces.
func Do(name string, fn func() error) error { return ErrNotSupported }
