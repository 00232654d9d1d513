package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestUplinkStall: a peer's queue that holds bytes and has none written
// for stallAfter leaves the backlog at the next refresh; an empty queue
// never stalls, and a write brings a stalled peer back.
func TestUplinkStall(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUplink(func() time.Time { return now })
	u.queued(&pubsub.RPC{}, "quiet", 0) // nothing queued: never counted, never stalled
	live1, live2 := &pubsub.RPC{}, &pubsub.RPC{}
	u.queued(live1, "live", 4<<10)
	u.queued(live2, "live", 6<<10)
	dead1 := &pubsub.RPC{}
	u.queued(dead1, "dead", 1<<10)
	u.queued(&pubsub.RPC{}, "dead", 19<<10)
	check := func(when string, backlog int64, stalled ...peer.ID) {
		t.Helper()
		stalls := u.refreshStalls() // the engine's tick
		if got, _ := u.state(); got != backlog {
			t.Errorf("%s: backlog %d, want %d", when, got, backlog)
		}
		for _, p := range []peer.ID{"quiet", "live", "dead"} {
			want := false
			for _, s := range stalled {
				want = want || s == p
			}
			if got := stalls[p]; got != want {
				t.Errorf("%s: %s stalled %v, want %v", when, p, got, want)
			}
		}
	}
	check("at once", 30<<10)
	now = now.Add(stallAfter / 2)
	u.sent(live1, "live", 4<<10)
	check("half-way", 26<<10)
	now = now.Add(stallAfter/2 + time.Millisecond)
	check("after stallAfter", 6<<10, "dead") // live wrote half-way through
	now = now.Add(stallAfter)
	check("later", 0, "live", "dead")
	u.sent(dead1, "dead", 1<<10)
	check("dead wrote", 19<<10, "live")
	u.gone("live")
	check("live gone", 19<<10)
	u.sent(live2, "live", 6<<10) // its writer was mid-write
	check("live's last write", 19<<10)
	if _, written := u.state(); written != 11<<10 {
		t.Errorf("written %d, want %d", written, 11<<10)
	}
}

// TestUplinkWrittenBeforeQueued: pubsub traces an RPC as queued after it
// pushes it, so the peer's writer may report it written first. Either
// order leaves nothing in the backlog, and the same RPC to two peers is
// two RPCs.
func TestUplinkWrittenBeforeQueued(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUplink(func() time.Time { return now })
	a, b := &pubsub.RPC{}, &pubsub.RPC{}
	u.sent(a, "p", 8<<10)
	u.queued(a, "p", 8<<10)
	u.queued(b, "p", 2<<10)
	u.queued(b, "q", 2<<10)
	if got := u.peerBacklog("p"); got != 2<<10 {
		t.Fatalf("p's backlog %d after one RPC written early and one queued, want %d", got, 2<<10)
	}
	u.sent(b, "q", 2<<10)
	u.sent(b, "p", 2<<10)
	if got, written := u.state(); got != 0 || written != 12<<10 {
		t.Errorf("backlog %d, written %d; want 0, %d", got, written, 12<<10)
	}
	// A write whose queued trace never comes (its queue was gone) is
	// forgotten after stallAfter.
	u.sent(&pubsub.RPC{}, "p", 1<<10)
	now = now.Add(stallAfter + time.Millisecond)
	u.refreshStalls()
	if len(u.early) != 0 || len(u.inQueue) != 0 {
		t.Errorf("left %d early and %d queued RPCs, want none", len(u.early), len(u.inQueue))
	}
}

// TestOrphanedIndexReseeded: a seed whose index nobody gets from it makes
// the source's other children ask the source for that index alone. The
// source hands the index to another peer, though no other index is asked
// for: the median of askers is over every index.
func TestOrphanedIndexReseeded(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	e.parts = 3
	for j, id := range []peer.ID{"A", "B", "C"} {
		p := e.peer(id)
		p.mesh = true
		e.addSub(p, j)
	}
	e.seedSince = []time.Time{e.now.Add(-3 * time.Second), e.now.Add(-3 * time.Second), e.now.Add(-3 * time.Second)}
	e.noteRepair("B", []int{0, 0, 0, 0})
	e.noteRepair("C", []int{0, 0, 0, 0})
	e.rotateSeeds()
	if e.peers["A"].subs.has(0) || e.peers["A"].badSeedUntil.IsZero() {
		t.Fatalf("index 0, asked of the source by both other children, is still A's: subs %v", e.peers["A"].subs)
	}
	if !e.repairs[0].rotated {
		t.Error("index 0 not marked for a new seed")
	}
	// A typical index: asked by one peer of three, not replaced.
	e.noteRepair("A", []int{1, 1, 1, 1, 1, 1})
	e.rotateSeeds()
	if !e.peers["B"].subs.has(1) {
		t.Error("index 1, asked of the source by one peer, lost its seed")
	}
}

// TestConsumerDeclinesSeed: a node that only consumes gives back an index
// the source seeds it with, saying busy, and takes no parent for it; the
// source then seeds that index elsewhere and passes the consumer over.
// Seeded with two of three indices, the consumer in TestConsumeOnly
// starved its neighbours of them until the source's answers ran out.
func TestConsumerDeclinesSeed(t *testing.T) {
	c := joinEngine(t)
	c.consume = true
	c.peer("S")
	ack := newBitmap(8)
	ack.set(0)
	ack.set(2)
	c.acked("S", "the source's first group", ack, true) // before any group here
	for j, s := range c.parents {
		if s.p != "" {
			t.Errorf("consumer took %q as parent of index %d", s.p, j)
		}
	}
	var back *meta
	for _, byPeer := range c.out {
		if o := byPeer["S"]; o != nil && o.m != nil {
			back = o.m
		}
	}
	if back == nil || !back.bm[bmUnsub].has(0) || !back.bm[bmUnsub].has(2) || back.flags&metaBusy == 0 {
		t.Fatalf("consumer's answer to the seed %+v, want unsub 0 and 2, busy", back)
	}

	s := joinEngine(t)
	s.source = true
	g := s.testGroup(20)
	for _, id := range []peer.ID{"C", "R"} {
		p := s.peer(id)
		p.mesh = true
		p.seen = s.now.Add(-time.Minute)
	}
	s.peers["C"].free = 8 // the better seed by its slots, but for its answer
	s.seed(g, 0)
	if !s.peers["C"].subs.has(0) {
		t.Fatalf("index 0 not seeded to C first")
	}
	s.handle("C", g.gid, g.seq, back, &data{})
	if s.peers["C"].subs.has(0) || !s.now.Before(s.peers["C"].badSeedUntil) {
		t.Fatalf("C kept index 0 or is not passed over as a seed (until %v)", s.peers["C"].badSeedUntil)
	}
	s.seed(g, 0)
	if !s.peers["R"].subs.has(0) || s.peers["C"].subs.has(0) {
		t.Errorf("index 0 seeded to C again, want R")
	}
}

// TestRebalanceSeeds: the source moves an index from its busiest seed to
// the mesh peer seed picks, and moves nothing when seed would hand the
// index straight back. It used to: with the idle peer short of room, every
// publish dropped index 1 from A and seeded A with it again. A leased
// (extra) subscription does not make a peer busy.
func TestRebalanceSeeds(t *testing.T) {
	setup := func(bFree uint8) (*engine, *group, *peerInfo, *peerInfo) {
		e := sendEngine(t)
		e.source = true
		e.parts = 2
		g := e.testGroup(1)
		g.parts = 2
		a, b := e.peer("A"), e.peer("B")
		a.mesh, b.mesh = true, true
		a.free, b.free = 10, bFree
		a.seen = e.now.Add(-time.Minute) // known longest: seed's tie-break
		b.seen = e.now
		e.addSub(a, 0)
		e.addSub(a, 1)
		return e, g, a, b
	}
	publish := func(e *engine, g *group) {
		e.rebalance(g)
		for j := range g.parts {
			if e.perIndex[j] == 0 {
				e.seed(g, j)
			}
		}
	}
	dropped := func(e *engine, g *group, id peer.ID) bool {
		o := e.out[g.gid][id]
		return o != nil && o.m != nil && o.m.bm[bmDrop] != nil
	}

	e, g, a, b := setup(0)
	publish(e, g)
	if !a.subs.has(0) || !a.subs.has(1) || b.nsubs != 0 {
		t.Fatalf("B short of room: subs A %v, B %v; want both indices left with A", a.subs, b.subs)
	}
	if dropped(e, g, "A") {
		t.Error("B short of room: an index was dropped from A (and handed back)")
	}

	e, g, a, b = setup(10)
	publish(e, g)
	if !a.subs.has(0) || a.subs.has(1) || !b.subs.has(1) || !dropped(e, g, "A") {
		t.Fatalf("B with room: subs A %v, B %v, drop to A %v; want index 1 moved to B", a.subs, b.subs, dropped(e, g, "A"))
	}

	// Indices seeded within seedSettle stay: their trees are still growing.
	e, g, a, b = setup(10)
	e.seedSince = []time.Time{e.now, e.now.Add(-seedSettle / 2)}
	publish(e, g)
	if !a.subs.has(0) || !a.subs.has(1) || dropped(e, g, "A") {
		t.Errorf("indices seeded lately: subs A %v, B %v; want both left with A", a.subs, b.subs)
	}

	// A, not yet playing, seeds index 1 and holds a lease on index 0, which
	// B seeds: A is no busier a seed than B, and keeps index 1.
	e, g, a, b = setup(10)
	e.unsubscribe(a, bitmapOf(0))
	e.addSub(b, 0)
	e.subscribe(a, g, bitmapOf(0), metaStart)
	if !a.extra.has(0) {
		t.Fatalf("A's second subscription on index 0 is not a lease: extra %v", a.extra)
	}
	clear(e.out)
	publish(e, g)
	if !a.subs.has(1) || dropped(e, g, "A") {
		t.Errorf("A, seed of one index with a lease on another, lost its index: subs %v", a.subs)
	}
}

// bitmapOf is a bitmap with the given indices set.
func bitmapOf(js ...int) bitmap {
	b := newBitmap(8)
	for _, j := range js {
		b.set(j)
	}
	return b
}

// TestLostSeedHandsOver: a seed that stalls (or goes) takes the last
// parts of its index with it; the peer seeded with the index next gets the
// index's parts of the last second, as after rotateSeeds.
func TestLostSeedHandsOver(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	a, b := e.peer("A"), e.peer("B")
	a.mesh, b.mesh = true, true
	a.free, b.free = 10, 10
	e.addSub(a, 3)
	recent, old, now := e.testGroup(1), e.testGroup(2), e.testGroup(3)
	for g, ago := range map[*group]time.Duration{recent: 400 * time.Millisecond, old: 1500 * time.Millisecond, now: 0} {
		g.local, g.first = true, e.now.Add(-ago)
	}
	e.checkStalled(a, true)
	if a.subs.has(3) {
		t.Fatal("a stalled seed kept its index")
	}
	e.seed(now, 3)
	if !b.subs.has(3) {
		t.Fatalf("index 3 not seeded to B: subs %v", b.subs)
	}
	var got []string
	for _, w := range e.send.q[classPush] {
		got = append(got, fmt.Sprintf("%s:%s/%d", string(w.p), w.gid, w.part.index))
	}
	want := []string{fmt.Sprintf("B:%s/3", recent.gid)}
	if !slices.Equal(got, want) {
		t.Errorf("pushed on seeding B %v, want %v (the lost seed's last second, not older)", got, want)
	}
}

// TestUplinkForgetsOldWrites: the time of a peer's last write, kept for
// wroteSince, goes after wroteKeep, so peers long gone leave nothing behind.
func TestUplinkForgetsOldWrites(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUplink(func() time.Time { return now })
	rpc := &pubsub.RPC{}
	u.queued(rpc, "A", 100)
	u.sent(rpc, "A", 100)
	u.gone("A")
	if !u.wroteSince("A", now) {
		t.Fatal("a write now is not a write since now")
	}
	now = now.Add(wroteKeep + time.Second)
	u.refreshStalls()
	if len(u.wrote) != 0 || u.wroteSince("A", time.Time{}) {
		t.Errorf("a write %v old is kept: %v", wroteKeep+time.Second, u.wrote)
	}
}
