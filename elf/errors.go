package elf

import (
	"errors"
	"fmt"
)

// Conditions callers can branch on with errors.Is.
var (
	// ErrMalformed marks an object whose structure is invalid.
	ErrMalformed = errors.New("malformed object")
	// ErrUnsupported marks a valid object that uses something xebpf
	// does not implement, such as big-endian code or kernel symbols.
	ErrUnsupported = errors.New("unsupported")
	// ErrUnresolved marks an extern or CO-RE relocation that cannot be
	// resolved.
	ErrUnresolved = errors.New("unresolved reference")
)

// Error is a load failure located in a section of the object.
type Error struct {
	Section string // "" when the failure concerns the whole file
	Offset  int64  // byte offset in the section, or -1
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Section == "":
		return e.Err.Error()
	case e.Offset < 0:
		return fmt.Sprintf("section %q: %v", e.Section, e.Err)
	}
	return fmt.Sprintf("section %q: offset %#x: %v", e.Section, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// secErr returns an *Error for section sec wrapping kind with a message.
func secErr(sec string, off int64, kind error, format string, args ...any) error {
	return &Error{Section: sec, Offset: off, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), kind)}
}
