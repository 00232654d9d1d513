package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// joinEngine is a sendEngine that has not started: a joiner whose
// neighbour A announced every part of every group it is given.
func joinEngine(t *testing.T) *engine {
	t.Helper()
	e := sendEngine(t)
	e.c.window = &window{started: true, highest: 20}
	e.c.queue = make(chan p2ptvd.Chunk, 64)
	e.chunkDur = 125 * time.Millisecond
	e.peer("A")
	return e
}

// verified gives g a verified head, random access or not, announced
// complete by A.
func (e *engine) verified(g *group, rap bool) {
	h := g.hdr
	if rap {
		h.flags = p2ptvd.RandomAccess
	}
	e.setHead(g, []byte(fmt.Sprint("head", g.seq)), h)
	g.first = e.now
	has := newBitmap(g.parts)
	for i := range g.parts {
		has.set(i)
	}
	g.peer("A").has = has
}

// askedFor reports which of gs a pump of each asks A for. A's count of
// outstanding requests is reset before each, so the limit on parts asked
// of one peer behind the live edge does not hide a group.
func (e *engine) askedFor(gs ...*group) []uint64 {
	var seqs []uint64
	if !e.started {
		e.setStartFrom(e.sortedGroups())
	}
	for _, g := range gs {
		e.peers["A"].outstanding = 0
		e.pump(g)
		if o := e.out[g.gid]["A"]; o != nil && o.m != nil && o.m.bm[bmWant] != nil {
			seqs = append(seqs, g.seq)
		}
	}
	clear(e.out)
	return seqs
}

// TestJoinerFetchesFromNewestGOP: until it starts, a joiner asks for no
// chunk before the newest random-access chunk whose head it verified; it
// will start there or later. A random-access flag in an announcement,
// without a verified head, does not move that line. Once playing, it
// repairs older chunks again.
func TestJoinerFetchesFromNewestGOP(t *testing.T) {
	e := joinEngine(t)
	old, mid := e.testGroup(4), e.testGroup(8)
	e.verified(old, true)
	e.verified(mid, false)
	if got := e.askedFor(old, mid); fmt.Sprint(got) != "[4 8]" {
		t.Fatalf("with one GOP known, asked for %v, want [4 8]", got)
	}
	// A newer random-access chunk, announced but its head not yet seen.
	rumour := e.testGroup(16)
	rumour.rap = true
	for j := range old.req {
		old.req[j] = request{} // as if those requests were answered busy
		mid.req[j] = request{}
	}
	if got := e.askedFor(old, mid); fmt.Sprint(got) != "[4 8]" {
		t.Errorf("with a newer GOP only rumoured, asked for %v, want [4 8]", got)
	}
	newer, after := e.testGroup(12), e.testGroup(13)
	e.verified(newer, true)
	e.verified(after, false)
	for j := range old.req {
		old.req[j] = request{}
		mid.req[j] = request{}
	}
	if got := e.askedFor(old, mid, newer, after); fmt.Sprint(got) != "[12 13]" {
		t.Errorf("with a newer GOP verified, asked for %v, want [12 13]", got)
	}
	e.started = true
	if got := e.askedFor(old, mid); fmt.Sprint(got) != "[4 8]" {
		t.Errorf("once playing, asked for %v, want the repairs [4 8]", got)
	}
}

// TestJoinerEveryChunkRandomAccess: where every chunk is a random-access
// point (audio alone), a joiner fetches every chunk it hears of, as any
// may start the stream: a line at the newest would move with each new
// head and leave every chunk still on its way behind it.
func TestJoinerEveryChunkRandomAccess(t *testing.T) {
	e := joinEngine(t)
	var gs []*group
	for seq := uint64(4); seq <= 13; seq++ {
		g := e.testGroup(seq)
		e.verified(g, true)
		gs = append(gs, g)
	}
	if got := e.askedFor(gs...); fmt.Sprint(got) != "[4 5 6 7 8 9 10 11 12 13]" {
		t.Errorf("asked for %v, want all ten, [4 5 6 7 8 9 10 11 12 13]", got)
	}
}

// TestJoinerWaitsForNewestGOP: a joiner that holds an old random-access
// chunk, but no gapless run from it to a newer one it has heard of, does
// not start there after startupWait while the newer one's head is
// verified; it starts at the old one only after 2×startupWait. With the
// newer one only announced it starts after startupWait, as before; with
// none it starts at once. Holding no random-access chunk and knowing of
// none, it starts with what it holds after startupWait.
func TestJoinerWaitsForNewestGOP(t *testing.T) {
	wait := defaultTuning().startupWait
	for _, tt := range []struct {
		name  string
		rap   bool          // the old chunk, seq 4, is a random-access chunk
		newer string        // "", "rumoured", "verified"
		after time.Duration // when it starts
	}{
		{"no newer GOP", true, "", 0},
		{"a newer GOP rumoured", true, "rumoured", wait},
		{"a newer GOP verified", true, "verified", 2 * wait},
		{"no random-access chunk at all", false, "", wait},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := joinEngine(t)
			old, gap := e.testGroup(4), e.testGroup(6)
			e.verified(old, tt.rap)
			e.verified(gap, false)
			old.done, gap.done = true, true // 5 is missing
			switch tt.newer {
			case "rumoured":
				e.testGroup(12).rap = true
			case "verified":
				e.verified(e.testGroup(12), true)
			}
			t0 := e.now
			var started time.Duration
			for d := time.Duration(0); d <= 3*wait && !e.started; d += 100 * time.Millisecond {
				e.now = t0.Add(d)
				e.setStartFrom(e.sortedGroups())
				e.tryStart()
				started = d
			}
			if !e.started {
				t.Fatalf("not started after %v", 3*wait)
			}
			if started < tt.after || started >= tt.after+100*time.Millisecond {
				t.Errorf("started after %v, want %v", started, tt.after)
			}
			if c := <-e.c.queue; c.Seq != 4 {
				t.Errorf("started at seq %d, want 4", c.Seq)
			}
		})
	}
}
