package sockhook

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/helpers"
)

// RunFunc runs a hook's program somewhere else than in the process (in
// the xebpf daemon, on its maps), as Program.Run would: opts.Context is
// the context as bytes (the struct bpf_sock_addr; for eBPF for Windows'
// bind hook the bind_md, xebpf.BindMD's layout in native byte order,
// with opts.Data the app id its app_id_start and app_id_end point into),
// opts.ContextOut a []byte of the same length that receives the context
// the program left, opts.Task the calling task (nil when the hook did
// not read it).
type RunFunc func(opts *xebpf.RunOptions) (uint32, error)

// AttachFunc attaches a program that run runs to hook h, after the
// programs attached before. usesTask says that the program may call the
// get_current_* helpers, so that the supervisor reads the calling task
// for it.
func (s *Set) AttachFunc(h Hook, run RunFunc, usesTask bool) (*Attachment, error) {
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

// runBind runs the attachment's bind program on md and the app id data;
// md receives the context the program left. A RunFunc gets md as bytes.
func (a *Attachment) runBind(md *xebpf.BindMD, data []byte, task *helpers.Task) (uint32, error) {
	if a.runFn == nil {
		return a.run(&xebpf.RunOptions{Context: *md, ContextOut: md, Data: data, Task: task})
	}
	ctx := make([]byte, xebpf.BindMDSize)
	if _, err := binary.Encode(ctx, binary.NativeEndian, md); err != nil {
		return 0, fmt.Errorf("bind_md: %w", err)
	}
	out := make([]byte, len(ctx))
	ret, err := a.run(&xebpf.RunOptions{Context: ctx, ContextOut: out, Data: data, Task: task})
	if err != nil {
		return ret, err
	}
	if _, err := binary.Decode(out, binary.NativeEndian, md); err != nil {
		return 0, fmt.Errorf("bind_md: %w", err)
	}
	return ret, nil
}
