package xebpf

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/xebpf/xebpf/api"
)

// Witness is an input on which a program really faults: the proof that a
// verifier's rejection is a bug of the program, not an imprecision of the
// verifier.
type Witness struct {
	// Packet and Context are the run's input (nil: none).
	Packet, Context []byte
	// Fault is what checked mode stopped the run with.
	Fault *api.Fault
}

func (w *Witness) String() string {
	s := fmt.Sprintf("packet of %d bytes", len(w.Packet))
	if len(w.Context) > 0 {
		s += fmt.Sprintf(", context of %d bytes", len(w.Context))
	}
	return s + ": " + w.Fault.Error()
}

// WitnessOptions controls FindWitness.
type WitnessOptions struct {
	// Type is the program type (nil: KindOf the program's type).
	Type *ProgramKind
	// Runs bounds the runs tried; zero means 2000.
	Runs int
	// Seed seeds the random inputs.
	Seed uint64
}

// ErrNoWitness is returned by FindWitness when no run faulted.
var ErrNoWitness = errors.New("no faulting input found")

// FindWitness runs the named program of spec in checked mode on inputs
// chosen to reach the edges of what programs check: packets of every
// length up to 128 bytes and common frame sizes beyond, with random and
// zeroed contents, and random contexts. It returns the first input whose
// run faults, or ErrNoWitness. The maps hold their initial contents.
func FindWitness(spec *CollectionSpec, name string, opts WitnessOptions) (*Witness, error) {
	ps, ok := spec.Programs[name]
	if !ok {
		return nil, fmt.Errorf("witness: no program %q", name)
	}
	typ := opts.Type
	if typ == nil {
		typ = kindIn(spec, ps, ArchUnknown)
	}
	sub := &CollectionSpec{Programs: map[string]*ProgramSpec{name: ps}, Maps: spec.Maps, MapOrder: spec.MapOrder, Types: spec.Types}
	coll, err := NewCollectionWithOptions(sub, CollectionOptions{Types: map[string]*ProgramKind{name: typ}, Unverified: RunUnverifiedChecked, Checked: true})
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	defer coll.Close()
	prog := coll.Programs[name]
	runs := opts.Runs
	if runs == 0 {
		runs = 2000
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	sizes := []int{}
	for n := 0; n <= 128; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 256, 512, 1024, 1500, 1514)
	ctxSize := 0
	if typ.Context != nil {
		ctxSize = typ.Context.Size
	}
	if ctxSize == 0 {
		ctxSize = rawContextSize(ps.Type)
	}
	out := make([]byte, 8192)
	for i := range runs {
		var pkt, ctx []byte
		if packetOf(typ) != packetNone {
			pkt = make([]byte, sizes[i%len(sizes)])
			if (i/len(sizes))%2 == 1 {
				for k := range pkt {
					pkt[k] = byte(rng.Uint32())
				}
			}
		} else if ctxSize > 0 {
			ctx = make([]byte, ctxSize)
			if i%2 == 1 {
				for k := range ctx {
					ctx[k] = byte(rng.Uint32())
				}
			}
		}
		_, err := prog.Run(&RunOptions{Data: pkt, DataOut: out, Context: ctx})
		var f *api.Fault
		if errors.As(err, &f) && f.Reason != api.ErrBudgetExceeded {
			return &Witness{Packet: pkt, Context: ctx, Fault: f}, nil
		}
	}
	return nil, ErrNoWitness
}
