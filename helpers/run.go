package helpers

import (
	"errors"
	"fmt"
	"io"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/maps"
)

// Errors that end a run with a fault. They stand for what the kernel's
// verifier would have rejected before the program ran, so a verified
// program never sees them.
var (
	ErrNoRun           = errors.New("helpers: env.Context is not a *helpers.Run")
	ErrBadMap          = errors.New("argument is not a map pointer")
	ErrWrongMapType    = errors.New("helper does not accept this map type")
	ErrReadOnlyMap     = errors.New("map is read-only for programs")
	ErrBadContext      = errors.New("argument is not the packet context")
	ErrSpinLock        = errors.New("bad bpf_spin_lock use")
	ErrBadRingbufMem   = errors.New("argument is not a reserved ring buffer record")
	ErrCallbackNesting = errors.New("callback helpers nested too deeply")
	// ErrLeakedReservation ends a run that exited with a ring buffer
	// record neither submitted nor discarded (Linux's verifier refuses
	// such a program); the record is discarded.
	ErrLeakedReservation = errors.New("ring buffer record neither submitted nor discarded")
)

// Task is the identity of the task a tracing hook runs for, what the
// get_current_* helpers report.
type Task struct {
	PID, TGID uint32 // thread id and process id, as the kernel names them
	UID, GID  uint32
	Comm      [16]byte // TASK_COMM_LEN bytes, NUL-padded
	// Cgroups holds the handles (the values stored in CgroupArray maps)
	// of the cgroup the task belongs to and of its ancestors, for
	// bpf_current_task_under_cgroup and bpf_skb_under_cgroup.
	Cgroups []uint32
}

// Hook tells packet helpers whose variant to follow where Linux has one
// helper id with several implementations (bpf_redirect).
type Hook uint8

// Packet hooks.
const (
	HookXDP    Hook = iota // XDP programs: bpf_xdp_redirect and the XDP return codes
	HookTC                 // tc programs: bpf_redirect with TC_ACT_* return codes
	HookSocket             // socket filters and other skb programs
)

// Packet describes the packet of a packet program: where the context keeps
// its packet pointers and the buffer around the packet. The runtime lays
// out the context so that each pointer is a 64-bit word at a fixed offset.
type Packet struct {
	// Ctx is the address of the context, the value the program gets in
	// r1. Packet helpers reject any other context argument.
	Ctx uint64
	// For HookTC and HookSocket, Ctx is a struct __sk_buff whose scalar
	// fields sit at their offsets: the skb helpers read len and protocol
	// and keep pkt_type and hash up to date there.
	//
	// DataOff, DataEndOff and DataMetaOff are the offsets in the context
	// of the 64-bit words holding data, data_end and data_meta. A negative
	// DataMetaOff means the packet has no metadata area (like a driver
	// without XDP metadata support).
	DataOff, DataEndOff, DataMetaOff int
	// HardStart is the start of the buffer (xdp->data_hard_start).
	// HardEnd is the end of the usable buffer, xdp_data_hard_end(): the
	// frame end minus the tailroom Linux keeps for struct
	// skb_shared_info (see TestRunFrame).
	HardStart, HardEnd uint64
	// Region is the index in Env.Regions of the packet region, which the
	// helpers that move the packet keep equal to [data_meta, data_end)
	// (or [data, data_end) without metadata); -1 for none.
	Region int
	// Hook selects hook-specific helper semantics.
	Hook Hook
	// MaxMeta is the largest metadata area bpf_xdp_adjust_meta allows:
	// 0 means 32 (Linux up to 6.x); set 252 to follow newer kernels,
	// whose limit is the u8 skb_shared_info.meta_len.
	MaxMeta int

	bMeta, bData, bEnd uint64 // see SetBounds
}

// Frame layout constants of Linux on 64-bit hosts.
const (
	// XDPPacketHeadroom is XDP_PACKET_HEADROOM, the headroom before data.
	XDPPacketHeadroom = 256
	// XDPFrameSize is sizeof(struct xdp_frame), the headroom
	// bpf_xdp_adjust_head and bpf_xdp_adjust_meta must leave.
	XDPFrameSize = 40
	// SkbSharedInfoSize is SKB_DATA_ALIGN(sizeof(struct
	// skb_shared_info)), the tailroom bpf_xdp_adjust_tail must leave.
	SkbSharedInfoSize = 320
	// TestRunFrameSize is the frame BPF_PROG_TEST_RUN gives XDP programs
	// (one page).
	TestRunFrameSize = 4096
	// ETHHeaderLen is ETH_HLEN, the shortest packet XDP helpers leave.
	ETHHeaderLen = 14
)

// RedirectKind says where a program asked its packet to go.
type RedirectKind uint8

// Redirect targets.
const (
	RedirectNone    RedirectKind = iota
	RedirectIfindex              // bpf_redirect: Ifindex and Flags
	RedirectMap                  // bpf_redirect_map: Map, Key and Flags
)

// Redirect is the redirect target a program recorded, like the kernel's
// struct bpf_redirect_info.
type Redirect struct {
	Kind    RedirectKind
	Ifindex uint32
	Map     maps.Map
	Key     uint32
	Flags   uint64
}

// scratch layout: one key slot per callback nesting level, then a small
// area for keys built by helpers (redirect_map).
const (
	keySlotSize   = 512 // MAX_BPF_STACK: the largest map key
	maxNesting    = api.MaxCallDepth
	miscOff       = 2 * keySlotSize * maxNesting
	scratchSize   = miscOff + 64
	maxPrintfArgs = 12  // MAX_BPRINTF_VARARGS
	binArgsSize   = 512 // MAX_BPRINTF_BIN_ARGS
	printBufSize  = 1024
)

// Run is the per-run state of the helpers. Put a pointer to it in
// api.Env.Context. A Run may be reused for consecutive runs (call
// Reset between them) but not shared by concurrent runs.
//
// Callback helpers (bpf_for_each_map_elem) hand programs pointers into a
// scratch block the Run owns, as read-only key objects.
type Run struct {
	// CPU is the CPU index the run uses for per-CPU maps and
	// bpf_get_smp_processor_id; it stays fixed for the run.
	CPU int
	// Maps resolves the map pointers programs pass to helpers.
	Maps *MapTable
	// Trace receives bpf_trace_printk and bpf_trace_vprintk messages, one
	// Write per message (nil: discarded).
	Trace io.Writer
	// Clock answers the time helpers (nil: SystemClock).
	Clock Clock
	// Task is the current task for the get_current_* helpers (nil: no
	// task, and they fail as in Linux outside task context).
	Task *Task
	// Probe reads memory for bpf_probe_read* and printf's %s and %pI
	// (nil: RegionReader, the run's own memory only).
	Probe ProbeReader
	// Packet describes the packet of packet programs (nil for others).
	Packet *Packet
	// Redirect is where the program asked the packet to go.
	Redirect Redirect
	// Devices are the host's network devices for bpf_clone_redirect and
	// bpf_fib_lookup (nil: the loopback device alone).
	Devices Devices
	// FIB answers bpf_fib_lookup for AF_INET and AF_INET6 (nil: as a
	// host with forwarding disabled; see FIBLookup).
	FIB FIBLookup

	tailCalls int
	hashValid bool   // skb->hash is set (sw_hash or l4_hash in Linux)
	cookie    uint64 // socket cookie handed out, 0 if none yet
	hdr       skbHeaders
	tunnel    tunnelInfo
	lock      uintptr       // spin lock held, 0 if none
	reserved  []reservation // ring buffer records not yet submitted or discarded
	nesting   int           // callback helpers in progress
	rng       uint64
	scratch   *platform.Memory
	scratchB  []byte
	printBuf  [printBufSize]byte
	binArgs   [binArgsSize]byte
	chunk     [64]byte
	fmtArgs   [maxPrintfArgs]uint64
	prep      [maxPrintfArgs]prepared
}

// reservation is a ring buffer record a run reserved.
type reservation struct {
	rb   *maps.RingBufMap
	addr uint64
}

// released forgets the reservation of the record at addr.
func (r *Run) released(addr uint64) {
	for i, x := range r.reserved {
		if x.addr == addr {
			r.reserved = append(r.reserved[:i], r.reserved[i+1:]...)
			return
		}
	}
}

// Release ends what a run left held: a bpf_spin_lock is released and ring
// buffer records not submitted or discarded are discarded, so that other
// runs and readers go on. It returns ErrSpinLock or ErrLeakedReservation
// when it found such a thing (Linux's verifier refuses programs that
// could leave one), nil otherwise.
func (r *Run) Release() error {
	var errs []error
	if r.lock != 0 {
		maps.SpinUnlock(r.lock)
		r.lock = 0
		errs = append(errs, fmt.Errorf("%w: the program exited holding a bpf_spin_lock (released)", ErrSpinLock))
	}
	if n := len(r.reserved); n > 0 {
		for _, x := range r.reserved {
			x.rb.Discard(uintptr(x.addr), 0)
		}
		r.reserved = r.reserved[:0]
		errs = append(errs, fmt.Errorf("%w: %d record(s), discarded", ErrLeakedReservation, n))
	}
	return errors.Join(errs...)
}

// NewRun returns a Run using maps, with its scratch memory allocated.
// Close frees it.
func NewRun(t *MapTable) (*Run, error) {
	mem, err := platform.Alloc(scratchSize)
	if err != nil {
		return nil, fmt.Errorf("helpers: scratch: %w", err)
	}
	return &Run{Maps: t, scratch: mem, scratchB: mem.Bytes()[:scratchSize]}, nil
}

// MemorySize returns the bytes of memory the Run holds outside the Go heap.
func (r *Run) MemorySize() int {
	if r.scratch == nil {
		return 0
	}
	return scratchSize
}

// Close frees the scratch memory. The Run must not be used afterwards.
func (r *Run) Close() error {
	if r.scratch == nil {
		return nil
	}
	err := r.scratch.Free()
	r.scratch, r.scratchB = nil, nil
	return err
}

// Reset clears what one run leaves behind: the redirect target, the tail
// call count, callback nesting, the skb's hash state, header positions and
// tunnel metadata, and the socket cookie (a test run's skb and socket are
// new each time). What the run left held is released (see Release); a
// spin lock still held is reported.
func (r *Run) Reset() (heldLock bool) {
	r.Redirect = Redirect{}
	r.tailCalls, r.nesting = 0, 0
	r.hashValid, r.cookie = false, 0
	r.hdr, r.tunnel = skbHeaders{}, tunnelInfo{}
	held := r.lock != 0
	r.Release()
	return held
}

// SeedRandom makes bpf_get_prandom_u32 deterministic from seed.
func (r *Run) SeedRandom(seed uint64) { r.rng = seed | 1 }

// runOf returns the Run of the helper call.
func runOf(c *api.HelperCall) (*Run, error) {
	if r, ok := c.Env().Context.(*Run); ok {
		return r, nil
	}
	return nil, ErrNoRun
}

// errno returns -e as a helper result.
func errno(e maps.Errno) uint64 { return uint64(-int64(e)) }

// Linux errno values the helpers return besides those of package maps.
const (
	eFAULT    maps.Errno = 14
	eRANGE    maps.Errno = 34
	eACCES    maps.Errno = 13
	eNOENT               = maps.ENOENT
	eINVAL               = maps.EINVAL
	e2BIG                = maps.E2BIG
	eNOSPC               = maps.ENOSPC
	eOPNOTSUP            = maps.EOPNOTSUPP
	eNOTSUPP  maps.Errno = 524 // the kernel-internal ENOTSUPP
)
