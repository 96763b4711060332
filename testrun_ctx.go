package xebpf

import (
	"encoding/binary"
	"fmt"

	"github.com/xebpf/xebpf/internal/testrun"
)

// The context checks of BPF_PROG_TEST_RUN and what ctx_out holds after
// the run are package internal/testrun's (CheckContext,
// Program.ContextOut); this file hands RunOptions' context to them and
// back.

// ErrInvalidContext is returned by Program.Run for a context
// BPF_PROG_TEST_RUN refuses (EINVAL, or ENODEV for a device xebpf's test
// runs do not have).
var ErrInvalidContext = testrun.ErrInvalidContext

// contextBytes returns a RunOptions.Context as bytes.
func contextBytes(c any) ([]byte, error) {
	switch c := c.(type) {
	case nil:
		return nil, nil
	case []byte:
		return c, nil
	}
	b, err := binary.Append(nil, binary.NativeEndian, c)
	if err != nil {
		return nil, fmt.Errorf("%T is neither []byte nor of a fixed size: %w", c, err)
	}
	return b, nil
}

// contextOut stores the context after run rs, whose input was in, in
// opts.ContextOut.
func (p *Program) contextOut(opts *RunOptions, rs *runState, in *testrun.Input) error {
	out := rs.ContextOut(p.typ.Context, in, rs.Ctx[:in.CtxSize])
	if b, ok := opts.ContextOut.([]byte); ok {
		n := min(cap(b), len(out))
		opts.ContextOut = b[:n]
		copy(b[:n], out)
		return nil
	}
	if _, err := binary.Decode(out, binary.NativeEndian, opts.ContextOut); err != nil {
		return fmt.Errorf("%T is neither []byte nor a pointer to a fixed-size value the %d-byte context decodes into: %w", opts.ContextOut, len(out), err)
	}
	return nil
}
