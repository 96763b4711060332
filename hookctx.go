package xebpf

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf/internal/testrun"
)

// HookContext is what a hook that runs programs on real events (an XDP
// hook on a network interface) tells a run beyond what a test run's
// context may say: BPF_PROG_TEST_RUN only has the loopback device, so a
// test run's xdp_md.ingress_ifindex is 1 and rx_queue_index 0. Set it in
// RunOptions.Hook.
type HookContext struct {
	// IngressIfindex and RxQueueIndex are the interface and the receive
	// queue an XDP program's frame arrived on (xdp_md.ingress_ifindex and
	// rx_queue_index). 0 leaves the test run's loopback.
	IngressIfindex, RxQueueIndex uint32
}

// ErrHookContext is returned by runs whose RunOptions.Hook does not fit
// the program or the context: a HookContext for a program that is not
// XDP, or with a context that sets the fields itself.
var ErrHookContext = errors.New("hook context does not apply")

// applyHook sets the run's input from h.
func (p *Program) applyHook(h *HookContext, r *testrun.Input) error {
	if h.IngressIfindex == 0 {
		if h.RxQueueIndex != 0 {
			return fmt.Errorf("%w: rx_queue_index %d without an ingress_ifindex", ErrHookContext, h.RxQueueIndex)
		}
		return nil
	}
	if p.kind() != testrun.XDP {
		return fmt.Errorf("%w: an ingress interface for a %v program: XDP programs only", ErrHookContext, p.Type())
	}
	for _, b := range ctxIngressBytes(r.Ctx) {
		if b != 0 {
			return fmt.Errorf("%w: the context sets ingress_ifindex or rx_queue_index, and so does the hook", ErrHookContext)
		}
	}
	r.Ingress, r.RxQueue = h.IngressIfindex, h.RxQueueIndex
	return nil
}

// ctxIngressBytes returns the xdp_md bytes of ingress_ifindex and
// rx_queue_index a context gives (fewer, or none, for a short one).
func ctxIngressBytes(ctx []byte) []byte {
	if len(ctx) <= 12 {
		return nil
	}
	return ctx[12:min(len(ctx), 20)]
}
