package kernel

import (
	"errors"
	"fmt"
)

// Layout is the shape of the frame BPF_PROG_TEST_RUN gives an XDP program,
// which depends on the kernel's version, configuration and page size.
// xebpf's own test-run frames follow ModelLayout; results that depend on
// the frame's size (bpf_xdp_adjust_head and _tail at their limits, the
// skb helpers growing a packet to the frame's end, the length of linear
// data) agree with the kernel's only where its layout is the same.
type Layout struct {
	// XDPHeadroom is how far bpf_xdp_adjust_head can move data back:
	// XDP_PACKET_HEADROOM less struct xdp_frame.
	XDPHeadroom int
	// XDPLinear is the longest packet the frame holds: a page less
	// XDP_PACKET_HEADROOM and struct skb_shared_info.
	XDPLinear int
}

// ModelLayout is the layout xebpf follows, Linux 6.18's on 4 KiB pages:
// 256 bytes of XDP_PACKET_HEADROOM of which struct xdp_frame takes 40,
// and 320 bytes of struct skb_shared_info at the end of the page (the skb
// helpers' 3776-byte frame is the page less the same 320 bytes).
var ModelLayout = Layout{XDPHeadroom: 216, XDPLinear: 3520}

// ErrOtherLayout is returned (wrapped) by CheckLayout for a kernel whose
// test-run frame differs from ModelLayout.
var ErrOtherLayout = errors.New("test-run frame differs from the one xebpf models")

// CheckLayout returns nil when the running kernel's test-run frame has
// xebpf's layout (ModelLayout). Otherwise its error names the kernel's
// release and what differs, wrapping ErrOtherLayout, or wraps
// ErrUnavailable when the kernel cannot be asked: tests comparing results
// that depend on the frame's size skip with it.
func CheckLayout() error {
	l, err := probeLayoutOnce()
	if err != nil {
		return err
	}
	if l != ModelLayout {
		return fmt.Errorf("kernel %s: %w: XDP headroom %d and linear length %d, where xebpf follows Linux 6.18 on 4 KiB pages (%d and %d)",
			Release(), ErrOtherLayout, l.XDPHeadroom, l.XDPLinear, ModelLayout.XDPHeadroom, ModelLayout.XDPLinear)
	}
	return nil
}
