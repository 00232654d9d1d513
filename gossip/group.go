package gossip

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/p2ptv/p2ptvd"
)

// group is what this node knows of one chunk on the partial path: its
// verified head, the verified parts it holds, what each peer has of it, and
// the requests out for its missing parts.
type group struct {
	gid   string
	seq   uint64
	first time.Time // when this node first heard of it
	local bool      // published by this node

	head    []byte // verified head; nil until one arrives
	hdr     header
	parts   int // from the head; until then the most any peer announced
	payload []byte
	have    bitmap
	nhave   int
	done    bool // every part verified and held
	rap     bool // random access, as the head says or an announcer claimed
	bytes   int  // payload length, for the rate meter

	creator  peer.ID // who made us create it before its head arrived
	pending  []pendingPart
	headAsk  time.Time // when the head was last asked for
	headFrom peer.ID   // whom

	req       []request // per part, the request out for it
	peers     map[peer.ID]*groupPeer
	order     int  // announcements seen, to rank announcers by speed
	partial   bool // we sent a have-announcement before completing
	reveal    bool // source: the reveal announcement is out
	full      bool // arrived whole from a legacy peer: pubsub relays it to them
	delivered bool // handed to Next (or skipped as before the start)
}

// pendingPart is a part that arrived before its group's head: it is held,
// unverified and unused, until the head arrives or the group is dropped.
type pendingPart struct {
	part dataPart
	from peer.ID
}

// request is a part asked of one peer.
type request struct {
	peer  peer.ID
	at    time.Time
	tried []peer.ID
	late  bool // the part's parent was charged for being late with it
}

// groupPeer is one peer's standing in one group.
type groupPeer struct {
	has      bitmap // parts it holds: announced, sent to us, or sent by us
	said     bitmap // parts it told us it holds (have bits): what we queued for it and it holds goes unsent
	rank     int    // 1 for the first announcer, 2 for the next, ...; 0 never announced
	hasHead  bool
	sentHead bool
	told     uint8  // announcements we sent it: 1 partial, 2 complete
	deferred bitmap // parts it asked for before we had them
	// Withholding account: we asked it for parts of this group; it
	// answered; we charged it a timeout.
	asked, answered, charged bool
}

// maxPendingParts bounds the unverified parts held for a group without a
// head; maxUnverifiedPerPeer bounds the headless groups one peer can make
// us keep, and maxGroups all of them.
const (
	maxPendingParts      = 64
	maxUnverifiedPerPeer = 32
	maxGroups            = 384
)

func (g *group) peer(p peer.ID) *groupPeer {
	gp := g.peers[p]
	if gp == nil {
		gp = &groupPeer{}
		g.peers[p] = gp
	}
	return gp
}

// markHas records that p holds parts bits of the group.
func (g *group) markHas(p peer.ID, bits bitmap) {
	gp := g.peer(p)
	if gp.has == nil {
		gp.has = make(bitmap, maxBitmap)
	}
	gp.has.or(bits)
	if len(gp.said) < len(bits) {
		// Sized to what peers announce (a byte for 8 parts), not maxBitmap.
		gp.said = append(gp.said, make(bitmap, len(bits)-len(gp.said))...)
	}
	gp.said.or(bits)
	if n := 8 * len(bits); g.head == nil {
		// Until the head says, the part count is the highest announced.
		for i := n - 1; i >= g.parts; i-- {
			if bits.has(i) {
				g.parts = i + 1
				break
			}
		}
	}
}

// hasAll reports whether p is known to hold every part we know of.
func (g *group) hasAll(p peer.ID) bool {
	gp := g.peers[p]
	if gp == nil || gp.has == nil || g.head == nil {
		return false
	}
	for i := range g.parts {
		if !gp.has.has(i) {
			return false
		}
	}
	return gp.hasHead || g.parts > 0
}

// message is the full wire message, as a legacy peer expects it.
func (g *group) message() []byte {
	msg := make([]byte, 0, len(g.head)+len(g.payload))
	return append(append(msg, g.head...), g.payload...)
}

func (g *group) chunk(id p2ptvd.ChannelID) p2ptvd.Chunk { return g.hdr.chunk(id, g.payload) }

// haveBitmap returns a copy of the parts held, sized to the part count.
func (g *group) haveBitmap() bitmap {
	b := newBitmap(max(g.parts, 1))
	copy(b, g.have)
	return b
}
