package gossip

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/p2ptv/p2ptvd"
)

// maxOutstanding bounds the parts of chunks behind the live edge asked of
// one peer at a time: a joiner asking one neighbour for a whole GOP would
// put a second of queue in front of that neighbour's live pushes.
const maxOutstanding = 6

// ErrBadGroup marks a head that does not hash to the group ID it came
// under, or a seq that differs from the head's.
var ErrBadGroup = errors.New("head does not match group")

// acceptHead verifies a head that arrived for g and, if it is good, makes
// g ready for parts: the parts held unverified are checked now. It reports
// whether the head was good; a bad one is the sender's offence.
func (e *engine) acceptHead(g *group, raw []byte, from peer.ID) bool {
	if groupID(g.seq, raw) != g.gid {
		e.invalid(from, ErrBadGroup)
		return false
	}
	h, err := openHead(raw, e.c.id, e.c.owner, e.c.s.cfg.MaxPayload)
	if err == nil && h.seq != g.seq {
		err = ErrBadGroup
	}
	if err == nil && h.parts > maxParts {
		err = fmt.Errorf("%w: %d parts", ErrTooLarge, h.parts)
	}
	if err == nil {
		err = e.c.window.admit(h.chunk(e.c.id, nil), e.now)
	}
	if err != nil {
		e.invalid(from, err)
		return false
	}
	e.setHead(g, raw, h)
	g.peer(from).hasHead = true
	pending := g.pending
	g.pending = nil
	for _, pp := range pending {
		e.acceptPart(g, pp.part, pp.from)
	}
	if g.parts == 0 {
		e.complete(g)
	}
	return true
}

// setHead makes a verified head g's head.
func (e *engine) setHead(g *group, raw []byte, h header) {
	if p := e.peers[g.creator]; p != nil && g.creator != "" {
		p.unverified--
	}
	g.creator = ""
	g.head = raw
	g.hdr = h
	g.parts = h.parts
	g.rap = h.flags.Has(p2ptvd.RandomAccess)
	if g.rap {
		e.newestRAP = max(e.newestRAP, g.seq)
	}
	g.payload = make([]byte, h.payloadLen)
	g.have = newBitmap(max(h.parts, 1))
	g.bytes = h.payloadLen
	if len(g.req) < h.parts {
		g.req = append(g.req, make([]request, h.parts-len(g.req))...)
	}
	for _, r := range g.req[h.parts:] {
		if q := e.peers[r.peer]; q != nil && r.peer != "" {
			q.outstanding--
		}
	}
	g.req = g.req[:h.parts]
	e.parts = max(h.parts, e.parts*7/8)
	if d := time.Duration(h.duration) * time.Microsecond; d > 0 {
		e.chunkDur = (7*e.chunkDur + d) / 8
		if e.chunkDur == 0 {
			e.chunkDur = d
		}
	}
}

// acceptPart takes one part from a peer. Until the head is known it is
// held, unverified; after, it is checked against the head's hash before it
// is stored, announced, relayed or played. It reports false if the part
// was bad (the sender is penalised and the rest of its RPC ignored).
func (e *engine) acceptPart(g *group, part dataPart, from peer.ID) bool {
	i := part.index
	if g.head == nil {
		if len(g.pending) < maxPendingParts {
			g.pending = append(g.pending, pendingPart{part: part, from: from})
		}
		return true
	}
	if !g.hdr.checkPart(i, part.data) {
		e.invalid(from, fmt.Errorf("%w: chunk %d part %d", ErrBadPayload, g.seq, i))
		return false
	}
	p := e.peers[from]
	if g.have.has(i) {
		switch {
		case i < len(e.parents) && e.parents[i].p == from:
			e.c.stats.dupParent.Add(1)
		case g.req[i].peer == from || containsPeer(g.req[i].tried, from):
			e.c.stats.dupReq.Add(1)
		case p != nil && p.depthOf(i) == 0:
			e.c.stats.dupSource.Add(1)
		default:
			e.c.stats.dupOther.Add(1)
			e.debug("dup other", "seq", g.seq, "part", i, "from", short(from), "parent", short(e.parents[i].p), "acked", e.parents[i].acked)
		}
	}
	gp := g.peer(from)
	if gp.has == nil {
		gp.has = make(bitmap, maxBitmap)
	}
	gp.has.set(i)
	gp.hasHead = true
	if r := &g.req[i]; r.peer != "" {
		if q := e.peers[r.peer]; q != nil {
			q.outstanding--
		}
		if r.peer != from && !g.have.has(i) {
			// The peer asked may be holding the request until it has the
			// part: tell it we have it, so it does not send it.
			e.tellHave(g, r.peer, i)
		}
		r.tried = append(r.tried, r.peer)
		r.peer = ""
	}
	e.debug("part", "seq", g.seq, "part", i, "from", short(from), "dup", g.have.has(i))
	if g.have.has(i) {
		e.c.stats.dupParts.Add(1)
		e.c.stats.dupBytes.Add(uint64(len(part.data)))
		if p != nil {
			p.dups++
		}
		return true
	}
	if b := e.now.Sub(time.Unix(0, g.hdr.timestamp)) / (100 * time.Millisecond); b >= 0 {
		e.c.stats.partLat[min(int(b), 31)].Add(1)
	}
	copy(g.payload[i*PartSize:], part.data)
	g.have.set(i)
	g.nhave++
	e.c.stats.partsIn.Add(1)
	e.c.stats.partBytes.Add(uint64(len(part.data)))
	if p != nil {
		e.adoptPusher(g, p, i)
		if s := e.parents[i]; s.p != "" && s.p != from && !g.done {
			// Tell the parent we have it, so that if it has not pushed it
			// yet it will not: its push would only be a duplicate.
			e.tellHave(g, s.p, i)
		}
		if s := e.parents[i]; s.p != from && g.req[i].peer != from && !containsPeer(g.req[i].tried, from) {
			// Pushed by a peer that is not our parent for it and that we did
			// not ask: a subscription we left, whose unsub it missed.
			e.sendUnsub(from, i)
		}
	}
	e.forward(g, i, from)
	if g.nhave == g.parts {
		e.complete(g)
	}
	return true
}

// adoptPusher settles who pushes index i to us after p delivered it: p
// becomes the parent if there is none, and confirms a pending
// subscription.
func (e *engine) adoptPusher(g *group, p *peerInfo, i int) {
	e.growParents(i)
	s := &e.parents[i]
	if s.p == p.id {
		s.acked = true
		if !g.req[i].late {
			s.late /= 2
		}
		return
	}
	if s.p == "" {
		*s = parentSlot{p: p.id, acked: true, since: e.now}
	}
}

func (e *engine) growParents(i int) {
	if i >= len(e.parents) {
		e.parents = append(e.parents, make([]parentSlot, i+1-len(e.parents))...)
	}
}

// complete delivers a chunk whose every part is verified: to Next, to the
// peers that may want it, and to legacy peers as a full message.
func (e *engine) complete(g *group) {
	g.done = true
	e.debug("complete", "seq", g.seq, "lag", e.now.Sub(time.Unix(0, g.hdr.timestamp)).Milliseconds(), "local", g.local)
	e.rate.add(e.now, g.bytes)
	if g.local {
		return
	}
	if !g.full {
		e.c.s.trace.accepted.Add(1)
	}
	if e.started {
		g.delivered = true
		e.c.deliver(g.chunk(e.c.id))
	} else {
		e.tryStart()
	}
	e.announce(g, true)
	if e.legacy && !g.full {
		e.c.toLegacy(g.message(), g.chunk(e.c.id))
	}
}

// invalid penalises a peer for something provably wrong it sent.
func (e *engine) invalid(from peer.ID, err error) {
	e.c.reject(from, false, err)
	if !errors.Is(err, ErrStale) && !errors.Is(err, ErrFuture) {
		e.c.s.feedbackInvalid(e.topic, from)
	}
}

// acked handles the answer to our subscription requests: the indices in
// ack are ours from p; the rest we asked p for were declined. A source's
// seed assignment replaces whatever parent we had; a node that only
// consumes gives it back.
func (e *engine) acked(from peer.ID, gid string, ack bitmap, seed bool) {
	if seed && e.consume {
		// A node that only consumes serves no tree: it gives the indices
		// back, saying busy, on the group they came with (the first may
		// come before any group here), and asks for them like any part.
		for j := range 8 * len(ack) {
			if ack.has(j) {
				e.unsubOn(gid, from, j)
			}
		}
		e.queue(gid, from).metaFor().flags |= e.selfFlags()
		return
	}
	for j := range e.parents {
		s := &e.parents[j]
		switch {
		case ack.has(j) && seed:
			if s.p != "" && s.p != from {
				e.sendUnsub(s.p, j)
			}
			*s = parentSlot{p: from, acked: true, seed: true, since: e.now}
		case ack.has(j) && s.p == from:
			s.acked = true
		}
	}
	if seed {
		for j := len(e.parents); j < 8*len(ack); j++ {
			if ack.has(j) {
				e.growParents(j)
				e.parents[j] = parentSlot{p: from, acked: true, seed: true, since: e.now}
			}
		}
	}
}

// dropped handles a parent that stopped pushing us some indices, or
// declined to start.
func (e *engine) dropped(from peer.ID, drop bitmap) {
	for j := range e.parents {
		if s := &e.parents[j]; s.p == from && drop.has(j) {
			if !s.acked {
				e.debug("declined", "part", j, "peer", short(from))
				if p := e.peers[from]; p != nil {
					p.declinedUntil = e.now.Add(declineFor)
				}
			}
			*s = parentSlot{}
		}
	}
	if e.heads == from {
		e.heads = ""
	}
}

func (e *engine) parentCount() int {
	seen := map[peer.ID]bool{}
	for _, s := range e.parents {
		if s.p != "" {
			seen[s.p] = true
		}
	}
	return len(seen)
}

// ensureHeads makes sure one parent sends us the head of each chunk: the
// parent of the lowest index, asked with an empty sub bitmap.
func (e *engine) ensureHeads() {
	if e.heads != "" {
		return
	}
	l := e.latest()
	if l == nil {
		return
	}
	for _, s := range e.parents {
		if s.p != "" && s.acked {
			e.heads = s.p
			m := e.queue(l.gid, s.p).metaFor()
			m.flags |= metaHeads
			if m.bm[bmSub] == nil {
				m.bm[bmSub] = newBitmap(1)
			}
			return
		}
	}
}

// pump asks for the parts of g that nobody is bringing: parts with no
// parent, parts whose parent is later than reparentAfter, and requests
// that timed out (asked elsewhere). Each part is asked of one peer that
// announced it. Only for the newest chunks does a request also subscribe
// (and so replace a parent): the live edge says who is fast now, while
// repairing an older chunk says nothing about the tree. A joiner asks for
// nothing before startFrom (see setStartFrom).
func (e *engine) pump(g *group) {
	if g.done || g.local || e.now.Sub(g.first) > e.t.giveUp || e.stale(g.seq) || e.played(g.seq) ||
		!e.started && g.seq < e.startFrom {
		return
	}
	late := e.now.Sub(g.first) >= e.t.reparentAfter
	// A late part whose parent is kept may wait longer (parentWait).
	patient := late && e.now.Sub(g.first) < e.t.reparentAfter+e.parentWait(g)
	live := e.live(g.seq)
	if g.head == nil {
		e.pumpHead(g, late)
	}
	if len(g.req) < g.parts {
		g.req = append(g.req, make([]request, g.parts-len(g.req))...)
	}
	type batch struct {
		want, sub bitmap
	}
	var batches map[peer.ID]*batch
	for j := range g.parts {
		if g.have != nil && g.have.has(j) {
			continue
		}
		r := &g.req[j]
		if r.peer != "" {
			if e.now.Sub(r.at) < e.t.requestTimeout {
				continue
			}
			e.timedOut(g, r.peer)
			e.debug("timeout", "seq", g.seq, "part", j, "peer", short(r.peer))
			r.tried = append(r.tried, r.peer)
			r.peer = ""
		}
		e.growParents(j)
		s := &e.parents[j]
		if s.p != "" && !late && (s.acked || e.now.Sub(s.since) < e.t.requestTimeout) {
			continue // its parent will push it
		}
		if s.p != "" && s.acked && late && !r.late {
			r.late = true
			s.late++
		}
		sub := live && (!s.acked || s.late >= lateLimit)
		if patient && !sub && s.acked && len(r.tried) == 0 {
			continue // late, but its parent is kept and the reader has time
		}
		q := e.choose(g, j, r.tried, s.p, sub)
		if q == nil && s.p != "" && !containsPeer(r.tried, s.p) {
			// Nobody else has it: ask the parent itself, once.
			q = e.choose(g, j, r.tried, "", false)
			sub = false
		}
		if q == nil {
			if len(r.tried) > 0 && e.now.Sub(r.at) >= e.t.requestTimeout {
				r.tried = r.tried[:0] // everyone who has it was tried: start over
			}
			continue
		}
		if batches == nil {
			batches = make(map[peer.ID]*batch)
		}
		b := batches[q.id]
		if b == nil {
			b = &batch{want: newBitmap(g.parts)}
			batches[q.id] = b
		}
		b.want.set(j)
		if sub {
			if q.id != s.p {
				if s.p != "" {
					e.sendUnsub(s.p, j)
					e.c.stats.reparents.Add(1)
				}
				*s = parentSlot{p: q.id, since: e.now}
			}
			if b.sub == nil {
				b.sub = newBitmap(g.parts)
			}
			b.sub.set(j)
		}
		r.peer, r.at = q.id, e.now
		q.outstanding++
	}
	// pumpHead may just have asked a peer for the head; the others need
	// not send it, and neither need anyone once it was asked.
	headAsked := g.head != nil || !g.headAsk.IsZero()
	headPeer := peer.ID("")
	if g.head == nil && g.headAsk.Equal(e.now) {
		headPeer = g.headFrom
	}
	for id, b := range batches {
		o := e.queue(g.gid, id)
		m := o.metaFor()
		m.bm[bmWant] = b.want
		if b.sub != nil {
			m.bm[bmSub] = b.sub
			if e.heads == "" || e.heads == id {
				e.heads = id
				m.flags |= metaHeads
			}
		}
		m.flags |= e.selfFlags()
		if id == headPeer {
			m.flags &^= metaHead
		} else if headAsked {
			m.flags |= metaHead
		} else {
			// The first peer asked sends the head; the others need not.
			headAsked = true
			g.headAsk, g.headFrom = e.now, id
		}
		e.asked(g, id)
		e.debug("request", "seq", g.seq, "want", b.want, "sub", b.sub, "peer", short(id), "head", m.flags&metaHead == 0)
	}
}

// parentWait is how much longer than reparentAfter a part of g whose
// confirmed parent is late may wait for it before it is asked elsewhere:
// the time until the reader plays g, less playSlack, at most lateWait.
// Asked at reparentAfter, such a part often came twice (the parent's push
// was on its way), and the requests and duplicates took upload that made
// later pushes late in turn. With the wait, N=50 runs settle within 15 s
// and the source sends about one copy, not 1.5–1.7 (docs/PERFORMANCE.md).
func (e *engine) parentWait(g *group) time.Duration {
	h := e.c.playhead.Load()
	if h == 0 || g.seq+1 < h {
		return 0 // not playing yet, or already played
	}
	until := time.Duration(g.seq+1-h) * e.chunkTime()
	return min(max(until-e.t.playSlack, 0), e.t.lateWait)
}

// asked notes a request to p for g, for the withholding account.
func (e *engine) asked(g *group, p peer.ID) {
	e.c.stats.requests.Add(1)
	gp := g.peer(p)
	if !gp.asked {
		gp.asked, gp.answered = true, false
	}
}

// timedOut charges p once per group for a request it left unanswered: a
// peer that answers late is charged and then forgiven (see answered).
func (e *engine) timedOut(g *group, p peer.ID) {
	e.c.stats.timeouts.Add(1)
	q := e.peers[p]
	if q == nil {
		return
	}
	q.outstanding--
	if gp := g.peers[p]; gp != nil && gp.asked && !gp.answered && !gp.charged {
		gp.charged = true
		q.timeouts++
	}
}

// answered notes that p sent something for g after we asked it.
func (e *engine) answered(g *group, gp *groupPeer, p *peerInfo) {
	if !gp.asked || gp.answered {
		return
	}
	gp.answered = true
	p.answers++
	if gp.charged {
		gp.charged = false
		p.timeouts = max(0, p.timeouts-1)
	}
}

// live reports whether seq is at the live edge: among the newest chunks
// whose heads this node has verified.
func (e *engine) live(seq uint64) bool {
	high, ok := e.c.window.high()
	return !ok || seq+2 >= high
}

// behind reports whether seq is behind the live edge for the catch-up
// rules (spendCatchUp): more than catchUpBehind of stream time behind the
// newest verified. Repairs of the last moments are live work: under loss
// most chunks need one.
func (e *engine) behind(seq uint64) bool {
	d, _ := e.lagOf(seq)
	return d > e.t.catchUpBehind
}

// lagOf is how far seq is behind the newest verified chunk: in stream
// time, by the chunks' mean duration, and in seqs (0 if it is not).
func (e *engine) lagOf(seq uint64) (time.Duration, uint64) {
	high, ok := e.c.window.high()
	if !ok || seq >= high {
		return 0, 0
	}
	n := high - seq
	return time.Duration(n) * e.chunkTime(), n
}

// chunkTime is the chunks' mean duration, at least 10 ms: what one seq is
// worth in stream time before any head has said.
func (e *engine) chunkTime() time.Duration {
	return max(e.chunkDur, 10*time.Millisecond)
}

// played reports whether the reader has played or skipped seq (see
// Channel.Playing): fetching it would only take upload from chunks still
// to be played, here and at the peer asked.
func (e *engine) played(seq uint64) bool {
	h := e.c.playhead.Load()
	return h > 0 && seq+1 < h
}

// stale reports whether seq is too far behind the live edge to be worth
// fetching: more than staleAfter of stream time, and more than 8 seqs.
func (e *engine) stale(seq uint64) bool {
	d, n := e.lagOf(seq)
	return d > e.t.staleAfter && n > 8
}

// pumpHead asks for g's head when parts wait for it, or when the group was
// announced and nobody pushes it: of the peer that sent a part, or of an
// announcer, again after each request timeout.
func (e *engine) pumpHead(g *group, late bool) {
	if !g.headAsk.IsZero() && e.now.Sub(g.headAsk) < e.t.requestTimeout {
		return
	}
	if len(g.pending) == 0 && !late && g.parts > 0 {
		return // the parts' requests will bring it
	}
	if len(g.pending) > 0 && e.now.Sub(g.first) < e.t.headWait {
		return
	}
	var q peer.ID
	for _, pp := range g.pending {
		if pp.from != g.headFrom {
			q = pp.from
			break
		}
	}
	if q == "" {
		if c := e.choose(g, -1, []peer.ID{g.headFrom}, "", false); c != nil {
			q = c.id
		}
	}
	if q == "" && len(g.pending) > 0 {
		q = g.pending[0].from // the one peer that has it: ask again
	}
	if q == "" {
		return
	}
	g.headAsk, g.headFrom = e.now, q
	m := e.queue(g.gid, q).metaFor()
	if m.bm[bmWant] == nil {
		m.bm[bmWant] = newBitmap(1)
	}
	m.flags |= e.selfFlags() &^ metaHead
	e.c.stats.requests.Add(1)
}

// choose picks the peer to ask for part j of g (j < 0: the head) among
// those that hold it: not tried before, not busy or distrusted, not the
// parent being replaced; for a subscription, one with spare slots and
// that did not decline us lately. Among those it prefers peers that
// already push us few indices (spread the load), with few requests of ours
// outstanding, and that announced early (closer to the source).
func (e *engine) choose(g *group, j int, tried []peer.ID, avoid peer.ID, sub bool) *peerInfo {
	var best *peerInfo
	bestScore := 0.0
	live := e.live(g.seq)
	behind := e.behind(g.seq)
	load := map[peer.ID]int{}
	for _, s := range e.parents {
		if s.p != "" {
			load[s.p]++
		}
	}
	for id, gp := range g.peers {
		if id == avoid || id == e.self || gp.has == nil {
			continue
		}
		if j >= 0 && !gp.has.has(j) || j < 0 && !gp.hasHead {
			continue
		}
		p := e.peers[id]
		if p == nil || !p.usable(e.now) || containsPeer(tried, id) {
			continue
		}
		if behind && e.now.Before(p.busyBehindUntil) {
			continue
		}
		if !live && p.outstanding >= maxOutstanding {
			continue // repairs and a joiner's GOP go in small sips
		}
		score := -2*float64(load[id]) - float64(p.outstanding)/4
		if gp.rank > 0 {
			score -= float64(gp.rank) / 4
		}
		if p.depthOf(max(j, 0)) == 0 {
			// The source: its upload is one copy of the stream, so it is
			// asked only when nobody else has the part.
			score -= 50
		}
		if sub {
			// A shallow parent keeps the tree short: every hop costs a
			// link's latency and a place in the parent's queue.
			score -= 2 * float64(min(p.depthOf(j), 10))
			if e.now.Before(p.declinedUntil) {
				score -= 8
			}
			score += float64(min(p.free, 8)) / 4
		}
		if best == nil || score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

func containsPeer(ps []peer.ID, p peer.ID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// sendUnsub tells p to stop pushing index j, on the latest group.
func (e *engine) sendUnsub(p peer.ID, j int) {
	if e.heads == p {
		e.heads = ""
	}
	if l := e.latest(); l != nil {
		e.unsubOn(l.gid, p, j)
	}
}

// unsubOn adds index j to the unsub bits queued for p on group gid.
func (e *engine) unsubOn(gid string, p peer.ID, j int) {
	m := e.queue(gid, p).metaFor()
	if m.bm[bmUnsub] == nil {
		m.bm[bmUnsub] = newBitmap(max(j+1, 8))
	}
	if j/8 >= len(m.bm[bmUnsub]) {
		b := newBitmap(j + 1)
		copy(b, m.bm[bmUnsub])
		m.bm[bmUnsub] = b
	}
	m.bm[bmUnsub].set(j)
}

// setStartFrom sets the first chunk a joiner fetches: the newest
// random-access chunk whose head it verified. It will start there or
// later, so older chunks would only take its neighbours' upload from the
// ones it will play. Where random-access chunks come less than
// startBehind of stream time apart (audio alone, or every chunk a
// keyframe), any of them may start the stream, and a line that moved with
// each new head would leave every chunk still on its way behind it: then
// there is no line (0). A random-access flag announced without a verified
// head cannot raise the line, only remove it. gs is sorted by seq.
func (e *engine) setStartFrom(gs []*group) {
	e.startFrom = 0
	if e.newestRAP == 0 {
		return
	}
	n := uint64(max(1, e.t.startBehind/e.chunkTime()))
	for i := len(gs) - 1; i >= 0; i-- {
		g := gs[i]
		if g.seq+n <= e.newestRAP {
			break
		}
		if g.rap && g.seq < e.newestRAP {
			return
		}
	}
	e.startFrom = e.newestRAP
}

// tryStart delivers the first chunks of a joiner. Until then completed
// chunks are held, and the first delivered is a random-access chunk: the
// newest complete one, if no newer one is known (it may be the current
// GOP's, fetched from neighbours), or an older one whose run to the newest
// complete chunk has no gaps. It goes to Next with the complete chunks
// after it, in seq order; chunks before it are dropped (the buffer would
// drop them). A buffer fed that starts at once; fed the same chunks in
// arrival order it would start at whatever random-access chunk came first
// and skip what of its GOP was still on the way. If no start forms within
// startupWait, it starts at the newest random-access chunk held (or with
// all it holds if it holds none), but not before 2×startupWait while that
// is older than startFrom and a random-access chunk with a verified head
// is on its way: the buffer keeps the delay it starts with for good, and
// the chunks in between are not fetched (pump).
func (e *engine) tryStart() {
	var held []*group
	// The newest random-access chunk heard of, verified or only
	// announced (e.newestRAP counts verified heads alone).
	var heardRAP uint64
	var anyRAP bool
	for _, g := range e.groups {
		if g.local || g.delivered {
			continue
		}
		if g.rap && (!anyRAP || g.seq > heardRAP) {
			heardRAP, anyRAP = g.seq, true
		}
		if g.done {
			held = append(held, g)
		}
	}
	if len(held) == 0 {
		return
	}
	if e.startWait.IsZero() {
		e.startWait = e.now
	}
	slices.SortFunc(held, func(a, b *group) int { return cmp.Compare(a.seq, b.seq) })
	start := -1
	gapless := true // held[i:] has no gaps
	for i := len(held) - 1; i >= 0 && start < 0; i-- {
		if i < len(held)-1 && held[i].seq+1 != held[i+1].seq {
			gapless = false
		}
		if held[i].rap && (held[i].seq >= heardRAP || gapless) {
			start = i
		}
	}
	if start < 0 {
		waited := e.now.Sub(e.startWait)
		if waited < e.t.startupWait {
			return
		}
		// The newest random-access chunk held, gaps or not: an older one
		// would start the buffer further behind the source.
		for i := len(held) - 1; i >= 0; i-- {
			if held[i].rap {
				start = i
				break
			}
		}
		// newestRAP is 0 also when the only one verified is seq 0, the
		// broadcast's first chunk: then nothing older can be held.
		if e.newestRAP > 0 && (start < 0 || held[start].seq < e.startFrom) && waited < 2*e.t.startupWait {
			return
		}
		start = max(start, 0)
	}
	e.started = true
	e.debug("started", "seq", held[start].seq, "held", len(held), "waited", e.now.Sub(e.startWait))
	for _, g := range held[:start] {
		g.delivered = true // before the start: the buffer would drop them
	}
	for _, g := range held[start:] {
		g.delivered = true
		e.c.deliver(g.chunk(e.c.id))
	}
}

// depths returns this node's hops from the source for each index: the
// source is 0, a node one more than its parent; noDepth without a parent.
func (e *engine) depths() []byte {
	d := make([]byte, e.parts)
	for j := range d {
		d[j] = byte(e.depthOf(j))
	}
	return d
}

func (e *engine) depthOf(j int) int {
	if e.source {
		return 0
	}
	if j >= len(e.parents) {
		return noDepth
	}
	s := e.parents[j]
	if s.p == "" || !s.acked {
		return noDepth
	}
	p := e.peers[s.p]
	if p == nil {
		return noDepth
	}
	return min(p.depthOf(j)+1, noDepth)
}

// improve moves, once a second, at most one index to a parent at least
// two hops shallower than the current one, among mesh peers with spare
// slots, asking on the newest chunk. Trees grown from whoever announced
// first get deep; this pulls them flat as the audience settles.
func (e *engine) improve() {
	if e.source {
		return
	}
	l := e.latest()
	if l == nil || l.head == nil {
		return
	}
	for j := range min(e.parts, len(e.parents)) {
		s := e.parents[j]
		if s.p == "" || !s.acked || e.now.Sub(s.since) < 2*time.Second {
			continue
		}
		cur := e.depthOf(j)
		var best *peerInfo
		for _, p := range e.peers {
			if !p.mesh || p.id == s.p || p.free == 0 || !p.usable(e.now) || e.now.Before(p.declinedUntil) {
				continue
			}
			if d := p.depthOf(j); d+2 < cur && (best == nil || d < best.depthOf(j)) {
				best = p
			}
		}
		if best == nil {
			continue
		}
		e.debug("improve", "part", j, "from", short(s.p), "depth", cur, "to", short(best.id), "their", best.depthOf(j))
		e.sendUnsub(s.p, j)
		e.parents[j] = parentSlot{p: best.id, since: e.now}
		m := e.queue(l.gid, best.id).metaFor()
		if m.bm[bmSub] == nil {
			m.bm[bmSub] = newBitmap(max(l.parts, j+1))
		}
		m.bm[bmSub].set(j)
		m.flags |= metaHead
		if e.heads == best.id {
			// subscribe takes the heads flag as given: without it our
			// heads parent would stop sending heads.
			m.flags |= metaHeads
		}
		e.c.stats.reparents.Add(1)
		return
	}
}

// tellHave tells p we hold part i of g (and whatever else we hold of it).
func (e *engine) tellHave(g *group, p peer.ID, i int) {
	if pp := g.peer(p); pp.has.has(i) {
		return
	}
	m := e.queue(g.gid, p).metaFor()
	m.bm[bmHave] = g.haveBitmap()
	m.bm[bmHave].set(i)
	m.flags |= g.flags()
}
