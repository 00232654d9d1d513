package gossip

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// peerInfo is what a channel's engine keeps about one peer that speaks
// partial messages: the library forgets per-group peer state a few
// heartbeats after the last publish and on disconnect, so the app keeps
// its own (DESIGN §5).
type peerInfo struct {
	id      peer.ID
	mesh    bool      // in our mesh at the last tick
	stalled bool      // our queue to it stopped draining (see checkStalled)
	seen    time.Time // when we first heard from it
	// heard is when it last sent us anything; stalledAt, when it stalled.
	heard, stalledAt time.Time

	// Its subscriptions on us: the part indices we push to it.
	subs  bitmap
	nsubs int
	heads bool // it wants the head in the first push of each group
	since time.Time

	// What it told us of itself.
	free      uint8     // spare subscription slots it advertised
	depth     []byte    // its hops from the source per index, as it last said
	busyUntil time.Time // it said busy: ask others until then
	// busyBehindUntil: it said busy to a request for a chunk behind the
	// live edge; ask others for such chunks until then.
	busyBehindUntil time.Time

	// Our view of it, decaying (see decay): groups whose requests it
	// answered, duplicates it sent, groups whose requests it left
	// unanswered past the timeout.
	answers, dups, timeouts  float64
	outstanding              int // our requests to it not yet answered
	declinedUntil            time.Time
	distrustUntil            time.Time
	unverified               int // headless groups it made us create
	gopSent                  bool
	badSeedUntil             time.Time // the source took an index from it
	askedPeers, introducedAt time.Time // we asked it for peers; it asked us
	extra                    bitmap    // the source: indices it has as an extra child
	extraSince               time.Time
	score                    float64 // app-specific score we hand gossipsub
}

// Penalties for peers that announce and do not deliver (DESIGN §5: scoring
// never sees partial messages, so the app keeps its own accounting). A
// request that times out costs a point, a part delivered earns half a point
// back; both decay by decayFactor a second (half-life ~23 s). Past
// withholdSlack points the peer's app score falls by withholdWeight a point,
// which prunes it from the mesh at the next heartbeat (gossipsub prunes
// negative scores), and past distrustAt its announcements are ignored for
// distrustFor.
const (
	decayFactor    = 0.97
	withholdSlack  = 2
	withholdWeight = -5.0
	minAppScore    = -100.0
	distrustAt     = 4
	distrustFor    = time.Minute
	declineFor     = 5 * time.Second
	busyFor        = 300 * time.Millisecond
	badSeedFor     = 30 * time.Second
	maxPeers       = 1024
)

// withheld is how many more requests the peer let time out than its
// answers excuse.
func (p *peerInfo) withheld() float64 {
	return p.timeouts - p.answers/2 - withholdSlack
}

// decay ages the counters and recomputes the app score; run once a second.
func (p *peerInfo) decay(now time.Time) {
	p.answers *= decayFactor
	p.dups *= decayFactor
	p.timeouts *= decayFactor
	w := p.withheld()
	p.score = 0
	if w > 0 {
		p.score = max(minAppScore, withholdWeight*w)
	}
	if w > distrustAt {
		p.distrustUntil = now.Add(distrustFor)
	}
}

func (p *peerInfo) usable(now time.Time) bool {
	return !p.stalled && now.After(p.distrustUntil) && now.After(p.busyUntil)
}

// seeded is how many indices the source pushes p as their seed: its
// subscriptions on the source less the leased ones.
func (p *peerInfo) seeded() int { return p.nsubs - p.extra.count() }

// depthOf is p's advertised depth for index j (noDepth if unknown).
func (p *peerInfo) depthOf(j int) int {
	if j < 0 || j >= len(p.depth) {
		return noDepth
	}
	return int(p.depth[j])
}

// Introductions. A joiner finds the channel's peers through the DHT, and
// early in a broadcast nobody but the source provides it yet: early
// viewers know only the source, and the source serves one copy. So a node
// with fewer than wantPeers peers in the channel asks a peer for others
// every askPeersEvery, and each peer answers at most every askPeersEvery
// with up to introCount of its own, with the addresses its peerstore has;
// the asker dials them (Service.dialLoop) and gossipsub does the rest.
const (
	wantPeers     = 8
	introCount    = 8
	askPeersEvery = 2 * time.Second
)

// askPeers asks one peer for introductions when this node has few.
func (e *engine) askPeers() {
	n := 0
	var ask *peerInfo
	for _, p := range e.peers {
		n++
		if e.now.Sub(p.askedPeers) >= 5*askPeersEvery && (ask == nil || p.mesh && !ask.mesh) {
			ask = p
		}
	}
	if n >= wantPeers || ask == nil || e.now.Sub(e.lastAsk) < askPeersEvery {
		return
	}
	l := e.latest()
	if l == nil {
		return
	}
	e.lastAsk = e.now
	ask.askedPeers = e.now
	e.queue(l.gid, ask.id).metaFor().flags |= metaPeers
	e.debug("asked for peers", "peer", short(ask.id), "have", n)
}

// introduce answers a request for introductions with up to introCount of
// our peers in the channel other than the asker, mesh peers first.
func (e *engine) introduce(to *peerInfo, gid string) {
	if e.now.Sub(to.introducedAt) < askPeersEvery {
		return
	}
	to.introducedAt = e.now
	ps := e.c.s.h.Peerstore()
	var intros []intro
	for _, mesh := range []bool{true, false} {
		for _, p := range e.peers {
			if len(intros) >= introCount || p.id == to.id || p.mesh != mesh {
				continue
			}
			var addrs [][]byte
			for _, a := range ps.Addrs(p.id) {
				if b := a.Bytes(); len(b) <= maxIntroAddr && len(addrs) < maxIntroAddrs {
					addrs = append(addrs, b)
				}
			}
			if id := []byte(p.id); len(addrs) > 0 && len(id) <= maxIntroID {
				intros = append(intros, intro{id: id, addrs: addrs})
			}
		}
	}
	if len(intros) > 0 {
		e.queue(gid, to.id).intros = intros
	}
}

// introduced hands the peers we were told of, and do not know, to the
// service's dialer.
func (e *engine) introduced(intros []intro) {
	for _, in := range intros {
		id, err := peer.IDFromBytes(in.id)
		if err != nil || id == e.self || e.peers[id] != nil {
			continue
		}
		info := peer.AddrInfo{ID: id}
		for _, b := range in.addrs {
			if a, err := ma.NewMultiaddrBytes(b); err == nil {
				info.Addrs = append(info.Addrs, a)
			}
		}
		if len(info.Addrs) > 0 {
			e.c.s.dial(info)
		}
	}
}
