package e2e

import (
	"fmt"
	"testing"
	"time"
)

// The benchmark suite (docs/PERFORMANCE.md; scripts/bench.sh runs it and
// redraws the page's table and chart):
//
//	go test ./e2e -run '^$' -bench . -benchtime 1x
//
// Every iteration is a whole plan; each reports the figures named in
// measure_test.go. With -short each runs a few nodes for a few seconds, as
// a smoke test that the suite still works (scripts/test.sh).

// simSizes are the audiences of the simulated scenarios and how long each
// streams after its first viewer joins.
func simSizes() []plan {
	if testing.Short() {
		return []plan{{viewers: 4, stream: 10 * time.Second}}
	}
	return []plan{
		{viewers: 10, stream: 60 * time.Second},
		{viewers: 50, stream: 60 * time.Second},
		{viewers: 200, stream: 30 * time.Second},
	}
}

// withDefaults fills in the common timing: the channel is live 2 s before
// anyone joins, and viewers arrive one every 100 ms, over at most 10 s.
func (sc plan) withDefaults() plan {
	if sc.live == 0 {
		sc.live = 2 * time.Second
	}
	if sc.joinOver == 0 {
		sc.joinOver = min(10*time.Second, time.Duration(sc.viewers)*100*time.Millisecond)
	}
	if sc.seed == 0 {
		sc.seed = uint64(sc.viewers)
	}
	return sc
}

// BenchmarkChannelSim: p2ptvd nodes on simulated home links, in virtual
// time.
func BenchmarkChannelSim(b *testing.B) {
	for _, sc := range simSizes() {
		b.Run(fmt.Sprintf("N=%d", sc.viewers), func(b *testing.B) {
			runSim(b, sc.withDefaults(), runChannelSim)
		})
	}
}

// BenchmarkChannelSimChurn: as BenchmarkChannelSim with 10% of the audience
// leaving and 10% joining per minute, and 1% packet loss.
func BenchmarkChannelSimChurn(b *testing.B) {
	sc := plan{viewers: 100, stream: 60 * time.Second, churn: 0.1, loss: 0.01}
	if testing.Short() {
		// Faster churn, so that a short run sees some.
		sc = plan{viewers: 6, stream: 16 * time.Second, churn: 1.5, loss: 0.01}
	}
	b.Run(fmt.Sprintf("N=%d", sc.viewers), func(b *testing.B) {
		runSim(b, sc.withDefaults(), runChannelSim)
	})
}

// BenchmarkServerBaseline: the same stream to the same viewers on the same
// links, from one origin that sends each viewer its own copy. Its largest
// audience streams 20 s rather than 30: moving 800 Mbit/s through the
// simulator is the suite's most expensive work, and a server's figures are
// steady once its viewers have joined.
func BenchmarkServerBaseline(b *testing.B) {
	for _, sc := range simSizes() {
		if sc.viewers >= 200 {
			sc.stream = min(sc.stream, 20*time.Second)
		}
		b.Run(fmt.Sprintf("N=%d", sc.viewers), func(b *testing.B) {
			runSim(b, sc.withDefaults(), runServerSim)
		})
	}
}

// BenchmarkChannelLoopback: p2ptvd nodes on real TCP over 127.0.0.1, in
// real time: what the machine's CPU and memory pay per node.
func BenchmarkChannelLoopback(b *testing.B) {
	sc := plan{viewers: 20, stream: 30 * time.Second, joinOver: 2 * time.Second, realTime: true}
	if testing.Short() {
		sc = plan{viewers: 3, stream: 5 * time.Second, joinOver: time.Second, realTime: true}
	}
	b.Run(fmt.Sprintf("N=%d", sc.viewers), func(b *testing.B) {
		var r result
		start := time.Now()
		for range b.N {
			r = benchChannel(b, sc.withDefaults(), &loopEnv{cl: NewCluster(b)})
		}
		r.metrics[unitWall] = time.Since(start).Seconds() / float64(b.N)
		reportResult(b, r)
	})
}

// runChannelSim runs a channel scenario on the simulated internet.
func runChannelSim(t *testing.T, sc plan) result {
	env, err := newSimCluster(sc.seed, sc.loss)
	if err != nil {
		t.Fatal(err)
	}
	return benchChannel(t, sc, env)
}

// runSim runs a simulated plan b.N times, each in a synctest bubble,
// and reports the last run with the mean wall time.
func runSim(b *testing.B, sc plan, run func(*testing.T, plan) result) {
	var r result
	start := time.Now()
	for range b.N {
		inBubble(b, func(t *testing.T) { r = run(t, sc) })
	}
	r.metrics[unitWall] = time.Since(start).Seconds() / float64(b.N)
	reportResult(b, r)
}
