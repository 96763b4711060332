package xebpf_test

import (
	"errors"
	"testing"

	"github.com/xebpf/xebpf"
)

// TestHookContext: a hook's RunOptions.Hook gives an XDP program the
// interface and queue its frame arrived on, which test runs limit to the
// loopback's; it applies to XDP programs only, and not over a context
// that sets the fields itself.
func TestHookContext(t *testing.T) {
	ingress, rxq := ctxProgram(t, xebpf.XDP, 12), ctxProgram(t, xebpf.XDP, 16)
	skb := ctxProgram(t, xebpf.SchedCLS, 0)
	pkt := make([]byte, 60)
	for _, tc := range []struct {
		name string
		prog *xebpf.Program
		ctx  []byte
		hook *xebpf.HookContext
		want uint32
		err  error
	}{
		{"test run: the loopback", ingress, nil, nil, 1, nil},
		{"hook: the interface", ingress, nil, &xebpf.HookContext{IngressIfindex: 7, RxQueueIndex: 3}, 7, nil},
		{"hook: the queue", rxq, nil, &xebpf.HookContext{IngressIfindex: 7, RxQueueIndex: 3}, 3, nil},
		{"hook with a context", ingress, words(24), &xebpf.HookContext{IngressIfindex: 9}, 9, nil},
		{"zero hook: the loopback", ingress, nil, &xebpf.HookContext{}, 1, nil},
		{"queue without interface", ingress, nil, &xebpf.HookContext{RxQueueIndex: 2}, 0, xebpf.ErrHookContext},
		{"context sets the interface too", ingress, words(24, 12, 1), &xebpf.HookContext{IngressIfindex: 9}, 0, xebpf.ErrHookContext},
		{"not XDP", skb, nil, &xebpf.HookContext{IngressIfindex: 9}, 0, xebpf.ErrHookContext},
		{"without the hook, the test run's check", ingress, words(24, 12, 7), nil, 0, xebpf.ErrInvalidContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &xebpf.RunOptions{Data: pkt, Context: tc.ctx, Hook: tc.hook}
			got, err := tc.prog.Run(opts)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	// A runner's runs: the hook's value does not stay for the next run.
	r, err := ingress.NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, h := range []*xebpf.HookContext{{IngressIfindex: 5}, nil, {IngressIfindex: 6}} {
		want := uint32(1)
		if h != nil {
			want = h.IngressIfindex
		}
		if got, err := r.Run(&xebpf.RunOptions{Data: pkt, Hook: h}); err != nil || got != want {
			t.Errorf("runner run %d: %d, %v; want %d", i, got, err, want)
		}
	}
}
