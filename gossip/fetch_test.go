package gossip

import (
	"testing"
	"time"
)

// TestLateParentWaitedFor: a part whose confirmed parent is late is asked
// elsewhere at reparentAfter when the reader plays its chunk soon (or is
// not playing), and up to lateWait later when the reader has time. The
// parent is kept and charged one late chunk either way.
func TestLateParentWaitedFor(t *testing.T) {
	const after = 300 * time.Millisecond // reparentAfter
	for _, tc := range []struct {
		name    string
		next    uint64          // the reader's next seq (0: not playing); the chunk is seq 20, 125 ms each
		quiet   []time.Duration // after the chunk's first sign: asked for nothing yet
		askedAt time.Duration   // asked for it
	}{
		{"not playing", 0, nil, after},
		{"plays in 0.5 s", 16, nil, after},
		{"plays in 1.25 s", 10, []time.Duration{after, 500 * time.Millisecond}, 550 * time.Millisecond},
		{"plays in 2 s", 4, []time.Duration{after, 790 * time.Millisecond}, 800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := joinEngine(t)
			e.started = true
			if tc.next > 0 {
				e.c.Playing(tc.next)
			}
			e.peer("B")
			g := e.testGroup(20)
			e.verified(g, false) // A holds it all; B is every index's parent
			first := e.now
			for j := range g.parts {
				e.growParents(j)
				e.parents[j] = parentSlot{p: "B", acked: true, since: first}
			}
			for _, at := range tc.quiet {
				e.now = first.Add(at)
				if got := e.askedFor(g); len(got) != 0 {
					t.Errorf("%v after the chunk's first sign: asked for %v, want nothing yet", at, got)
				}
			}
			e.now = first.Add(tc.askedAt)
			if got := e.askedFor(g); len(got) != 1 {
				t.Errorf("%v after the chunk's first sign: asked for %v, want [20]", tc.askedAt, got)
			}
			if s := e.parents[0]; s.p != "B" || s.late != 1 {
				t.Errorf("parent slot %+v, want B kept, late once", s)
			}
		})
	}
}
