package service

import (
	"sort"

	"github.com/xebpf/xebpf/service/proto"
)

// Durability of the devices' hooks. Besides the pinned links, the
// manifest keeps the links a device holds (net attach), pinned or not —
// Linux keeps an XDP attachment until its device goes, and the daemon's
// attachments outlive the daemon's process alike — and the ports of the
// providers' bridges (net port add), without which a link that forwards
// would have nowhere to send the frames. OpenState adds the ports again
// before it attaches the links.

// manPort is a port of a provider's bridge.
type manPort struct {
	Kind string `json:"kind"`
	Dev  string `json:"dev"`
}

// portsNow lists the ports of the registered PortProviders, by kind and
// device name. t.mu is not held.
func (st *state) portsNow() []manPort {
	t := st.t
	t.mu.Lock()
	var provs []PortProvider
	for _, p := range t.providers {
		if pp, ok := p.(PortProvider); ok {
			provs = append(provs, pp)
		}
	}
	t.mu.Unlock()
	out := []manPort{}
	for _, p := range provs {
		for _, port := range p.Ports() {
			out = append(out, manPort{Kind: port.Kind, Dev: port.Dev})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Dev < out[j].Dev
	})
	return out
}

// restorePorts adds the ports again; a port that cannot be added (its
// device is gone) is logged and left out.
func (st *state) restorePorts(ports []manPort) {
	t := st.t
	for _, mp := range ports {
		t.mu.Lock()
		pp, ok := t.providers[mp.Kind].(PortProvider)
		t.mu.Unlock()
		if !ok {
			st.logf("xebpf daemon: state: port %s %s: no %q bridge in this daemon; the port is dropped", mp.Kind, mp.Dev, mp.Kind)
			continue
		}
		if _, err := pp.AddPort(mp.Dev); err != nil {
			st.logf("xebpf daemon: state: port %s %s: %v; the port is dropped", mp.Kind, mp.Dev, err)
		}
	}
}

// devHeld returns the attached links the devices hold. t.mu is held.
func (t *table) devHeld() map[*linkObj]bool {
	out := map[*linkObj]bool{}
	for _, l := range t.devs {
		if l.prog != nil {
			out[l] = true
		}
	}
	return out
}

// holdByDevice makes a restored link held by its device again, as net
// attach left it; false if the device holds another link. t.mu is held.
func (t *table) holdByDevice(l *linkObj) bool {
	key := devKey(l.kind, l.target)
	if old := t.devs[key]; old != nil && old.prog != nil {
		return false
	}
	if old := t.devs[key]; old != nil {
		t.unrefLink(old)
	}
	if t.devs == nil {
		t.devs = map[string]*linkObj{}
	}
	l.refs++
	t.devs[key] = l
	return true
}

// netMutates reports whether a successful net operation may change what
// the state keeps.
func netMutates(op string) bool {
	switch op {
	case proto.OpNetAttach, proto.OpNetDetach, proto.OpNetPort:
		return true
	}
	return false
}
