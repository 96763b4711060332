package service

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/hooks/xdp"
	"github.com/xebpf/xebpf/service/proto"
)

// XDPHooks is the LinkProvider of kind "xdp": it runs programs on the
// frames of real interfaces through one hooks/xdp Bridge (Linux only;
// elsewhere attaching fails with xdp.ErrNotSupported). A target is an
// interface name. The bridge forwards frames between its ports: a device
// that only forwards is added with AddPort (net port add dev NAME).
type XDPHooks struct {
	b     *xdp.Bridge
	mu    sync.Mutex
	ports map[string]int // device name → ifindex
}

// NewXDPHooks returns XDP hooks over a bridge without ports; Close closes
// it.
func NewXDPHooks() *XDPHooks {
	return &XDPHooks{b: xdp.NewBridge(), ports: map[string]int{}}
}

// Kind returns "xdp".
func (h *XDPHooks) Kind() string { return "xdp" }

// xdpLink is an XDP attachment in the daemon's table.
type xdpLink struct{ l *xdp.Link }

func (l xdpLink) Detach() error { return l.l.Close() }
func (l xdpLink) Ifindex() int  { return l.l.Ifindex() }

// Attach runs prog on the frames arriving on the interface target, and
// records its runs in stats (in batches, at once when the port is idle).
func (h *XDPHooks) Attach(prog *xebpf.Program, stats *RunStats, target string) (Link, error) {
	l, err := h.b.AttachWithOptions(prog, target, xdp.AttachOptions{
		OnRuns: func(runs uint64, total time.Duration) { stats.Record(runs, total) },
	})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.ports[target] = l.Ifindex()
	h.mu.Unlock()
	return xdpLink{l}, nil
}

// AddPort makes the interface dev a port of the bridge and returns its
// ifindex.
func (h *XDPHooks) AddPort(dev string) (int, error) {
	ifindex, err := h.b.AddPort(dev)
	if err != nil {
		return 0, fmt.Errorf("add port %s: %w", dev, err)
	}
	h.mu.Lock()
	h.ports[dev] = ifindex
	h.mu.Unlock()
	return ifindex, nil
}

// Ports lists the bridge's ports.
func (h *XDPHooks) Ports() []proto.PortInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]proto.PortInfo, 0, len(h.ports))
	for dev, ifindex := range h.ports {
		out = append(out, proto.PortInfo{Kind: "xdp", Dev: dev, Ifindex: ifindex})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ifindex < out[j].Ifindex })
	return out
}

// Close closes the bridge: its ports and the programs attached to them.
func (h *XDPHooks) Close() error { return h.b.Close() }
