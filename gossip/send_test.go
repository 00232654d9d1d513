package gossip

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sendEngine is an engine with nothing but what its sender needs: an
// uplink whose backlog the test sets, and groups of full 8 KiB parts.
func sendEngine(t *testing.T) *engine {
	t.Helper()
	s := &Service{log: slog.New(slog.DiscardHandler)}
	e := &engine{
		c:      &Channel{s: s},
		t:      defaultTuning(),
		groups: make(map[string]*group),
		peers:  make(map[peer.ID]*peerInfo),
		out:    make(map[string]map[peer.ID]*outMsg),
		now:    time.Unix(1000, 0),
		parts:  8,
	}
	s.up = newUplink(func() time.Time { return e.now })
	return e
}

func (e *engine) testGroup(seq uint64) *group {
	g := &group{
		gid:     fmt.Sprintf("%08d-group", seq),
		seq:     seq,
		hdr:     header{seq: seq, parts: 8, payloadLen: 8 * PartSize},
		parts:   8,
		payload: make([]byte, 8*PartSize),
		peers:   make(map[peer.ID]*groupPeer),
	}
	e.groups[g.gid] = g
	return g
}

// sentParts returns what one flush would send, as "peer:seq/index" in order of
// release, and the peers told busy, and clears it.
func (e *engine) sentParts() (parts, busy []string) {
	for _, byPeer := range e.out {
		for p, o := range byPeer {
			for _, d := range o.parts {
				parts = append(parts, fmt.Sprintf("%s:%d", string(p), d.index))
			}
			if o.m != nil && o.m.flags&metaBusy != 0 {
				busy = append(busy, string(p))
			}
		}
	}
	clear(e.out)
	return parts, busy
}

func TestSenderOrder(t *testing.T) {
	e := sendEngine(t)
	g := e.testGroup(1)
	// Queued in the worst order: catch-up, then an answer, then a push.
	e.enqueue(classCatchUp, g, "joiner", 0)
	e.enqueue(classAnswer, g, "asker", 1)
	e.enqueue(classPush, g, "child", 2)
	// pubsub's queues hold all but one part's room of the window.
	limit, _ := e.sendWindow()
	written := &pubsub.RPC{} // the next RPC the uplink writes
	e.c.s.up.queued(written, "other", PartSize)
	e.c.s.up.queued(&pubsub.RPC{}, "other", limit-1-PartSize)
	var order []string
	for range 3 {
		e.release()
		got, _ := e.sentParts()
		if len(got) != 1 {
			t.Fatalf("released %v with room for one part", got)
		}
		order = append(order, got[0])
		e.c.s.up.sent(written, "other", PartSize) // the uplink wrote one part's worth
		written = &pubsub.RPC{}                   // and pubsub took the part released
		e.c.s.up.queued(written, "other", PartSize)
	}
	want := []string{"child:2", "asker:1", "joiner:0"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("released %v, want %v", order, want)
	}
	if e.send.bytes != 0 || len(e.send.perPeer) != 0 {
		t.Errorf("sender holds %d bytes for %v after releasing all", e.send.bytes, e.send.perPeer)
	}
}

// TestSentByLine: the parts handed to pubsub are counted by line, and the
// source's pushes to a leased (extra) child apart.
func TestSentByLine(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	e.drain = 10e6 // an uplink with room for all of them
	g := e.testGroup(1)
	e.peer("child")
	e.peer("leased").extra = newBitmap(8)
	e.peers["leased"].extra.set(1)
	e.enqueue(classPush, g, "child", 0)
	e.enqueue(classPush, g, "leased", 1)
	e.enqueue(classPush, g, "leased", 2) // not an index it leased
	e.enqueue(classAnswer, g, "asker", 3)
	e.enqueue(classCatchUp, g, "joiner", 4)
	e.release()
	if got, _ := e.sentParts(); len(got) != 5 {
		t.Fatalf("released %v, want all 5", got)
	}
	st := &e.c.stats
	got := fmt.Sprint(st.partsSent(), st.sentBy[classPush].Load(), st.leased.Load(), st.sentBy[classAnswer].Load(), st.sentBy[classCatchUp].Load())
	if got != "5 3 1 1 1" {
		t.Errorf("out, pushed, leased, answered, catch-up = %s, want 5 3 1 1 1", got)
	}
	if n := st.partBytesOut.Load(); n != 5*PartSize {
		t.Errorf("%d part bytes out, want %d", n, 5*PartSize)
	}
}

func TestSenderExpiry(t *testing.T) {
	e := sendEngine(t)
	g := e.testGroup(1)
	limit, _ := e.sendWindow()
	e.c.s.up.queued(&pubsub.RPC{}, "other", limit) // the uplink is full
	e.enqueue(classPush, g, "child", 0)
	e.enqueue(classAnswer, g, "asker", 1)
	e.enqueue(classCatchUp, g, "joiner", 2)
	e.release()
	if got, busy := e.sentParts(); len(got) != 0 || len(busy) != 0 {
		t.Fatalf("a full uplink released %v and told %v busy", got, busy)
	}
	// Past reparentAfter the child has asked elsewhere: the push goes
	// unsent, silently; answers wait up to half the request timeout.
	e.now = e.now.Add(e.t.reparentAfter + time.Millisecond)
	e.release()
	if got, busy := e.sentParts(); len(got) != 0 || len(busy) != 0 {
		t.Fatalf("released %v, told %v busy; want nothing yet", got, busy)
	}
	if n := e.c.stats.sendExpired.Load(); n != 1 {
		t.Errorf("%d parts expired, want the push", n)
	}
	e.now = e.now.Add(e.t.requestTimeout / 2)
	e.release()
	_, busy := e.sentParts()
	slices.Sort(busy)
	if fmt.Sprint(busy) != "[asker joiner]" {
		t.Errorf("told %v busy, want the asker and the joiner", busy)
	}
	if n := e.c.stats.sendExpired.Load(); n != 3 {
		t.Errorf("%d parts expired, want 3", n)
	}
	if e.send.bytes != 0 {
		t.Errorf("sender holds %d bytes after all expired", e.send.bytes)
	}
}

// TestSenderSkipsHeldParts: a part waiting for the uplink goes unsent if
// its receiver tells us meanwhile that it holds it: a child that got it
// from the peer it asked, an asker whose parent pushed it first.
func TestSenderSkipsHeldParts(t *testing.T) {
	e := sendEngine(t)
	g := e.testGroup(1)
	e.peer("child")
	e.peer("asker")
	limit, _ := e.sendWindow()
	full := &pubsub.RPC{}
	e.c.s.up.queued(full, "other", limit) // the uplink is full
	e.enqueue(classPush, g, "child", 0)
	e.enqueue(classPush, g, "child", 1)
	e.enqueue(classAnswer, g, "asker", 2)
	e.release()
	if got, _ := e.sentParts(); len(got) != 0 {
		t.Fatalf("a full uplink released %v", got)
	}
	have := func(i int) *meta {
		b := newBitmap(8)
		b.set(i)
		return &meta{bm: [bmCount]bitmap{bmHave: b}}
	}
	e.handle("child", g.gid, g.seq, have(0), &data{})
	e.handle("asker", g.gid, g.seq, have(2), &data{})
	e.c.s.up.sent(full, "other", limit) // the uplink drains
	e.release()
	if got, _ := e.sentParts(); fmt.Sprint(got) != "[child:1]" {
		t.Errorf("released %v, want [child:1]: the others are held", got)
	}
	if n := e.c.stats.sendUnneeded.Load(); n != 2 {
		t.Errorf("%d parts counted unneeded, want 2", n)
	}
	if e.send.bytes != 0 || len(e.send.perPeer) != 0 {
		t.Errorf("sender holds %d bytes for %v", e.send.bytes, e.send.perPeer)
	}
}

func TestSenderPeerLimit(t *testing.T) {
	e := sendEngine(t)
	g := e.testGroup(1)
	_, peerLimit := e.sendWindow()
	e.c.s.up.queued(&pubsub.RPC{}, "slow", peerLimit) // one peer's connection is backed up
	e.enqueue(classPush, g, "slow", 0)
	e.enqueue(classPush, g, "fast", 1)
	e.release()
	got, _ := e.sentParts()
	if fmt.Sprint(got) != "[fast:1]" {
		t.Errorf("released %v, want only the part to the peer whose queue has room", got)
	}
	if e.send.perPeer["slow"] != PartSize {
		t.Errorf("%d bytes wait for the slow peer, want one part", e.send.perPeer["slow"])
	}
	e.forgetSends("slow")
	if e.send.bytes != 0 {
		t.Errorf("sender holds %d bytes after the slow peer left", e.send.bytes)
	}
}

// TestStalledPeer: a child whose queue stopped draining (it vanished
// without closing its connection) loses its subscriptions and what waits
// for it, and its queue no longer counts against the uplink, so the
// source, which never drops a push, goes on sending to the others. Before,
// the dead queue filled the window and the source sent nothing more.
func TestStalledPeer(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	e.perIndex = make([]int, e.parts)
	g := e.testGroup(1)
	gone, live := e.peer("gone"), e.peer("live")
	for j, p := range []*peerInfo{gone, live} {
		p.subs.set(j)
		p.nsubs++
		e.used++
		e.perIndex[j]++
	}
	limit, _ := e.sendWindow()
	stuck := &pubsub.RPC{}
	e.c.s.up.queued(stuck, "gone", limit) // and not written for a while
	e.enqueue(classPush, g, "gone", 0)
	e.enqueue(classPush, g, "live", 1)
	e.release()
	if got, _ := e.sentParts(); len(got) != 0 {
		t.Fatalf("released %v through a full window", got)
	}
	mesh := map[peer.ID]struct{}{"gone": {}, "live": {}}
	e.now = e.now.Add(stallAfter / 2)
	e.updateMesh(mesh)
	if gone.stalled {
		t.Fatalf("stalled after %v", stallAfter/2)
	}
	e.now = e.now.Add(stallAfter)
	e.updateMesh(mesh)
	if !gone.stalled || gone.mesh || gone.usable(e.now) || live.stalled {
		t.Fatalf("gone: stalled %v, mesh %v, usable %v; live stalled %v", gone.stalled, gone.mesh, gone.usable(e.now), live.stalled)
	}
	if gone.nsubs != 0 || e.used != 1 || e.send.perPeer["gone"] != 0 {
		t.Errorf("gone keeps %d subscriptions (%d in all) and %d bytes waiting", gone.nsubs, e.used, e.send.perPeer["gone"])
	}
	e.release()
	if got, _ := e.sentParts(); fmt.Sprint(got) != "[live:1]" {
		t.Errorf("released %v, want the live child's part", got)
	}
	// Pubsub gives up on its stream, and its queue goes: that is no sign
	// of life, and it stays out.
	e.c.s.up.gone("gone")
	e.now = e.now.Add(stallAfter)
	e.updateMesh(mesh)
	if !gone.stalled || gone.mesh {
		t.Fatalf("its queue gone, unheard from: stalled %v, mesh %v", gone.stalled, gone.mesh)
	}
	// A write to it completes (its acknowledgements came): it is back.
	e.c.s.up.sent(stuck, "gone", limit)
	e.updateMesh(mesh)
	if gone.stalled || !gone.mesh {
		t.Errorf("after a write: stalled %v, mesh %v", gone.stalled, gone.mesh)
	}
}

// TestRepairsNotHeldToAllowance: with the catch-up allowance spent, a
// joiner asking for a chunk behind the live edge (its GOP) is told busy,
// and a playing viewer asking for the same chunk (a repair) gets it.
func TestRepairsNotHeldToAllowance(t *testing.T) {
	for _, tt := range []struct {
		name     string
		forStart bool
		want     string // parts sent, as sentParts prints them
		busy     bool
	}{
		{"joiner's GOP", true, "[]", true},
		{"player's repair", false, "[asker:0 asker:1]", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := sendEngine(t)
			e.c.window = &window{started: true, highest: 20}
			e.chunkDur = 125 * time.Millisecond
			e.catchUp = 0 // the allowance is spent
			e.slots = e.parts
			g := e.testGroup(1) // 19 chunks, 2.4 s, behind the newest
			g.have = newBitmap(g.parts)
			for i := range g.parts {
				g.have.set(i)
			}
			want := newBitmap(8)
			want.set(0)
			want.set(1)
			e.serve(g, e.peer("asker"), want, false, tt.forStart)
			e.release()
			parts, busy := e.sentParts()
			slices.Sort(parts)
			if fmt.Sprint(parts) != tt.want || (len(busy) > 0) != tt.busy {
				t.Errorf("sent %v, busy %v; want %s, busy %v", parts, busy, tt.want, tt.busy)
			}
		})
	}
}

// TestBusyAfter: a relay answers every request until its backlog holds
// busyAfter of draining; the source says busy at half that.
func TestBusyAfter(t *testing.T) {
	busy := defaultTuning().busyAfter
	for _, tt := range []struct {
		name   string
		source bool
		queued time.Duration
		busy   bool
	}{
		{"relay, short queue", false, busy / 2, false},
		{"relay, queue under busyAfter", false, busy * 3 / 4, false},
		{"relay, long queue", false, busy + time.Millisecond, true},
		{"source, short queue", true, busy / 4, false},
		{"source, queue over half", true, busy * 3 / 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := sendEngine(t)
			e.source = tt.source
			e.srcRepair = 1 << 20
			e.queued = tt.queued
			if got := e.busyFor(e.peer("asker"), PartSize, false); got != tt.busy {
				t.Errorf("busy %v, want %v", got, tt.busy)
			}
		})
	}
}

// TestSourceLease: beyond one child per index, the source takes
// sourceLease copies' worth of joiners as extra children and declines the
// rest; a lease that ends frees its slot for the next joiner. A playing
// viewer gets no lease, free or not.
func TestSourceLease(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	e.slots = e.parts
	e.testGroup(1)
	all := bitmapOf(0, 1, 2, 3, 4, 5, 6, 7)
	e.subscribe(e.peer("child"), nil, all, 0) // one child for every index
	e.sentParts()
	lease := e.leaseSlots()
	if lease < 1 || lease >= e.parts {
		t.Fatalf("lease of %d subscriptions for %d parts: the test needs 1..parts-1", lease, e.parts)
	}
	accepted := func(p string, flags byte) int {
		e.subscribe(e.peer(peer.ID(p)), nil, all, flags)
		for _, byPeer := range e.out {
			if o := byPeer[peer.ID(p)]; o != nil && o.m != nil {
				n := o.m.bm[bmAck].count()
				clear(e.out)
				return n
			}
		}
		t.Fatalf("no answer to %s", p)
		return 0
	}
	if n := accepted("playing", metaHeads); n != 0 {
		t.Errorf("lent %d subscriptions to a playing viewer, want none", n)
	}
	if n := accepted("early", metaStart); n != lease {
		t.Errorf("took %d extra subscriptions, want the lease's %d", n, lease)
	}
	if n := accepted("late", metaStart); n != 0 {
		t.Errorf("took %d more with the lease spent, want none", n)
	}
	e.now = e.now.Add(leaseFor)
	e.expireExtras()
	if e.extras != 0 || e.peers["early"].nsubs != 0 {
		t.Errorf("after the lease: %d extras, the early child holds %d", e.extras, e.peers["early"].nsubs)
	}
	if n := accepted("playing", 0); n != 0 {
		t.Errorf("lent %d subscriptions to a playing viewer once the lease ended, want none", n)
	}
	if n := accepted("late", metaStart); n != lease {
		t.Errorf("took %d from the next joiner once the lease ended, want %d", n, lease)
	}
}

// TestSourceRepairBucket: the source's allowance for answers fills to at
// least one chunk, so a request for a whole chunk larger than
// sourceRepair's second of the stream (512 KiB chunks at 4 Mbit/s) is
// answered once it is full, not refused for good.
func TestSourceRepairBucket(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	e.parts = 64
	e.checkUpload()
	for range 40 { // 10 s of checks
		e.now = e.now.Add(250 * time.Millisecond)
		e.checkUpload()
	}
	p := e.peer("asker")
	if e.busyFor(p, e.parts*PartSize, false) {
		t.Errorf("a full allowance (%.0f bytes) refuses a request for a whole chunk of %d", e.srcRepair, e.parts*PartSize)
	}
	if bucket := e.t.sourceRepair * 4e6 / 8; e.srcRepair > float64(e.parts*PartSize) || bucket >= float64(e.parts*PartSize) {
		t.Errorf("allowance %.0f bytes, share of a second %.0f: want a chunk's worth, more than the share", e.srcRepair, bucket)
	}
}

// TestSourceJoinAllowance: the source answers joiners (flag start) from
// an allowance of its own, and playing viewers' repairs from sourceRepair's:
// once one is spent, the other's requests are still answered.
func TestSourceJoinAllowance(t *testing.T) {
	e := sendEngine(t)
	e.source = true
	for range 8 { // 2 s of checks fill both
		e.checkUpload()
		e.now = e.now.Add(250 * time.Millisecond)
	}
	g := e.testGroup(1)
	g.have = newBitmap(g.parts)
	for j := range g.parts {
		g.have.set(j)
	}
	want := newBitmap(g.parts)
	want.set(0)
	busy := func(asker peer.ID, forStart bool) bool {
		e.serve(g, e.peer(asker), want, false, forStart)
		o := e.out[g.gid][asker]
		return o != nil && o.m.flags&metaBusy != 0
	}
	e.srcRepair = 0
	join := e.srcJoin
	if busy("joiner", true) || e.srcJoin != join-PartSize {
		t.Errorf("with the repairs' allowance spent, a joiner was refused or not charged to its own (%.0f → %.0f)", join, e.srcJoin)
	}
	if !busy("viewer", false) {
		t.Error("a repair was answered from the joiners' allowance")
	}
	e.srcRepair, e.srcJoin = join, 0
	if !busy("joiner2", true) {
		t.Error("a joiner was answered from the repairs' allowance")
	}
	if busy("viewer2", false) || e.srcRepair != join-PartSize {
		t.Errorf("with the joiners' allowance spent, a repair was refused or not charged to its own")
	}
}
