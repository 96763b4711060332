package xebpf

// RunAnyLength is Runner.Run that also takes XDP packets shorter than an
// Ethernet header, which Run refuses as BPF_PROG_TEST_RUN does: the
// verifier assumes no packet length, so its soundness oracle runs
// accepted programs on packets of 0 to 13 bytes too.
func RunAnyLength(r *Runner, opts *RunOptions) (uint32, error) { return r.run(opts, true) }

// MapMemoryUsed is the MemoryUsed of the collection m was made in (for a
// NewMap, the collection of its own NewMap made and closed).
func MapMemoryUsed(m *Map) int64 { return m.coll.MemoryUsed() }
