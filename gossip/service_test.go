package gossip

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/p2ptv/p2ptvd"
)

// testNet is a mocknet of hosts, each with a Service, inside a bubble.
type testNet struct {
	t     *testing.T
	mn    mocknet.Mocknet
	hosts []host.Host
	svcs  []*Service
}

const linkLatency = 10 * time.Millisecond

func newTestNet(t *testing.T, n int, cfg Config) *testNet {
	t.Helper()
	tn := &testNet{t: t, mn: mocknet.New()}
	tn.mn.SetLinkDefaults(mocknet.LinkOptions{Latency: linkLatency})
	t.Cleanup(func() {
		for _, s := range tn.svcs {
			if err := s.Close(); err != nil {
				t.Errorf("close service: %v", err)
			}
		}
		tn.mn.Close()
	})
	for i := range n {
		h := tn.addHost()
		cfg := cfg
		if v := os.Getenv("GOSSIP_DEBUG"); v != "" {
			var hd slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
			if v != "1" {
				hd = msgFilter{hd, v}
			}
			cfg.Logger = slog.New(hd).With("node", i, "id", short(h.ID()))
		}
		s, err := New(context.Background(), h, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tn.svcs = append(tn.svcs, s)
	}
	return tn
}

func (tn *testNet) addHost() host.Host {
	tn.t.Helper()
	h, err := tn.mn.GenPeer()
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.hosts = append(tn.hosts, h)
	if err := tn.mn.LinkAll(); err != nil {
		tn.t.Fatal(err)
	}
	return h
}

func (tn *testNet) connect(edges ...[2]int) {
	tn.t.Helper()
	for _, e := range edges {
		if _, err := tn.mn.ConnectPeers(tn.hosts[e[0]].ID(), tn.hosts[e[1]].ID()); err != nil {
			tn.t.Fatal(err)
		}
	}
}

// waitTopicPeers polls until every channel lists at least its neighbours
// as topic peers, then lets two heartbeats graft them into the mesh.
func waitTopicPeers(t *testing.T, peersOf func(i int) []peer.ID, want map[int][]peer.ID) {
	t.Helper()
	for range 100 {
		ready := true
		for i, ps := range want {
			got := peersOf(i)
			for _, p := range ps {
				ready = ready && slices.Contains(got, p)
			}
		}
		if ready {
			time.Sleep(2 * time.Second)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("topic peers never appeared")
}

func (tn *testNet) neighbours(edges [][2]int) map[int][]peer.ID {
	m := map[int][]peer.ID{}
	for _, e := range edges {
		m[e[0]] = append(m[e[0]], tn.hosts[e[1]].ID())
		m[e[1]] = append(m[e[1]], tn.hosts[e[0]].ID())
	}
	return m
}

func (tn *testNet) join(m p2ptvd.Manifest) []*Channel {
	tn.t.Helper()
	var chans []*Channel
	for _, s := range tn.svcs {
		c, err := s.Join(m)
		if err != nil {
			tn.t.Fatal(err)
		}
		chans = append(chans, c)
	}
	return chans
}

// arrival is a chunk as a subscriber saw it.
type arrival struct {
	seq     uint64
	latency time.Duration
}

// collect reads ch until it has n chunks or within has passed, then
// checks that nothing more arrives for a while.
func collect(ch *Channel, n int, within time.Duration) ([]arrival, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var got []arrival
	for len(got) < n {
		c, err := ch.Next(ctx)
		if err != nil {
			return got, fmt.Errorf("after %d chunks: %w", len(got), err)
		}
		got = append(got, arrival{c.Seq, time.Since(c.Timestamp)})
	}
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c, err := ch.Next(ctx); err == nil {
		return got, fmt.Errorf("chunk %d arrived after all %d were in", c.Seq, n)
	}
	return got, nil
}

func seqsOf(as []arrival) []uint64 {
	var s []uint64
	for _, a := range as {
		s = append(s, a.seq)
	}
	slices.Sort(s)
	return s
}

func seqRange(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i)
	}
	return s
}

// stream publishes n chunks of size bytes, one every interval.
func stream(t *testing.T, c *Channel, tc testChannel, n, size int, interval time.Duration) {
	t.Helper()
	for i := range n {
		if err := c.Publish(context.Background(), tc.chunk(uint64(i), size, time.Now()), tc.key); err != nil {
			t.Errorf("publish %d: %v", i, err)
		}
		time.Sleep(interval)
	}
}

// TestRelay: a publisher and eight subscribers. Every subscriber gets
// every chunk exactly once, through relays, within a bounded time.
func TestRelay(t *testing.T) {
	line := [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}}
	ring := append(slices.Clone(line), [2]int{8, 0}, [2]int{0, 4}, [2]int{2, 6}, [2]int{3, 7}, [2]int{1, 5})
	tests := []struct {
		name       string
		edges      [][2]int
		maxLatency time.Duration
	}{
		// Eight hops of 10 ms, one path: the mesh alone must carry it.
		{"line", line, 500 * time.Millisecond},
		// Many paths: dedup by message ID keeps it to one copy each.
		{"ring with chords", ring, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				const n, size = 30, 20 << 10
				tn := newTestNet(t, 9, Config{})
				tn.connect(tt.edges...)
				tc := newTestChannel(t, "relay")
				chans := tn.join(tc.m)
				waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours(tt.edges))

				results := make([][]arrival, len(chans))
				errs := make([]error, len(chans))
				var wg sync.WaitGroup
				for i := 1; i < len(chans); i++ {
					wg.Go(func() { results[i], errs[i] = collect(chans[i], n, 30*time.Second) })
				}
				stream(t, chans[0], tc, n, size, 100*time.Millisecond)
				wg.Wait()

				var worst time.Duration
				var dups uint64
				for i := 1; i < len(chans); i++ {
					if errs[i] != nil {
						t.Errorf("subscriber %d: %v", i, errs[i])
					}
					if got := seqsOf(results[i]); !slices.Equal(got, seqRange(n)) {
						t.Errorf("subscriber %d got seqs %v, want 0..%d once each", i, got, n-1)
					}
					for _, a := range results[i] {
						worst = max(worst, a.latency)
					}
					if got := chans[i].Stats().Received; got != n {
						t.Errorf("subscriber %d Received = %d, want %d", i, got, n)
					}
					st := tn.svcs[i].Stats()
					dups += st.Duplicates
					if st.Accepted != n || len(st.Rejected) != 0 {
						t.Errorf("subscriber %d: accepted %d, rejected %v", i, st.Accepted, st.Rejected)
					}
				}
				t.Logf("worst source→Next latency %s (virtual; %s links), %d duplicates dropped", worst, linkLatency, dups)
				if worst > tt.maxLatency {
					t.Errorf("worst latency %s, want ≤ %s", worst, tt.maxLatency)
				}
				// The publisher's own chunks do not come back through Next.
				if st := chans[0].Stats(); st.Published != n || st.Received != 0 {
					t.Errorf("publisher: published %d, received %d; want %d, 0", st.Published, st.Received, n)
				}
			})
		})
	}
}

// rogueSub is a plain gossipsub node with no validator: it relays and
// publishes whatever it is given.
func newRogue(t *testing.T, h host.Host, topic string) *pubsub.Topic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string {
			s := sha256.Sum256(m.GetData())
			return string(s[:])
		}))
	if err != nil {
		t.Fatal(err)
	}
	top, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := top.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Cancel)
	return top
}

// TestRogue: a rogue peer in the mesh sends invalid chunks of one kind or
// another. Honest subscribers see none of them, count them, stop relaying
// them at the first hop, and blacklist, disconnect and score the rogue
// down; the honest stream arrives whole.
func TestRogue(t *testing.T) {
	const window = 16
	kinds := []struct {
		name   string
		reason error
		make   func(tc, other testChannel, i int, start time.Time) []byte
	}{
		{"forged", ErrBadSignature, func(tc, other testChannel, i int, _ time.Time) []byte {
			// Seqs the broadcaster has not reached yet, signed with the wrong key.
			msg, _ := Encode(tc.chunk(uint64(30+i), 1000, time.Now()), other.key)
			return msg
		}},
		{"garbage", ErrMalformed, func(_, _ testChannel, i int, _ time.Time) []byte {
			return []byte(fmt.Sprintf("garbage %d %s", i, make([]byte, 100)))
		}},
		{"wrong channel", ErrWrongChannel, func(_, other testChannel, i int, _ time.Time) []byte {
			// Validly signed, by the owner of another channel.
			msg, _ := Encode(other.chunk(uint64(30+i), 1000, time.Now()), other.key)
			return msg
		}},
		{"replay", ErrOutOfWindow, func(tc, _ testChannel, i int, start time.Time) []byte {
			// Signed by the owner, but far behind the live edge and older.
			msg, _ := Encode(tc.chunk(uint64(i), 999, start.Add(-time.Second)), tc.key)
			return msg
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				const n = 40
				// 0 publishes; 1, 2 are next to the rogue (4); 3 is behind them.
				tn := newTestNet(t, 4, Config{Window: window})
				rh := tn.addHost()
				honest := [][2]int{{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 3}}
				tn.connect(honest...)
				tn.connect([2]int{4, 1}, [2]int{4, 2})
				tc := newTestChannel(t, "rogue target")
				other := newTestChannel(t, "rogue's own")
				chans := tn.join(tc.m)
				rogue := newRogue(t, rh, TopicName(tc.id))
				want := tn.neighbours(append(slices.Clone(honest), [2]int{4, 1}, [2]int{4, 2}))
				waitTopicPeers(t, func(i int) []peer.ID {
					if i == 4 {
						return rogue.ListPeers()
					}
					return chans[i].Peers()
				}, want)

				start := time.Now()
				results := make([][]arrival, 4)
				errs := make([]error, 4)
				var wg sync.WaitGroup
				for i := 1; i < 4; i++ {
					wg.Go(func() { results[i], errs[i] = collect(chans[i], n, 30*time.Second) })
				}
				wg.Go(func() {
					// Strike once the live edge is past the window.
					time.Sleep(time.Duration(window+5) * 100 * time.Millisecond)
					for i := range 5 {
						if err := rogue.Publish(context.Background(), k.make(tc, other, i, start)); err != nil {
							t.Errorf("rogue publish: %v", err)
						}
						time.Sleep(50 * time.Millisecond)
					}
				})
				stream(t, chans[0], tc, n, 4000, 100*time.Millisecond)
				wg.Wait()
				time.Sleep(3 * time.Second) // two score samples

				for i := 1; i < 4; i++ {
					if errs[i] != nil {
						t.Errorf("subscriber %d: %v", i, errs[i])
					}
					if got := seqsOf(results[i]); !slices.Equal(got, seqRange(n)) {
						t.Errorf("subscriber %d got seqs %v, want the honest 0..%d once each", i, got, n-1)
					}
				}
				for _, i := range []int{1, 2} {
					s := tn.svcs[i]
					st := s.Stats()
					if st.Rejected[k.reason.Error()] == 0 {
						t.Errorf("node %d rejected %v, want some %q", i, st.Rejected, k.reason)
					}
					if got := chans[i].Stats().Rejected; !maps.Equal(got, st.Rejected) {
						t.Errorf("node %d channel rejects %v, service rejects %v", i, got, st.Rejected)
					}
					if !s.Blacklisted(rh.ID()) || st.Blacklisted != 1 {
						t.Errorf("node %d: rogue blacklisted %v, %d blacklisted", i, s.Blacklisted(rh.ID()), st.Blacklisted)
					}
					if c := tn.hosts[i].Network().Connectedness(rh.ID()); c == network.Connected {
						t.Errorf("node %d still connected to the rogue", i)
					}
					if score, ok := s.PeerScores()[rh.ID()]; !ok || score >= graylistThreshold {
						t.Errorf("node %d scores the rogue %v (known %v), want < %v", i, score, ok, graylistThreshold)
					}
					t.Logf("node %d: rejected %v, pubsub rejects %v, rogue score %.0f", i, st.Rejected, st.RouterRejects, s.PeerScores()[rh.ID()])
				}
				// Invalid chunks stop at the first honest hop.
				for _, i := range []int{0, 3} {
					if st := tn.svcs[i].Stats(); len(st.Rejected) != 0 || st.Blacklisted != 0 {
						t.Errorf("node %d, not next to the rogue, rejected %v and blacklisted %d", i, st.Rejected, st.Blacklisted)
					}
				}
			})
		})
	}
}

// TestSlowReader: a subscriber that never calls Next drops chunks into its
// counters instead of holding up the router, and still relays every chunk
// to the subscriber behind it.
func TestSlowReader(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const n, queue = 40, 8
		tn := newTestNet(t, 3, Config{QueueLength: queue})
		edges := [][2]int{{0, 1}, {1, 2}}
		tn.connect(edges...)
		tc := newTestChannel(t, "slow")
		chans := tn.join(tc.m)
		waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours(edges))

		var got []arrival
		var err error
		var wg sync.WaitGroup
		wg.Go(func() { got, err = collect(chans[2], n, 30*time.Second) })
		stream(t, chans[0], tc, n, 1000, 20*time.Millisecond)
		wg.Wait()
		if err != nil || !slices.Equal(seqsOf(got), seqRange(n)) {
			t.Errorf("subscriber behind the slow one got %v, %v; want 0..%d", seqsOf(got), err, n-1)
		}

		st := chans[1].Stats()
		if st.Received != n || st.SlowReaderDrops != n-queue {
			t.Errorf("slow subscriber received %d, dropped %d; want %d, %d", st.Received, st.SlowReaderDrops, n, n-queue)
		}
		if got := tn.svcs[1].Stats().SlowReaderDrops; got != st.SlowReaderDrops {
			t.Errorf("service counts %d slow-reader drops, channel %d", got, st.SlowReaderDrops)
		}
		// What is left is the newest: a live reader wants the live edge.
		for want := uint64(n - queue); want < n; want++ {
			c, err := chans[1].Next(context.Background())
			if err != nil || c.Seq != want {
				t.Fatalf("Next = %d, %v; want %d", c.Seq, err, want)
			}
		}
	})
}

func TestChannelAPI(t *testing.T) {
	bubble(t, func(t *testing.T) {
		tn := newTestNet(t, 1, Config{})
		s := tn.svcs[0]
		tc := newTestChannel(t, "api")
		other := newTestChannel(t, "api other")
		c, err := s.Join(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Join(tc.m); !errors.Is(err, ErrJoined) {
			t.Errorf("second Join = %v, want ErrJoined", err)
		}
		if got, want := TopicName(tc.id), "/p2ptv/1/"+tc.id.String(); got != want || c.ID() != tc.id {
			t.Errorf("topic %q, want %q", got, want)
		}
		now := time.Now()
		ctx := context.Background()
		tests := []struct {
			name  string
			chunk p2ptvd.Chunk
			key   []byte
			want  error
		}{
			{"not the owner's key", tc.chunk(0, 10, now), other.key, ErrNotOwner},
			{"short key", tc.chunk(0, 10, now), tc.key[:10], ErrBadKey},
			{"other channel", other.chunk(0, 10, now), tc.key, ErrWrongChannel},
			{"stale", tc.chunk(0, 10, now.Add(-2*time.Minute)), tc.key, ErrStale},
			{"too large", tc.chunk(0, DefaultMaxPayload+1, now), tc.key, ErrTooLarge},
			{"good", tc.chunk(0, 10, now), tc.key, nil},
			{"no channel set", p2ptvd.Chunk{Seq: 1, Timestamp: now, Payload: []byte("x")}, tc.key, nil},
		}
		for _, tt := range tests {
			if err := c.Publish(ctx, tt.chunk, tt.key); !errors.Is(err, tt.want) {
				t.Errorf("%s: Publish = %v, want %v", tt.name, err, tt.want)
			}
		}
		if st := c.Stats(); st.Published != 2 || st.HighestSeq != 1 {
			t.Errorf("stats %+v, want 2 published, highest 1", st)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if _, err := c.Next(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
		if err := c.Publish(ctx, tc.chunk(2, 10, now), tc.key); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
		// The channel can be joined again once closed.
		c2, err := s.Join(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.Next(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Service.Close = %v, want ErrClosed", err)
		}
		if _, err := s.Join(other.m); !errors.Is(err, ErrClosed) {
			t.Errorf("Join after Close = %v, want ErrClosed", err)
		}
	})
}

// TestNextUnblocksOnClose: a reader blocked in Next returns when the
// channel is closed under it.
func TestNextUnblocksOnClose(t *testing.T) {
	bubble(t, func(t *testing.T) {
		tn := newTestNet(t, 1, Config{})
		tc := newTestChannel(t, "unblock")
		c, err := tn.svcs[0].Join(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := c.Next(context.Background())
			done <- err
		}()
		time.Sleep(time.Second)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Next = %v, want ErrClosed", err)
		}
	})
}

// TestCloseWhileJoining: closing a Service while channels are joining
// leaves nothing running and every joined channel closed.
func TestCloseWhileJoining(t *testing.T) {
	bubble(t, func(t *testing.T) {
		tn := newTestNet(t, 1, Config{})
		s := tn.svcs[0]
		var wg sync.WaitGroup
		chans := make([]*Channel, 8)
		for i := range chans {
			tc := newTestChannel(t, fmt.Sprint("joining ", i))
			wg.Go(func() { chans[i], _ = s.Join(tc.m) })
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		wg.Wait()
		for i, c := range chans {
			if c == nil {
				continue
			}
			if _, err := c.Next(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("channel %d: Next after Service.Close = %v, want ErrClosed", i, err)
			}
		}
	})
}

// msgFilter passes only records whose message contains one of the
// comma-separated words of GOSSIP_DEBUG.
type msgFilter struct {
	slog.Handler
	words string
}

func (f msgFilter) Handle(ctx context.Context, r slog.Record) error {
	for _, w := range strings.Split(f.words, ",") {
		if strings.Contains(r.Message, w) {
			return f.Handler.Handle(ctx, r)
		}
	}
	return nil
}

func (f msgFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return msgFilter{f.Handler.WithAttrs(as), f.words}
}

// TestPlayingStopsFetching: chunks the reader has played or skipped are
// not fetched. On the line publisher—relay—viewer, the viewer must ask
// the relay for every part; told it plays from seq 10 on, it asks for none
// of the chunks before and gets every one after, while the relay gets all.
func TestPlayingStopsFetching(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const n, from, size = 20, 10, 20 << 10
		edges := [][2]int{{0, 1}, {1, 2}}
		tn := newTestNet(t, 3, Config{})
		tn.connect(edges...)
		tc := newTestChannel(t, "playing")
		chans := tn.join(tc.m)
		waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours(edges))
		chans[2].Playing(from)

		var relay, viewer []uint64
		var relayErr error
		var wg sync.WaitGroup
		wg.Go(func() { relay, relayErr = collectWhole(chans[1], n, size, 30*time.Second) })
		wg.Go(func() { viewer, _ = collectUntil(chans[2], n-from, size, 30*time.Second, true) })
		stream(t, chans[0], tc, n, size, 100*time.Millisecond)
		wg.Wait()

		if relayErr != nil || !slices.Equal(relay, seqRange(n)) {
			t.Errorf("relay got %v, %v; want 0..%d", relay, relayErr, n-1)
		}
		want := seqRange(n)[from:]
		if !slices.Equal(viewer, want) {
			t.Errorf("viewer got %v, want %v", viewer, want)
		}
		if st, want := chans[2].Stats(), (n-from)*partCount(size); st.PartsReceived != uint64(want) {
			t.Errorf("viewer received %d parts, want %d: only those of chunks from %d on", st.PartsReceived, want, from)
		} else if wantBytes := uint64((n - from) * size); st.PartBytes != wantBytes {
			t.Errorf("viewer received %d bytes of parts, want %d: the payloads of chunks %d..%d", st.PartBytes, wantBytes, from, n-1)
		}
	})
}

// TestCatchUpAllowance: a relay answers requests for chunks behind the
// live edge (here a joiner's whole GOP) from an allowance of catchUpShare
// of the stream rate, so catching up cannot crowd out live parts on its
// uplink. With the allowance and the backlog limit lifted, the joiner gets
// the GOP as fast as it asks.
func TestCatchUpAllowance(t *testing.T) {
	const n, size = 30, 64 << 10
	parts := n * partCount(size)
	for _, tt := range []struct {
		name     string
		share    float64
		min, max int // parts the joiner holds 3 s after it meets the relay
	}{
		// A share of 0.05 (the default's fifth, to set it well apart from
		// what the joiner gets without): 3 live chunks, then 3 s of 0.05 ×
		// 4 Mbit/s (the rate floor with no manifest bitrate) on top of a
		// full bucket of 1 s: 24 + 13 parts.
		{"allowance", 0.05, 24, 24 + 13},
		// Far more: up to all it still wants, the chunks within
		// staleAfter of the newest (5 s of 250 ms chunks), 21 of the 30;
		// how many within 3 s depends on its own request pacing (104 to
		// 152 parts in 30 runs).
		{"unlimited", 1000, 64, parts},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				tn := newTestNet(t, 3, Config{})
				for _, s := range tn.svcs {
					// Behind the live edge: over two 250 ms chunks behind the
					// newest, so all but the last 3 of the GOP.
					s.tuning.catchUpBehind = 500 * time.Millisecond
				}
				tn.svcs[1].tuning.catchUpShare = tt.share
				if tt.share > 1 {
					tn.svcs[1].tuning.catchUpBacklog = 1 << 30
				}
				tn.connect([2]int{0, 1})
				tc := newTestChannel(t, "catch up")
				chans := tn.join(tc.m)
				waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours([][2]int{{0, 1}}))
				for i := range n {
					c := tc.chunk(uint64(i), size, time.Now())
					if i > 0 {
						c.Flags = 0 // one GOP: only the first chunk is a random-access point
					}
					if err := chans[0].Publish(context.Background(), c, tc.key); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				if _, err := collectWhole(chans[1], n, size, 10*time.Second); err != nil {
					t.Fatalf("relay: %v", err)
				}
				tn.connect([2]int{1, 2})
				waitTopicPeers(t, func(i int) []peer.ID { return chans[i].Peers() }, tn.neighbours([][2]int{{1, 2}}))
				time.Sleep(time.Second) // waitTopicPeers waited 2 s of the 3
				got := int(chans[2].Stats().PartsReceived)
				t.Logf("the joiner holds %d of the GOP's %d parts 3 s after it met the relay", got, parts)
				if got < tt.min || got > tt.max {
					t.Errorf("joiner holds %d parts, want %d..%d", got, tt.min, tt.max)
				}
			})
		})
	}
}
