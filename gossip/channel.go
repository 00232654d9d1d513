package gossip

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/p2ptv/p2ptvd"
)

// Channel is one joined channel: its topic, validator, subscription and
// partial-message engine.
type Channel struct {
	s      *Service
	id     p2ptvd.ChannelID
	owner  ed25519.PublicKey
	name   string
	window *window
	hint   float64 // the manifest's bitrate, bytes/s; 0 if none
	eng    *engine

	topic *pubsub.Topic
	sub   *pubsub.Subscription

	queue   chan p2ptvd.Chunk
	legacyQ chan legacyMsg
	legacy  atomic.Bool // the topic has peers that want full messages
	scores  atomic.Pointer[map[peer.ID]float64]
	ready   chan struct{} // closed when start returns
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	done    chan struct{} // closed when the goroutines have ended
	closing atomic.Bool
	// waiting says the engine holds parts for the uplink; drained wakes
	// the tick goroutine to release more when pubsub has written some.
	waiting   atomic.Bool
	drained   chan struct{}
	closeOnce sync.Once
	closeErr  error

	published, received  atomic.Uint64
	subDrops, queueDrops atomic.Uint64
	rejected             reasonCounts
	stats                partialCounts

	// playhead is the reader's next seq plus one (0: not playing yet).
	playhead atomic.Uint64
}

// Playing tells the channel where its reader plays: next is the seq it
// plays next. Chunks before it are no longer fetched, since the reader
// has played or skipped them; what is held of them is still served.
func (c *Channel) Playing(next uint64) { c.playhead.Store(next + 1) }

// partialCounts are the engine's counters, read by Stats.
type partialCounts struct {
	partsIn, dupParts             atomic.Uint64
	partBytes, dupBytes           atomic.Uint64
	sendUnneeded                  atomic.Uint64
	sentBy                        [nClasses]atomic.Uint64 // parts out by line; PartsSent is their sum
	leased, partBytesOut          atomic.Uint64
	requests, timeouts, reparents atomic.Uint64
	announces, busy, shed, rpcs   atomic.Uint64
	legacyDrops, sendExpired      atomic.Uint64
	stalled                       atomic.Uint64
	dupParent, dupReq, dupOther   atomic.Uint64
	dupSource                     atomic.Uint64
	partLat                       [32]atomic.Uint64 // new parts by arrival latency, 100 ms buckets
	queueMax                      atomic.Int64
	parents, children             atomic.Int64
	slots, used                   atomic.Int64
}

type legacyMsg struct {
	msg   []byte
	chunk p2ptvd.Chunk
}

func newChannel(s *Service, m p2ptvd.Manifest, id p2ptvd.ChannelID) *Channel {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &Channel{
		s:       s,
		id:      id,
		owner:   m.Owner,
		name:    TopicName(id),
		window:  newWindow(s.cfg.Window, s.cfg.MaxAge),
		hint:    float64(m.Hints.Bitrate) / 8,
		queue:   make(chan p2ptvd.Chunk, s.cfg.QueueLength),
		legacyQ: make(chan legacyMsg, 64),
		drained: make(chan struct{}, 1),
		ready:   make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	c.eng = newEngine(c, s.tuning)
	return c
}

// start joins the topic asking for partial messages, installs the
// validator (for full messages from peers that do not speak them) and
// starts the goroutines.
func (c *Channel) start() (err error) {
	ps := c.s.ps
	defer close(c.ready)
	defer func() {
		if err != nil {
			c.cancel()
			close(c.done)
			if c.sub != nil {
				c.sub.Cancel()
			}
			_ = ps.UnregisterTopicValidator(c.name)
			if c.topic != nil {
				_ = c.topic.Close()
			}
		}
	}()
	if c.topic, err = ps.Join(c.name, pubsub.RequestPartialMessages()); err != nil {
		return fmt.Errorf("join topic: %w", err)
	}
	if err = c.topic.SetScoreParams(topicScoreParams()); err != nil {
		return fmt.Errorf("set score params: %w", err)
	}
	// Inline: the validator is CPU-bound (one signature, a few hashes) and
	// never blocks, so a goroutine per message would only add overhead.
	if err = ps.RegisterTopicValidator(c.name, c.validate, pubsub.WithValidatorInline(true)); err != nil {
		return fmt.Errorf("register validator: %w", err)
	}
	self := c.s.h.ID()
	c.sub, err = c.topic.Subscribe(
		pubsub.WithBufferSize(c.s.cfg.QueueLength),
		// Our own chunks are not handed back to us, and do not take space.
		pubsub.WithMessageFilter(func(m *pubsub.Message) bool { return m.ReceivedFrom != self }),
	)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	c.wg.Add(3)
	go c.read()
	go c.tick()
	go c.legacyLoop()
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
	return nil
}

// validate is the topic validator for full messages. It runs on pubsub's
// validation workers, concurrently, for every message on the topic not
// already seen, including the chunks this node publishes to legacy peers.
func (c *Channel) validate(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	local := from == c.s.h.ID()
	if c.closing.Load() && !local {
		c.s.trace.ignored.Add(1)
		return pubsub.ValidationIgnore
	}
	ch, ok := msg.ValidatorData.(p2ptvd.Chunk)
	if !local || !ok {
		var err error
		ch, err = open(msg.GetData(), c.id, c.owner, c.s.cfg.MaxPayload)
		if err != nil {
			return c.reject(from, local, err)
		}
	}
	if err := c.window.admit(ch, c.s.cfg.Now()); err != nil {
		return c.reject(from, local, err)
	}
	msg.ValidatorData = ch
	if !local {
		c.s.trace.accepted.Add(1)
	}
	return pubsub.ValidationAccept
}

func (c *Channel) reject(from peer.ID, local bool, err error) pubsub.ValidationResult {
	if local {
		// Publish checked first; this is a race with the clock or another
		// publisher, and the error reaches the caller through Publish.
		return pubsub.ValidationReject
	}
	reason := reasonOf(err)
	c.rejected.add(reason)
	c.s.trace.rejected.add(reason)
	// Staleness depends on our clock, and honest peers whose clocks differ
	// may disagree about it: penalise, but do not blacklist for it.
	if !errors.Is(err, ErrStale) && !errors.Is(err, ErrFuture) {
		c.s.noteInvalid(from, c.id, err)
	}
	return pubsub.ValidationReject
}

// eval runs f on pubsub's event loop, where the engine lives, with the
// partial-message peers of our mesh; it waits until f has run.
func (c *Channel) eval(f func(mesh map[peer.ID]struct{})) error {
	return pubsub.PublishPartial(c.s.ps, c.name, []byte(tickGroup), func(mesh map[peer.ID]struct{}, _ func(peer.ID) bool) iter.Seq2[peer.ID, partialmessages.PublishAction] {
		if !c.closing.Load() {
			f(mesh)
		}
		// The map is the extension's state for the timer's group: emptied,
		// it holds exactly the mesh again at the next call.
		clear(mesh)
		return func(func(peer.ID, partialmessages.PublishAction) bool) {}
	})
}

// read is the channel's goroutine for full messages (from peers that do
// not speak partial messages): the validator has verified them; the
// engine delivers them and offers their parts to the partial mesh.
func (c *Channel) read() {
	defer c.wg.Done()
	for {
		msg, err := c.sub.Next(c.ctx)
		if err != nil {
			return
		}
		if _, ok := msg.ValidatorData.(p2ptvd.Chunk); !ok {
			continue
		}
		data := msg.GetData()
		if c.eval(func(map[peer.ID]struct{}) { c.eng.onFull(data) }) != nil {
			return
		}
	}
}

// tick runs the engine's timers every tuning.tick, and once a second
// hands it the topic's peers so it can tell whether any want full
// messages.
func (c *Channel) tick() {
	defer c.wg.Done()
	t := time.NewTicker(c.eng.t.tick)
	defer t.Stop()
	var lastPeers time.Time
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.drained:
			// Pubsub wrote some of what the engine handed it: hand it
			// more now rather than at the next tick.
			if c.eval(func(map[peer.ID]struct{}) { c.eng.onDrain() }) != nil {
				return
			}
			continue
		}
		var peers []peer.ID
		if time.Since(lastPeers) >= time.Second {
			lastPeers = time.Now()
			peers = c.topic.ListPeers()
			if peers == nil {
				peers = []peer.ID{}
			}
		}
		if c.eval(func(mesh map[peer.ID]struct{}) { c.eng.onTick(mesh, peers) }) != nil {
			return
		}
	}
}

// legacyLoop publishes, as full messages, the chunks the engine assembled
// while peers that do not speak partial messages share the topic. Pubsub
// sends full messages only to such peers.
func (c *Channel) legacyLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.legacyQ:
			_ = c.topic.Publish(c.ctx, m.msg, pubsub.WithValidatorData(m.chunk))
		}
	}
}

// toLegacy queues a chunk for legacyLoop; it never blocks the event loop.
func (c *Channel) toLegacy(msg []byte, ch p2ptvd.Chunk) {
	select {
	case c.legacyQ <- legacyMsg{msg, ch}:
	default:
		c.stats.legacyDrops.Add(1)
	}
}

// deliver puts a verified chunk on the Next queue, dropping the oldest if
// the queue is full. Only the event loop calls it, so after one drop
// there is room: the loop runs at most twice.
func (c *Channel) deliver(ch p2ptvd.Chunk) {
	c.received.Add(1)
	for {
		select {
		case c.queue <- ch:
			return
		default:
		}
		select {
		case <-c.queue:
			c.queueDrops.Add(1)
			c.s.trace.slowReader.Add(1)
		default:
		}
	}
}

// Publish signs chunk with key, which must be the manifest owner's, and
// publishes it: its parts to the partial mesh, and the whole chunk to
// peers that do not speak partial messages. A zero chunk.Channel means
// this channel.
func (c *Channel) Publish(ctx context.Context, chunk p2ptvd.Chunk, key ed25519.PrivateKey) error {
	if c.closing.Load() {
		return fmt.Errorf("publish chunk %d: %w", chunk.Seq, ErrClosed)
	}
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("publish chunk %d: %w: private key is %d bytes", chunk.Seq, ErrBadKey, len(key))
	}
	if !c.owner.Equal(key.Public()) {
		return fmt.Errorf("publish chunk %d: %w", chunk.Seq, ErrNotOwner)
	}
	if !chunk.Channel.Defined() {
		chunk.Channel = c.id
	} else if chunk.Channel != c.id {
		return fmt.Errorf("publish chunk %d: %w: %s", chunk.Seq, ErrWrongChannel, chunk.Channel)
	}
	if err := c.window.probe(chunk, c.s.cfg.Now()); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	data, err := encode(chunk, key, min(c.s.cfg.MaxPayload, maxParts*PartSize))
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	h, err := parseHeader(data, c.s.cfg.MaxPayload)
	if err != nil {
		return fmt.Errorf("publish chunk %d: %w", chunk.Seq, err)
	}
	if err := c.window.admit(chunk, c.s.cfg.Now()); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := c.eval(func(map[peer.ID]struct{}) { c.eng.onPublish(data, h) }); err != nil {
		return fmt.Errorf("publish chunk %d: %w", chunk.Seq, err)
	}
	if c.legacy.Load() {
		// data is fresh for each call: Topic.Publish keeps it.
		if err := c.topic.Publish(ctx, data, pubsub.WithValidatorData(chunk)); err != nil {
			return fmt.Errorf("publish chunk %d: %w", chunk.Seq, err)
		}
	}
	c.published.Add(1)
	return nil
}

// Next returns the next verified chunk from the mesh, in the order chunks
// complete (a joiner's first batch in seq order, from a random-access chunk).
func (c *Channel) Next(ctx context.Context) (p2ptvd.Chunk, error) {
	if c.closing.Load() {
		return p2ptvd.Chunk{}, ErrClosed
	}
	select {
	case ch := <-c.queue:
		return ch, nil
	case <-c.done:
		return p2ptvd.Chunk{}, ErrClosed
	case <-ctx.Done():
		return p2ptvd.Chunk{}, ctx.Err()
	}
}

// ID returns the channel's ID.
func (c *Channel) ID() p2ptvd.ChannelID { return c.id }

// Peers returns the peers subscribed to the channel's topic.
func (c *Channel) Peers() []peer.ID { return c.topic.ListPeers() }

// appScore is the channel's penalty for p (zero or negative).
func (c *Channel) appScore(p peer.ID) float64 {
	if m := c.scores.Load(); m != nil {
		return (*m)[p]
	}
	return 0
}

// Close leaves the channel: it stops the goroutines, removes the validator
// and closes the topic.
func (c *Channel) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		// A Service closing while this channel is still joining waits for
		// the join to finish; a failed join has already undone itself.
		<-c.ready
		if c.sub == nil {
			return
		}
		c.cancel()
		c.sub.Cancel()
		<-c.done
		var errs []error
		if err := c.s.ps.UnregisterTopicValidator(c.name); err != nil {
			errs = append(errs, fmt.Errorf("unregister validator: %w", err))
		}
		if err := c.topic.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close topic: %w", err))
		}
		c.s.removeChannel(c.name)
		// Once the router itself is gone there is nothing left to undo.
		if c.s.routerDone() {
			errs = nil
		}
		if err := errors.Join(errs...); err != nil {
			c.closeErr = fmt.Errorf("close %s: %w", c.id, err)
		}
	})
	return c.closeErr
}
