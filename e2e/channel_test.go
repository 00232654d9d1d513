package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/media"
	"github.com/p2ptv/p2ptvd/node"
)

// viewerRun is what one viewer saw.
type viewerRun struct {
	joinTook   time.Duration // Join call → returned (in the mesh)
	firstByte  time.Duration // Join call → first byte at the HTTP client
	out        []byte
	delays     []time.Duration // source timestamp → release from the buffer
	node       *node.Node
	ch         *node.Channel
	bytesIn    int64
	startSeq   uint64
	matchedLen int
	playhead   uint64 // the buffer's next seq when bytesIn was read
}

// TestChannelLoopback is the main scenario: one bootstrap node, a
// broadcaster looping the demo clip in real time, and 20 viewers that know
// only the bootstrap node and join the live channel. Every viewer must find
// the channel through the DHT and play exactly the broadcast chunks, in
// order, from a random-access chunk on.
func TestChannelLoopback(t *testing.T) {
	const viewers = 20
	const chunksToPlay = 12 // ≈ 6 s of the clip per viewer
	runChannel(t, viewers, chunksToPlay, nil)
}

// scenario is a running channel: the cluster, the broadcast and the viewers.
type scenario struct {
	cl      *Cluster
	caster  *node.Node
	ch      *node.Channel
	viewers []*viewerRun
}

// runChannel starts the broadcast, waits until it is live, then lets every
// viewer join and play chunksToPlay chunks. during, if set, runs alongside
// the viewers and is stopped (its context cancelled, then awaited) once
// they are done.
func runChannel(t *testing.T, viewers, chunksToPlay int, during func(ctx context.Context, sc *scenario)) *scenario {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sc := &scenario{cl: NewCluster(t)}
	sc.caster = sc.cl.Node("caster", nil)
	if err := sc.caster.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	sc.ch, err = sc.caster.Broadcast(ctx, bytes.NewReader(media.DemoClip()), node.BroadcastOptions{Name: "e2e", Pace: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	want, err := SourceChunks(media.ChunkerConfig{}, 400)
	if err != nil {
		t.Fatal(err)
	}
	for i := range viewers {
		sc.viewers = append(sc.viewers, &viewerRun{node: sc.cl.Node(fmt.Sprintf("viewer%02d", i), nil)})
	}
	// Join a channel that is already live, mid-GOP.
	if err := waitFor(ctx, func() bool { return sc.ch.Stats().Gossip.Published >= 4 }); err != nil {
		t.Fatalf("broadcast never got going: %v", err)
	}

	duringCtx, stopDuring := context.WithCancel(ctx)
	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		if during != nil {
			during(duringCtx, sc)
		}
	}()
	var g errgroup.Group
	for i, v := range sc.viewers {
		g.Go(func() error {
			if err := watch(ctx, v, sc.ch.ID(), want, chunksToPlay); err != nil {
				return fmt.Errorf("viewer %d: %w", i, err)
			}
			return nil
		})
	}
	err = g.Wait()
	stopDuring()
	<-duringDone
	if err != nil {
		t.Fatal(err)
	}
	report(t, sc.viewers, sc.ch, want)
	return sc
}

// waitFor polls cond every 20 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// watch joins through the DHT alone, plays over HTTP like a player would,
// and checks the bytes against the source.
func watch(ctx context.Context, v *viewerRun, id p2ptvd.ChannelID, want []p2ptvd.Chunk, chunks int) error {
	if err := v.node.Bootstrap(ctx); err != nil {
		return err
	}
	start := time.Now()
	ch, err := v.node.Join(ctx, id)
	if err != nil {
		return err
	}
	v.joinTook = time.Since(start)
	v.ch = ch

	// Record the buffer's release delays alongside the HTTP client.
	rctx, stopDelays := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := ch.Playout().NewReader()
		defer r.Close()
		for {
			e, err := r.Next(rctx)
			if err != nil {
				return
			}
			v.delays = append(v.delays, e.Released.Sub(e.Chunk.Timestamp))
		}
	}()
	defer func() { stopDelays(); wg.Wait() }()

	srv := httptest.NewServer(v.node.Handler())
	defer srv.Close()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+node.StreamPath(id), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != node.ContentType {
		return fmt.Errorf("GET stream: %s, %q", resp.Status, ct)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && len(v.out) == 0 {
			v.firstByte = time.Since(start)
		}
		v.out = append(v.out, buf[:n]...)
		if err == io.EOF {
			return fmt.Errorf("stream ended after %d bytes", len(v.out))
		}
		if err != nil {
			return fmt.Errorf("read stream after %d bytes: %w", len(v.out), err)
		}
		first, matched, err := MatchStream(v.out, want)
		if err != nil {
			return fmt.Errorf("output is not the broadcast: %w (buffer %+v)", err, ch.Stats().Buffer)
		}
		v.startSeq, v.matchedLen = first, matched
		if matched >= chunks {
			v.bytesIn = v.node.Bandwidth().TotalIn
			v.playhead = ch.Stats().Buffer.NextSeq
			return nil
		}
	}
}

func report(t *testing.T, vs []*viewerRun, ch *node.Channel, want []p2ptvd.Chunk) {
	var join, first, delays []time.Duration
	var stream, in int64
	for _, v := range vs {
		join = append(join, v.joinTook)
		first = append(first, v.firstByte)
		delays = append(delays, v.delays...)
		in += v.bytesIn
		s := v.ch.Stats()
		// The stream this viewer received: from the first chunk it kept
		// to the playhead (bytesIn was read when it had played that far).
		for seq := s.Buffer.StartSeq; seq < v.playhead && seq < uint64(len(want)); seq++ {
			stream += int64(len(want[seq].Payload))
		}
		if s.Buffer.Missed != 0 {
			t.Errorf("viewer %s missed %d chunks", v.node.ID().ShortString(), s.Buffer.Missed)
		}
	}
	t.Logf("%d viewers: join→in mesh p50 %v p95 %v; join→first byte (a keyframe) p50 %v p95 %v",
		len(vs), pct(join, 50), pct(join, 95), pct(first, 50), pct(first, 95))
	t.Logf("source→output delay p50 %v p99 %v; bytes received per stream byte %.2f (all protocols: DHT, gossip, manifest)",
		pct(delays, 50), pct(delays, 99), float64(in)/float64(stream))
	t.Logf("broadcaster: %+v", ch.Stats().Gossip)
}

func pct(d []time.Duration, p int) time.Duration { return percentile(d, p).Round(time.Millisecond) }
