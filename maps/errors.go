package maps

import "errors"

// Errno is a Linux error number. Helpers return -Errno to programs.
type Errno int32

// Linux errno values used by map operations (numbers as on Linux, whatever
// the host operating system).
const (
	EPERM      Errno = 1
	ENOENT     Errno = 2
	E2BIG      Errno = 7
	EAGAIN     Errno = 11
	ENOMEM     Errno = 12
	EBUSY      Errno = 16
	EEXIST     Errno = 17
	EINVAL     Errno = 22
	ENOSPC     Errno = 28
	EOPNOTSUPP Errno = 95
)

// Error is a map error carrying the Linux errno a helper would return.
type Error struct {
	errno Errno
	msg   string
}

func (e *Error) Error() string { return e.msg }

// Errno returns the Linux error number of e.
func (e *Error) Errno() Errno { return e.errno }

// Sentinel errors. Test with errors.Is; ErrnoOf gives the errno.
var (
	ErrKeyNotExist  = &Error{ENOENT, "key does not exist"}
	ErrKeyExist     = &Error{EEXIST, "key already exists"}
	ErrMapFull      = &Error{E2BIG, "map is full"}
	ErrInvalid      = &Error{EINVAL, "invalid argument"}
	ErrNotSupported = &Error{EOPNOTSUPP, "operation not supported"}
	ErrNoMemory     = &Error{ENOMEM, "out of memory"}
	ErrTooBig       = &Error{E2BIG, "size too big"}
	ErrBusy         = &Error{EBUSY, "resource busy"}
	ErrClosed       = &Error{EINVAL, "map closed"}
	ErrNoSpace      = &Error{EAGAIN, "no space in ring buffer"}
)

// ErrnoOf returns the Linux errno of err: the errno of the *Error it wraps,
// 0 for nil, EINVAL otherwise.
func ErrnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.errno
	}
	return EINVAL
}

// ret converts an error to a helper return value (0 or -errno).
func ret(err error) int64 {
	if err == nil {
		return 0
	}
	if e, ok := err.(*Error); ok { // the allocation-free common case
		return -int64(e.errno)
	}
	return -int64(ErrnoOf(err))
}
