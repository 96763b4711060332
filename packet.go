package xebpf

import (
	"errors"
	"fmt"

	"github.com/xebpf/xebpf/helpers"
	"github.com/xebpf/xebpf/internal/testrun"
)

// The test-run environment (the frame, the packet and context checks,
// the layout before a run and the copies after it) is package
// internal/testrun; this file ties the program types to it.

// packetKind (progtype.go) has testrun.Kind's values, so that converting
// one to the other costs nothing: a difference makes one of these array
// lengths negative or nonzero, which does not compile.
var (
	_ [0]struct{} = [int(packetNone) - int(testrun.None)]struct{}{}
	_ [0]struct{} = [int(packetXDP) - int(testrun.XDP)]struct{}{}
	_ [0]struct{} = [int(packetSkbL2) - int(testrun.SkbL2)]struct{}{}
	_ [0]struct{} = [int(packetSkbL3) - int(testrun.SkbL3)]struct{}{}
	_ [0]struct{} = [int(packetCustom) - int(testrun.Custom)]struct{}{}
)

// packetMover reports whether helper id changes where the packet lies
// (the kernel's bpf_helper_changes_pkt_data), plus bpf_tail_call, whose
// target may call them.
func packetMover(id int32) bool { return id == 12 || helpers.ChangesPacket(id) }

// packetOf returns how a type's context relates to the packet.
func packetOf(t *ProgramKind) packetKind {
	return packetKind(testrun.KindOf(testrun.Kind(t.packet), t.Context))
}

// kind is the program's packet kind in package testrun's terms.
func (p *Program) kind() testrun.Kind { return testrun.Kind(p.pk) }

// ErrPacketLayout is a program kind whose context cannot describe its
// packet: a host kind with a packet start but no end, or a built-in
// packet kind (from KindOf) given a context of another layout.
var ErrPacketLayout = errors.New("context does not describe the packet")

// checkPacketLayout refuses kinds whose packet the test-run frame could
// not lay out.
func checkPacketLayout(k *ProgramKind) error {
	pk := packetOf(k)
	if pk == packetNone {
		return nil
	}
	var want *Context
	switch pk {
	case packetXDP:
		want = xdpContext
	case packetSkbL2, packetSkbL3:
		want = socketFilterKind.Context
	}
	for i, f := range [...]FieldKind{PacketStart, PacketEnd} {
		off, ok := k.Context.PointerOffset(f)
		if !ok {
			return fmt.Errorf("program type %s: context %s has no %s field: %w", k.Name, k.Context.Name, [...]string{"packet start", "packet end"}[i], ErrPacketLayout)
		}
		if want == nil {
			continue
		}
		if wantOff, _ := want.PointerOffset(f); off != wantOff || k.Context.Size < want.Size {
			return fmt.Errorf("program type %s: a %s packet needs struct %s's layout, context %s differs: %w", k.Name, testrun.Kind(pk), want.Name, k.Context.Name, ErrPacketLayout)
		}
	}
	return nil
}
