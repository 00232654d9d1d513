package gossip

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/p2ptv/p2ptvd"
)

// Channel is one joined channel: its topic, validator and subscription.
type Channel struct {
	s      *Service
	id     p2ptvd.ChannelID
	owner  ed25519.PublicKey
	name   string
	window *window

	topic *pubsub.Topic
	sub   *pubsub.Subscription

	queue      chan p2ptvd.Chunk
	ready      chan struct{} // closed when start returns
	ctx        context.Context
	cancel     context.CancelFunc
	readerDone chan struct{}
	closing    atomic.Bool
	closeOnce  sync.Once
	closeErr   error

	published, received  atomic.Uint64
	subDrops, queueDrops atomic.Uint64
	rejected             reasonCounts
}

func newChannel(s *Service, id p2ptvd.ChannelID, owner ed25519.PublicKey) *Channel {
	ctx, cancel := context.WithCancel(s.ctx)
	return &Channel{
		s:          s,
		id:         id,
		owner:      owner,
		name:       TopicName(id),
		window:     newWindow(s.cfg.Window, s.cfg.MaxAge),
		queue:      make(chan p2ptvd.Chunk, s.cfg.QueueLength),
		ready:      make(chan struct{}),
		ctx:        ctx,
		cancel:     cancel,
		readerDone: make(chan struct{}),
	}
}

// start joins the topic, installs the validator and starts the reader.
func (c *Channel) start() (err error) {
	ps := c.s.ps
	defer close(c.ready)
	defer func() {
		if err != nil {
			c.cancel()
			close(c.readerDone)
			if c.sub != nil {
				c.sub.Cancel()
			}
			_ = ps.UnregisterTopicValidator(c.name)
			if c.topic != nil {
				_ = c.topic.Close()
			}
		}
	}()
	if c.topic, err = ps.Join(c.name); err != nil {
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
	go c.read()
	return nil
}

// validate is the topic validator. It runs on pubsub's validation workers,
// concurrently, for every message on the topic not already seen, including
// the chunks this node publishes.
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

// read is the channel's goroutine: it moves validated chunks from the
// pubsub subscription into the Next queue as they arrive, so pubsub never
// waits for the caller. When the queue is full it drops the oldest chunk:
// a live stream's reader wants the newest.
func (c *Channel) read() {
	defer close(c.readerDone)
	for {
		msg, err := c.sub.Next(c.ctx)
		if err != nil {
			return
		}
		ch, ok := msg.ValidatorData.(p2ptvd.Chunk)
		if !ok {
			continue
		}
		c.received.Add(1)
		c.enqueue(ch)
	}
}

// enqueue puts ch on the Next queue, dropping the oldest chunk if the
// queue is full. read is the only sender, so after one drop there is room:
// the loop runs at most twice.
func (c *Channel) enqueue(ch p2ptvd.Chunk) {
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
// publishes it. A zero chunk.Channel means this channel.
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
	data, err := encode(chunk, key, c.s.cfg.MaxPayload)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// data is fresh for each call: Topic.Publish keeps it.
	if err := c.topic.Publish(ctx, data, pubsub.WithValidatorData(chunk)); err != nil {
		return fmt.Errorf("publish chunk %d: %w", chunk.Seq, err)
	}
	c.published.Add(1)
	return nil
}

// Next returns the next validated chunk from the mesh, in arrival order.
func (c *Channel) Next(ctx context.Context) (p2ptvd.Chunk, error) {
	if c.closing.Load() {
		return p2ptvd.Chunk{}, ErrClosed
	}
	select {
	case ch := <-c.queue:
		return ch, nil
	case <-c.readerDone:
		return p2ptvd.Chunk{}, ErrClosed
	case <-ctx.Done():
		return p2ptvd.Chunk{}, ctx.Err()
	}
}

// ID returns the channel's ID.
func (c *Channel) ID() p2ptvd.ChannelID { return c.id }

// Peers returns the peers subscribed to the channel's topic.
func (c *Channel) Peers() []peer.ID { return c.topic.ListPeers() }

// Stats returns a snapshot of the channel's counters.
func (c *Channel) Stats() ChannelStats {
	high, _ := c.window.high()
	sub, q := c.subDrops.Load(), c.queueDrops.Load()
	return ChannelStats{
		Published:         c.published.Load(),
		Received:          c.received.Load(),
		Rejected:          c.rejected.snapshot(),
		SlowReaderDrops:   sub + q,
		SubscriptionDrops: sub,
		HighestSeq:        high,
	}
}

// Close leaves the channel: it cancels the subscription, waits for the
// reader, removes the validator and closes the topic.
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
		<-c.readerDone
		var errs []error
		if err := c.s.ps.UnregisterTopicValidator(c.name); err != nil {
			errs = append(errs, fmt.Errorf("unregister validator: %w", err))
		}
		if err := c.topic.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close topic: %w", err))
		}
		c.s.channels.Delete(c.name)
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
