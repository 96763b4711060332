package xebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/xebpf/xebpf/helpers"
)

// The context checks of BPF_PROG_TEST_RUN (Linux net/bpf/test_run.c, as
// of 6.18): bpf_ctx_init for every struct context, xdp_md's in
// bpf_prog_test_run_xdp and xdp_convert_md_to_buff, __sk_buff's in
// bpf_prog_test_run_skb and convert___skb_to_skb; and what ctx_out holds
// after the run (xdp_convert_buff_to_md, convert_skb_to___skb).

// ErrInvalidContext is returned by Program.Run for a context
// BPF_PROG_TEST_RUN refuses (EINVAL, or ENODEV for a device xebpf's test
// runs do not have).
var ErrInvalidContext = errors.New("invalid context")

const (
	// maxContextIn is the largest ctx_size_in bpf_check_uarg_tail_zero
	// takes (PAGE_SIZE).
	maxContextIn = 4096
	// xdpMetaMax is the largest XDP metadata length
	// (skb_shared_info.meta_len is a u8), xdpFrameSize the headroom
	// struct xdp_frame keeps: metadata must fit in the rest.
	xdpMetaMax   = 255
	xdpFrameSize = 40
	// gsoLegacyMaxSize bounds a given wire_len, gsoMaxSegs gso_segs.
	gsoLegacyMaxSize = 65536
	gsoMaxSegs       = 65535
	loopbackIfindex  = 1
)

// trimContext applies bpf_ctx_init's rule to a context longer than its
// struct: the bytes past the struct must be zero (the kernel returns
// E2BIG otherwise, and for more than a page); they are dropped.
func trimContext(ctx []byte, c *Context) ([]byte, error) {
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

// isXDPMD and isSkBuff report whether the program runs on the built-in
// struct xdp_md or struct __sk_buff, whose test-run rules apply.
func (p *Program) isXDPMD() bool {
	return p.pk == packetXDP && p.typ.Context.Name == xdpContext.Name && p.typ.Context.Size == xdpContext.Size
}

func (p *Program) isSkBuff() bool {
	return (p.pk == packetSkbL2 || p.pk == packetSkbL3) && p.typ.Context.Name == "__sk_buff" && p.typ.Context.Size == 192
}

// checkTestRunContext checks the context of a run as BPF_PROG_TEST_RUN
// does, and lays the XDP packet out as the context says (metadata first,
// data_end ending the linear part).
func (p *Program) checkTestRunContext(data []byte, r *runInput) error {
	if !r.haveCtx {
		return nil
	}
	switch {
	case p.isXDPMD():
		return p.checkXDPContext(data, r)
	case p.isSkBuff():
		return p.checkSkbContext(r)
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
func (p *Program) checkXDPContext(in []byte, r *runInput) error {
	meta, end := ctxWord(r.ctx, 0), ctxWord(r.ctx, 4)
	switch dataMeta := ctxWord(r.ctx, 8); {
	case dataMeta != 0:
		return invalidContext("xdp_md.data_meta is %d, must be 0 (the metadata starts the data)", dataMeta)
	case uint64(end) > uint64(len(in)):
		return invalidContext("xdp_md.data_end is %d, beyond the %d bytes of data", end, len(in))
	case meta > end:
		return invalidContext("xdp_md.data (%d) is after data_end (%d)", meta, end)
	case meta%4 != 0 || meta > xdpMetaMax:
		return invalidContext("xdp_md.data is %d: the metadata's length must be a multiple of 4 up to %d", meta, xdpMetaMax)
	case meta > xdpHeadroom-xdpFrameSize:
		return invalidContext("xdp_md.data is %d: the metadata must fit in the %d bytes of headroom after struct xdp_frame", meta, xdpHeadroom-xdpFrameSize)
	case len(in)-int(meta) < helpers.ETHHeaderLen:
		return fmt.Errorf("%w: %d bytes after %d bytes of metadata, shorter than an Ethernet header", ErrShortPacket, len(in)-int(meta), meta)
	}
	ingress, rxq := ctxWord(r.ctx, 12), ctxWord(r.ctx, 16)
	switch egress := ctxWord(r.ctx, 20); {
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
	linear := min(int(end), maxLinearData+int(meta))
	r.in, r.tail, r.meta = in[:linear], nil, int(meta)
	if linear < len(in) {
		r.tail = in[linear:]
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

// checkSkbContext is bpf_prog_test_run_skb's and convert___skb_to_skb's
// checks of struct __sk_buff: only the fields it takes are set, ifindex
// names a device (xebpf has the loopback only), wire_len is 0 or at least
// the skb's length, gso_segs fits.
func (p *Program) checkSkbContext(r *runInput) error {
	ctx := r.ctx
	if ifindex := ctxWord(ctx, 40); ifindex > loopbackIfindex {
		return invalidContext("__sk_buff.ifindex %d: xebpf's test runs have the loopback device (ifindex 1) only", ifindex)
	}
	var allowed [192]bool
	for _, f := range skbContextIn {
		for i := f[0]; i < f[0]+f[1]; i++ {
			allowed[i] = true
		}
	}
	for i, b := range ctx {
		if b != 0 && !allowed[i] {
			return invalidContext("%s is not zero: a test run's __sk_buff may set only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp", p.skbFieldAt(i))
		}
	}
	skbLen := len(r.in)
	if p.pk == packetSkbL3 {
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

// skbFieldAt names the __sk_buff field holding byte off.
func (p *Program) skbFieldAt(off int) string {
	for _, f := range p.typ.Context.Fields {
		if off >= f.Offset && off < f.Offset+f.Size {
			return "__sk_buff." + f.Name
		}
	}
	return fmt.Sprintf("__sk_buff byte %d (padding)", off)
}

// testRunContextOut turns the context memory after a run (mem, of which
// the first size bytes are the struct) into what the kernel's ctx_out
// holds, in place, and returns it.
func (p *Program) testRunContextOut(ri *runInput, mem []byte, size int) []byte {
	out := mem[:size]
	switch {
	case p.isXDPMD():
		// xdp_convert_buff_to_md: data and data_end relative to
		// data_meta; the other fields as given.
		meta := binary.NativeEndian.Uint64(mem[p.ptrOff[2]:])
		data := binary.NativeEndian.Uint64(mem[p.ptrOff[0]:])
		end := binary.NativeEndian.Uint64(mem[p.ptrOff[1]:])
		clear(out)
		copy(out, ri.ctx)
		binary.NativeEndian.PutUint32(out[0:], uint32(data-meta))
		binary.NativeEndian.PutUint32(out[4:], uint32(end-meta))
	case p.isSkBuff():
		skbContextOut(out)
	}
	return out
}
