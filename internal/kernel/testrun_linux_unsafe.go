//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfProgTestRun is BPF_PROG_TEST_RUN (alias BPF_PROG_RUN) of enum bpf_cmd.
const bpfProgTestRun = 10

// errnoENOTSUPP is the kernel-internal ENOTSUPP (524) that BPF_PROG_TEST_RUN
// returns for program types without a test runner.
const errnoENOTSUPP = syscall.Errno(524)

// ErrNoTestRun is returned for programs whose type the kernel cannot test-run.
var ErrNoTestRun = errors.New("kernel cannot test-run this program type")

// progRunAttr is the BPF_PROG_TEST_RUN member of union bpf_attr.
type progRunAttr struct {
	progFD      uint32
	retval      uint32
	dataSizeIn  uint32
	dataSizeOut uint32
	dataIn      uint64
	dataOut     uint64
	repeat      uint32
	duration    uint32
	ctxSizeIn   uint32
	ctxSizeOut  uint32
	ctxIn       uint64
	ctxOut      uint64
	flags       uint32
	cpu         uint32
	batchSize   uint32
	_           uint32
}

// testRun is one BPF_PROG_TEST_RUN call: inputs, then what the kernel wrote.
type testRun struct {
	progFD  int
	data    []byte
	dataOut []byte
	ctx     []byte
	ctxOut  []byte
	repeat  uint32

	retval      uint32
	dataSizeOut uint32
	ctxSizeOut  uint32
	duration    time.Duration
}

func slicePtr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

// run issues the syscall, retrying when a signal interrupts it (the kernel
// then restarts the whole batch of repetitions).
func (t *testRun) run() error {
	attr := progRunAttr{
		progFD:      uint32(t.progFD),
		dataSizeIn:  uint32(len(t.data)),
		dataSizeOut: uint32(len(t.dataOut)),
		dataIn:      slicePtr(t.data),
		dataOut:     slicePtr(t.dataOut),
		repeat:      t.repeat,
		ctxSizeIn:   uint32(len(t.ctx)),
		ctxSizeOut:  uint32(len(t.ctxOut)),
		ctxIn:       slicePtr(t.ctx),
		ctxOut:      slicePtr(t.ctxOut),
	}
	var errno syscall.Errno
	for {
		_, _, errno = unix.Syscall(unix.SYS_BPF, bpfProgTestRun, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(t)
	switch {
	case errno == errnoENOTSUPP || errno == unix.EOPNOTSUPP:
		return fmt.Errorf("BPF_PROG_TEST_RUN: %w", ErrNoTestRun)
	case errno == unix.ENOSPC:
		return fmt.Errorf("BPF_PROG_TEST_RUN: output of %d bytes exceeds the %d-byte buffer: %w", attr.dataSizeOut, len(t.dataOut), errno)
	case errno != 0:
		return fmt.Errorf("BPF_PROG_TEST_RUN: %w", errno)
	}
	if (len(t.dataOut) > 0 && attr.dataSizeOut > uint32(len(t.dataOut))) ||
		(len(t.ctxOut) > 0 && attr.ctxSizeOut > uint32(len(t.ctxOut))) {
		return fmt.Errorf("BPF_PROG_TEST_RUN: kernel reports %d data and %d context bytes, buffers hold %d and %d",
			attr.dataSizeOut, attr.ctxSizeOut, len(t.dataOut), len(t.ctxOut))
	}
	t.retval = attr.retval
	t.dataSizeOut = attr.dataSizeOut
	t.ctxSizeOut = attr.ctxSizeOut
	t.duration = time.Duration(attr.duration)
	return nil
}
