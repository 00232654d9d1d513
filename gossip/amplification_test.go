package gossip

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestAmplification streams 4 Mbit/s in 64 KiB chunks to 29 subscribers on
// a sparse graph and measures what the parameters cost: copies of each
// chunk a subscriber receives, copies the publisher sends, and latency
// (virtual; mocknet has no bandwidth limit, so latency is hops × 10 ms).
// The bounds guard the tuning: flood-publish off keeps the publisher at
// its mesh size, D=4 keeps a subscriber's copies near D (DESIGN §5).
func TestAmplification(t *testing.T) {
	if testing.Short() {
		t.Skip("30 nodes")
	}
	bubble(t, func(t *testing.T) {
		const nodes, n = 30, 40
		size := 64 << 10
		if raceEnabled {
			size = 8 << 10 // the race detector makes hashing ten times dearer
		}
		tn := newTestNet(t, nodes, Config{})
		rng := rand.New(rand.NewPCG(1, 2))
		seen := map[[2]int]bool{}
		var edges [][2]int
		add := func(a, b int) {
			if a == b || seen[[2]int{a, b}] || seen[[2]int{b, a}] {
				return
			}
			seen[[2]int{a, b}] = true
			edges = append(edges, [2]int{a, b})
		}
		for i := range nodes {
			add(i, (i+1)%nodes)
			add(i, rng.IntN(nodes))
			add(i, rng.IntN(nodes))
		}
		tn.connect(edges...)
		tc := newTestChannel(t, "amplification")
		chans := tn.join(tc.m)
		waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours(edges))

		results := make([][]arrival, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := 1; i < nodes; i++ {
			wg.Go(func() { results[i], errs[i] = collect(chans[i], n, 30*time.Second) })
		}
		stream(t, chans[0], tc, n, size, 125*time.Millisecond)
		wg.Wait()

		var latencies []time.Duration
		var copiesIn float64
		for i := 1; i < nodes; i++ {
			if errs[i] != nil || !slices.Equal(seqsOf(results[i]), seqRange(n)) {
				t.Errorf("subscriber %d: got %v, %v", i, seqsOf(results[i]), errs[i])
			}
			for _, a := range results[i] {
				latencies = append(latencies, a.latency)
			}
			st := tn.svcs[i].Stats()
			copiesIn += float64(st.Accepted+st.Duplicates) / n
		}
		copiesIn /= nodes - 1
		pubOut := float64(tn.svcs[0].Stats().Sent) / n
		slices.Sort(latencies)
		p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
		t.Logf("%d nodes, %d edges: copies in per subscriber %.2f, publisher copies out %.2f, latency p50 %s p99 %s",
			nodes, len(edges), copiesIn, pubOut, p50, p99)
		if pubOut > 6 {
			t.Errorf("publisher sends %.2f copies of each chunk, want ≤ Dhi = 6 (flood-publish off)", pubOut)
		}
		if copiesIn > 4.5 {
			t.Errorf("a subscriber receives %.2f copies of each chunk, want ≤ 4.5 with D=4", copiesIn)
		}
	})
}
