package gossip

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	"github.com/p2ptv/p2ptvd"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"
)

// The simulated home internet the design is judged on (DESIGN §5, issue
// 4): go-libp2p QUIC over simnet in a synctest bubble, every node with its
// own uplink and downlink, per-pair latency, a 4 Mbit/s stream of 64 KiB
// chunks with a random-access chunk every 2 s. The e2e benchmarks run the
// whole node; this harness runs the gossip package alone, so the chunk
// path can be iterated on quickly.

type simConfig struct {
	viewers    int
	duration   time.Duration // stream time after the last join
	joinSpread time.Duration // viewers join evenly over this span
	slowShare  float64       // share of viewers on a 3 Mbit/s uplink
	capUpload  bool          // set MaxUpload to each node's uplink
	connect    int           // peers each viewer dials on joining
	leave      int           // viewers that leave halfway through
	vanishSeed bool          // the viewer seeding the most indices vanishes halfway through
	chunk      int           // payload bytes
	interval   time.Duration // between chunks
	gop        int           // chunks per random-access chunk
}

func defaultSim(n int) simConfig {
	return simConfig{
		viewers:    n,
		duration:   20 * time.Second,
		joinSpread: 5 * time.Second,
		slowShare:  0.25,
		capUpload:  true,
		connect:    6,
		chunk:      64 << 10,
		interval:   131 * time.Millisecond, // 4 Mbit/s
		gop:        15,                     // 2 s
	}
}

type simNode struct {
	h    host.Host
	conn *simnet.SimConn
	up   int // uplink, bits/s
	svc  *Service
	ch   *Channel
	gone bool

	mu      sync.Mutex
	arrived map[uint64]time.Duration // seq → source→Next latency
	joined  time.Time
}

type simResult struct {
	delivery, onTime                  float64 // over viewers, of chunks published while they watched
	p50, p99, startup                 time.Duration
	inPerStream, srcUp, relayMax, rel float64
	slowOver                          float64 // most a 3 Mbit/s viewer sent ÷ its uplink
	slowAsked                         float64 // most a 3 Mbit/s viewer queued to send ÷ its uplink
	dupShare                          float64
	worst                             string
	dupKinds                          [4]uint64 // from a parent, from a peer asked, from others, from the source
}

// ipSelector answers quic-go's question of which source IP to use.
type ipSelector struct{ ip net.IP }

func (s *ipSelector) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) {
	return s.ip, nil
}

func newSimHost(t *testing.T, nw *simnet.Simnet, idx int, link simnet.NodeBiDiLinkSettings) (host.Host, *simnet.SimConn) {
	t.Helper()
	ip := simnet.IntToPublicIPv4(idx)
	sel := &ipSelector{ip: ip}
	var conn *simnet.SimConn
	h, err := libp2p.New(
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
		libp2p.QUICReuse(func(l fx.Lifecycle, key quic.StatelessResetKey, tok quic.TokenGeneratorKey, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
			cm, err := quicreuse.NewConnManager(key, tok, opts...)
			if err != nil {
				return nil, err
			}
			l.Append(fx.StopHook(cm.Close))
			return cm, nil
		},
			quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return sel, nil }),
			quicreuse.OverrideListenUDP(func(_ string, a *net.UDPAddr) (net.PacketConn, error) {
				conn = nw.NewEndpoint(a, link)
				return conn, nil
			})),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	return h, conn
}

// accessLatency is a host's one-way access latency, 10–40 ms; a packet
// takes the sum of both ends' (20–80 ms one way), as in the e2e benchmarks.
func accessLatency(a net.Addr) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(a.String()))
	return 10*time.Millisecond + time.Duration(h.Sum32()%31)*time.Millisecond
}

func pairLatency(p *simnet.Packet) time.Duration {
	return accessLatency(p.From) + accessLatency(p.To)
}

func runSim(t *testing.T, cfg simConfig) simResult {
	rng := rand.New(rand.NewPCG(7, uint64(cfg.viewers)))
	nw := &simnet.Simnet{LatencyFunc: pairLatency}
	const mbit = 1_000_000
	nodes := make([]*simNode, cfg.viewers+1)
	for i := range nodes {
		up := 10 * mbit
		if i == 0 {
			up = 20 * mbit
		} else if cfg.slowShare > 0 && i%int(1/cfg.slowShare) == 0 {
			up = 3 * mbit
		}
		link := simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 50 * mbit},
			Uplink:   simnet.LinkSettings{BitsPerSecond: up},
		}
		h, conn := newSimHost(t, nw, i, link)
		nodes[i] = &simNode{h: h, conn: conn, up: up, arrived: map[uint64]time.Duration{}}
		if os.Getenv("GOSSIP_SIM_DEBUG") != "" {
			t.Logf("node %d is %s", i, short(h.ID()))
		}
	}
	nw.Start()
	defer func() {
		for _, n := range nodes {
			if n.svc != nil && !n.gone {
				n.svc.Close()
			}
			n.h.Close()
		}
		nw.Close()
	}()
	tc := newTestChannel(t, "sim")
	tc.m.Hints.Bitrate = cfg.chunk * 8 * int(time.Second/cfg.interval)
	var err error
	if tc.id, err = tc.m.ID(); err != nil {
		t.Fatal(err)
	}
	start := func(n *simNode) {
		gcfg := Config{}
		if dbg, err := strconv.Atoi(os.Getenv("GOSSIP_SIM_DEBUG")); err == nil && nodes[dbg] == n {
			gcfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		if seq, err := strconv.Atoi(os.Getenv("GOSSIP_SIM_SEQ")); err == nil {
			for i, m := range nodes {
				if m == n {
					gcfg.Logger = slog.New(seqFilter{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}), int64(seq)}).With("node", i)
				}
			}
		}
		if cfg.capUpload {
			gcfg.MaxUpload = int64(n.up)
		}
		s, err := New(context.Background(), n.h, gcfg)
		if err != nil {
			t.Error(err)
			return
		}
		n.svc = s
		tune(t, &s.tuning)
		if n.ch, err = s.Join(tc.m); err != nil {
			t.Error(err)
		}
		n.joined = time.Now()
	}
	start(nodes[0])

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	type pub struct {
		seq uint64
		at  time.Time
	}
	var pubMu sync.Mutex
	var pubs []pub
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(9, 9))
		payload := make([]byte, cfg.chunk)
		for seq := uint64(0); ctx.Err() == nil; seq++ {
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			c := p2ptvd.Chunk{Channel: tc.id, Seq: seq, Timestamp: time.Now(), Duration: cfg.interval, Payload: slices.Clone(payload)}
			if seq%uint64(cfg.gop) == 0 {
				c.Flags = p2ptvd.RandomAccess
			}
			if err := nodes[0].ch.Publish(ctx, c, tc.key); err != nil && ctx.Err() == nil {
				t.Errorf("publish %d: %v", seq, err)
			}
			pubMu.Lock()
			pubs = append(pubs, pub{seq, c.Timestamp})
			pubMu.Unlock()
			time.Sleep(cfg.interval)
		}
	})
	time.Sleep(time.Second)
	var joins sync.WaitGroup
	for i := 1; i < len(nodes); i++ {
		n := nodes[i]
		// Dial a few of the nodes already in, like a DHT lookup of
		// providers, then join; viewers arrive every joinSpread/viewers
		// whatever the dials take.
		peers := rng.Perm(i)[:min(i, cfg.connect)]
		ready := make(chan struct{})
		joins.Go(func() {
			defer close(ready)
			for _, j := range peers {
				m := nodes[j]
				_ = n.h.Connect(ctx, peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()})
			}
			start(n)
		})
		wg.Go(func() {
			<-ready
			for {
				c, err := n.ch.Next(ctx)
				if err != nil {
					return
				}
				n.mu.Lock()
				if _, dup := n.arrived[c.Seq]; dup {
					t.Errorf("viewer %d got seq %d twice", i, c.Seq)
				}
				n.arrived[c.Seq] = time.Since(c.Timestamp)
				n.mu.Unlock()
			}
		})
		time.Sleep(cfg.joinSpread / time.Duration(cfg.viewers))
	}
	joins.Wait()
	if os.Getenv("GOSSIP_SIM_TRACE") != "" {
		wg.Go(func() {
			for ctx.Err() == nil {
				time.Sleep(2 * time.Second)
				for i, n := range nodes {
					if n.ch == nil || n.gone {
						continue
					}
					st := n.ch.Stats()
					n.mu.Lock()
					got := len(n.arrived)
					n.mu.Unlock()
					t.Logf("t=%s node %d up %d: got %d high %d in %d dup %d out %d req %d to %d rep %d busy %d ann %d parents %d kids %d slots %d/%d backlog %d",
						time.Since(nodes[0].joined).Round(time.Second), i, n.up/mbit, got, st.HighestSeq, st.PartsReceived, st.DuplicateParts, st.PartsSent, st.Requests, st.RequestTimeouts, st.Reparents, st.Busy, st.Announces, st.Parents, st.Children, st.Subscriptions, st.Slots, n.svc.Stats().Backlog)
				}
			}
		})
	}
	// Measure from a few seconds after the last join.
	time.Sleep(3 * time.Second)
	type counters struct{ in, out, asked int }
	snap := func() []counters {
		cs := make([]counters, len(nodes))
		for i, n := range nodes {
			st := n.conn.Stats()
			cs[i] = counters{st.BytesRcvd, st.BytesSent, int(n.svc.Stats().QueuedBytes)}
		}
		return cs
	}
	before := snap()
	t0 := time.Now()
	if cfg.vanishSeed {
		time.Sleep(cfg.duration / 2)
		vanishSeed(t, nodes)
		time.Sleep(cfg.duration / 2)
	} else if cfg.leave > 0 {
		time.Sleep(cfg.duration / 2)
		for _, i := range rng.Perm(cfg.viewers)[:cfg.leave] {
			nodes[i+1].leave(false)
		}
		time.Sleep(cfg.duration / 2)
	} else {
		time.Sleep(cfg.duration)
	}
	t1 := time.Now()
	after := snap()
	time.Sleep(3 * time.Second) // let the last chunks arrive
	cancel()

	var res simResult
	var window []pub
	pubMu.Lock()
	for _, p := range pubs {
		if !p.at.Before(t0) && p.at.Before(t1) {
			window = append(window, p)
		}
	}
	pubMu.Unlock()
	stream := float64(len(window) * cfg.chunk)
	var lat []time.Duration
	var got, due, onTime, viewers int
	var worstRatio = 2.0
	var dups, parts uint64
	for i, n := range nodes[1:] {
		if n.gone {
			continue
		}
		viewers++
		n.mu.Lock()
		var g int
		for _, p := range window {
			due++
			if l, ok := n.arrived[p.seq]; ok {
				g++
				lat = append(lat, l)
				if l <= 2*time.Second {
					onTime++
				}
			}
		}
		n.mu.Unlock()
		got += g
		if r := float64(g) / float64(len(window)); r < worstRatio {
			worstRatio = r
			res.worst = fmt.Sprintf("viewer %d (%d Mbit/s up) got %d/%d: %+v", i+1, n.up/mbit, g, len(window), n.ch.Stats())
		}
		in := float64(after[i+1].in - before[i+1].in)
		out := float64(after[i+1].out - before[i+1].out)
		res.inPerStream += in / stream
		res.rel += out / stream
		res.relayMax = max(res.relayMax, out/stream)
		if n.up < 10*mbit {
			res.slowOver = max(res.slowOver, out*8/t1.Sub(t0).Seconds()/float64(n.up))
			asked := float64(after[i+1].asked - before[i+1].asked)
			res.slowAsked = max(res.slowAsked, asked*8/t1.Sub(t0).Seconds()/float64(n.up))
		}
		st := n.ch.Stats()
		res.dupKinds[0] += n.ch.stats.dupParent.Load()
		res.dupKinds[1] += n.ch.stats.dupReq.Load()
		res.dupKinds[2] += n.ch.stats.dupOther.Load()
		res.dupKinds[3] += n.ch.stats.dupSource.Load()
		dups += st.DuplicateParts
		parts += st.PartsReceived
	}
	var hist [32]uint64
	var depthHist [12]int
	for i, n := range nodes[1:] {
		if n.gone {
			continue
		}
		for b := range hist {
			hist[b] += n.ch.stats.partLat[b].Load()
		}
		var ds []byte
		n.ch.eval(func(map[peer.ID]struct{}) { ds = n.ch.eng.depths() })
		for _, d := range ds {
			depthHist[min(int(d), 11)]++
		}
		if os.Getenv("GOSSIP_SIM_NODES") != "" {
			st := n.ch.Stats()
			t.Logf("viewer %d up %d: depths %v queue max %d KiB, subs %d/%d, children %d, timeouts %d", i+1, n.up/mbit, ds, n.ch.stats.queueMax.Load()>>10, st.Subscriptions, st.Slots, st.Children, st.RequestTimeouts)
		}
	}
	t.Logf("part latency (100 ms buckets): %v", hist)
	t.Logf("source: %+v", nodes[0].ch.Stats())
	byID := nodeIndex(nodes)
	nodes[0].ch.eval(func(map[peer.ID]struct{}) {
		e := nodes[0].ch.eng
		for j := range e.parts {
			var seeds []string
			for _, p := range e.peers {
				if p.subs.has(j) {
					i := byID[p.id]
					seeds = append(seeds, fmt.Sprintf("%d(%dM)", i, nodes[i].up/mbit))
				}
			}
			var total float64
			if j < len(e.repairs) {
				total = e.repairs[j].total
			}
			t.Logf("index %d: seeds %v, repairs asked of the source %.0f", j, seeds, total)
		}
	})
	t.Logf("depth histogram (11 = none): %v", depthHist)
	res.inPerStream /= float64(viewers)
	res.rel /= float64(viewers)
	res.srcUp = float64(after[0].out-before[0].out) / stream
	res.delivery = float64(got) / float64(due)
	res.onTime = float64(onTime) / float64(due)
	if parts > 0 {
		res.dupShare = float64(dups) / float64(parts)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50, res.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return res
}

func (r simResult) String() string {
	return fmt.Sprintf("delivery %.4f on-time(≤2s) %.4f latency p50 %s p99 %s | in/stream %.3f src-up %.3f relay-up mean %.2f max %.2f slow-uplink use %.2f asked %.2f | dup parts %.3f %v",
		r.delivery, r.onTime, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.inPerStream, r.srcUp, r.rel, r.relayMax, r.slowOver, r.slowAsked, r.dupShare, r.dupKinds)
}

// nodeIndex maps each node's peer ID to its index in nodes (0, the source).
func nodeIndex(nodes []*simNode) map[peer.ID]int {
	byID := make(map[peer.ID]int, len(nodes))
	for i, n := range nodes {
		byID[n.h.ID()] = i
	}
	return byID
}

// vanishSeed makes the viewer that seeds the most indices vanish (leave):
// its peers learn of it only from their queues to it (checkStalled).
func vanishSeed(t *testing.T, nodes []*simNode) {
	byID := nodeIndex(nodes)
	victim, most := 0, 0
	nodes[0].ch.eval(func(map[peer.ID]struct{}) {
		for _, p := range nodes[0].ch.eng.peers {
			if k := p.seeded(); k > most {
				victim, most = byID[p.id], k
			}
		}
	})
	if victim == 0 {
		t.Log("no seed to vanish")
		return
	}
	t.Logf("viewer %d, seed of %d indices, vanishes", victim, most)
	nodes[victim].leave(true)
}

// leave takes a viewer off: its service and host close; a vanishing one's
// packets stop first, so nothing it says on closing gets out.
func (n *simNode) leave(vanish bool) {
	n.gone = true
	if vanish {
		n.conn.Close()
	}
	n.svc.Close()
	n.h.Close()
}

// TestSimHome streams on simulated home links and checks the figures the
// design promises. GOSSIP_SIM_N sets the audience (default 12); larger
// runs are for measuring, e.g. GOSSIP_SIM_N=50 go test -run TestSimHome -v.
// GOSSIP_SIM_VANISH=1 makes the busiest seed vanish halfway through.
func TestSimHome(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulated network: a measurement, too slow under the race detector")
	}
	n := 12
	if v, err := strconv.Atoi(os.Getenv("GOSSIP_SIM_N")); err == nil && v > 0 {
		n = v
	}
	cfg := defaultSim(n)
	if os.Getenv("GOSSIP_SIM_NOCAP") != "" {
		cfg.capUpload = false
	}
	if v, err := strconv.Atoi(os.Getenv("GOSSIP_SIM_CONNECT")); err == nil {
		cfg.connect = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("GOSSIP_SIM_SLOW"), 64); err == nil {
		cfg.slowShare = v
	}
	if v, err := strconv.Atoi(os.Getenv("GOSSIP_SIM_LEAVE")); err == nil {
		cfg.leave = v
	}
	cfg.vanishSeed = os.Getenv("GOSSIP_SIM_VANISH") != ""
	if v, err := time.ParseDuration(os.Getenv("GOSSIP_SIM_DURATION")); err == nil {
		cfg.duration = v
	}
	if n == 12 && os.Getenv("GOSSIP_SIM_DURATION") == "" {
		cfg.duration = 8 * time.Second
	}
	bubble(t, func(t *testing.T) {
		start := time.Now()
		r := runSim(t, cfg)
		t.Logf("N=%d cap=%v leave=%d: %s", n, cfg.capUpload, cfg.leave, r)
		t.Logf("worst: %s", r.worst)
		_ = start
		if r.delivery < 0.999 {
			t.Errorf("delivered %.4f of chunks, want ≥ 0.999", r.delivery)
		}
	})
}

// tune applies GOSSIP_TUNE (e.g. "reparent=600ms,timeout=1s") to t, to
// try timings without editing the code.
func tune(tb testing.TB, t *tuning) {
	for _, kv := range strings.Split(os.Getenv("GOSSIP_TUNE"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		d, derr := time.ParseDuration(v)
		f, ferr := strconv.ParseFloat(v, 64)
		switch {
		case k == "reparent" && derr == nil:
			t.reparentAfter = d
		case k == "timeout" && derr == nil:
			t.requestTimeout = d
		case k == "reveal" && derr == nil:
			t.revealAfter = d
		case k == "tick" && derr == nil:
			t.tick = d
		case k == "subshare" && ferr == nil:
			t.subShare = f
		case k == "guess" && ferr == nil:
			t.guessCopies = f
		default:
			tb.Fatalf("GOSSIP_TUNE: cannot apply %q", kv)
		}
	}
}

// seqFilter passes only debug records about one seq.
type seqFilter struct {
	slog.Handler
	seq int64
}

func (f seqFilter) Handle(ctx context.Context, r slog.Record) error {
	keep := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "seq" {
			keep = a.Value.Kind() == slog.KindUint64 && int64(a.Value.Uint64()) == f.seq || a.Value.Kind() == slog.KindInt64 && a.Value.Int64() == f.seq
			return false
		}
		return true
	})
	if !keep {
		return nil
	}
	return f.Handler.Handle(ctx, r)
}

func (f seqFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return seqFilter{f.Handler.WithAttrs(as), f.seq}
}
