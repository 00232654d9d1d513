package gossip

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// tuning holds the engine's timings and limits (doc.go explains each; the
// values come from the prototype in DESIGN §5 and from measurement).
type tuning struct {
	tick           time.Duration // how often timers are looked at
	reparentAfter  time.Duration // a parent this late with a part is replaced
	requestTimeout time.Duration // a request unanswered this long goes elsewhere
	revealAfter    time.Duration // the source announces a chunk this long after publishing it
	headWait       time.Duration // parts without a head wait this long before the head is asked for
	giveUp         time.Duration // a chunk still incomplete this long after first heard of is left
	keep           time.Duration // a chunk is kept this long for repair and joiners
	maxCopies      float64       // relays push at most this many copies of the stream
	guessCopies    float64       // copies a relay serves before it has measured its uplink
	subShare       float64       // share of the upload budget subscriptions may take
	overloadAfter  time.Duration // a backlog this long (at the budget's rate) sheds subscriptions
	busyAfter      time.Duration // a backlog this long refuses requests
	srcBusyAfter   time.Duration // the same at the source, whose pushes are each index's only copy
	partsPerRPC    int           // parts in one data RPC answering a request
	lookAhead      uint64        // seqs beyond the highest verified a group may claim
	startupWait    time.Duration // a joiner holds chunks this long for a gapless start
	startBehind    time.Duration // random-access chunks closer than this: a joiner may start at any (setStartFrom)
	staleAfter     time.Duration // a chunk this far behind the live edge is not fetched
	sourceRepair   float64       // share of the stream rate the source spends answering playing viewers' requests
	sourceJoin     float64       // the same for joiners' requests (flag start)
	sourceLease    float64       // copies of the stream the source may push to extra, leased children (joiners)
	catchUpBacklog int64         // a relay answers requests behind the live edge only below this backlog, bytes
	catchUpShare   float64       // share of the stream rate a relay spends on chunks behind the live edge
	catchUpBehind  time.Duration // of stream time: a chunk further behind the newest is behind the live edge
	sendAhead      time.Duration // pubsub's queues hold what the uplink writes in this long; the rest waits in the engine
	playSlack      time.Duration // a chunk the reader plays later than this may wait for its late parent (lateWait)
	lateWait       time.Duration // how much longer than reparentAfter a late parent is waited for, at most
}

func defaultTuning() tuning {
	return tuning{
		tick:           20 * time.Millisecond,
		reparentAfter:  300 * time.Millisecond,
		requestTimeout: 700 * time.Millisecond,
		revealAfter:    500 * time.Millisecond,
		headWait:       150 * time.Millisecond,
		giveUp:         5 * time.Second,
		keep:           10 * time.Second,
		maxCopies:      3,
		guessCopies:    2,
		subShare:       0.75,
		overloadAfter:  250 * time.Millisecond,
		busyAfter:      300 * time.Millisecond,
		srcBusyAfter:   150 * time.Millisecond,
		partsPerRPC:    2,
		lookAhead:      256,
		startupWait:    1500 * time.Millisecond,
		startBehind:    time.Second,
		staleAfter:     5 * time.Second,
		sourceRepair:   0.2,
		sourceJoin:     0.2,
		sourceLease:    0.125,
		catchUpBacklog: 64 << 10,
		catchUpShare:   0.25,
		catchUpBehind:  750 * time.Millisecond,
		sendAhead:      60 * time.Millisecond,
		playSlack:      time.Second,
		lateWait:       500 * time.Millisecond,
	}
}

// tickGroup is the group ID the engine's timer runs under: shorter than any
// real group ID, so no peer can name it.
const tickGroup = "\x00tick"

// parentSlot is the peer that pushes us one part index of every chunk.
type parentSlot struct {
	p     peer.ID
	acked bool // it accepted (or, as the source, assigned) the subscription
	seed  bool // the source assigned it
	since time.Time
	// late counts the chunks it brought this part of too late (we fetched
	// it elsewhere), halved by each one on time; past lateLimit it is
	// replaced. One late chunk is a passing queue, not a bad parent.
	late float64
}

// lateLimit is how late a parent may be, in late chunks (see parentSlot).
const lateLimit = 2.5

// outMsg is what one flush sends one peer for one group.
type outMsg struct {
	m      *meta
	head   []byte
	intros []intro
	parts  []dataPart
}

// engine is one channel's partial-message state machine (doc.go, "Partial
// messages"). Every method runs on pubsub's event loop: from OnIncomingRPC,
// or inside a function handed to PublishPartial. So it needs no lock, and
// it sends through the extension's own PublishPartial, never through
// pubsub.PublishPartial, which would wait for the loop it runs on.
type engine struct {
	c     *Channel
	t     tuning
	ext   *partialmessages.PartialMessagesExtension[struct{}]
	net   network.Network
	topic string
	self  peer.ID

	consume   bool    // only consume: serve nobody
	maxUpload float64 // bytes/s; 0 = learn it
	source    bool    // this node publishes the channel

	// mangle, set only by tests, rewrites what is about to be sent: the
	// rogue peers of the tests are this engine misbehaving on the wire.
	mangle func(g *group, to peer.ID, o *outMsg)

	now       time.Time
	groups    map[string]*group
	seen      map[string]time.Time // forgotten groups, refused until then
	peers     map[peer.ID]*peerInfo
	parents   []parentSlot
	heads     peer.ID // the parent asked to send heads
	out       map[string]map[peer.ID]*outMsg
	legacy    bool      // the topic has peers that want full messages
	started   bool      // the first chunks went to Next (see tryStart)
	newestRAP uint64    // the newest random-access chunk with a verified head
	startFrom uint64    // a joiner fetches no chunk before this (see setStartFrom)
	lastAsk   time.Time // when we last asked a peer for introductions
	startWait time.Time // when a chunk first waited for a start

	// Upload: subscription slots and how many are used; children per index.
	slots, used int
	perIndex    []int
	budget      float64 // learnt upload budget, bytes/s
	overloaded  int
	queued      time.Duration // how long the backlog takes to drain, as of checkUpload
	drain       float64       // bytes/s the uplink writes now (or the budget's share), from checkUpload
	send        sender
	calmSince   time.Time
	lastCheck   time.Time
	lastWritten int64
	lastSecond  time.Time
	parts       int           // most parts in a recent chunk
	chunkDur    time.Duration // chunks' mean duration, from their heads
	rate        rateMeter
	srcRepair   float64       // the source's allowance for answering playing viewers, bytes
	srcJoin     float64       // the source's allowance for answering joiners, bytes
	catchUp     float64       // a relay's allowance for chunks behind the live edge, bytes
	repairs     []repairCount // the source: parts asked of it per index (see noteRepair)
	seedSince   []time.Time   // the source: when each index got its seed
	extras      int           // the source: extra children's subscriptions
}

func newEngine(c *Channel, t tuning) *engine {
	cfg := c.s.cfg
	e := &engine{
		c:       c,
		t:       t,
		ext:     c.s.ext,
		net:     c.s.h.Network(),
		topic:   c.name,
		self:    c.s.h.ID(),
		consume: cfg.ConsumeOnly,
		groups:  make(map[string]*group),
		seen:    make(map[string]time.Time),
		peers:   make(map[peer.ID]*peerInfo),
		out:     make(map[string]map[peer.ID]*outMsg),
		parts:   8,
	}
	if cfg.MaxUpload > 0 {
		e.maxUpload = float64(cfg.MaxUpload) / 8
	}
	if c.hint > 0 {
		e.rate.fallback = c.hint
	}
	return e
}

// debug logs an engine event when the logger wants Debug.
func (e *engine) debug(msg string, args ...any) {
	if e.c.s.log.Enabled(context.Background(), slog.LevelDebug) {
		e.c.s.log.Debug(msg, append(args, "t", e.now.Format("05.000"))...)
	}
}

// shortID is a peer ID as logs print it: its last 6 characters. The
// base58 encoding is done only when a line is written, not on every part,
// request and answer the engine handles with debug logging off.
type shortID peer.ID

func short(p peer.ID) shortID { return shortID(p) }

func (p shortID) String() string {
	s := peer.ID(p).String()
	return s[max(0, len(s)-6):]
}

func (p shortID) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (e *engine) peer(p peer.ID) *peerInfo {
	pi := e.peers[p]
	if pi == nil {
		if len(e.peers) >= maxPeers {
			return nil
		}
		pi = &peerInfo{id: p, subs: make(bitmap, maxBitmap), seen: e.now}
		e.peers[p] = pi
	}
	return pi
}

// onRPC handles one partial-message RPC from a peer.
func (e *engine) onRPC(from peer.ID, rpc *pb.PartialMessagesExtension) {
	e.now = e.c.s.cfg.Now()
	defer e.flush()
	gid := string(rpc.GetGroupID())
	seq, ok := groupSeq(gid)
	if !ok {
		e.invalid(from, errors.Join(ErrMalformed, errors.New("bad group ID")))
		return
	}
	m, err := decodeMeta(rpc.GetPartsMetadata())
	if err == nil {
		var d data
		d, err = decodeData(rpc.GetPartialMessage())
		if err == nil {
			e.handle(from, gid, seq, &m, &d)
			return
		}
	}
	if !errors.Is(err, errUnknownVersion) {
		e.invalid(from, err)
	}
}

func (e *engine) handle(from peer.ID, gid string, seq uint64, m *meta, d *data) {
	p := e.peer(from)
	if p == nil {
		return
	}
	p.heard = e.now
	if b := m.bm[bmUnsub]; b != nil {
		if e.source && m.flags&metaBusy != 0 && p.subs.intersects(b) {
			// A child (a seed or a leased one) that gives an index back
			// saying busy, as a node that only consumes does, is passed
			// over as a seed while there are others, or it would be
			// given one again at once.
			p.badSeedUntil = e.now.Add(badSeedFor)
		}
		e.unsubscribe(p, b)
	}
	if b := m.bm[bmDrop]; b != nil {
		e.dropped(from, b)
	}
	if b := m.bm[bmAck]; b != nil {
		e.acked(from, gid, b, m.flags&metaSeed != 0)
	}
	busy := m.flags&metaBusy != 0
	if busy {
		// A busy answer to a request behind the live edge may only mean
		// the peer keeps its upload for the live parts (spendCatchUp):
		// ask it for those still.
		if e.behind(seq) {
			p.busyBehindUntil = e.now.Add(busyFor)
		} else {
			p.busyUntil = e.now.Add(busyFor)
		}
		e.debug("busy", "peer", short(from), "seq", seq)
	}
	if m.bm[bmHave] != nil {
		p.free = m.free
	}
	if m.flags&metaPeers != 0 {
		e.introduce(p, gid)
	}
	if d.peers != nil {
		e.introduced(d.peers)
	}
	if m.depth != nil {
		p.depth = append(p.depth[:0], m.depth...)
	}
	g := e.group(gid, seq, from)
	if g == nil {
		if m.bm[bmSub] != nil {
			e.subscribe(p, nil, m.bm[bmSub], m.flags)
		}
		return
	}
	gp := g.peer(from)
	if busy || d.head != nil || len(d.parts) > 0 {
		// An announcement is not an answer: a peer that announces and
		// never delivers is what the account is for.
		e.answered(g, gp, p)
	}
	if busy {
		// Refused: what we asked of it for this group goes elsewhere now,
		// not after the timeout.
		for j := range g.req {
			if r := &g.req[j]; r.peer == from {
				r.tried = append(r.tried, from)
				r.peer = ""
				p.outstanding--
			}
		}
	}
	if m.flags&metaHead != 0 {
		gp.hasHead = true
	}
	if m.flags&metaRAP != 0 && g.head == nil {
		g.rap = true
	}
	if b := m.bm[bmHave]; b != nil {
		g.markHas(from, b)
		if gp.rank == 0 {
			g.order++
			gp.rank = g.order
		}
	}
	switch {
	case d.head != nil && g.head == nil:
		if !e.acceptHead(g, d.head, from) {
			return
		}
	case d.head != nil && !bytes.Equal(d.head, g.head):
		// We hold the group's verified head; any other does not hash to
		// the group ID.
		e.invalid(from, ErrBadGroup)
		return
	}
	for _, part := range d.parts {
		if !e.acceptPart(g, part, from) {
			return
		}
	}
	if b := m.bm[bmSub]; b != nil {
		e.subscribe(p, g, b, m.flags)
	}
	if b := m.bm[bmWant]; b != nil {
		e.serve(g, p, b, m.flags&metaHead == 0, m.flags&metaStart != 0)
	}
	e.pump(g)
}

// group finds or creates the group gid. A group this node has no head for
// may be created only near the live edge, and only so many per peer.
func (e *engine) group(gid string, seq uint64, from peer.ID) *group {
	if g := e.groups[gid]; g != nil {
		return g
	}
	if _, ok := e.seen[gid]; ok {
		return nil
	}
	if high, ok := e.c.window.high(); ok {
		if seq+e.c.s.cfg.Window < high || seq > high+e.t.lookAhead {
			return nil
		}
	}
	p := e.peers[from]
	if len(e.groups) >= maxGroups || p == nil || p.unverified >= maxUnverifiedPerPeer || e.net.Connectedness(from) != network.Connected && from != e.self {
		return nil
	}
	p.unverified++
	g := &group{gid: gid, seq: seq, first: e.now, creator: from, peers: make(map[peer.ID]*groupPeer)}
	e.groups[gid] = g
	return g
}

// onTick runs the timers: mesh changes, upload checks, the source's
// reveals, request timeouts and parents that went quiet, announcements,
// and forgetting old chunks. topicPeers, when not nil, is the topic's
// peer list, to notice peers that want full messages.
func (e *engine) onTick(mesh map[peer.ID]struct{}, topicPeers []peer.ID) {
	e.now = e.c.s.cfg.Now()
	defer e.flush()
	e.updateMesh(mesh)
	if topicPeers != nil {
		e.legacy = false
		for _, p := range topicPeers {
			if _, ok := e.peers[p]; !ok {
				e.legacy = true
			}
		}
		e.c.legacy.Store(e.legacy)
	}
	if e.now.Sub(e.lastSecond) >= time.Second {
		e.lastSecond = e.now
		e.everySecond()
	}
	if e.now.Sub(e.lastCheck) >= 250*time.Millisecond {
		e.checkUpload()
	}
	e.ensureHeads()
	e.askPeers()
	gs := e.sortedGroups()
	if !e.started {
		e.setStartFrom(gs)
		e.tryStart()
	}
	for _, g := range gs {
		if e.now.Sub(g.first) > e.t.keep {
			e.forget(g)
			continue
		}
		if g.local {
			if !g.reveal && e.now.Sub(g.first) >= e.t.revealAfter {
				g.reveal = true
				e.announce(g, true)
			}
			continue
		}
		if g.done {
			continue
		}
		if g.nhave > 0 && !g.partial {
			g.partial = true
			e.announce(g, false)
		}
		e.pump(g)
	}
}

// updateMesh records the partial-message peers in our mesh and tells a new
// one what we hold from the latest random-access chunk on, so a joiner can
// fetch the current GOP at once instead of waiting for the next one.
func (e *engine) updateMesh(mesh map[peer.ID]struct{}) {
	stalls := e.c.s.up.refreshStalls()
	for _, p := range e.peers {
		_, p.mesh = mesh[p.id]
		e.checkStalled(p, stalls[p.id])
	}
	var fresh []*peerInfo
	for id := range mesh {
		p := e.peer(id)
		if p == nil || p.stalled {
			continue
		}
		p.mesh = true
		if !p.gopSent {
			p.gopSent = true
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 || e.consume || e.source {
		return // the source's upload is for the live edge
	}
	gs := e.sortedGroups()
	start := -1
	for i, g := range gs {
		if g.done && g.rap && e.now.Sub(g.first) < e.t.keep/2 {
			start = i
		}
	}
	if start < 0 {
		return
	}
	for _, g := range gs[start:] {
		if !g.done {
			continue
		}
		for _, p := range fresh {
			if !g.hasAll(p.id) {
				e.sendAnnounce(g, p.id, true)
			}
		}
	}
}

// checkStalled notes whether our queue to p has stopped draining (see
// uplink.refreshStalls). A stalled peer is out of the mesh for us: it gets
// no pushes, announcements or requests, and what waits for it is dropped,
// since none of it would be written. Most likely it vanished without a
// word, and its connection lives on until the transport's idle timeout.
// Before this, its parents kept pushing to it, their backlog never fell,
// and they said busy to everyone until then; a source stopped sending
// altogether. It is back once we hear from it or a write to it completes
// (the transport writes only what the peer's acknowledgements make room
// for), and then asks for its parts again itself. An emptied queue is not
// enough: pubsub drops a dead peer's queue when it gives up on the stream,
// and a vanished peer, usable again, was seeded and stalled again,
// twice in a churn run. The source passes a peer that stalled over as a
// seed for badSeedFor.
func (e *engine) checkStalled(p *peerInfo, stalled bool) {
	if stalled {
		p.mesh = false
		if !p.stalled {
			e.debug("stalled", "peer", short(p.id), "subs", p.nsubs)
			p.stalled, p.stalledAt = true, e.now
			if e.source {
				p.badSeedUntil = e.now.Add(badSeedFor)
			}
			e.stopSending(p)
			e.c.stats.stalled.Add(1)
		}
		return
	}
	if p.stalled && p.heard.Before(p.stalledAt) && !e.c.s.up.wroteSince(p.id, p.stalledAt) {
		p.mesh = false
		return
	}
	p.stalled = false
}

// stopSending ends what we send p: its subscriptions on us, and the parts
// waiting for it.
func (e *engine) stopSending(p *peerInfo) {
	if e.source {
		// Its seeded indices' last parts went with it: the next seeds
		// get them (seed).
		for j := range 8 * len(p.subs) {
			if p.subs.has(j) && !p.extra.has(j) {
				e.repair(j).rotated = true
			}
		}
	}
	e.unsubscribe(p, p.subs)
	e.forgetSends(p.id)
}

// everySecond decays peer accounting, hands the app scores to gossipsub,
// and forgets peers that are gone.
func (e *engine) everySecond() {
	scores := make(map[peer.ID]float64)
	for id, p := range e.peers {
		if e.net.Connectedness(id) != network.Connected {
			e.gone(p)
			continue
		}
		p.decay(e.now)
		if p.score < 0 {
			scores[id] = p.score
		}
	}
	e.improve()
	if e.source {
		e.rotateSeeds()
		e.expireExtras()
	}
	e.c.scores.Store(&scores)
	for gid, until := range e.seen {
		if e.now.After(until) {
			delete(e.seen, gid)
		}
	}
	e.c.stats.parents.Store(int64(e.parentCount()))
	e.c.stats.children.Store(int64(e.childCount()))
	e.c.stats.slots.Store(int64(e.slots))
	e.c.stats.used.Store(int64(e.used))
}

// gone forgets a disconnected peer: its subscriptions, and it as a parent.
func (e *engine) gone(p *peerInfo) {
	e.stopSending(p)
	for j := range e.parents {
		if e.parents[j].p == p.id {
			e.parents[j] = parentSlot{}
		}
	}
	if e.heads == p.id {
		e.heads = ""
	}
	for _, g := range e.groups {
		delete(g.peers, p.id)
		for j := range g.req {
			if g.req[j].peer == p.id {
				g.req[j].peer = ""
			}
		}
	}
	delete(e.peers, p.id)
}

func (e *engine) forget(g *group) {
	if g.head == nil {
		if p := e.peers[g.creator]; p != nil {
			p.unverified--
		}
	}
	for _, r := range g.req {
		if p := e.peers[r.peer]; p != nil && r.peer != "" {
			p.outstanding--
		}
	}
	delete(e.groups, g.gid)
	if g.head != nil {
		// A forgotten chunk must not come back as new: a peer may still
		// announce it. Pubsub's seen cache does the same for full messages.
		e.seen[g.gid] = e.now.Add(e.c.s.cfg.seenTTL())
	}
}

func (e *engine) sortedGroups() []*group {
	gs := make([]*group, 0, len(e.groups))
	for _, g := range e.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return a.first.Compare(b.first)
	})
	return gs
}

func (e *engine) latest() *group {
	var l *group
	for _, g := range e.groups {
		if l == nil || g.seq > l.seq {
			l = g
		}
	}
	return l
}

// queue adds to what the next flush sends p for g.
func (e *engine) queue(g string, p peer.ID) *outMsg {
	byPeer := e.out[g]
	if byPeer == nil {
		byPeer = make(map[peer.ID]*outMsg)
		e.out[g] = byPeer
	}
	o := byPeer[p]
	if o == nil {
		o = &outMsg{}
		byPeer[p] = o
	}
	return o
}

// metaFor returns the metadata going to p for g, creating it.
func (o *outMsg) metaFor() *meta {
	if o.m == nil {
		o.m = &meta{}
	}
	return o.m
}

// flush sends what the handler queued, one PublishPartial per group, the
// oldest group first (a joiner wants the random-access chunk first).
func (e *engine) flush() {
	e.release()
	if len(e.out) == 0 {
		return
	}
	gids := make([]string, 0, len(e.out))
	for gid := range e.out {
		gids = append(gids, gid)
	}
	slices.Sort(gids) // group IDs start with the big-endian seq
	for _, gid := range gids {
		msgs := e.out[gid]
		delete(e.out, gid)
		e.c.stats.rpcs.Add(uint64(len(msgs)))
		_ = e.ext.PublishPartial(e.topic, []byte(gid), func(map[peer.ID]struct{}, func(peer.ID) bool) iter.Seq2[peer.ID, partialmessages.PublishAction] {
			return func(yield func(peer.ID, partialmessages.PublishAction) bool) {
				for p, o := range msgs {
					if e.mangle != nil {
						e.mangle(e.groups[gid], p, o)
					}
					for a := range o.actions(e.t.partsPerRPC) {
						if !yield(p, a) {
							return
						}
					}
				}
			}
		})
	}
}

// actions splits an outMsg into RPCs: the metadata and the head ride with
// the first, and each carries at most n parts.
func (o *outMsg) actions(n int) iter.Seq[partialmessages.PublishAction] {
	return func(yield func(partialmessages.PublishAction) bool) {
		var md []byte
		if o.m != nil {
			md = o.m.encode()
		}
		head, intros := o.head, o.intros
		parts := o.parts
		slices.SortFunc(parts, func(a, b dataPart) int { return a.index - b.index })
		parts = slices.CompactFunc(parts, func(a, b dataPart) bool { return a.index == b.index })
		for first := true; first || len(parts) > 0; first = false {
			k := min(n, len(parts))
			var pm []byte
			if head != nil || intros != nil || k > 0 {
				d := data{head: head, peers: intros, parts: parts[:k]}
				pm = d.encode()
			}
			parts = parts[k:]
			if pm == nil && md == nil {
				return
			}
			if !yield(partialmessages.PublishAction{EncodedPartialMessage: pm, EncodedPartsMetadata: md}) {
				return
			}
			head, md, intros = nil, nil, nil
		}
	}
}

// rateMeter measures the stream's rate from the chunks completed, over the
// last few seconds; until it has, it trusts the manifest's hint.
type rateMeter struct {
	fallback float64 // bytes/s
	start    time.Time
	buckets  [5]float64
	at       int64 // second of buckets[0]
}

func (r *rateMeter) add(now time.Time, n int) {
	if r.start.IsZero() {
		r.start = now
	}
	r.roll(now)
	r.buckets[0] += float64(n)
}

func (r *rateMeter) roll(now time.Time) {
	sec := now.Unix()
	for r.at < sec {
		copy(r.buckets[1:], r.buckets[:len(r.buckets)-1])
		r.buckets[0] = 0
		r.at++
		if sec-r.at > int64(len(r.buckets)) {
			r.at = sec
			clear(r.buckets[:])
		}
	}
}

// bytesPerSecond is the rate over the last four whole seconds.
func (r *rateMeter) bytesPerSecond(now time.Time) float64 {
	r.roll(now)
	fallback := r.fallback
	if fallback <= 0 {
		fallback = 4e6 / 8
	}
	if r.start.IsZero() || now.Sub(r.start) < 3*time.Second {
		return fallback
	}
	var sum float64
	for _, b := range r.buckets[1:] {
		sum += b
	}
	// A node that receives little must not conclude the stream is light.
	return max(sum/float64(len(r.buckets)-1), fallback)
}
