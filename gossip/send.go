package gossip

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// sendClass ranks the parts waiting to be sent (doc.go, "Sending").
type sendClass int

const (
	classPush    sendClass = iota // to a child subscribed to the index
	classAnswer                   // answering a request for a live chunk
	classCatchUp                  // answering a request behind the live edge
	nClasses
)

// waitingPart is a part that waits in the engine, not in pubsub's queue,
// until the uplink has room for it.
type waitingPart struct {
	gid  string
	p    peer.ID
	part dataPart
	at   time.Time
}

// sender holds the parts this node is to send until the uplink takes
// them. Pubsub's per-peer queues are FIFO and cannot be cancelled: a part
// handed to them waits behind everything handed before it, however stale
// or unimportant. So the engine hands pubsub only what the uplink writes
// in a few tens of milliseconds, and keeps the rest here, where pushes go
// before answers and answers before catch-up, and a part that waited too
// long is dropped.
type sender struct {
	q       [nClasses][]waitingPart
	bytes   int64 // waiting, all classes
	perPeer map[peer.ID]int64
}

// enqueue puts part i of g to p in line.
func (e *engine) enqueue(c sendClass, g *group, p peer.ID, i int) {
	s := &e.send
	if s.perPeer == nil {
		s.perPeer = make(map[peer.ID]int64)
	}
	d := g.part(i)
	s.q[c] = append(s.q[c], waitingPart{gid: g.gid, p: p, part: dataPart{index: i, data: d}, at: e.now})
	s.bytes += int64(len(d))
	s.perPeer[p] += int64(len(d))
}

// backlog is what this node has to send and has not written: what waits
// here and what waits in pubsub's queues.
func (e *engine) backlog() int64 {
	b, _ := e.c.s.up.state()
	return b + e.send.bytes
}

// peerBacklog is backlog for one peer.
func (e *engine) peerBacklog(p peer.ID) int64 {
	return e.c.s.up.peerBacklog(p) + e.send.perPeer[p]
}

// sendWindow is how much may wait in pubsub's queues: what the uplink
// writes in sendAhead, enough to keep it busy between two chances to
// release more (every RPC handled, and every tick).
func (e *engine) sendWindow() (total, perPeer int64) {
	total = max(minSendWindow, int64(e.drain*e.t.sendAhead.Seconds()))
	return total, max(minSendWindow/2, total/4)
}

// minSendWindow keeps a slow or unmeasured uplink busy.
const minSendWindow = 32 << 10

// release hands pubsub the waiting parts the window has room for, best
// class first, oldest first within a class. A part that waited past its
// class's limit is dropped: a push its child has by now asked for
// elsewhere, an answer the asker is about to ask elsewhere for. For an
// answer the asker is told busy, so it asks elsewhere at once and does not
// count us as withholding.
func (e *engine) release() {
	s := &e.send
	if s.bytes == 0 {
		e.c.waiting.Store(false)
		return
	}
	up := e.c.s.up
	limit, peerLimit := e.sendWindow()
	inPubsub, _ := up.state()
	var queued map[peer.ID]int64 // pubsub's queue per peer, as this call fills it
	for c := range nClasses {
		maxWait := e.t.requestTimeout / 2
		switch {
		case c == classPush && e.source:
			// The source's push is the only copy of its index: late
			// beats never.
			maxWait = time.Duration(1<<63 - 1)
		case c == classPush:
			maxWait = e.t.reparentAfter
		}
		keep := s.q[c][:0]
		for _, w := range s.q[c] {
			n := int64(len(w.part.data))
			switch {
			case e.holds(w):
				// It told us it holds the part since we queued it: from
				// its parent, or from the peer it asked as well.
				s.take(w)
				e.c.stats.sendUnneeded.Add(1)
				continue
			case e.now.Sub(w.at) > maxWait:
				s.take(w)
				e.c.stats.sendExpired.Add(1)
				e.expired(c, w)
				continue
			case inPubsub >= limit:
				keep = append(keep, w)
				continue
			}
			if queued == nil {
				queued = make(map[peer.ID]int64)
			}
			pq, ok := queued[w.p]
			if !ok {
				pq = up.peerBacklog(w.p)
			}
			if pq >= peerLimit {
				queued[w.p] = pq
				keep = append(keep, w)
				continue
			}
			queued[w.p] = pq + n
			inPubsub += n
			s.take(w)
			o := e.queue(w.gid, w.p)
			o.parts = append(o.parts, w.part)
			e.c.stats.sentBy[c].Add(1)
			e.c.stats.partBytesOut.Add(uint64(n))
			if e.source && c == classPush { // only the source leases: relays skip the lookup
				if pi := e.peers[w.p]; pi != nil && pi.extra.has(w.part.index) {
					e.c.stats.leased.Add(1)
				}
			}
		}
		clear(s.q[c][len(keep):])
		s.q[c] = keep
	}
	e.c.waiting.Store(s.bytes > 0)
}

// holds reports whether the peer a waiting part is for told us it holds it.
func (e *engine) holds(w waitingPart) bool {
	g := e.groups[w.gid]
	if g == nil {
		return false
	}
	gp := g.peers[w.p]
	return gp != nil && gp.said.has(w.part.index)
}

// onDrain runs when pubsub has written part of what it was handed while
// parts wait here: it releases more at once, so a quiet link is not held
// to one window a tick.
func (e *engine) onDrain() {
	e.now = e.c.s.cfg.Now()
	e.flush()
}

// expired deals with a part dropped from the line: the peer may ask for it
// again, and an asker is told busy.
func (e *engine) expired(c sendClass, w waitingPart) {
	if g := e.groups[w.gid]; g != nil {
		if gp := g.peers[w.p]; gp != nil && gp.has != nil {
			gp.has.clear(w.part.index)
		}
	}
	if c == classPush {
		return
	}
	m := e.queue(w.gid, w.p).metaFor()
	m.flags |= metaBusy | e.selfFlags()
	m.free = e.free()
}

// forgetSends drops what waits for a peer that is gone.
func (e *engine) forgetSends(p peer.ID) {
	s := &e.send
	for c := range nClasses {
		keep := s.q[c][:0]
		for _, w := range s.q[c] {
			if w.p == p {
				s.take(w)
				continue
			}
			keep = append(keep, w)
		}
		clear(s.q[c][len(keep):])
		s.q[c] = keep
	}
}

// take removes a part that leaves the line from the byte counts.
func (s *sender) take(w waitingPart) {
	n := int64(len(w.part.data))
	s.bytes -= n
	s.perPeer[w.p] -= n
	if s.perPeer[w.p] <= 0 {
		delete(s.perPeer, w.p)
	}
}
