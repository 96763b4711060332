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
	ENODEV     Errno = 19
	ENOSPC     Errno = 28
	EOVERFLOW  Errno = 75
	EOPNOTSUPP Errno = 95
)

// Error is a map error carrying the Linux errno a helper would return.
type Error struct {
	errno Errno
	msg   string
	is    *Error // another sentinel this one matches
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Is reports whether e stands for target, so that a full LPM trie
// (ENOSPC) matches ErrMapFull too.
func (e *Error) Is(target error) bool { return e.is != nil && target == e.is }

// Errno returns the Linux error number of e.
func (e *Error) Errno() Errno { return e.errno }

// Sentinel errors. Test with errors.Is; ErrnoOf gives the errno.
var (
	ErrKeyNotExist  = &Error{errno: ENOENT, msg: "key does not exist"}
	ErrKeyExist     = &Error{errno: EEXIST, msg: "key already exists"}
	ErrMapFull      = &Error{errno: E2BIG, msg: "map is full"}
	ErrInvalid      = &Error{errno: EINVAL, msg: "invalid argument"}
	ErrNotSupported = &Error{errno: EOPNOTSUPP, msg: "operation not supported"}
	ErrNoMemory     = &Error{errno: ENOMEM, msg: "out of memory"}
	ErrTooBig       = &Error{errno: E2BIG, msg: "size too big"}
	ErrBusy         = &Error{errno: EBUSY, msg: "resource busy"}
	ErrClosed       = &Error{errno: EINVAL, msg: "map closed"}
	// ErrFrozen is the EPERM of Go-side writes to a frozen map (Freeze).
	ErrFrozen  = &Error{errno: EPERM, msg: "map is frozen"}
	ErrNoSpace = &Error{errno: EAGAIN, msg: "no space in ring buffer"}
	// ErrNoDevice is the ENODEV of a CPUMap update for a CPU that does
	// not exist.
	ErrNoDevice = &Error{errno: ENODEV, msg: "no such CPU"}
	// ErrOverflow is the EOVERFLOW of a CPUMap queue size above 16384.
	ErrOverflow = &Error{errno: EOVERFLOW, msg: "value too large"}
	// ErrLPMFull is the ENOSPC a full LPM trie answers; it matches ErrMapFull.
	ErrLPMFull = &Error{errno: ENOSPC, msg: "map is full", is: ErrMapFull}
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
