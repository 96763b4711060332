package helpers

import (
	"bytes"

	"github.com/xebpf/xebpf/api"
)

// Space is the address space a probe read targets.
type Space uint8

// Address spaces.
const (
	SpaceKernel Space = iota // bpf_probe_read_kernel*, and the legacy bpf_probe_read*
	SpaceUser                // bpf_probe_read_user*
)

// ProbeReader performs the fault-safe reads of bpf_probe_read* and of
// printf's %s and %pI arguments. xebpf has no kernel memory: the host
// decides what each address space holds.
type ProbeReader interface {
	// ReadAt copies len(dst) bytes at addr in space into dst and reports
	// whether all of them were readable. It must never fault.
	ReadAt(c *api.HelperCall, space Space, dst []byte, addr uint64) bool
}

// RegionReader is the default ProbeReader: both address spaces are the
// memory the run itself may access (in checked mode its objects, in fast
// mode its stack and Env.Regions), checked in every interpreter mode.
type RegionReader struct{}

// ReadAt implements ProbeReader.
func (RegionReader) ReadAt(c *api.HelperCall, _ Space, dst []byte, addr uint64) bool {
	b, ok := c.Probe(addr, uint64(len(dst)))
	if ok {
		copy(dst, b)
	}
	return ok
}

func (r *Run) reader() ProbeReader {
	if r.Probe == nil {
		return RegionReader{}
	}
	return r.Probe
}

// probeRead is bpf_probe_read_{kernel,user}(dst, size, src): on failure
// dst is zeroed and the result is -EFAULT.
func probeRead(c *api.HelperCall, space Space) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	dst, err := c.ArgMemory(0, uint64(uint32(c.Args[1])), true)
	if err != nil {
		return 0, err
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if !r.reader().ReadAt(c, space, dst, c.Args[2]) {
		clear(dst)
		return errno(eFAULT), nil
	}
	return 0, nil
}

func probeReadKernel(c *api.HelperCall) (uint64, error) { return probeRead(c, SpaceKernel) }
func probeReadUser(c *api.HelperCall) (uint64, error)   { return probeRead(c, SpaceUser) }

// probeReadStr is bpf_probe_read_{kernel,user}_str(dst, size, src), with
// strncpy_from_kernel_nofault's semantics: it copies up to size-1 bytes
// and a NUL, returns the length including the NUL, leaves the bytes after
// the NUL alone, and on a fault zeroes dst and returns -EFAULT.
func probeReadStr(c *api.HelperCall, space Space) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	dst, err := c.ArgMemory(0, uint64(uint32(c.Args[1])), true)
	if err != nil {
		return 0, err
	}
	if len(dst) == 0 {
		return 0, nil
	}
	n, ok := r.readStr(c, space, dst, c.Args[2])
	if !ok {
		clear(dst)
		return errno(eFAULT), nil
	}
	return uint64(n), nil
}

func probeReadKernelStr(c *api.HelperCall) (uint64, error) { return probeReadStr(c, SpaceKernel) }
func probeReadUserStr(c *api.HelperCall) (uint64, error)   { return probeReadStr(c, SpaceUser) }

// readStr copies the string at addr into dst (len(dst) > 0) like
// strncpy_from_kernel_nofault: it reads at most len(dst) bytes, stops
// after a NUL and always NUL-terminates. It returns the bytes written,
// NUL included, and false if a byte before the end was unreadable.
func (r *Run) readStr(c *api.HelperCall, space Space, dst []byte, addr uint64) (int, bool) {
	rd := r.reader()
	tmp := r.chunk[:]
	for i := 0; i < len(dst); {
		n := min(len(dst)-i, len(tmp))
		t := tmp[:n]
		if !rd.ReadAt(c, space, t, addr+uint64(i)) {
			// Part of the chunk may be readable: go byte by byte.
			for j := range n {
				if !rd.ReadAt(c, space, t[j:j+1], addr+uint64(i+j)) {
					return 0, false
				}
				dst[i+j] = t[j]
				if t[j] == 0 {
					return i + j + 1, true
				}
			}
		} else if k := bytes.IndexByte(t, 0); k >= 0 {
			copy(dst[i:], t[:k+1])
			return i + k + 1, true
		} else {
			copy(dst[i:], t)
		}
		i += n
	}
	dst[len(dst)-1] = 0
	return len(dst), true
}
