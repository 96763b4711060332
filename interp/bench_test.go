package interp_test

import (
	"fmt"
	"testing"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
)

// Benchmark programs. Each reports ns per executed instruction (ns/insn),
// counting instructions with a checked run.
var benchPrograms = []struct {
	name string
	src  string
	mem  int // bytes of input memory, passed as r1 (address) and r2 (length)
}{
	// A 17-instruction xorshift/multiply loop body, 10000 iterations.
	{"arith-loop", `
mov %r0, 0
lddw %r1, 0x9e3779b97f4a7c15
mov %r2, 10000
loop:
mov %r3, %r1
lsh %r3, 13
xor %r1, %r3
mov %r3, %r1
rsh %r3, 7
xor %r1, %r3
mov %r3, %r1
lsh %r3, 17
xor %r1, %r3
mul %r1, 0x2545f491
add %r0, %r1
mov %r4, %r0
and %r4, 0xff
xor %r0, %r4
sub %r2, 1
jne %r2, 0, loop
exit`, 0},
	// Byte-wise ones'-complement style checksum over a 1500-byte buffer.
	{"checksum-1500", `
mov %r0, 0
mov %r3, 0
loop:
jge %r3, %r2, done
mov %r4, %r1
add %r4, %r3
ldxb %r5, [%r4+0]
add %r0, %r5
add %r3, 1
ja loop
done:
mov %r1, %r0
rsh %r1, 16
and %r0, 0xffff
add %r0, %r1
exit`, 1500},
	// A loop of 1000 local calls to a small function.
	{"local-calls", `
mov %r6, 1000
mov %r7, 0
loop:
mov %r1, %r6
call local f
add %r7, %r0
sub %r6, 1
jne %r6, 0, loop
mov %r0, %r7
exit
f:
mov %r0, %r1
mul %r0, 3
exit`, 0},
	// A loop of 1000 helper calls.
	{"helper-calls", `
mov %r6, 1000
mov %r7, 0
loop:
mov %r1, %r6
call 1
add %r7, %r0
sub %r6, 1
jne %r6, 0, loop
mov %r0, %r7
exit`, 0},
}

var benchHelpers = map[int32]api.Helper{
	1: func(c *api.HelperCall) (uint64, error) { return c.Args[0] + 1, nil },
}

// benchRuns runs p with env in the benchmark loop and reports ns per
// instruction, counted by one run of counter (a checked build of the same
// program); it returns that count.
func benchRuns(b *testing.B, counter, p *interp.Program, env *api.Env) uint64 {
	if _, err := counter.Run(env); err != nil {
		b.Fatal(err)
	}
	executed := env.Executed
	for b.Loop() {
		if _, err := p.Run(env); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(executed), "ns/insn")
	return executed
}

func BenchmarkInterpreter(b *testing.B) {
	for _, bp := range benchPrograms {
		for _, mode := range modes {
			b.Run(bp.name+"/"+mode.String(), func(b *testing.B) {
				p := compile(b, bp.src, mode, benchHelpers)
				env := &api.Env{}
				if bp.mem > 0 {
					m, err := platform.Alloc(bp.mem)
					if err != nil {
						b.Fatal(err)
					}
					defer m.Free()
					for i := range m.Bytes() {
						m.Bytes()[i] = byte(i * 7)
					}
					env.Args[0], env.Args[1] = uint64(m.Addr()), uint64(bp.mem)
					env.Regions = []api.Region{{Addr: uint64(m.Addr()), Size: uint64(bp.mem), Name: "mem"}}
				}
				executed := benchRuns(b, compile(b, bp.src, interp.Checked, benchHelpers), p, env)
				b.ReportMetric(float64(executed), "insns/run")
			})
		}
	}
}

func BenchmarkEmptyProgram(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			p := compile(b, "mov %r0, 0\nexit", mode, nil)
			env := &api.Env{}
			for b.Loop() {
				p.Run(env)
			}
		})
	}
}

// BenchmarkRegionCount runs the checksum program in checked mode with its
// buffer as the only region and as the last of 32, as in a program with
// many maps: the second should cost no more per instruction than the first.
func BenchmarkRegionCount(b *testing.B) {
	src := benchPrograms[1].src
	const size = 1500
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("%d-regions", n), func(b *testing.B) {
			m, err := platform.Alloc(size + n)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			base := uint64(m.Addr())
			env := &api.Env{Args: [5]uint64{base + uint64(n-1), size}}
			for i := range n - 1 { // one-byte regions before the buffer
				env.Regions = append(env.Regions, api.Region{Addr: base + uint64(i), Size: 1, Name: "other"})
			}
			env.Regions = append(env.Regions, api.Region{Addr: base + uint64(n-1), Size: size, Name: "mem"})
			p := compile(b, src, interp.Checked, nil)
			benchRuns(b, p, p, env)
		})
	}
}
