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
// a sparse graph and measures what the chunk path costs: parts each
// subscriber receives per part of the stream (1 is one copy; the rest are
// duplicates), parts the publisher sends, and latency (virtual; mocknet
// has no bandwidth limit, so latency is hops × 10 ms plus the engine's
// timers). The bounds guard the design: parts move once, on request or
// subscription, and the publisher sends about one copy whatever the
// audience (DESIGN §5).
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

		parts := float64(n * partCount(size))
		var latencies []time.Duration
		var in float64
		for i := 1; i < nodes; i++ {
			if errs[i] != nil || !slices.Equal(seqsOf(results[i]), seqRange(n)) {
				t.Errorf("subscriber %d: got %v, %v", i, seqsOf(results[i]), errs[i])
			}
			for _, a := range results[i] {
				latencies = append(latencies, a.latency)
			}
			st := chans[i].Stats()
			in += float64(st.PartsReceived+st.DuplicateParts) / parts
		}
		in /= nodes - 1
		out := float64(chans[0].Stats().PartsSent) / parts
		slices.Sort(latencies)
		p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
		t.Logf("%d nodes, %d edges: parts in per subscriber %.3f copies, publisher out %.3f copies, latency p50 %s p99 %s",
			nodes, len(edges), in, out, p50, p99)
		if out > 1.5 {
			t.Errorf("publisher sends %.2f copies of the stream, want ≤ 1.5", out)
		}
		if in > 1.15 {
			t.Errorf("a subscriber receives %.2f copies of each part, want ≤ 1.15", in)
		}
	})
}
