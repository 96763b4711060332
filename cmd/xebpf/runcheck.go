package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
)

// checkRepeat refuses a --repeat that is no count of runs.
func checkRepeat(n int) error {
	if n < 1 || n > math.MaxUint32 {
		return fmt.Errorf("--repeat %d: want a number of runs from 1 to %d", n, uint32(math.MaxUint32))
	}
	return nil
}

// takesPacket reports whether the program runs on a packet (--data): its
// context has a pointer to the packet's start (XDP, socket filters, TC).
func takesPacket(p *xebpf.Program) bool {
	k := p.Kind()
	if k == nil || k.Context == nil {
		return false
	}
	_, ok := k.Context.PointerOffset(xebpf.PacketStart)
	return ok
}

// errNoPacket reports --data or --data-out for a program without a packet.
func errNoPacket(flag, name string, p *xebpf.Program) error {
	return fmt.Errorf("%s: program %s is of type %s, which runs without a packet (XDP, socket filter and TC programs take one)", flag, name, p.Type())
}

// durationText says what the measured duration is: a single run includes
// what a first run costs (cold caches, first use of the run's memory),
// which dwarfs the run itself; a mean over repeated runs includes it once.
func durationText(repeat int, d time.Duration) string {
	if repeat <= 1 {
		return fmt.Sprintf("%d ns (a single, cold run: first-run costs included; --repeat N gives the mean of N runs)", d.Nanoseconds())
	}
	return fmt.Sprintf("%d ns/run (mean of %d runs, the first, cold one included)", d.Nanoseconds(), repeat)
}

// coldNote qualifies the xebpf/kernel ratio of a single run, which sets
// xebpf's cold run against the kernel's.
func coldNote(repeat int) string {
	if repeat <= 1 {
		return " (xebpf's single run is cold: --repeat N compares means)"
	}
	return ""
}

// mapsFileErr names the maps file in err, as FILE:LINE:COLUMN for an
// error in its JSON text.
func mapsFileErr(path string, err error) error {
	var fe *kernel.MapsFileError
	if errors.As(err, &fe) {
		return fmt.Errorf("%s:%w", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
