package xebpf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/elf"
	"github.com/xebpf/xebpf/isa"
	"github.com/xebpf/xebpf/verifier"
)

// TestUnverifiedContextRewrite loads programs the verifier rejects, which
// hide the context from the rewriting of context accesses (through the
// stack, a map value, a helper call, paths that merge it with a packet
// pointer), with RunUnverifiedChecked and UnsafeFastMode. Each must get a
// correct rewrite (the run gives the packet byte it reads) or a clear
// load error (verifier.ErrContextAccess); in checked mode an access left
// unrewritten must end in a typed fault, never in memory outside the
// run's, never in a panic.
func TestUnverifiedContextRewrite(t *testing.T) {
	// Every program starts with "mov %r8, %r5": r5 is not initialized,
	// so the verifier rejects it and it runs unverified.
	const (
		rewritten = iota // loads; the run returns the packet's byte 0 (0x2a)
		loadError        // refused at load: ErrContextAccess
		forged           // loads; the run ends in a fault on the access to the context
	)
	for _, tc := range []struct {
		name string
		src  string
		want int
	}{
		{"through a stack slot", `
			mov %r6, %r1
			stxdw [%r10-8], %r6
			mov %r1, 0
			ldxdw %r7, [%r10-8]
			ldxw %r2, [%r7+0]
			ldxw %r3, [%r7+4]
			mov %r4, %r2
			add %r4, 1
			mov %r0, 0
			jgt %r4, %r3, +1
			ldxb %r0, [%r2+0]
			exit`, rewritten},
		{"through two stack slots and a subprogram", `
			stxdw [%r10-16], %r1
			ldxdw %r1, [%r10-16]
			call local +2
			and %r0, 0xff
			exit
			ldxw %r2, [%r1+0]
			ldxw %r3, [%r1+4]
			mov %r4, %r2
			add %r4, 1
			mov %r0, 0
			jgt %r4, %r3, +1
			ldxb %r0, [%r2+0]
			exit`, rewritten},
		{"through a misaligned stack slot", `
			stxdw [%r10-12], %r1
			ldxdw %r7, [%r10-12]
			ldxw %r0, [%r7+0]
			exit`, loadError},
		{"through a stack slot at a computed offset", `
			ldxw %r3, [%r1+12]
			and %r3, 8
			mov %r2, %r10
			add %r2, -16
			add %r2, %r3
			stxdw [%r2+0], %r1
			ldxdw %r7, [%r2+0]
			ldxw %r0, [%r7+0]
			exit`, loadError},
		{"through a map value, then a store to the hidden data word", `
			mov %r6, %r1
			stw [%r10-4], 0
			mov %r2, %r10
			add %r2, -4
			lddw %r1, map_idx 0
			call 1
			mov %r8, %r0
			mov %r0, 0
			jeq %r8, 0, +4
			stxdw [%r8+0], %r6
			ldxdw %r7, [%r8+0]
			stdw [%r7+24], 4096
			ldxw %r0, [%r6+12]
			exit`, forged},
		{"through a helper call that clobbers r1", `
			mov %r2, 0
			call 44
			stdw [%r1+24], 4096
			mov %r0, 2
			exit`, forged},
		{"through a helper it may not call", `
			mov %r6, %r1
			call 9999
			ldxw %r0, [%r1+0]
			exit`, loadError},
		{"merged with a packet pointer on another path", `
			ldxw %r2, [%r1+0]
			ldxw %r3, [%r1+4]
			mov %r4, %r2
			add %r4, 16
			jgt %r4, %r3, +1
			mov %r2, %r1
			ldxw %r0, [%r2+0]
			exit`, loadError},
		{"merged with a packet pointer in a stack slot, in a loop", `
			stxdw [%r10-8], %r1
			ldxw %r6, [%r1+0]
			mov %r7, 0
			ldxdw %r2, [%r10-8]
			ldxw %r0, [%r2+0]
			stxdw [%r10-8], %r6
			add %r7, 1
			jlt %r7, 4, -5
			mov %r0, 0
			exit`, loadError},
		{"moved in 32 bits", `
			mov32 %r2, %r1
			ldxw %r0, [%r2+12]
			exit`, loadError},
	} {
		insns, err := asm.AssembleProgram("t", []byte("mov %r8, %r5\n"+tc.src))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range insns {
			if insns[i].IsLDDW() && insns[i].Src == isa.PseudoMapIndex {
				insns[i].Constant = 0
			}
		}
		spec := &xebpf.CollectionSpec{
			Maps:     map[string]*xebpf.MapSpec{"stash": {Name: "stash", Type: xebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}},
			MapOrder: []string{"stash"},
			Programs: map[string]*xebpf.ProgramSpec{"p": {Name: "p", SectionName: "xdp", Type: elf.XDP, Instructions: insns, License: "GPL"}},
		}
		if _, err := xebpf.VerifyProgram(spec, "p", xebpf.VerifyOptions{}); !errors.Is(err, verifier.ErrRejected) {
			t.Fatalf("%s: verified (%v): the case must run unverified", tc.name, err)
		}
		for _, mode := range []string{"checked", "checked, isolated", "unsafe fast"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				opts := xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked}
				permissiveJobs := 0
				switch mode {
				case "unsafe fast":
					if tc.want == forged {
						t.Skip("a forged context word is what UnsafeFastMode trusts")
					}
					opts = xebpf.CollectionOptions{UnsafeFastMode: true}
				case "checked, isolated":
					// The permissive analysis goes to the isolated verifier
					// too, as a job of its own; its answer (facts or
					// ErrContextAccess) crosses the wire.
					opts.VerifierIsolation = &xebpf.Isolation{Runner: func(_ context.Context, job []byte, log io.Writer) ([]byte, int64, error) {
						var j verifier.Job
						if err := json.Unmarshal(job, &j); err != nil {
							return nil, 0, err
						}
						if j.Permissive {
							permissiveJobs++
						}
						var out bytes.Buffer
						err := verifier.ServeJob(bytes.NewReader(job), &out, log, verifier.JobHost{})
						return out.Bytes(), 0, err
					}}
					defer func() {
						if permissiveJobs != 1 {
							t.Errorf("%d permissive jobs, want 1", permissiveJobs)
						}
					}()
				}
				c, err := xebpf.NewCollectionWithOptions(spec, opts)
				if tc.want == loadError {
					if !errors.Is(err, verifier.ErrContextAccess) || !strings.Contains(err.Error(), "may be the context") && !strings.Contains(err.Error(), "the context on some paths") {
						t.Fatalf("load: %v, want ErrContextAccess", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				defer c.Close()
				pkt := make([]byte, 64)
				pkt[0] = 0x2a
				r0, err := c.Programs["p"].Run(&xebpf.RunOptions{Data: pkt})
				switch tc.want {
				case rewritten:
					if err != nil || r0 != 0x2a {
						t.Errorf("run: %d, %v; want the packet's first byte 0x2a", r0, err)
					}
				case forged:
					var f *api.Fault
					if !errors.As(err, &f) || !errors.Is(err, api.ErrBadContextAccess) && !errors.Is(err, api.ErrOutOfBounds) {
						t.Errorf("run: %d, %v; want a fault on the context access", r0, err)
					}
				}
			})
		}
	}
}
