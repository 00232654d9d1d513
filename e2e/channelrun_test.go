package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
	"github.com/p2ptv/p2ptvd/gossip"
	"github.com/p2ptv/p2ptvd/node"
)

// plan is one benchmark scenario: an audience, its schedule, and what the
// network does to it.
type plan struct {
	viewers  int
	live     time.Duration // the channel is live this long before the first join
	joinOver time.Duration // viewers join one after another over this long
	stream   time.Duration // the run lasts this long after the first join
	churn    float64       // share of the audience that leaves, and joins, per minute
	loss     float64       // share of received packets lost (simulated runs)
	seed     uint64
	realTime bool // report CPU: only real time makes CPU per stream second meaningful
}

// channelEnv is where a channel scenario's nodes live: the simulated
// internet or loopback.
type channelEnv interface {
	// caster and viewer start a node (bootstrapping from the env's DHT
	// server, not yet bootstrapped) with the counters of its traffic.
	caster() (*node.Node, counters, error)
	viewer(i int) (*node.Node, counters, error)
	// leave takes a viewer off: cleanly, or by vanishing where the env
	// can (its traffic stops before it closes).
	leave(n *node.Node, c counters, vanish bool)
	close()
}

// nodeViewer is a viewer node.
type nodeViewer struct {
	viewer
	node   *node.Node
	c      counters
	ctx    context.Context // ends when it leaves
	cancel context.CancelFunc

	chMu sync.Mutex
	ch   *node.Channel

	mesh  gossip.ChannelStats // at the end
	whole gossip.Stats
}

// benchChannel runs a channel scenario with the node code the daemon runs:
// a broadcaster streams the benchmark clip in real time (virtual in a
// bubble); viewers that know only the bootstrap node join through the DHT
// one after another; under churn some leave (every other one vanishing
// rather than closing) and new ones join; every viewer's buffer and byte
// counters are read when it leaves or the run ends.
func benchChannel(tb testing.TB, sc plan, env channelEnv) result {
	clip, err := paddedClip(streamBitrate)
	if err != nil {
		tb.Fatal(err)
	}
	heap0 := liveHeap()
	defer env.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	caster, casterBytes, err := env.caster()
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex // guards present
	var viewers, present []*nodeViewer
	newViewer := func(i int) (*nodeViewer, error) {
		n, c, err := env.viewer(i)
		if err != nil {
			return nil, err
		}
		v := &nodeViewer{node: n, c: c}
		v.ctx, v.cancel = context.WithCancel(ctx)
		return v, nil
	}
	var g errgroup.Group
	g.Go(func() error { return caster.Bootstrap(ctx) })
	for i := range sc.viewers {
		v, err := newViewer(i)
		if err != nil {
			tb.Fatal(err)
		}
		viewers = append(viewers, v)
		g.Go(func() error { return v.node.Bootstrap(ctx) })
	}
	if err := g.Wait(); err != nil {
		tb.Fatalf("bootstrap: %v", err)
	}

	bctx, stopBroadcast := context.WithCancel(ctx)
	defer stopBroadcast()
	ch, err := caster.Broadcast(bctx, bytes.NewReader(clip), node.BroadcastOptions{Name: "bench", Pace: true, Loop: true})
	if err != nil {
		tb.Fatal(err)
	}
	src := &sourceLog{}
	followCtx, stopFollow := context.WithCancel(context.Background())
	srcDone := make(chan struct{})
	go func() { defer close(srcDone); src.follow(followCtx, ch.Playout()) }()
	defer func() { stopFollow(); <-srcDone }()
	time.Sleep(sc.live)

	start := time.Now()
	end := start.Add(sc.stream)
	sent0 := casterBytes.Sent()
	src0 := sourceCounts{ch.Stats().Gossip, caster.GossipStats()}
	cpu0 := cpuTime()
	// The source's upload and counters at every bin's end, for sourceNote.
	srcAt := make([]sourceBin, 0, int(sc.stream/binSpan)+1)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for t := start.Add(binSpan); !t.After(end); t = t.Add(binSpan) {
			time.Sleep(time.Until(t))
			srcAt = append(srcAt, sourceBin{
				sent:   casterBytes.Sent() - sent0,
				counts: sourceCounts{ch.Stats().Gossip, caster.GossipStats()},
				conns:  len(caster.Host().Network().Peers()),
			})
		}
	}()
	var joins sync.WaitGroup
	join := func(v *nodeViewer) {
		mu.Lock()
		present = append(present, v)
		mu.Unlock()
		joins.Go(func() { v.join(ch.ID(), end) })
	}
	for i, v := range viewers {
		time.Sleep(time.Until(start.Add(sc.joinOver * time.Duration(i) / time.Duration(len(viewers)))))
		join(v)
	}

	if sc.churn > 0 {
		// One viewer leaves and another joins every interval, from the end
		// of the initial joins on. Leavers are picked at random among those
		// watching.
		interval := time.Duration(float64(time.Minute) / (sc.churn * float64(sc.viewers)))
		rng := rand.New(rand.NewPCG(sc.seed, 2))
		for k := 0; ; k++ {
			next := start.Add(sc.joinOver + time.Duration(k+1)*interval)
			if !next.Before(end) {
				break
			}
			time.Sleep(time.Until(next))
			if v := pickWatching(&mu, &present, rng); v != nil {
				v.end()
				v.cancel()
				env.leave(v.node, v.c, k%2 == 1)
			}
			nv, err := newViewer(len(viewers))
			if err != nil {
				tb.Fatal(err)
			}
			viewers = append(viewers, nv)
			joins.Go(func() {
				if nv.node.Bootstrap(nv.ctx) == nil {
					join(nv)
				}
			})
		}
	}
	time.Sleep(time.Until(end))
	srcSent := casterBytes.Sent() - sent0
	cpu := cpuTime() - cpu0
	<-sampled
	src1 := sourceCounts{ch.Stats().Gossip, caster.GossipStats()}
	cancel() // joins still retrying give up, watchers stop
	joins.Wait()
	mu.Lock()
	for _, v := range present {
		v.end()
	}
	mu.Unlock()
	heap := liveHeap()
	// The source's buffer releases a chunk half a second after its end:
	// wait until everything published by the end is logged.
	time.Sleep(2 * time.Second)
	stopFollow()
	<-srcDone

	var vs []*viewer
	for _, v := range viewers {
		if !v.joined.IsZero() { // a churn joiner may still be bootstrapping at the end
			vs = append(vs, &v.viewer)
		}
	}
	nodes := len(viewers) + 1 // and the broadcaster; the bootstrap server is left out
	r := summary(vs, src, sc.stream, srcSent, src.between(start, end))
	r.notes = append(r.notes, meshNote(viewers), bytesNote(viewers))
	r.notes = append(r.notes, sourceNote(srcAt, src, start, end, srcSent, src0, src1)...)
	r.notes = append(r.notes, fmt.Sprintf("source: refused %d inbound connections", caster.RefusedInbound()))
	r.metrics[unitHeap] = float64(heap-min(heap, heap0)) / float64(nodes) / 1e6
	if sc.realTime {
		r.metrics[unitCPU] = float64(cpu) / float64(time.Millisecond) / float64(nodes) / sc.stream.Seconds()
	}
	return r
}

func (v *nodeViewer) playout() *buffer.Playout {
	v.chMu.Lock()
	defer v.chMu.Unlock()
	if v.ch == nil {
		return nil
	}
	return v.ch.Playout()
}

// end finishes the viewer and keeps its mesh counters for meshNote.
func (v *nodeViewer) end() {
	v.finish(v.playout())
	v.chMu.Lock()
	defer v.chMu.Unlock()
	if v.ch != nil {
		v.mesh = v.ch.Stats().Gossip
	}
	v.whole = v.node.GossipStats()
}

// meshNote sums the viewers' mesh counters into one line of the log: where
// a run's bytes and delays went (parts new and duplicate, whole chunks,
// requests and what became of them).
func meshNote(vs []*nodeViewer) string {
	var g gossip.ChannelStats
	var w gossip.Stats
	for _, v := range vs {
		m := v.mesh
		g.PartsReceived += m.PartsReceived
		g.DuplicateParts += m.DuplicateParts
		g.PartsSent += m.PartsSent
		g.SendExpired += m.SendExpired
		g.SendUnneeded += m.SendUnneeded
		g.Stalled += m.Stalled
		g.Requests += m.Requests
		g.RequestTimeouts += m.RequestTimeouts
		g.Reparents += m.Reparents
		g.Announces += m.Announces
		g.Busy += m.Busy
		g.Shed += m.Shed
		g.LegacyDrops += m.LegacyDrops
		w.Sent += v.whole.Sent
		w.Duplicates += v.whole.Duplicates
		w.PartialRPCs += v.whole.PartialRPCs
		w.DroppedRPCs += v.whole.DroppedRPCs
	}
	return fmt.Sprintf("viewers' mesh: parts in %d (+%d duplicate), out %d (%d expired unsent, %d unsent as held); requests %d (%d timed out, %d busy); "+
		"re-parentings %d, shed %d, stalled peers %d; announcements %d; whole chunks out %d (+%d duplicate in); partial RPCs %d, dropped RPCs %d",
		g.PartsReceived, g.DuplicateParts, g.PartsSent, g.SendExpired, g.SendUnneeded, g.Requests, g.RequestTimeouts, g.Busy,
		g.Reparents, g.Shed, g.Stalled, g.Announces, w.Sent, w.Duplicates, w.PartialRPCs, w.DroppedRPCs)
}

// bytesNote splits what the viewers received, per stream byte they played,
// into the parts of chunks they played (1 by definition), parts of chunks
// still in their buffers when the run ended (a viewer that stayed would
// play them), parts of other chunks they did not play (before their
// start, skipped, in flight at the end), duplicate parts, the rest of
// pubsub's RPCs (metadata, heads, framing, control), and what the
// transport and DHT added on top.
func bytesNote(vs []*nodeViewer) string {
	var in, played, pending, parts, dups, rpcs float64
	for _, v := range vs {
		in += float64(v.in)
		played += float64(v.played)
		pending += float64(v.stats.PendingBytes)
		parts += float64(v.mesh.PartBytes)
		dups += float64(v.mesh.DuplicateBytes)
		rpcs += float64(v.whole.ReceivedBytes)
	}
	if played == 0 {
		return "bytes in: nothing played"
	}
	return fmt.Sprintf("bytes in per stream byte played %.3f: parts played 1, parts in the buffer at the end %.3f, other parts not played %.3f, duplicate parts %.3f, pubsub besides parts %.3f, transport and DHT %.3f",
		in/played, pending/played, (parts-played-pending)/played, dups/played, (rpcs-parts-dups)/played, (in-rpcs)/played)
}

// sourceCounts are the source's counters at one moment.
type sourceCounts struct {
	ch  gossip.ChannelStats
	svc gossip.Stats
}

// sourceBin is the source at the end of one bin: what it has sent since
// the first join, its counters, and how many peers it is connected to.
type sourceBin struct {
	sent   int64
	counts sourceCounts
	conns  int
}

// split divides what the source wrote between c0 and c1 (sent bytes on
// the wire) into parts, the rest of pubsub's RPCs, and transport and DHT.
func (c1 sourceCounts) split(c0 sourceCounts, sent int64) (parts, rpcs, transport float64) {
	parts = float64(c1.ch.PartBytesSent - c0.ch.PartBytesSent)
	// Written, not queued: the transport's count is of what was written.
	written := float64(c1.svc.QueuedBytes - c1.svc.Backlog - c0.svc.QueuedBytes + c0.svc.Backlog)
	return parts, written - parts, float64(sent) - written
}

// sourceNote says when the source's upload went out, per stream byte
// published in each bin of stream time from the first join (a last bin
// shorter than binSpan is left out), and what it went to over the run:
// parts pushed to the one child of each index and to the extra children
// the source leases, parts answered on request; pubsub's RPCs besides
// parts (metadata, heads); the rest (transport, control, DHT). A second
// note splits each bin the same way and says how many peers the source
// was connected to at its end.
func sourceNote(bins []sourceBin, log *sourceLog, start, end time.Time, sent int64, c0, c1 sourceCounts) []string {
	var b, split strings.Builder
	b.WriteString("source: up per stream byte published, 5 s bins from the first join:")
	split.WriteString("source by bin (parts/pubsub besides parts/transport and DHT, peers at the end):")
	prev := sourceBin{counts: c0}
	for k, bin := range bins {
		from := start.Add(time.Duration(k) * binSpan)
		published := float64(log.between(from, from.Add(binSpan)))
		fmt.Fprintf(&b, " %.2f", ratio(float64(bin.sent-prev.sent), published))
		parts, rpcs, transport := bin.counts.split(prev.counts, bin.sent-prev.sent)
		fmt.Fprintf(&split, " %.2f/%.2f/%.2f %d", ratio(parts, published), ratio(rpcs, published), ratio(transport, published), bin.conns)
		prev = bin
	}
	published := float64(log.between(start, end))
	g0, g1 := c0.ch, c1.ch
	parts, rpcs, transport := c1.split(c0, sent)
	// Parts by line, in proportion to their count: all but a chunk's last
	// part are PartSize.
	count := float64(g1.PartsSent - g0.PartsSent)
	share := func(a, b uint64) float64 { return ratio(float64(a-b), count) * parts / published }
	fmt.Fprintf(&b, "; over the run parts %.3f (pushed %.3f, of them to leased children %.3f; answered %.3f, catch-up %.3f), pubsub besides parts %.3f, transport and DHT %.3f",
		parts/published, share(g1.PushedParts, g0.PushedParts), share(g1.LeasedParts, g0.LeasedParts),
		share(g1.AnsweredParts, g0.AnsweredParts), share(g1.CatchUpParts, g0.CatchUpParts),
		rpcs/published, transport/published)
	return []string{b.String(), split.String()}
}

// join joins the channel, retrying every second until end as a user would
// (the DHT may not know a provider yet), and starts watching.
func (v *nodeViewer) join(id p2ptvd.ChannelID, end time.Time) {
	v.begin(v.c)
	for {
		jctx, cancel := context.WithDeadline(v.ctx, end)
		ch, err := v.node.Join(jctx, id)
		cancel()
		if err == nil {
			v.mu.Lock()
			v.ready = time.Now()
			v.mu.Unlock()
			v.chMu.Lock()
			v.ch = ch
			v.chMu.Unlock()
			v.watch(v.ctx, ch.Playout())
			return
		}
		select {
		case <-v.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// pickWatching takes a random viewer that has started playing out of
// present; nil if none has.
func pickWatching(mu *sync.Mutex, present *[]*nodeViewer, rng *rand.Rand) *nodeViewer {
	mu.Lock()
	defer mu.Unlock()
	var watching []int
	for i, v := range *present {
		if v.started() {
			watching = append(watching, i)
		}
	}
	if len(watching) == 0 {
		return nil
	}
	i := watching[rng.IntN(len(watching))]
	v := (*present)[i]
	*present = append((*present)[:i], (*present)[i+1:]...)
	return v
}
