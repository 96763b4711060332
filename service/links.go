package service

import (
	"errors"
	"fmt"
	"sort"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/service/proto"
)

// A LinkProvider attaches programs to the hooks of one kind (XDP on a
// device, a socket hook): the packages that run programs on real events
// implement it, and the daemon keeps the links it returns in its table.
type LinkProvider interface {
	// Kind names the hooks, as link show reports them ("xdp").
	Kind() string
	// Attach attaches prog at target (for XDP, a device name); the hook
	// records the runs it performs in stats (prog show's run_cnt and
	// run_time_ns).
	Attach(prog *xebpf.Program, stats *RunStats, target string) (Link, error)
}

// Link is a program attached to a hook.
type Link interface {
	// Detach stops the hook from running the program. The daemon calls
	// it once, holding its table's lock (Detach must not call the
	// daemon), and then drops the link's reference on the program.
	Detach() error
}

// linkObj is a link in the table: it holds its program until detached.
type linkObj struct {
	id     uint32
	refs   int
	pins   []string
	kind   string
	target string
	prog   *progObj // nil once detached
	l      Link
}

// RegisterLinkProvider makes the provider's hooks available to
// link.attach; a kind has one provider.
func (d *Daemon) RegisterLinkProvider(p LinkProvider) error {
	t := d.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.providers[p.Kind()]; ok {
		return fmt.Errorf("link provider %q: already registered", p.Kind())
	}
	t.providers[p.Kind()] = p
	return nil
}

// detach detaches the link and drops its reference on the program.
// t.mu is held.
func (t *table) detach(l *linkObj) error {
	if l.prog == nil {
		return nil
	}
	err := l.l.Detach()
	if err != nil {
		err = fmt.Errorf("detach link %d: %w", l.id, err)
	}
	p := l.prog
	l.prog = nil
	return errors.Join(err, t.unrefProg(p))
}

// unrefLink drops a reference; the last detaches and frees the link.
// t.mu is held.
func (t *table) unrefLink(l *linkObj) error {
	l.refs--
	if l.refs > 0 {
		return nil
	}
	delete(t.links, l.id)
	return t.detach(l)
}

// info describes l. t.mu is held.
func (l *linkObj) info() proto.LinkInfo {
	li := proto.LinkInfo{ID: l.id, Type: l.kind, Target: l.target, Pinned: append([]string{}, l.pins...)}
	if l.prog != nil {
		li.ProgID = l.prog.id
	}
	if d, ok := l.l.(DeviceLink); ok {
		li.Ifindex = d.Ifindex()
	}
	return li
}

// findLinks returns the link ref names, or all for the zero Ref (links
// have no names). t.mu is held.
func (t *table) findLinks(ref proto.Ref) ([]*linkObj, error) {
	switch {
	case ref.ID != 0:
		l := t.links[ref.ID]
		if l == nil {
			return nil, proto.Errorf(proto.CodeNotFound, "link id %d: no such link", ref.ID)
		}
		return []*linkObj{l}, nil
	case ref.Pinned != "":
		l, ok := t.pins[ref.Pinned].(*linkObj)
		if !ok {
			return nil, proto.Errorf(proto.CodeNotFound, "pinned %s: no such link", ref.Pinned)
		}
		return []*linkObj{l}, nil
	case ref.Name != "":
		return nil, proto.Errorf(proto.CodeInvalid, "links have no names: name a link by id or pinned path")
	}
	out := make([]*linkObj, 0, len(t.links))
	for _, l := range t.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// linkAttach attaches a program through its kind's provider; the link is
// held by the session (hold).
func (t *table) linkAttach(a *proto.LinkAttachArgs, hold func(any)) (*proto.LinkInfo, error) {
	t.mu.Lock()
	prov := t.providers[a.Kind]
	t.mu.Unlock()
	if prov == nil {
		return nil, proto.Errorf(proto.CodeInvalid, "attach: no %q hooks in this daemon", a.Kind)
	}
	p, err := t.oneProg(a.Prog)
	if err != nil {
		return nil, err
	}
	defer t.release(p)
	l, err := prov.Attach(p.p, &p.stats, a.Target)
	if err != nil {
		return nil, proto.Errorf(proto.CodeInternal, "attach %s to %s %s: %v", p.name, a.Kind, a.Target, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastLink++
	lo := &linkObj{id: t.lastLink, refs: 1, kind: a.Kind, target: a.Target, prog: p, l: l}
	p.refs++
	t.links[lo.id] = lo
	hold(lo)
	info := lo.info()
	return &info, nil
}

func (t *table) linkShow(ref proto.Ref) ([]proto.LinkInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls, err := t.findLinks(ref)
	if err != nil {
		return nil, err
	}
	out := make([]proto.LinkInfo, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.info())
	}
	return out, nil
}

// linkPin pins a link.
func (t *table) linkPin(a *proto.PinArgs) error {
	if !a.Ref.Valid() {
		return proto.Errorf(proto.CodeInvalid, "name a link by id or pinned path")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ls, err := t.findLinks(a.Ref)
	if err != nil {
		return err
	}
	return t.pin(ls[0], a.Path)
}

// linkDetach detaches a link: the program stops running at the hook and
// the link no longer holds it; the link stays, detached, while something
// holds it.
func (t *table) linkDetach(ref proto.Ref) error {
	if !ref.Valid() {
		return proto.Errorf(proto.CodeInvalid, "name a link by id or pinned path")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ls, err := t.findLinks(ref)
	if err != nil {
		return err
	}
	return t.detach(ls[0])
}
