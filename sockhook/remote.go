package sockhook

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf"
)

// RunFunc runs a hook's program somewhere else than in the process (in
// the xebpf daemon, on its maps), as Program.Run would: opts.Context is
// the struct bpf_sock_addr as bytes, opts.ContextOut a []byte of the same
// length that receives the context the program left, opts.Task the
// calling task (nil when the hook did not read it).
type RunFunc func(opts *xebpf.RunOptions) (uint32, error)

// ErrRemoteHook is returned by AttachFunc for eBPF for Windows' bind
// hook, whose context is not a struct bpf_sock_addr.
var ErrRemoteHook = errors.New("sockhook: only the Linux hooks (connect4, connect6, bind4, bind6) run programs through a RunFunc")

// AttachFunc attaches a program that run runs to the Linux hook h, after
// the programs attached before. usesTask says that the program may call
// the get_current_* helpers, so that the supervisor reads the calling
// task for it.
func (s *Set) AttachFunc(h Hook, run RunFunc, usesTask bool) (*Attachment, error) {
	if h == WindowsBind {
		return nil, fmt.Errorf("attach to %v: %w", h, ErrRemoteHook)
	}
	if _, err := h.Kind(); err != nil {
		return nil, err
	}
	if run == nil {
		return nil, fmt.Errorf("attach to %v: nil RunFunc", h)
	}
	a := &Attachment{hook: h, runFn: run, usesTask: usesTask}
	s.mu.Lock()
	s.attached = append(s.attached, a)
	s.mu.Unlock()
	return a, nil
}
