package kernel

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

var probeLayoutOnce = sync.OnceValues(ProbeLayout)

// ProbeLayout measures the running kernel's Layout: an XDP program calls
// bpf_xdp_adjust_head or bpf_xdp_adjust_tail with an offset the packet
// carries, and a binary search finds the largest move each accepts.
func ProbeLayout() (Layout, error) {
	if err := Available(); err != nil {
		return Layout{}, err
	}
	head, err := adjustLimit(asm.FnXdpAdjustHead, -1)
	if err != nil {
		return Layout{}, fmt.Errorf("probe XDP headroom: %w", err)
	}
	tail, err := adjustLimit(asm.FnXdpAdjustTail, 1)
	if err != nil {
		return Layout{}, fmt.Errorf("probe XDP tailroom: %w", err)
	}
	return Layout{XDPHeadroom: head, XDPLinear: layoutProbeLen + tail}, nil
}

// layoutProbeLen is the length of the probe's packet.
const layoutProbeLen = 64

// adjustLimit returns the largest n for which fn(ctx, sign*n) succeeds on
// a packet of layoutProbeLen bytes, searching up to a 64 KiB page.
func adjustLimit(fn asm.BuiltinFunc, sign int32) (int, error) {
	// r0 = fn(ctx, *(s32 *)(data + 14)), or -1 for a packet too short.
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.XDP,
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R2, asm.R6, 0, asm.Word),
			asm.LoadMem(asm.R3, asm.R6, 4, asm.Word),
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 18),
			asm.JGT.Reg(asm.R4, asm.R3, "short"),
			asm.LoadMem(asm.R2, asm.R2, 14, asm.Word),
			asm.Mov.Reg(asm.R1, asm.R6),
			fn.Call(),
			asm.Return(),
			asm.Mov.Imm(asm.R0, -1).WithSymbol("short"),
			asm.Return(),
		},
		License: "GPL",
	})
	if err != nil {
		return 0, fmt.Errorf("%w: load the probe: %v", ErrUnavailable, err)
	}
	defer prog.Close()
	accepts := func(n int) (bool, error) {
		pkt := make([]byte, layoutProbeLen)
		binary.NativeEndian.PutUint32(pkt[14:], uint32(sign*int32(n)))
		r0, err := prog.Run(&ebpf.RunOptions{Data: pkt, DataOut: make([]byte, layoutProbeLen+1<<16)})
		if err != nil {
			return false, fmt.Errorf("%w: test-run the probe: %v", ErrUnavailable, err)
		}
		return r0 == 0, nil
	}
	lo, hi := 0, 1<<16 // accepts(lo); not accepts(hi)
	if ok, err := accepts(lo); err != nil || !ok {
		return 0, fmt.Errorf("%w: the probe refuses a move of 0 (err %v)", ErrUnavailable, err)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := accepts(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
