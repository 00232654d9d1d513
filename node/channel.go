package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
	"github.com/p2ptv/p2ptvd/gossip"
	"github.com/p2ptv/p2ptvd/media"
)

// Role says whether the node broadcasts a channel or watches it.
type Role string

const (
	RoleBroadcast Role = "broadcast"
	RoleView      Role = "view"
)

// Channel is a channel the node broadcasts or watches. Its playout buffer
// feeds any number of readers (HTTP clients, stdout).
type Channel struct {
	n        *Node
	id       p2ptvd.ChannelID
	manifest p2ptvd.Manifest
	role     Role
	log      *slog.Logger
	mesh     *gossip.Channel
	playout  *buffer.Playout
	joined   time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when the channel's stream has ended or failed
	once   sync.Once
	mu     sync.Mutex
	err    error
	closed bool
}

// ID is the channel's ID.
func (c *Channel) ID() p2ptvd.ChannelID { return c.id }

// Manifest is the channel's verified manifest.
func (c *Channel) Manifest() p2ptvd.Manifest { return c.manifest }

// Role says whether this node broadcasts or watches the channel.
func (c *Channel) Role() Role { return c.role }

// Playout is the channel's playout buffer.
func (c *Channel) Playout() *buffer.Playout { return c.playout }

// Peers are the peers this node shares the channel's topic with.
func (c *Channel) Peers() []peer.ID { return c.mesh.Peers() }

// Done is closed when the stream has ended (input exhausted for a
// broadcast) or failed; Err says which.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Err is nil while the channel runs and after a clean end of stream.
func (c *Channel) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats is a snapshot of a channel's state.
type Stats struct {
	Role   Role
	Peers  int
	Buffer buffer.Stats
	Gossip gossip.ChannelStats
}

// Stats reports the channel's buffer and mesh counters.
func (c *Channel) Stats() Stats {
	return Stats{Role: c.role, Peers: len(c.mesh.Peers()), Buffer: c.playout.Stats(), Gossip: c.mesh.Stats()}
}

// Close leaves the channel: stops the stream, the buffer and providing.
func (c *Channel) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.playout.Close()
	err := c.mesh.Close()
	c.wg.Wait()
	c.n.dht.RemoveManifest(c.id)
	c.n.remove(c)
	c.finish(nil)
	return err
}

func (c *Channel) finish(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *Channel) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// newChannel joins the channel's mesh and sets up its buffer; it starts
// nothing yet.
func (n *Node) newChannel(m p2ptvd.Manifest, raw []byte, role Role) (*Channel, context.Context, error) {
	id := p2ptvd.ChannelIDOf(raw)
	mesh, err := n.gossip.Join(m)
	if err != nil {
		return nil, nil, fmt.Errorf("join mesh of %s: %w", id.Path(), err)
	}
	bcfg := n.cfg.Buffer
	if bcfg.Logger == nil {
		bcfg.Logger = n.log.With("pkg", "buffer", "channel", id.String())
	}
	ctx, cancel := context.WithCancel(n.ctx)
	c := &Channel{
		n:        n,
		id:       id,
		manifest: m,
		role:     role,
		log:      n.log.With("channel", id.String()),
		mesh:     mesh,
		playout:  buffer.New(bcfg),
		joined:   time.Now(),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	if err := n.add(c); err != nil {
		cancel()
		mesh.Close()
		return nil, nil, err
	}
	if _, err := n.dht.AddManifest(raw); err != nil {
		c.Close()
		return nil, nil, err
	}
	c.goRun(func() { c.playout.Run(ctx) })
	return c, ctx, nil
}

// BroadcastOptions describe a new broadcast.
type BroadcastOptions struct {
	Name  string
	Hints p2ptvd.StreamHints
	// Pace releases the input in real time by its PCR (for files); leave it
	// off for input that is already live (a pipe from ffmpeg -re).
	Pace bool
	// Loop restarts a seekable input at its end, timestamps kept continuous.
	Loop bool
}

// Broadcast creates a channel owned by this node's key, starts providing it
// in the DHT and publishes the chunks cut from src until src ends, ctx ends
// or the channel is closed. The returned channel's Done closes when the
// input has ended and an end-of-stream chunk has been published.
func (n *Node) Broadcast(ctx context.Context, src io.Reader, opts BroadcastOptions) (*Channel, error) {
	source, err := media.NewSource(src, media.SourceConfig{
		Chunker: n.cfg.Chunker,
		Pace:    opts.Pace,
		Loop:    opts.Loop,
		Logger:  n.log.With("pkg", "media"),
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	// Read the first chunk before anything is announced, so input that is
	// not MPEG-TS fails here, with no channel created.
	first, err := source.Next(ctx)
	if errors.Is(err, io.EOF) {
		return nil, errors.New("broadcast: input ended before the first chunk")
	}
	if err != nil {
		return nil, fmt.Errorf("broadcast: read input: %w", err)
	}
	hints := opts.Hints
	if hints.ChunkDuration == 0 {
		hints.ChunkDuration = n.cfg.Chunker.MaxDuration
	}
	m := p2ptvd.Manifest{
		Owner:   n.key.Public().(ed25519.PublicKey),
		Name:    opts.Name,
		Created: time.Now().UTC(),
		Hints:   hints,
	}
	raw, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	c, chCtx, err := n.newChannel(m, raw, RoleBroadcast)
	if err != nil {
		return nil, err
	}
	stop := n.dht.StartProviding(c.id)
	c.goRun(func() {
		defer stop()
		c.finish(c.publish(chCtx, ctx, source, first))
	})
	c.log.Info("broadcasting", "name", m.Name)
	return c, nil
}

// publish pumps the source into the mesh and the local buffer. stopCtx is
// the caller's context: when it ends the broadcast ends like an input that
// ran out, with an end-of-stream chunk.
func (c *Channel) publish(ctx, stopCtx context.Context, src *media.Source, first p2ptvd.Chunk) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-stopCtx.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	var last p2ptvd.Chunk
	var sent int
	next := &first
	for {
		var chunk p2ptvd.Chunk
		var err error
		if next != nil {
			chunk, next = *next, nil
		} else {
			chunk, err = src.Next(ctx)
		}
		if errors.Is(err, io.EOF) || (err != nil && ctx.Err() != nil) {
			break
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		chunk.Channel = c.id
		if err := c.send(ctx, chunk); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		if sent == 0 {
			c.log.Info("first chunk published", "seq", chunk.Seq, "bytes", len(chunk.Payload))
		}
		sent++
		last = chunk
	}
	eos := p2ptvd.Chunk{
		Channel:   c.id,
		Seq:       last.Seq + 1,
		Timestamp: last.Timestamp.Add(last.Duration),
		Flags:     p2ptvd.EndOfStream,
	}
	// The end-of-stream chunk goes out on the node's context: the caller's
	// may already be cancelled, and viewers should learn the stream ended.
	if err := c.send(c.n.ctx, eos); err != nil && c.n.ctx.Err() == nil {
		return err
	}
	c.log.Info("input ended", "chunks", sent, "stats", fmt.Sprintf("%+v", src.Stats()))
	return nil
}

func (c *Channel) send(ctx context.Context, chunk p2ptvd.Chunk) error {
	if err := c.mesh.Publish(ctx, chunk, c.n.key); err != nil {
		return fmt.Errorf("publish seq %d: %w", chunk.Seq, err)
	}
	c.playout.Push(chunk)
	return nil
}

// Join finds the channel's providers through the DHT, connects to several,
// fetches and verifies the manifest, joins the chunk mesh and starts the
// playout buffer. It returns once the node is in the mesh; playback starts
// when the first random-access chunk arrives (see Channel.Playout). Once the
// buffer has started the node provides the channel too, so later joiners
// find it as a relay.
//
// With Config.Remember the channel is recorded in the home directory, so
// Resume rejoins it after a restart.
func (n *Node) Join(ctx context.Context, id p2ptvd.ChannelID) (*Channel, error) {
	c, err := n.join(ctx, id)
	if err == nil {
		n.remember(id, true)
	}
	return c, err
}

func (n *Node) join(ctx context.Context, id p2ptvd.ChannelID) (*Channel, error) {
	if !id.Defined() {
		return nil, fmt.Errorf("join: %w", p2ptvd.ErrBadChannelID)
	}
	if c, ok := n.Channel(id); ok {
		return c, nil
	}
	want := n.cfg.JoinPeers
	if want <= 0 {
		want = 6
	}
	start := time.Now()
	peers, err := n.dht.Connect(ctx, id, want)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", id.Path(), err)
	}
	n.log.Info("connected to providers", "channel", id.String(), "peers", len(peers), "took", time.Since(start).Round(time.Millisecond))
	m, raw, err := n.dht.FetchManifest(ctx, id, peers)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", id.Path(), err)
	}
	c, chCtx, err := n.newChannel(m, raw, RoleView)
	if err != nil {
		return nil, err
	}
	c.joined = start
	c.goRun(func() { c.finish(c.receive(chCtx)) })
	c.goRun(func() { c.findPeers(chCtx, want) })
	c.log.Info("joined", "name", m.Name, "peers", len(peers))
	return c, nil
}

// receive moves validated chunks from the mesh into the buffer and starts
// providing the channel once the buffer holds a playable window.
func (c *Channel) receive(ctx context.Context) error {
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		chunk, err := c.mesh.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, gossip.ErrClosed) {
				return nil
			}
			return fmt.Errorf("receive: %w", err)
		}
		c.playout.Push(chunk)
		st := c.playout.Stats()
		if st.Started {
			c.mesh.Playing(st.NextSeq)
		}
		if stop == nil && st.Started {
			stop = func() {}
			if c.n.cfg.ConsumeOnly {
				// Not providing keeps later joiners from picking this node
				// as a source; it still sits in the mesh it joined.
				c.log.Info("playing (consume-only: not providing)", "startup", time.Since(c.joined).Round(time.Millisecond))
			} else {
				stop = c.n.dht.StartProviding(c.id)
				c.log.Info("playing; providing the channel as a relay", "startup", time.Since(c.joined).Round(time.Millisecond))
			}
		}
		if chunk.Flags.Has(p2ptvd.EndOfStream) {
			c.log.Info("end of stream", "seq", chunk.Seq)
		}
	}
}

// findPeers keeps looking up the channel's providers while the node shares
// the topic with fewer than want peers. A joiner first finds few providers
// (viewers provide only once they play), and a broadcaster keeps at most a
// handful of viewers in its mesh, so the rest must find each other.
func (c *Channel) findPeers(ctx context.Context, want int) {
	wait := 2 * time.Second
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if have := len(c.mesh.Peers()); have < want {
			peers, err := c.n.dht.Connect(ctx, c.id, want)
			c.log.Debug("looked for more peers", "had", have, "connected", len(peers), "err", err)
		}
		wait = min(2*wait, time.Minute)
		t.Reset(wait)
	}
}
