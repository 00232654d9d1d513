package gossip

import (
	"math"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// maxPeerBacklog is how much may wait in one peer's outbound queue before
// we answer its requests with busy rather than queue more.
const maxPeerBacklog = 64 << 10

// part returns part i of a group whose head is known.
func (g *group) part(i int) []byte {
	return g.payload[i*PartSize : i*PartSize+g.hdr.partLen(i)]
}

// selfFlags are the metadata flags that describe this node, not a group.
// A node that only consumes is always busy; a relay says busy only in
// answer to a request it refuses (a full queue is a passing state, and
// saying it in every announcement would turn everyone away for a while).
func (e *engine) selfFlags() byte {
	var f byte
	if e.consume {
		f |= metaBusy
	}
	if !e.started && !e.source {
		f |= metaStart
	}
	return f
}

// groupFlags are the flags that describe what this node has of g.
func (g *group) flags() byte {
	var f byte
	if g.head != nil {
		f |= metaHead
		if g.rap {
			f |= metaRAP
		}
	}
	return f
}

// free is the number of subscriptions this node would still accept.
func (e *engine) free() uint8 {
	return uint8(min(max(e.slots-e.used, 0), 255))
}

// canTake reports whether a subscription to index j fits: the source
// pushes each index to one child (its upload stays one copy however large
// the audience) and lends a few more to joiners, a relay takes as many as
// its slots allow.
func (e *engine) canTake(j int, joiner bool) bool {
	switch {
	case e.consume:
		return false
	case e.source:
		return e.unseeded(j) || joiner && e.extras < e.leaseSlots()
	}
	return e.used < e.slots
}

// unseeded reports whether the source pushes index j to nobody yet.
func (e *engine) unseeded(j int) bool { return j >= len(e.perIndex) || e.perIndex[j] == 0 }

// The source's extra children. Peers ask the source for a subscription
// only when nobody else announced the part (it is their last choice), and
// early in a broadcast, before viewers have found each other, that is
// everyone. So beyond the one child per index the source takes up to
// sourceLease copies' worth of joiners (flag start) as children, each for
// leaseFor: then it drops them, and they find other parents if there are
// any by then, or ask again. A playing viewer gets no lease: its requests
// are repairs, which the answers' allowance covers.
const leaseFor = 4 * time.Second

// leaseSlots is how many extra subscriptions the source takes: at least
// one, so that small chunks (few parts) keep a lease.
func (e *engine) leaseSlots() int {
	return max(1, int(math.Round(e.t.sourceLease*float64(e.parts))))
}

// expireExtras drops the source's extra children whose lease is up.
func (e *engine) expireExtras() {
	for _, p := range e.peers {
		if p.extra == nil || p.extra.empty() || e.now.Sub(p.extraSince) < leaseFor {
			continue
		}
		// unsubscribe clears p.extra bit by bit and counts e.extras down;
		// it needs the set while it does.
		drop := slices.Clone(p.extra)
		e.unsubscribe(p, drop)
		p.extra = nil
		if l := e.latest(); l != nil {
			e.queue(l.gid, p.id).metaFor().bm[bmDrop] = trim(drop)
		}
	}
}

func (e *engine) addSub(p *peerInfo, j int) {
	if p.subs.has(j) {
		return
	}
	p.subs.set(j)
	p.nsubs++
	if p.since.IsZero() {
		p.since = e.now
	}
	e.used++
	if j >= len(e.perIndex) {
		e.perIndex = append(e.perIndex, make([]int, j+1-len(e.perIndex))...)
	}
	e.perIndex[j]++
}

func (e *engine) unsubscribe(p *peerInfo, bits bitmap) {
	for j := range 8 * min(len(bits), len(p.subs)) {
		if bits.has(j) && p.subs.has(j) {
			p.subs.clear(j)
			p.nsubs--
			e.used--
			e.perIndex[j]--
			if p.extra.has(j) {
				p.extra.clear(j)
				e.extras--
			}
		}
	}
	if p.nsubs == 0 {
		p.since = time.Time{}
		p.heads = false
	}
}

// subscribe answers a peer's subscription request with the indices it
// accepts, on g (or the latest group when g is unknown here).
// flags are the request's: heads asks for the head in each first push, and
// start says the peer has not started playing.
func (e *engine) subscribe(p *peerInfo, g *group, sub bitmap, flags byte) {
	ack := newBitmap(max(8*len(sub), 1))
	for j := range 8 * len(sub) {
		if !sub.has(j) {
			continue
		}
		if p.subs.has(j) || e.canTake(j, flags&metaStart != 0) {
			if e.source && !p.subs.has(j) && !e.unseeded(j) {
				if p.extra == nil {
					p.extra = make(bitmap, maxBitmap)
					p.extraSince = e.now
				}
				p.extra.set(j)
				e.extras++
			}
			e.addSub(p, j)
			ack.set(j)
		}
	}
	p.heads = flags&metaHeads != 0
	if g == nil {
		g = e.latest()
	}
	if g == nil || sub.empty() {
		return
	}
	// What was asked and not accepted is declined: sent as drop bits, so
	// the asker never has to guess from what an ack leaves out.
	declined := newBitmap(len(ack) * 8)
	for j := range 8 * len(sub) {
		if sub.has(j) && !ack.has(j) {
			declined.set(j)
		}
	}
	m := e.queue(g.gid, p.id).metaFor()
	m.bm[bmAck] = ack
	m.depth = e.depths()
	if !declined.empty() {
		m.bm[bmDrop] = declined
	}
	m.flags |= e.selfFlags()
	m.free = e.free()
}

func (e *engine) childCount() int {
	n := 0
	for _, p := range e.peers {
		if p.nsubs > 0 {
			n++
		}
	}
	return n
}

// busyFor reports whether to refuse p's request now: this node only
// consumes, its uplink is full, p's queue is long, or (the source) the
// allowance the request draws on is spent (srcAllowance). The source is
// full at srcBusyAfter, half a relay's busyAfter: its pushes are the only
// copy of each index, and answers that wait in pubsub's queue ahead of
// them make the whole tree late (at 300 ms, N=10 lost a fiftieth of its
// chunks).
func (e *engine) busyFor(p *peerInfo, bytes int, forStart bool) bool {
	full := e.t.busyAfter
	if e.source {
		full = e.t.srcBusyAfter
	}
	switch {
	case e.consume || e.queued > full:
		return true
	case e.peerBacklog(p.id) > maxPeerBacklog:
		return true
	case e.source && *e.srcAllowance(forStart) < float64(bytes):
		return true
	}
	return false
}

// refill adds dt's worth of rate (bytes/s) to an allowance of the
// source, up to a second's worth or one chunk, whichever is more.
func (e *engine) refill(tokens, rate, dt float64) float64 {
	return min(tokens+rate*dt, max(rate, float64(e.parts*PartSize)))
}

// srcAllowance is the source's allowance a request draws on: a joiner's
// (flag start, the GOP it starts with) sourceJoin's, a playing viewer's
// sourceRepair's. At N=200 playing viewers ask the source for late parts
// all run, several times what it answers; answering them at 0.2 of the
// stream rather than 0.4 took its upload after the launch storm from
// 1.7× to 1.5×, with continuity within the runs' spread
// (docs/PERFORMANCE.md). Joiners held to the same 0.2 started 2 s later
// at N=50, so they have their own.
func (e *engine) srcAllowance(forStart bool) *float64 {
	if forStart {
		return &e.srcJoin
	}
	return &e.srcRepair
}

// spendCatchUp reports whether a relay may answer a joiner now with bytes
// of a chunk behind the live edge (its GOP), and takes them from its
// allowance if so: only through a nearly idle uplink (backlog under
// catchUpBacklog) and at most catchUpShare of the stream rate. In a launch
// storm, joiners' GOPs were most of what viewers asked for, and serving
// them made every live part late. A playing viewer's repairs are not held
// to it: under loss most chunks need one.
func (e *engine) spendCatchUp(bytes int) bool {
	if e.backlog() > e.t.catchUpBacklog || e.catchUp < float64(bytes) {
		return false
	}
	e.catchUp -= float64(bytes)
	return true
}

// serve answers a request for parts (and maybe the head) of g. Parts we do
// not hold yet are sent when they arrive.
func (e *engine) serve(g *group, p *peerInfo, want bitmap, needHead, forStart bool) {
	o := e.queue(g.gid, p.id)
	m := o.metaFor()
	m.flags |= e.selfFlags() | g.flags()
	m.free = e.free()
	if g.head != nil {
		m.bm[bmHave] = g.haveBitmap()
	}
	gp := g.peer(p.id)
	var parts []int
	bytes := 0
	for j := range 8 * len(want) {
		if !want.has(j) {
			continue
		}
		if g.have != nil && g.have.has(j) {
			parts = append(parts, j)
			bytes += g.hdr.partLen(j)
		} else if g.head == nil || j < g.parts {
			if gp.deferred == nil {
				gp.deferred = make(bitmap, maxBitmap)
			}
			gp.deferred.set(j)
		}
	}
	if needHead && g.head != nil && !gp.sentHead {
		bytes += len(g.head)
	}
	busy := e.busyFor(p, bytes, forStart)
	class := classAnswer
	if !e.source && e.behind(g.seq) {
		class = classCatchUp
		if !busy && forStart {
			busy = !e.spendCatchUp(bytes)
		}
	}
	e.debug("serve", "seq", g.seq, "peer", short(p.id), "want", want, "parts", len(parts), "head", needHead && g.head != nil && !gp.sentHead, "busy", busy)
	if e.source {
		e.noteRepair(p.id, parts)
	}
	if busy {
		m.flags |= metaBusy
		gp.deferred = nil
		e.c.stats.busy.Add(1)
		return
	}
	if e.source {
		*e.srcAllowance(forStart) -= float64(bytes)
	}
	if needHead && g.head != nil && !gp.sentHead {
		o.head = g.head
		gp.sentHead = true
	}
	for _, j := range parts {
		e.enqueue(class, g, p.id, j)
		gp.has.set(j)
	}
}

// forward pushes a part that just arrived to the children subscribed to
// its index and to peers that asked for it before we had it.
func (e *engine) forward(g *group, i int, from peer.ID) {
	for _, p := range e.peers {
		if p.id == from || p.stalled {
			continue
		}
		gp := g.peers[p.id]
		sub := p.subs.has(i)
		deferred := gp != nil && gp.deferred.has(i)
		if !sub && !deferred {
			continue
		}
		if gp == nil {
			gp = g.peer(p.id)
		}
		if deferred {
			gp.deferred.clear(i)
		}
		if gp.has.has(i) {
			continue
		}
		e.push(g, p, gp, i)
	}
}

func (e *engine) push(g *group, p *peerInfo, gp *groupPeer, i int) {
	o := e.queue(g.gid, p.id)
	if p.heads && !gp.sentHead && !gp.hasHead {
		o.head = g.head
		gp.sentHead = true
	}
	e.enqueue(classPush, g, p.id, i)
	if gp.has == nil {
		gp.has = make(bitmap, maxBitmap)
	}
	gp.has.set(i)
}

// announce tells mesh peers what we hold of g: once when we first hold a
// part (so peers with no parent for it can ask), and once complete. Peers
// known to hold all of it are skipped. A node that only consumes never
// announces, since it serves nothing.
func (e *engine) announce(g *group, complete bool) {
	if e.consume {
		return
	}
	for _, p := range e.peers {
		if !p.mesh || g.hasAll(p.id) {
			continue
		}
		if gp := g.peers[p.id]; gp != nil && (gp.told >= 2 || !complete && gp.told >= 1) {
			continue
		}
		e.sendAnnounce(g, p.id, complete)
	}
}

func (e *engine) sendAnnounce(g *group, p peer.ID, complete bool) {
	m := e.queue(g.gid, p).metaFor()
	m.bm[bmHave] = g.haveBitmap()
	m.flags |= e.selfFlags() | g.flags()
	m.free = e.free()
	m.depth = e.depths()
	gp := g.peer(p)
	if complete {
		gp.told = 2
	} else {
		gp.told = max(gp.told, 1)
	}
	e.c.stats.announces.Add(1)
}

// checkUpload sizes the subscription slots to the upload budget every
// 250 ms, and keeps the uplink's queue short: pubsub's outbound queues
// cannot be cancelled, so whatever waits there delays every part behind
// it, and a child that waits for a late part replaces its parent. With
// MaxUpload the budget is given; without, it is learnt: it starts at
// guessCopies of the stream, falls to what the uplink actually wrote when
// the backlog holds more than overloadAfter of it, and grows by a tenth
// after 10 s without that while every slot is taken. Subscriptions take at
// most subShare of the budget (the rest is for answering requests,
// announcements and the transport's own overhead); when the backlog
// exceeds overloadAfter anyway, a quarter of them are dropped, newest
// first, and the children find other parents.
func (e *engine) checkUpload() {
	if e.lastCheck.IsZero() {
		e.lastCheck = e.now
		_, e.lastWritten = e.c.s.up.state()
		return
	}
	dt := e.now.Sub(e.lastCheck).Seconds()
	_, written := e.c.s.up.state()
	backlog := e.backlog()
	if backlog > e.c.stats.queueMax.Load() {
		e.c.stats.queueMax.Store(backlog)
	}
	thr := float64(written-e.lastWritten) / dt
	e.lastCheck, e.lastWritten = e.now, written
	rate := e.rate.bytesPerSecond(e.now)
	share := float64(max(e.c.s.channelCount(), 1))

	budget := e.maxUpload
	if budget == 0 {
		if e.budget == 0 {
			e.budget = e.t.guessCopies * rate / e.t.subShare
			e.calmSince = e.now
		}
		budget = e.budget
	}
	// How long the backlog takes to drain at the rate the uplink writes now
	// (or at the budget, when little is being written).
	drain := max(thr, 0.25*budget, 32<<10)
	e.drain = drain
	e.queued = time.Duration(float64(backlog) / drain * float64(time.Second))
	over := e.queued > e.t.overloadAfter && backlog > 32<<10
	if over {
		e.overloaded++
	} else {
		e.overloaded = 0
	}
	if e.maxUpload == 0 {
		switch {
		case e.overloaded >= 2:
			e.budget = max(0.9*thr, 0.25*rate)
			e.calmSince = e.now
		case !over && e.now.Sub(e.calmSince) > 10*time.Second && e.used >= e.slots:
			e.budget *= 1.1
			e.calmSince = e.now
		}
	}
	budget /= share
	copies := min(e.t.maxCopies, e.t.subShare*budget/rate)
	switch {
	case e.consume:
		e.slots = 0
	case e.source:
		e.slots = e.parts
		// A little of the stream's rate for answering requests (the
		// reveal's repairs, joiners' GOPs), on top of the one pushed
		// copy. Each bucket holds at least a chunk, or a request for a
		// whole one (a joiner's, a repair of a lost seed) could never
		// be met.
		e.srcRepair = e.refill(e.srcRepair, e.t.sourceRepair*rate, dt)
		e.srcJoin = e.refill(e.srcJoin, e.t.sourceJoin*rate, dt)
	default:
		e.slots = int(copies * float64(e.parts))
		if e.overloaded >= 2 {
			e.slots = min(e.slots, e.used-max(1, e.used/4))
			e.overloaded = 0
		}
	}
	e.catchUp = min(e.catchUp+e.t.catchUpShare*rate*dt, e.t.catchUpShare*rate)
	if e.used > e.slots && !e.source {
		e.shed(e.used - e.slots)
	}
}

// shed drops n subscriptions, the newest children first, and tells them.
func (e *engine) shed(n int) {
	var kids []*peerInfo
	for _, p := range e.peers {
		if p.nsubs > 0 {
			kids = append(kids, p)
		}
	}
	slices.SortFunc(kids, func(a, b *peerInfo) int { return b.since.Compare(a.since) })
	l := e.latest()
	for _, p := range kids {
		if n <= 0 {
			break
		}
		drop := newBitmap(8 * len(p.subs))
		for j := 8*len(p.subs) - 1; j >= 0 && n > 0; j-- {
			if p.subs.has(j) {
				drop.set(j)
				n--
			}
		}
		e.unsubscribe(p, drop)
		e.c.stats.shed.Add(uint64(drop.count()))
		if l != nil {
			m := e.queue(l.gid, p.id).metaFor()
			m.bm[bmDrop] = trim(drop)
		}
	}
}

// trim cuts trailing zero bytes off a bitmap (keeping at least one).
func trim(b bitmap) bitmap {
	n := len(b)
	for n > 1 && b[n-1] == 0 {
		n--
	}
	return b[:n]
}

// onPublish takes a chunk this node publishes (msg is its wire form, h
// its parsed header): each part goes to the one child subscribed to its
// index; an index nobody subscribed to is assigned to a mesh peer (a seed)
// and pushed there. The source announces the whole chunk only after
// revealAfter, so the mesh first spreads the parts among itself.
func (e *engine) onPublish(msg []byte, h header) {
	e.now = e.c.s.cfg.Now()
	defer e.flush()
	e.source = true
	head := msg[:len(msg)-h.payloadLen]
	gid := groupID(h.seq, head)
	if e.groups[gid] != nil {
		return
	}
	g := &group{gid: gid, seq: h.seq, first: e.now, local: true, peers: make(map[peer.ID]*groupPeer)}
	e.setHead(g, head, h)
	g.payload = msg[len(head):]
	for i := range g.parts {
		g.have.set(i)
	}
	g.nhave, g.done = g.parts, true
	e.rate.add(e.now, g.bytes)
	e.groups[gid] = g
	if e.slots == 0 {
		e.slots = e.parts
	}
	e.rebalance(g)
	for j := range g.parts {
		if e.unseeded(j) {
			e.seed(g, j)
		}
		e.forward(g, j, "")
	}
	if g.parts == 0 {
		g.reveal = true
		e.announce(g, true)
	}
}

// rebalance moves one index a publish from the source's busiest seed to
// the mesh peer seed picks for it, so the seeds spread over the mesh as it
// grows: the first viewer in would otherwise be the root of every part's
// tree. Only the indices a peer seeds count (a leased child's lease runs
// out by itself), and nothing moves when seed would hand the index straight
// back. It did: while the idle mesh peers had little room, seedScore
// preferred the peer the index was just taken from, and every publish
// dropped the index and acked it again to the same peer.
func (e *engine) rebalance(g *group) {
	var heavy, light *peerInfo
	heavyN, lightScore := 0, 0.0
	mesh := 0
	for _, p := range e.peers {
		if n := p.seeded(); n > heavyN {
			heavy, heavyN = p, n
		}
		if !p.mesh || !p.usable(e.now) {
			continue
		}
		mesh++
		if s := e.seedScore(p); !e.now.Before(p.badSeedUntil) && (light == nil || s > lightScore) {
			light, lightScore = p, s
		}
	}
	if heavy == nil || light == nil || heavy == light || mesh == 0 || g.parts == 0 {
		return
	}
	target := (g.parts + min(mesh, g.parts) - 1) / min(mesh, g.parts)
	// seedScore counts every subscription: heavy's rises by 4 with one
	// fewer, and seed must still prefer light.
	if heavyN <= target || light.seeded() >= target || lightScore <= e.seedScore(heavy)+4 {
		return
	}
	// An index seeded lately is left where it is: its tree is still
	// growing, and moving it orphans the tree again.
	for j := 8*len(heavy.subs) - 1; j >= 0; j-- {
		if heavy.subs.has(j) && !heavy.extra.has(j) && (j >= len(e.seedSince) || e.now.Sub(e.seedSince[j]) > seedSettle) {
			drop := newBitmap(j + 1)
			drop.set(j)
			e.unsubscribe(heavy, drop)
			e.queue(g.gid, heavy.id).metaFor().bm[bmDrop] = drop
			return
		}
	}
}

// noteRepair counts, at the source, the parts asked of it by index and
// who asked. The source is asked last, so a part asked of it often is one
// its seed does not pass on: a seed that left without a word, one
// overloaded, or one that corrupts or withholds what it gets. Past
// repairLimit, asked by half the mesh, the seed loses the index to another
// mesh peer (rotateSeeds).
func (e *engine) noteRepair(from peer.ID, parts []int) {
	for _, j := range parts {
		r := e.repair(j)
		r.n++
		r.total++
		if r.from == nil {
			r.from = make(map[peer.ID]struct{})
		}
		r.from[from] = struct{}{}
	}
}

// repair is the source's repairCount of index j.
func (e *engine) repair(j int) *repairCount {
	if j >= len(e.repairs) {
		e.repairs = append(e.repairs, make([]repairCount, j+1-len(e.repairs))...)
	}
	return &e.repairs[j]
}

// repairCount is the source's count of requests for one index.
type repairCount struct {
	n, total float64
	from     map[peer.ID]struct{}
	// rotated: the seed was replaced (rotateSeeds) or lost (stalled or
	// gone); the next gets the index's parts of the last second.
	rotated bool
}

// repairLimit is how many parts of one index, decaying by half a second,
// may be asked of the source before its seed for the index is replaced.
const repairLimit = 6

// seedSettle is how long a new seed keeps its index before rotateSeeds may
// take it away: it has no subtree yet, so its index is asked of the source
// more than others while it builds one.
const seedSettle = 2 * time.Second

// rotateSeeds replaces the seeds whose indices the source keeps being
// asked for, and halves the counts; it runs once a second.
func (e *engine) rotateSeeds() {
	mesh := 0
	for _, p := range e.peers {
		if p.mesh {
			mesh++
		}
	}
	// Repairs are normal, and a new seed has no subtree yet; a seed that
	// passes nothing on makes half the mesh ask for its index, twice as
	// many peers as ask for a typical one. Peers, not parts: a rogue seed
	// asking for every other index would otherwise make its own look
	// typical. One index a second at most. The median is over every index,
	// those nobody asked for too: over the indices asked for alone, a seed
	// withholding the only index anyone asks for is its own median, and
	// was never replaced.
	as := make([]int, max(len(e.repairs), e.parts))
	for j, r := range e.repairs {
		as[j] = len(r.from)
	}
	slices.Sort(as)
	median := 0
	if len(as) > 0 {
		median = as[len(as)/2]
	}
	rotated := false
	for j := range e.repairs {
		r := &e.repairs[j]
		n, askers := r.n, len(r.from)
		r.n /= 2
		clear(r.from)
		settled := j < len(e.seedSince) && e.now.Sub(e.seedSince[j]) > seedSettle
		if rotated || !settled || n < repairLimit || askers < 2*median || askers < (mesh+1)/2 || askers < 2 && mesh > 2 {
			continue
		}
		rotated = true
		r.n = 0
		r.rotated = true
		for _, p := range e.peers {
			if !p.subs.has(j) {
				continue
			}
			e.debug("seed replaced", "part", j, "peer", short(p.id), "repairs", n)
			drop := newBitmap(j + 1)
			drop.set(j)
			e.unsubscribe(p, drop)
			p.badSeedUntil = e.now.Add(badSeedFor)
			if l := e.latest(); l != nil {
				e.queue(l.gid, p.id).metaFor().bm[bmDrop] = drop
			}
		}
	}
}

// seedScore ranks mesh peers as seeds: room for children (a seed's index
// reaches the audience through them; a slow uplink has little), then few
// indices already, then time known (a fresh joiner has no subtree yet).
func (e *engine) seedScore(p *peerInfo) float64 {
	s := -4 * float64(p.nsubs)
	if p.free >= 5 {
		s += 8
	}
	return s + min(e.now.Sub(p.seen).Seconds(), 60)/60
}

// seed assigns index j to the mesh peer with the most spare slots and
// the fewest indices from us.
func (e *engine) seed(g *group, j int) {
	// Peers that lost an index lately are passed over while there are
	// others; among them, the one that lost it longest ago.
	var best *peerInfo
	for _, p := range e.peers {
		if !p.mesh || !p.usable(e.now) {
			continue
		}
		switch pb, bb := e.now.Before(p.badSeedUntil), best != nil && e.now.Before(best.badSeedUntil); {
		case best == nil, bb && !pb:
			best = p
		case pb && bb:
			if p.badSeedUntil.Before(best.badSeedUntil) {
				best = p
			}
		case !pb && e.seedScore(p) > e.seedScore(best):
			best = p
		}
	}
	if best == nil {
		return
	}
	e.addSub(best, j)
	best.heads = true
	if j >= len(e.seedSince) {
		e.seedSince = append(e.seedSince, make([]time.Time, j+1-len(e.seedSince))...)
	}
	e.seedSince[j] = e.now
	if j < len(e.repairs) && e.repairs[j].rotated {
		// The seed it replaces may have swallowed, or taken with it, the
		// last chunks' part: hand the new seed those too.
		e.repairs[j].rotated = false
		for _, h := range e.groups {
			if h != g && h.local && j < h.parts && e.now.Sub(h.first) < time.Second {
				e.push(h, best, h.peer(best.id), j)
			}
		}
	}
	m := e.queue(g.gid, best.id).metaFor()
	m.flags |= metaSeed
	m.depth = e.depths()
	if m.bm[bmAck] == nil {
		m.bm[bmAck] = newBitmap(g.parts)
	}
	m.bm[bmAck].set(j)
}

// onFull takes a chunk that arrived whole from a peer that does not speak
// partial messages (the topic validator has verified it): it is delivered
// and its parts offered on the partial path like any other.
func (e *engine) onFull(msg []byte) {
	e.now = e.c.s.cfg.Now()
	defer e.flush()
	h, err := parseHeader(msg, e.c.s.cfg.MaxPayload)
	if err != nil || h.parts > maxParts {
		return
	}
	head := msg[:len(msg)-h.payloadLen]
	gid := groupID(h.seq, head)
	if _, ok := e.seen[gid]; ok {
		return
	}
	g := e.groups[gid]
	if g == nil {
		g = &group{gid: gid, seq: h.seq, first: e.now, peers: make(map[peer.ID]*groupPeer)}
		e.groups[gid] = g
	}
	if g.done {
		return
	}
	g.full = true
	if g.head == nil {
		e.setHead(g, head, h)
		pending := g.pending
		g.pending = nil
		for _, pp := range pending {
			e.acceptPart(g, pp.part, pp.from)
		}
	}
	for i := range g.parts {
		if !g.have.has(i) {
			e.acceptPart(g, dataPart{index: i, data: part(h.payload, i)}, e.self)
		}
	}
	if g.parts == 0 {
		e.complete(g)
	}
}
