package service

import (
	"slices"

	"github.com/xebpf/xebpf/service/proto"
)

// Policy decides what a peer may do from its credentials: root, the
// daemon's own user and members of the admin group may do everything
// (load, run, pin, unpin, change maps); members of the read-only group
// may only show, dump, look up and peek (not push or pop: map.pop is a
// change); anyone else, nothing.
type Policy struct {
	// AdminGID and ReadGID are the groups' ids, -1 for none.
	AdminGID, ReadGID int
	// Owner is the daemon's own user, an admin like root.
	Owner uint32
	// Groups returns the peer's groups; nil means PeerGroups.
	Groups func(Peer) []uint32
}

// readOps are the operations the read-only group may perform.
var readOps = map[string]bool{
	proto.OpStatus: true, proto.OpProgShow: true, proto.OpProgDump: true,
	proto.OpMapShow: true, proto.OpMapDump: true, proto.OpMapLookup: true,
	proto.OpMapGetNext: true, proto.OpRelease: true, proto.OpLinkShow: true,
}

// opWhat says what an operation does, for refusals.
var opWhat = map[string]string{
	proto.OpStatus: "read the daemon's status", proto.OpProgLoad: "load programs",
	proto.OpProgShow: "show programs", proto.OpProgDump: "dump programs",
	proto.OpProgRun: "run programs", proto.OpProgPin: "pin programs",
	proto.OpMapShow: "show maps", proto.OpMapDump: "dump maps",
	proto.OpMapLookup: "look up map elements", proto.OpMapUpdate: "update maps",
	proto.OpMapDelete: "delete map elements", proto.OpMapGetNext: "read map keys",
	proto.OpMapCreate: "create maps", proto.OpMapPin: "pin maps",
	proto.OpMapPop: "pop map elements", proto.OpUnpin: "unpin objects",
	proto.OpRelease: "release handles", proto.OpLinkAttach: "attach programs",
	proto.OpLinkShow: "show links", proto.OpLinkPin: "pin links",
	proto.OpLinkDetach: "detach links",
}

// Authorize returns nil if peer may perform op, else a permission error
// that says who may not do what.
func (p *Policy) Authorize(peer Peer, op string) error {
	what := opWhat[op]
	if what == "" {
		what = "perform " + op
	}
	if !peer.Known {
		return proto.Errorf(proto.CodePermission, "permission denied: the peer's credentials are unknown; it may not %s", what)
	}
	if peer.UID == 0 || peer.UID == p.Owner {
		return nil
	}
	groups := p.groups(peer)
	if p.AdminGID >= 0 && slices.Contains(groups, uint32(p.AdminGID)) {
		return nil
	}
	if p.ReadGID >= 0 && slices.Contains(groups, uint32(p.ReadGID)) {
		if readOps[op] {
			return nil
		}
		return proto.Errorf(proto.CodePermission, "permission denied: uid %d may not %s (it is in the read-only group)", peer.UID, what)
	}
	return proto.Errorf(proto.CodePermission, "permission denied: uid %d may not %s", peer.UID, what)
}

func (p *Policy) groups(peer Peer) []uint32 {
	if p.Groups != nil {
		return p.Groups(peer)
	}
	return PeerGroups(peer)
}

// PeerGroups returns the peer's primary and supplementary groups.
func PeerGroups(peer Peer) []uint32 {
	return append([]uint32{peer.GID}, peer.Groups...)
}
