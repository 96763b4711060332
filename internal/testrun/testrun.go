// Package testrun is the environment of Linux's BPF_PROG_TEST_RUN that
// Program.Run reproduces (net/bpf/test_run.c, as of 6.18): the frame a
// packet is laid out in, the kinds of packet a program type's context
// points into, the checks the kernel applies to a test run's packet and
// context, the layout of the frame and the context before a run, and what
// the kernel copies out of them after it.
//
// A run goes CheckPacket, TrimContext and CheckContext (which fill an
// Input), Frame.Setup, the program, then Frame.PacketOut and
// Program.ContextOut. The package knows nothing of run options, engines
// or lifetimes: its functions work on byte slices, a context's layout and
// small structs (Program is the little it needs of a program).
package testrun

import (
	"errors"
	"strconv"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
)

// The frame of a test run on a 64-bit host.
const (
	// FrameSize is the frame BPF_PROG_TEST_RUN lays a packet out in (one
	// page).
	FrameSize = helpers.TestRunFrameSize
	// XDPHeadroom is XDP_PACKET_HEADROOM: the packet starts this far into
	// the frame, for every kind; XDP metadata ends there.
	XDPHeadroom = helpers.XDPPacketHeadroom
	// MaxLinearData is the most packet the frame's linear part holds: the
	// frame less the headroom and the tailroom struct skb_shared_info
	// takes (3520 bytes).
	MaxLinearData = FrameSize - XDPHeadroom - helpers.SkbSharedInfoSize
)

// Errors of the checks and copies, which the root package exports under
// the same names.
var (
	// ErrShortPacket: a packet shorter than an Ethernet header, or an IP
	// packet shorter than its header.
	ErrShortPacket = errors.New("packet too short")
	// ErrDataOutTooSmall: the buffer for the packet after the run cannot
	// hold it.
	ErrDataOutTooSmall = errors.New("DataOut is too small for the packet")
	// ErrContextTooLarge: a context longer than its struct with bytes
	// past it that are not zero, or longer than a page.
	ErrContextTooLarge = errors.New("context larger than the program type's struct")
	// ErrInvalidContext: a context BPF_PROG_TEST_RUN refuses (EINVAL, or
	// ENODEV for a device xebpf's test runs do not have).
	ErrInvalidContext = errors.New("invalid context")
	// ErrNotPacket: CheckPacket or PacketOut was asked about kind None.
	ErrNotPacket = errors.New("not a packet kind")
)

// Kind is how a program type's context relates to the packet of a run.
type Kind uint8

// The packet kinds.
const (
	None   Kind = iota // no packet
	XDP                // xdp_buff in a FrameSize frame with XDPHeadroom before the data
	SkbL2              // skb starting at the Ethernet header (TC)
	SkbL3              // skb starting at the network header (socket filter)
	Custom             // a host type whose context has packet pointer fields
)

// String returns the kind's name ("xdp", "skb-l2").
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case XDP:
		return "xdp"
	case SkbL2:
		return "skb-l2"
	case SkbL3:
		return "skb-l3"
	case Custom:
		return "custom"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf returns the packet kind of a program type declared with kind
// declared and context c: declared for the built-in packet types, else
// Custom if c has a packet start pointer field, else None.
func KindOf(declared Kind, c *ctxaccess.Layout) Kind {
	if declared != None {
		return declared
	}
	if c == nil {
		return None
	}
	if _, ok := c.PointerOffset(ctxaccess.PacketStart); ok {
		return Custom
	}
	return None
}

// ctxStruct is a context struct whose test-run rules the kernel applies.
type ctxStruct uint8

const (
	otherStruct ctxStruct = iota // bpf_ctx_init's rule only
	xdpMD                        // struct xdp_md
	skBuff                       // struct __sk_buff
)

// structOf returns which of the kernel's context structs a program of
// packet kind k runs on with context c.
func structOf(k Kind, c *ctxaccess.Layout) ctxStruct {
	switch {
	case c == nil:
	case k == XDP && c.Name == "xdp_md" && c.Size == xdpMDSize:
		return xdpMD
	case (k == SkbL2 || k == SkbL3) && c.Name == "__sk_buff" && c.Size == skBuffSize:
		return skBuff
	}
	return otherStruct
}

// Sizes of the kernel's context structs.
const (
	xdpMDSize  = 24
	skBuffSize = 192
)

// Input is a run's context and packet as the checks leave them for
// Frame.Setup.
type Input struct {
	// Ctx is the initial context (nil: zero), trimmed to its struct.
	Ctx []byte
	// CtxSize is the context's memory size: the struct and its pointer
	// words, or a raw context's size. Setup clears that much.
	CtxSize int
	// Linear is the packet's linear part, XDP metadata first; Tail is the
	// rest, which an XDP frame holds in fragments.
	Linear, Tail []byte
	// Meta is the number of bytes of XDP metadata starting Linear.
	Meta int
	// HaveCtx is set when the run has a context: given, or asked back.
	HaveCtx bool
	// Ingress and RxQueue, if Ingress is not 0, are the xdp_md's
	// ingress_ifindex and rx_queue_index instead of the loopback's: a
	// hook's frame from a real interface (never a test run's).
	Ingress, RxQueue uint32
}
