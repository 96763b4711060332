package testrun

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/ctxaccess"
)

// The context checks of BPF_PROG_TEST_RUN: bpf_ctx_init for every struct
// context, xdp_md's in bpf_prog_test_run_xdp and xdp_convert_md_to_buff,
// __sk_buff's in bpf_prog_test_run_skb and convert___skb_to_skb.

const (
	// maxContextIn is the largest ctx_size_in bpf_check_uarg_tail_zero
	// takes (PAGE_SIZE).
	maxContextIn = 4096
	// xdpMetaMax is the largest XDP metadata length
	// (skb_shared_info.meta_len is a u8); metadata must also fit in the
	// headroom struct xdp_frame leaves (helpers.XDPFrameSize).
	xdpMetaMax = 255
	// gsoLegacyMaxSize bounds a given wire_len, gsoMaxSegs gso_segs.
	gsoLegacyMaxSize = 65536
	gsoMaxSegs       = 65535
	loopbackIfindex  = 1
)

// CheckPacket refuses a packet data the kernel's test run refuses for a
// program of packet kind k (ErrShortPacket, or a packet longer than the
// linear part for kinds other than XDP) and splits it into the linear
// part of the frame and, for XDP, the tail past it. Custom kinds may
// have packets shorter than an Ethernet header. Kind None has no packet
// to check (ErrNotPacket).
func CheckPacket(k Kind, data []byte) (linear, tail []byte, err error) {
	return checkPacket(k, data, k != Custom)
}

// CheckPacketAnyLength is CheckPacket without the Ethernet header's
// minimum for XDP, which no run of Linux hands a program: the verifier
// assumes no packet length, and the runs of its soundness oracle (tests
// only) show it with packets of 0 to 13 bytes. Skb kinds keep the
// minimum: their frame's layout reads the Ethernet header.
func CheckPacketAnyLength(k Kind, data []byte) (linear, tail []byte, err error) {
	return checkPacket(k, data, k == SkbL2 || k == SkbL3)
}

// checkPacket is CheckPacket, refusing packets shorter than an Ethernet
// header if ethernet is set.
func checkPacket(k Kind, data []byte, ethernet bool) (linear, tail []byte, err error) {
	if k == None {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotPacket, k)
	}
	if len(data) < helpers.ETHHeaderLen && ethernet {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than an Ethernet header", ErrShortPacket, len(data))
	}
	if k == SkbL2 || k == SkbL3 {
		// Test-run refuses an IP packet shorter than its header.
		switch l3 := len(data) - helpers.ETHHeaderLen; binary.BigEndian.Uint16(data[12:]) {
		case 0x0800:
			if l3 < 20 {
				return nil, nil, fmt.Errorf("%w: IPv4 packet with %d bytes after the Ethernet header", ErrShortPacket, l3)
			}
		case 0x86dd:
			if l3 < 40 {
				return nil, nil, fmt.Errorf("%w: IPv6 packet with %d bytes after the Ethernet header", ErrShortPacket, l3)
			}
		}
	}
	if len(data) > MaxLinearData {
		if k != XDP {
			return nil, nil, fmt.Errorf("packet of %d bytes exceeds %d", len(data), MaxLinearData)
		}
		return data[:MaxLinearData], data[MaxLinearData:], nil
	}
	return data, nil, nil
}

// TrimContext applies bpf_ctx_init's rule to a context ctx given for
// struct c: the bytes past the struct must be zero (the kernel returns
// E2BIG otherwise, and for more than a page: ErrContextTooLarge); they
// are dropped.
func TrimContext(ctx []byte, c *ctxaccess.Layout) ([]byte, error) {
	if len(ctx) <= c.Size {
		return ctx, nil
	}
	if len(ctx) > maxContextIn {
		return nil, fmt.Errorf("%w: %d bytes, more than a page (struct %s has %d)", ErrContextTooLarge, len(ctx), c.Name, c.Size)
	}
	if i := slices.IndexFunc(ctx[c.Size:], func(b byte) bool { return b != 0 }); i >= 0 {
		return nil, fmt.Errorf("%w: %d bytes, struct %s has %d and byte %d past it is not zero", ErrContextTooLarge, len(ctx), c.Name, c.Size, c.Size+i)
	}
	return ctx[:c.Size], nil
}

// CheckContext checks the context in.Ctx of a run on data, of a program
// of packet kind k with context c, as BPF_PROG_TEST_RUN does when the run
// has a context (in.HaveCtx): the rules of struct xdp_md and struct
// __sk_buff (ErrInvalidContext, ErrShortPacket), none for other structs.
// For an xdp_md it lays the packet out in in as the context says:
// metadata first, data_end ending the linear part. in.Linear must be what
// CheckPacket left.
func CheckContext(k Kind, c *ctxaccess.Layout, data []byte, in *Input) error {
	if !in.HaveCtx {
		return nil
	}
	switch structOf(k, c) {
	case xdpMD:
		return checkXDPContext(data, in)
	case skBuff:
		return checkSkbContext(k, c, in)
	}
	return nil
}

// ctxWord returns the 32-bit word at off of a context given with at most
// size bytes, zero-extended as the kernel's bpf_ctx_init does.
func ctxWord(ctx []byte, off int) uint32 {
	var w [4]byte
	if off < len(ctx) {
		copy(w[:], ctx[off:])
	}
	return binary.NativeEndian.Uint32(w[:])
}

func invalidContext(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidContext, fmt.Sprintf(format, args...))
}

// checkXDPContext is bpf_prog_test_run_xdp's and xdp_convert_md_to_buff's
// checks of struct xdp_md: data_meta 0, data_end within the data, data
// (the metadata's length, a multiple of 4 that fits the headroom) before
// data_end, at least an Ethernet header after the metadata, no egress
// device, and the loopback's one rx queue.
func checkXDPContext(data []byte, in *Input) error {
	ctx := in.Ctx
	meta, end := ctxWord(ctx, 0), ctxWord(ctx, 4)
	switch dataMeta := ctxWord(ctx, 8); {
	case dataMeta != 0:
		return invalidContext("xdp_md.data_meta is %d, must be 0 (the metadata starts the data)", dataMeta)
	case uint64(end) > uint64(len(data)):
		return invalidContext("xdp_md.data_end is %d, beyond the %d bytes of data", end, len(data))
	case meta > end:
		return invalidContext("xdp_md.data (%d) is after data_end (%d)", meta, end)
	case meta%4 != 0 || meta > xdpMetaMax:
		return invalidContext("xdp_md.data is %d: the metadata's length must be a multiple of 4 up to %d", meta, xdpMetaMax)
	case meta > XDPHeadroom-helpers.XDPFrameSize:
		return invalidContext("xdp_md.data is %d: the metadata must fit in the %d bytes of headroom after struct xdp_frame", meta, XDPHeadroom-helpers.XDPFrameSize)
	case len(data)-int(meta) < helpers.ETHHeaderLen:
		return fmt.Errorf("%w: %d bytes after %d bytes of metadata, shorter than an Ethernet header", ErrShortPacket, len(data)-int(meta), meta)
	}
	ingress, rxq := ctxWord(ctx, 12), ctxWord(ctx, 16)
	switch egress := ctxWord(ctx, 20); {
	case egress != 0:
		return invalidContext("xdp_md.egress_ifindex is %d, must be 0", egress)
	case ingress == 0 && rxq != 0:
		return invalidContext("xdp_md.rx_queue_index is %d without an ingress_ifindex", rxq)
	case ingress > loopbackIfindex:
		return invalidContext("xdp_md.ingress_ifindex %d: xebpf's test runs have the loopback device (ifindex 1) only", ingress)
	case ingress == loopbackIfindex && rxq != 0:
		return invalidContext("xdp_md.rx_queue_index is %d: the loopback device has rx queue 0 only", rxq)
	}
	// The kernel copies data_end bytes (at most a frame's worth after
	// the metadata) into the linear part, the rest into fragments.
	linear := min(int(end), MaxLinearData+int(meta))
	in.Linear, in.Tail, in.Meta = data[:linear], nil, int(meta)
	if linear < len(data) {
		in.Tail = data[linear:]
	}
	return nil
}

// skbContextIn are the __sk_buff bytes (offset, size) convert___skb_to_skb
// lets a test run's context set; every other byte must be zero.
var skbContextIn = [...][2]int{
	{8, 4},    // mark
	{32, 12},  // priority, ingress_ifindex, ifindex
	{48, 20},  // cb[5]
	{152, 16}, // tstamp, wire_len, gso_segs
	{176, 4},  // gso_size
	{184, 8},  // hwtstamp
}

// skbSettable marks the bytes of skbContextIn.
var skbSettable = func() (a [skBuffSize]bool) {
	for _, f := range skbContextIn {
		for i := f[0]; i < f[0]+f[1]; i++ {
			a[i] = true
		}
	}
	return a
}()

// checkSkbContext is bpf_prog_test_run_skb's and convert___skb_to_skb's
// checks of struct __sk_buff: only the fields it takes are set, ifindex
// names a device (xebpf has the loopback only), wire_len is 0 or at least
// the skb's length, gso_segs fits.
func checkSkbContext(k Kind, c *ctxaccess.Layout, in *Input) error {
	ctx := in.Ctx
	if ifindex := ctxWord(ctx, 40); ifindex > loopbackIfindex {
		return invalidContext("__sk_buff.ifindex %d: xebpf's test runs have the loopback device (ifindex 1) only", ifindex)
	}
	for i, b := range ctx {
		if b != 0 && !skbSettable[i] {
			return invalidContext("%s is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp", skbFieldAt(c, i))
		}
	}
	skbLen := len(in.Linear)
	if k == SkbL3 {
		skbLen -= helpers.ETHHeaderLen
	}
	if wire := ctxWord(ctx, 160); wire != 0 && (uint64(wire) < uint64(skbLen) || wire > gsoLegacyMaxSize) {
		return invalidContext("__sk_buff.wire_len is %d: it must be 0 or from the skb's length (%d) to %d", wire, skbLen, gsoLegacyMaxSize)
	}
	if segs := ctxWord(ctx, 164); segs > gsoMaxSegs {
		return invalidContext("__sk_buff.gso_segs is %d, more than %d", segs, gsoMaxSegs)
	}
	return nil
}

// skbFieldAt names the field of __sk_buff c holding byte off.
func skbFieldAt(c *ctxaccess.Layout, off int) string {
	for _, f := range c.Fields {
		if off >= f.Offset && off < f.Offset+f.Size {
			return "__sk_buff." + f.Name
		}
	}
	return fmt.Sprintf("__sk_buff byte %d (padding)", off)
}
