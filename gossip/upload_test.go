package gossip

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestUplinkStall: a peer's queue that holds bytes and has none written
// for stallAfter leaves the backlog at the next refresh; an empty queue
// never stalls, and a write brings a stalled peer back.
func TestUplinkStall(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUplink(func() time.Time { return now })
	u.queued("quiet", 0) // nothing queued: never counted, never stalled
	u.queued("live", 10<<10)
	u.queued("dead", 20<<10)
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
	u.sent("live", 4<<10)
	check("half-way", 26<<10)
	now = now.Add(stallAfter/2 + time.Millisecond)
	check("after stallAfter", 6<<10, "dead") // live wrote half-way through
	now = now.Add(stallAfter)
	check("later", 0, "live", "dead")
	u.sent("dead", 1<<10)
	check("dead wrote", 19<<10, "live")
	u.gone("live")
	check("live gone", 19<<10)
	if _, written := u.state(); written != 5<<10 {
		t.Errorf("written %d, want %d", written, 5<<10)
	}
}
