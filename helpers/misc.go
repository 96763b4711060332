package helpers

import (
	"bytes"
	"math/rand/v2"
	"time"

	"github.com/xebpf/xebpf/api"
)

// Clock answers the time helpers, in nanoseconds (jiffies for Jiffies).
type Clock interface {
	Monotonic() uint64 // bpf_ktime_get_ns: CLOCK_MONOTONIC
	Boot() uint64      // bpf_ktime_get_boot_ns: CLOCK_BOOTTIME
	Coarse() uint64    // bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC_COARSE
	Jiffies() uint64   // bpf_jiffies64
	TAI() uint64       // bpf_ktime_get_tai_ns: CLOCK_TAI
}

// HZ is the tick rate SystemClock assumes for jiffies and the coarse clock.
const HZ = 250

const (
	tickNs = 1e9 / HZ
	// initialJiffies is INITIAL_JIFFIES on 64-bit Linux: jiffies start
	// five minutes before wrapping a 32-bit counter.
	initialJiffies = uint64(1<<32 - 300*HZ)
	// taiOffset is TAI - UTC (37 s since 2017).
	taiOffset = 37e9
)

var processStart = time.Now()

// SystemClock is the host's clock. Its monotonic time counts from an
// arbitrary origin (process start plus one second) rather than from boot,
// and Boot equals Monotonic: the host's suspend time is not visible to Go.
type SystemClock struct{}

// Monotonic returns nanoseconds on the monotonic clock.
func (SystemClock) Monotonic() uint64 { return uint64(time.Since(processStart)) + 1e9 }

// Boot returns Monotonic.
func (s SystemClock) Boot() uint64 { return s.Monotonic() }

// Coarse returns Monotonic rounded down to the last tick.
func (s SystemClock) Coarse() uint64 { m := s.Monotonic(); return m - m%tickNs }

// Jiffies returns the ticks since the monotonic origin plus INITIAL_JIFFIES.
func (s SystemClock) Jiffies() uint64 { return initialJiffies + s.Monotonic()/tickNs }

// TAI returns the wall clock on the TAI scale.
func (SystemClock) TAI() uint64 { return uint64(time.Now().UnixNano()) + taiOffset }

func clockOf(c *api.HelperCall) (Clock, error) {
	r, err := runOf(c)
	if err != nil {
		return nil, err
	}
	if r.Clock == nil {
		return SystemClock{}, nil
	}
	return r.Clock, nil
}

func ktimeGetNs(c *api.HelperCall) (uint64, error) {
	k, err := clockOf(c)
	if err != nil {
		return 0, err
	}
	return k.Monotonic(), nil
}

func ktimeGetBootNs(c *api.HelperCall) (uint64, error) {
	k, err := clockOf(c)
	if err != nil {
		return 0, err
	}
	return k.Boot(), nil
}

func ktimeGetCoarseNs(c *api.HelperCall) (uint64, error) {
	k, err := clockOf(c)
	if err != nil {
		return 0, err
	}
	return k.Coarse(), nil
}

func ktimeGetTaiNs(c *api.HelperCall) (uint64, error) {
	k, err := clockOf(c)
	if err != nil {
		return 0, err
	}
	return k.TAI(), nil
}

func jiffies64(c *api.HelperCall) (uint64, error) {
	k, err := clockOf(c)
	if err != nil {
		return 0, err
	}
	return k.Jiffies(), nil
}

// bpf_get_prandom_u32: a per-Run splitmix64 stream, seeded from the
// runtime's random source unless SeedRandom fixed it. Linux uses a per-CPU
// Tausworthe generator; no program can tell the difference.
func getPrandomU32(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	if r.rng == 0 {
		r.rng = rand.Uint64() | 1
	}
	r.rng += 0x9e3779b97f4a7c15
	z := r.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return uint64(uint32(z >> 32)), nil
}

func getSmpProcessorID(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	return uint64(uint32(r.CPU)), nil
}

// bpf_get_numa_node_id: xebpf has a single NUMA node.
func getNumaNodeID(c *api.HelperCall) (uint64, error) { return 0, nil }

// bpf_get_current_pid_tgid: tgid << 32 | pid, or -EINVAL without a task.
func getCurrentPidTgid(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	if r.Task == nil {
		return errno(eINVAL), nil
	}
	return uint64(r.Task.TGID)<<32 | uint64(r.Task.PID), nil
}

// bpf_get_current_uid_gid: gid << 32 | uid, or -EINVAL without a task.
func getCurrentUidGid(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	if r.Task == nil {
		return errno(eINVAL), nil
	}
	return uint64(r.Task.GID)<<32 | uint64(r.Task.UID), nil
}

// bpf_get_current_comm(buf, size): strscpy_pad of the task's comm; without
// a task the buffer is zeroed and the result is -EINVAL.
func getCurrentComm(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	buf, err := c.ArgMemory(0, uint64(uint32(c.Args[1])), true)
	if err != nil {
		return 0, err
	}
	if r.Task == nil {
		clear(buf)
		return errno(eINVAL), nil
	}
	if len(buf) == 0 {
		return 0, nil
	}
	name := r.Task.Comm[:len(r.Task.Comm)-1]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	n := copy(buf[:len(buf)-1], name)
	clear(buf[n:])
	return 0, nil
}
