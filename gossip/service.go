package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/p2ptv/p2ptvd"
)

// ErrClosed is returned by a Channel or Service after Close.
var ErrClosed = errors.New("gossip closed")

// ErrJoined is returned by Join for a channel the Service has already joined.
var ErrJoined = errors.New("channel already joined")

// maxInvalidPeers bounds the per-peer invalid-chunk counts; a flood of
// fresh peer IDs resets them rather than growing memory.
const maxInvalidPeers = 4096

// Service is one host's gossipsub router and the channels it has joined.
type Service struct {
	cfg    Config
	log    *slog.Logger
	h      host.Host
	ps     *pubsub.PubSub
	ctx    context.Context
	cancel context.CancelFunc
	trace  *tracer
	black  *blacklist
	ext    *partialmessages.PartialMessagesExtension[struct{}]
	up     *uplink
	tuning tuning
	wg     sync.WaitGroup

	channels sync.Map // topic name → *Channel; read by the tracer and the extension
	nchans   atomic.Int64
	feedback chan scoreFeedback
	dials    chan peer.AddrInfo // introduced peers to connect to (dialLoop)

	mu      sync.Mutex
	closed  bool
	invalid map[peer.ID]int
	pending map[peer.ID]pendingBan
	kick    chan struct{}
	scores  map[peer.ID]float64
}

// scoreFeedback is an invalid part or head to report to gossipsub's
// scoring, which never sees partial messages itself.
type scoreFeedback struct {
	topic string
	peer  peer.ID
}

type pendingBan struct {
	channel p2ptvd.ChannelID
	err     error
}

// New starts a gossipsub router on h. It runs until Close or until ctx ends.
func New(ctx context.Context, h host.Host, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger,
		h:        h,
		ctx:      ctx,
		cancel:   cancel,
		trace:    newTracer(),
		black:    newBlacklist(cfg.Now, cfg.BlacklistFor),
		invalid:  make(map[peer.ID]int),
		pending:  make(map[peer.ID]pendingBan),
		kick:     make(chan struct{}, 1),
		up:       newUplink(cfg.Now),
		tuning:   defaultTuning(),
		feedback: make(chan scoreFeedback, 256),
		dials:    make(chan peer.AddrInfo, 64),
	}
	s.trace.channels = &s.channels
	s.trace.up = s.up
	s.trace.log = cfg.Logger
	s.ext = &partialmessages.PartialMessagesExtension[struct{}]{
		Logger:        slog.New(warnHandler{cfg.Logger.Handler()}).With("system", "partial"),
		OnIncomingRPC: s.onIncomingRPC,
		OnEmitGossip:  s.onEmitGossip,
		// The library counts groups a peer makes it create before we publish
		// for them, per heartbeat; a parent pushes ~8 chunks a second and a
		// joiner's neighbours announce a whole GOP at once (DESIGN §5a).
		PeerInitiatedGroupLimitPerTopic:        4096,
		PeerInitiatedGroupLimitPerTopicPerPeer: 256,
	}
	// Subscribe before pubsub starts so no connection slips past the
	// blacklist unseen.
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(64))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gossip: subscribe to connection events: %w", err)
	}
	seen := cfg.seenTTL()
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithLogger(slog.New(warnHandler{cfg.Logger.Handler()}).With("system", "pubsub")),
		pubsub.WithGossipSubParams(gossipSubParams()),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return messageID(m.GetTopic(), m.GetData()) }),
		pubsub.WithFloodPublish(false),
		pubsub.WithPeerExchange(true),
		pubsub.WithPeerOutboundQueueSize(outboundQueue),
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithMaxMessageSize(MaxMessageSize(cfg.MaxPayload)+64<<10),
		pubsub.WithSeenMessagesTTL(seen),
		pubsub.WithBlacklist(s.black),
		pubsub.WithRawTracer(s.trace),
		pubsub.WithPeerScore(peerScoreParams(seen, s.appScore), peerScoreThresholds()),
		pubsub.WithPartialMessagesExtension(s.ext),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(s.setScores), time.Second),
	)
	if err != nil {
		sub.Close()
		cancel()
		return nil, fmt.Errorf("gossip: start gossipsub: %w", err)
	}
	s.ps = ps
	s.wg.Add(2)
	go s.enforce(ctx, sub)
	go s.dialLoop(ctx)
	return s, nil
}

// Join subscribes to the channel's topic, validating every chunk against
// the manifest, and relays its chunks until the Channel is closed.
func (s *Service) Join(m p2ptvd.Manifest) (*Channel, error) {
	id, err := m.ID()
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("join %s: %w", id, ErrClosed)
	}
	name := TopicName(id)
	c := newChannel(s, m, id)
	if _, loaded := s.channels.LoadOrStore(name, c); loaded {
		return nil, fmt.Errorf("join %s: %w", id, ErrJoined)
	}
	s.nchans.Add(1)
	if err := c.start(); err != nil {
		s.removeChannel(name)
		return nil, fmt.Errorf("join %s: %w", id, err)
	}
	return c, nil
}

func (s *Service) removeChannel(name string) {
	if _, ok := s.channels.LoadAndDelete(name); ok {
		s.nchans.Add(-1)
	}
}

func (s *Service) channelCount() int { return int(s.nchans.Load()) }

func (s *Service) channel(topic string) *Channel {
	v, ok := s.channels.Load(topic)
	if !ok {
		return nil
	}
	c := v.(*Channel)
	if c.closing.Load() {
		return nil
	}
	return c
}

// onIncomingRPC hands a partial-message RPC to its channel's engine. It
// runs on pubsub's event loop.
func (s *Service) onIncomingRPC(from peer.ID, _ map[peer.ID]struct{}, rpc *pb.PartialMessagesExtension) error {
	if c := s.channel(rpc.GetTopicID()); c != nil {
		c.eng.onRPC(from, rpc)
	}
	return nil
}

// onEmitGossip is where the extension offers peers outside the mesh for
// gossip. The engine announces to its mesh only; what it does here is
// keep the timer's group state equal to the mesh (see Channel.eval).
func (s *Service) onEmitGossip(_ string, groupID []byte, peers []peer.ID, states map[peer.ID]struct{}) {
	if string(groupID) == tickGroup {
		for _, p := range peers {
			delete(states, p)
		}
	}
}

// appScore is gossipsub's app-specific score: the sum of the channels'
// penalties for peers that announce parts and do not deliver them. Pubsub
// calls it under its score lock from several goroutines.
func (s *Service) appScore(p peer.ID) float64 {
	var sum float64
	s.channels.Range(func(_, v any) bool {
		sum += v.(*Channel).appScore(p)
		return true
	})
	return sum
}

// feedback reports an invalid part or head from p to gossipsub's scoring
// (P4), from the enforce goroutine: PeerFeedback waits for the event loop
// the engine runs on.
func (s *Service) feedbackInvalid(topic string, p peer.ID) {
	select {
	case s.feedback <- scoreFeedback{topic, p}:
	default:
	}
}

// TopicName is the gossipsub topic of a channel: /p2ptv/1/<cid base32>.
func TopicName(id p2ptvd.ChannelID) string { return "/p2ptv/1/" + id.String() }

// Close leaves every channel and stops the router.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	s.channels.Range(func(_, v any) bool {
		errs = append(errs, v.(*Channel).Close())
		return true
	})
	s.cancel()
	// pubsub leaves its handlers on the host after its context ends.
	for _, p := range pubsub.GossipSubDefaultProtocols {
		s.h.RemoveStreamHandler(p)
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// routerDone reports whether the router has stopped (Close, or New's ctx).
func (s *Service) routerDone() bool { return s.ctx.Err() != nil }

// Blacklisted reports whether p is blacklisted for sending invalid chunks.
// A host's connection gater can use it to refuse the peer outright.
func (s *Service) Blacklisted(p peer.ID) bool { return s.black.Contains(p) }

// PeerScores returns gossipsub's score of every peer it tracks, sampled
// once a second. Peers that left with a negative score are kept.
func (s *Service) PeerScores() map[peer.ID]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.scores)
}

func (s *Service) setScores(m map[peer.ID]float64) {
	s.mu.Lock()
	s.scores = m
	s.mu.Unlock()
}

// noteInvalid counts a provably invalid chunk from p and queues p for the
// blacklist when it reaches the limit. It runs on pubsub's validation
// workers, so it only records and signals.
func (s *Service) noteInvalid(p peer.ID, ch p2ptvd.ChannelID, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.invalid) >= maxInvalidPeers {
		clear(s.invalid)
	}
	s.invalid[p]++
	if s.invalid[p] != s.cfg.InvalidBeforeBlacklist {
		return
	}
	s.pending[p] = pendingBan{channel: ch, err: err}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// enforce blacklists and disconnects the peers noteInvalid queued, and
// hangs up on blacklisted peers that connect again. It is one of the
// Service's two goroutines of its own; dialLoop is the other.
func (s *Service) enforce(ctx context.Context, sub event.Subscription) {
	defer s.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-s.feedback:
			_ = s.ps.PeerFeedback(f.topic, f.peer, pubsub.PeerFeedbackInvalidMessage)
		case <-s.kick:
			s.mu.Lock()
			bans := s.pending
			s.pending = make(map[peer.ID]pendingBan)
			for p := range bans {
				delete(s.invalid, p)
			}
			s.mu.Unlock()
			for p, b := range bans {
				s.log.Warn("blacklisting peer for invalid chunks", "peer", p, "channel", b.channel.String(), "err", b.err)
				s.ps.BlacklistPeer(p)
				_ = s.h.Network().ClosePeer(p)
			}
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			ev, ok := e.(event.EvtPeerConnectednessChanged)
			if ok && ev.Connectedness == network.Connected && s.black.Contains(ev.Peer) {
				_ = s.h.Network().ClosePeer(ev.Peer)
			}
		}
	}
}

// blacklist is pubsub's Blacklist with expiry and a lock, so that Stats
// and Blacklisted can read it from outside pubsub's event loop.
type blacklist struct {
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	until map[peer.ID]time.Time
}

func newBlacklist(now func() time.Time, ttl time.Duration) *blacklist {
	return &blacklist{now: now, ttl: ttl, until: make(map[peer.ID]time.Time)}
}

func (b *blacklist) Add(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.until[p] = b.now().Add(b.ttl)
	return true
}

func (b *blacklist) Contains(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[p]
	if ok && !b.now().Before(t) {
		delete(b.until, p)
		return false
	}
	return ok
}

func (b *blacklist) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for p, t := range b.until {
		if !now.Before(t) {
			delete(b.until, p)
		}
	}
	return len(b.until)
}

// dial queues an introduced peer for dialLoop; it never blocks the event
// loop, and a full queue drops the introduction.
func (s *Service) dial(info peer.AddrInfo) {
	select {
	case s.dials <- info:
	default:
	}
}

// dialConcurrency and dialTimeout bound dialLoop's connection attempts.
const (
	dialConcurrency = 4
	dialTimeout     = 10 * time.Second
)

// dialLoop connects to the peers engines were introduced to (peers.go),
// a few at a time, skipping those connected or blacklisted. It is the
// Service's second goroutine; the dials it starts end with ctx.
func (s *Service) dialLoop(ctx context.Context) {
	defer s.wg.Done()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, dialConcurrency)
	for {
		var info peer.AddrInfo
		select {
		case <-ctx.Done():
			return
		case info = <-s.dials:
		}
		if s.h.Network().Connectedness(info.ID) == network.Connected || s.black.Contains(info.ID) {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			if err := s.h.Connect(dctx, info); err != nil {
				s.log.Debug("could not reach an introduced peer", "peer", info.ID, "err", err)
			}
		})
	}
}
