package xebpf_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/verifier"
)

// loopsC are clang-built loops of the kinds the verifier proves to end,
// and near misses it must not prove: each reads its inputs from the
// packet (n at byte 0, a flag at byte 4).
const loopsC = `#include "xebpf/bpf.h"

static __always_inline int input(struct xdp_md *ctx, __u32 *n, __u32 *flag)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 8 > end)
		return -1;
	*n = *(__u32 *)data;
	*flag = *(__u32 *)(data + 4);
	return 0;
}

SEC("xdp")
int stride_ne(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 0; i != 12000; i += 8)
		sink += i ^ n;
	return XDP_PASS;
}

SEC("xdp")
int n_bounded(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	if (n > 1000)
		return XDP_DROP;
	for (__u32 i = 0; i < n; i++)
		sink += i;
	return XDP_PASS;
}

SEC("xdp")
int n_u32(struct xdp_md *ctx)
{
	__u32 n, flag, s = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 0; i < n; i++)
		s = s * 7 + i;
	return s & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int n_stack(struct xdp_md *ctx)
{
	__u32 flag, s = 0;
	volatile __u32 n;
	if (input(ctx, (__u32 *)&n, &flag))
		return XDP_ABORTED;
	n &= 0xfff;
	for (__u32 i = 0; i < n; i++)
		s = s * 7 + i;
	return s & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int two_steps(struct xdp_md *ctx)
{
	__u32 n, flag, s = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 0; i < 1000;) {
		if ((flag >> (i & 31)) & 1)
			i += 4;
		else
			i += 1;
		s += i;
	}
	return s & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int fold(struct xdp_md *ctx)
{
	__u32 n, flag;
	__u64 sum;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	sum = (__u64)n << 32 | flag;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int wrong_residue(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 1; i != 12000; i += 8)
		sink += i;
	return XDP_PASS;
}

SEC("xdp")
int n_moves(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	/* 64-bit: n = i + 2 wraps only after 2^64 iterations */
	for (__u64 i = 0, m = n; i < m; i++) {
		if (flag)
			m = i + 2;
		sink += i;
	}
	return XDP_PASS;
}

SEC("xdp")
int both_ways(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 500; i > 0 && i < 1000; sink++) {
		if ((flag >> (sink & 31)) & 1)
			i += 1;
		else
			i -= 1;
	}
	return XDP_PASS;
}

SEC("xdp")
int wraps(struct xdp_md *ctx)
{
	__u32 n, flag;
	volatile __u32 sink = 0;
	if (input(ctx, &n, &flag))
		return XDP_ABORTED;
	for (__u32 i = 16000; i != 12000; i += 8)
		sink += i;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
`

// TestLoopTermination verifies clang-built loops: those the verifier
// proves to end run in checked mode within MaxInstructions on inputs that
// drive them to their longest and shortest runs; the near misses are
// rejected with the loop's source line, and run only unverified, where
// the inputs that make them loop forever meet the budget.
func TestLoopTermination(t *testing.T) {
	obj := buildC(t, "loops", loopsC)
	spec, err := xebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	in := func(n, flag uint32) []byte {
		p := make([]byte, 64)
		binary.LittleEndian.PutUint32(p, n)
		binary.LittleEndian.PutUint32(p[4:], flag)
		return p
	}
	tests := []struct {
		name   string
		reject string // "": proven to end
		inputs [][]byte
		// forever, for a rejected program, is an input it loops on
		// until the budget ends it.
		forever []byte
		// maxBound is what MaxInstructions must not exceed.
		maxBound uint64
	}{
		{"stride_ne", "", [][]byte{in(0, 0)}, nil, 20_000},
		{"n_bounded", "", [][]byte{in(0, 0), in(1, 0), in(1000, 0), in(1001, 0)}, nil, 10_000},
		{"n_u32", "", [][]byte{in(0, 0), in(7, 0), in(3000, 0)}, nil, 1 << 40},
		{"n_stack", "", [][]byte{in(0, 0), in(0xfff, 0), in(0xffffffff, 0)}, nil, 100_000},
		{"two_steps", "", [][]byte{in(0, 0), in(0, 0xffffffff), in(0, 0x5555aaaa)}, nil, 100_000},
		{"fold", "", [][]byte{in(0, 0), in(0xffffffff, 0xffffffff), in(0x10000, 0xffff)}, nil, 1000},
		{"wrong_residue", "r1 starts at 1 and the first iteration adds 8 on every way back, but the exit at pc 16 needs r2 == 12000", nil, in(0, 0), 0},
		{"n_moves", "is not shown to be the same on every iteration", nil, in(10, 1), 0},
		{"both_ways", "is not proven to end", nil, in(0, 0xaaaaaaaa), 0},
		{"wraps", "r1 starts at 16000, past its exit", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			one := &xebpf.CollectionSpec{Programs: map[string]*xebpf.ProgramSpec{tt.name: spec.Programs[tt.name]}, Maps: spec.Maps}
			p, err := xebpf.VerifyProgram(spec, tt.name, xebpf.VerifyOptions{})
			if tt.reject != "" {
				var ve *verifier.Error
				if err == nil || !errors.As(err, &ve) || !errors.Is(err, verifier.ErrRejected) || !strings.Contains(err.Error(), tt.reject) {
					t.Fatalf("verify: %v, want a rejection with %q", err, tt.reject)
				}
				if ve.Line == nil || !strings.HasSuffix(ve.Line.File, "loops.c") || !strings.Contains(ve.Line.Text, "for (") {
					t.Errorf("the rejection names %+v, not the loop's source line", ve.Line)
				}
				if tt.forever == nil {
					return
				}
				c, err := xebpf.NewCollectionWithOptions(one, xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked, InstructionBudget: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Programs[tt.name].Run(&xebpf.RunOptions{Data: tt.forever}); !errors.Is(err, api.ErrBudgetExceeded) {
					t.Errorf("run unverified: %v, want the budget to end it", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			bound := p.MaxInstructions()
			if !p.Terminates() || bound > tt.maxBound {
				t.Fatalf("MaxInstructions %d (Terminates %v), want at most %d", bound, p.Terminates(), tt.maxBound)
			}
			c, err := xebpf.NewCollectionWithOptions(one, xebpf.CollectionOptions{Checked: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			most := uint64(0)
			for _, data := range tt.inputs {
				opts := &xebpf.RunOptions{Data: data}
				if _, err := c.Programs[tt.name].Run(opts); err != nil {
					t.Fatalf("input %x: %v", data[:8], err)
				}
				if opts.Instructions > bound {
					t.Errorf("input %x: executed %d instructions, over MaxInstructions %d", data[:8], opts.Instructions, bound)
				}
				most = max(most, opts.Instructions)
			}
			t.Logf("%s: MaxInstructions %d, longest run %d", tt.name, bound, most)
		})
	}
}
