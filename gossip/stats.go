package gossip

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

// Stats counts what a Service's router dropped and rejected, over all
// channels, since New.
type Stats struct {
	// Accepted counts chunks from the network that passed validation.
	Accepted uint64
	// Rejected counts chunks the validator rejected, by reason (the text of
	// the sentinel error: "malformed chunk", "bad chunk signature", ...).
	Rejected map[string]uint64
	// Ignored counts chunks neither relayed nor penalised (they arrived
	// while their channel was closing).
	Ignored uint64
	// RouterRejects counts messages pubsub itself refused, by pubsub's
	// reason ("validation queue full", "blacklisted peer", ...); a failed
	// validation shows here as "validation failed" as well as in Rejected.
	RouterRejects map[string]uint64
	// Duplicates counts copies of chunks already seen.
	Duplicates uint64
	// Sent counts whole-chunk copies queued to peers: published or relayed
	// to peers without partial messages, and answers to IWANT. The
	// partial-message path counts parts instead (ChannelStats.PartsSent).
	Sent uint64
	// DroppedRPCs counts outbound RPCs dropped because a peer's queue was
	// full or gone; DroppedChunks counts the chunks they carried.
	DroppedRPCs, DroppedChunks uint64
	// SlowReaderDrops counts chunks dropped because Next was not called
	// fast enough, over all channels.
	SlowReaderDrops uint64
	// PartialRPCs counts partial-message RPCs queued to peers (parts,
	// announcements, requests); QueuedBytes the bytes of every chunk and
	// partial RPC queued, and Backlog those not yet written to a stream
	// (to peers that are not stalled: see the package doc, "Sending").
	PartialRPCs          uint64
	QueuedBytes, Backlog int64
	// ReceivedBytes counts the bytes of every pubsub RPC received, as
	// encoded (parts, metadata, control, subscriptions, whole chunks):
	// what the router took in, before the stream's and transport's
	// framing.
	ReceivedBytes uint64
	// Blacklisted is the number of peers blacklisted now.
	Blacklisted int
}

// ChannelStats counts one channel's traffic since Join.
type ChannelStats struct {
	Published uint64 // chunks this node published
	Received  uint64 // validated chunks from the mesh queued for Next
	Rejected  map[string]uint64
	// SlowReaderDrops counts chunks dropped because Next fell behind:
	// SubscriptionDrops of them by pubsub (our reader goroutine fell
	// behind), the rest from the Next queue (the caller did).
	SlowReaderDrops   uint64
	SubscriptionDrops uint64
	// HighestSeq is the highest seq accepted; meaningless until a chunk is.
	HighestSeq uint64
	// The partial-message path: parts received (verified, new), parts
	// that were duplicates, parts sent (pushed and answered); requests
	// sent, requests that timed out and went elsewhere, parents replaced;
	// announcements sent, requests refused as busy, subscriptions shed;
	// parts dropped unsent because they waited too long for the uplink,
	// or because their receiver told us, while they waited, that it holds
	// them; peers found stalled (our queue to them stopped draining).
	PartsReceived, DuplicateParts, PartsSent uint64
	SendExpired, SendUnneeded, Stalled       uint64
	Requests, RequestTimeouts, Reparents     uint64
	Announces, Busy, Shed                    uint64
	// PartBytes and DuplicateBytes are the payload bytes of the parts
	// received, new and duplicate; PartBytesSent those of the parts sent.
	PartBytes, DuplicateBytes, PartBytesSent uint64
	// PartsSent split by why: pushed to children subscribed to the index
	// (LeasedParts of them by the source to its extra, leased children:
	// doc.go, "The source"), answered for live chunks, answered for chunks
	// behind the live edge (catch-up).
	PushedParts, LeasedParts, AnsweredParts, CatchUpParts uint64
	// Parents is the number of peers that push us parts; Children the
	// number we push parts to; Slots the subscriptions (one part index
	// each) our upload affords, Subscriptions those taken.
	Parents, Children, Slots, Subscriptions int
	// LegacyDrops counts chunks not republished whole to peers that do
	// not speak partial messages because the queue was full.
	LegacyDrops uint64
}

// reasonCounts is a map of counters safe for concurrent use.
type reasonCounts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (r *reasonCounts) add(reason string) {
	r.mu.Lock()
	if r.m == nil {
		r.m = make(map[string]uint64)
	}
	r.m[reason]++
	r.mu.Unlock()
}

func (r *reasonCounts) snapshot() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		return map[string]uint64{}
	}
	return maps.Clone(r.m)
}

// Stats returns a snapshot of the Service's counters.
func (s *Service) Stats() Stats {
	t := s.trace
	st := Stats{
		Accepted:        t.accepted.Load(),
		Rejected:        t.rejected.snapshot(),
		Ignored:         t.ignored.Load(),
		RouterRejects:   t.routerRejects.snapshot(),
		Duplicates:      t.duplicates.Load(),
		Sent:            t.sent.Load(),
		DroppedRPCs:     t.droppedRPCs.Load(),
		DroppedChunks:   t.droppedChunks.Load(),
		SlowReaderDrops: t.slowReader.Load(),
		PartialRPCs:     t.partialRPCs.Load(),
		ReceivedBytes:   t.recvBytes.Load(),
		QueuedBytes:     t.queuedBytes.Load(),
		Blacklisted:     s.black.len(),
	}
	if s.up != nil {
		st.Backlog, _ = s.up.state()
	}
	return st
}

// tracer is pubsub's RawTracer. Pubsub calls it synchronously from its
// event loop, so every method only counts.
type tracer struct {
	channels *sync.Map    // topic → *Channel, for per-channel drops
	up       *uplink      // nil in tests that drive the tracer alone
	log      *slog.Logger // mesh changes at debug level; nil: none

	accepted, ignored, duplicates atomic.Uint64
	sent                          atomic.Uint64
	droppedRPCs, droppedChunks    atomic.Uint64
	slowReader                    atomic.Uint64
	partialRPCs                   atomic.Uint64
	recvBytes                     atomic.Uint64
	queuedBytes                   atomic.Int64
	rejected, routerRejects       reasonCounts
}

func newTracer() *tracer { return &tracer{} }

func (t *tracer) channel(topic string) *Channel {
	if t.channels == nil {
		return nil
	}
	v, ok := t.channels.Load(topic)
	if !ok {
		return nil
	}
	return v.(*Channel)
}

func (t *tracer) DropRPC(rpc *pubsub.RPC, _ peer.ID) {
	t.droppedRPCs.Add(1)
	t.droppedChunks.Add(uint64(len(rpc.GetPublish())))
}

func (t *tracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	t.sent.Add(uint64(len(rpc.GetPublish())))
	if rpc.GetPartial() != nil {
		t.partialRPCs.Add(1)
	}
	n := rpcSize(rpc)
	t.queuedBytes.Add(n)
	if t.up != nil {
		t.up.queued(rpc, p, n)
	}
}

func (t *tracer) SendRPCCompleted(rpc *pubsub.RPC, p peer.ID, _ time.Duration) {
	if t.up != nil {
		t.up.sent(rpc, p, rpcSize(rpc))
	}
	if pm := rpc.GetPartial(); pm != nil {
		if c := t.channel(pm.GetTopicID()); c != nil && c.waiting.Load() {
			select {
			case c.drained <- struct{}{}:
			default:
			}
		}
	}
}

func (t *tracer) OnClosedOutboundStream(p peer.ID) {
	if t.up != nil {
		t.up.gone(p)
	}
}

func (t *tracer) RejectMessage(_ *pubsub.Message, reason string) { t.routerRejects.add(reason) }

func (t *tracer) DuplicateMessage(*pubsub.Message) { t.duplicates.Add(1) }

func (t *tracer) UndeliverableMessage(msg *pubsub.Message) {
	t.slowReader.Add(1)
	if c := t.channel(msg.GetTopic()); c != nil {
		c.subDrops.Add(1)
	}
}

// debug logs a mesh event; pubsub's own logs say little about meshes,
// and a node left out of every mesh is otherwise silent.
func (t *tracer) debug(msg string, p peer.ID, topic string) {
	if t.log != nil && t.log.Enabled(context.Background(), slog.LevelDebug) {
		t.log.Debug(msg, "peer", short(p), "topic", topic)
	}
}

func (t *tracer) OnNewOutboundStream(p peer.ID, proto protocol.ID) {
	t.debug("pubsub stream", p, string(proto))
}
func (t *tracer) Join(string)                     {}
func (t *tracer) Leave(string)                    {}
func (t *tracer) Graft(p peer.ID, tp string)      { t.debug("graft", p, tp) }
func (t *tracer) Prune(p peer.ID, tp string)      { t.debug("prune", p, tp) }
func (t *tracer) ValidateMessage(*pubsub.Message) {}
func (t *tracer) DeliverMessage(*pubsub.Message)  {}
func (t *tracer) ThrottlePeer(peer.ID)            {}
func (t *tracer) RecvRPC(rpc *pubsub.RPC)         { t.recvBytes.Add(uint64(proto.Size(&rpc.RPC))) }

// Stats returns a snapshot of the channel's counters.
func (c *Channel) Stats() ChannelStats {
	high, _ := c.window.high()
	sub, q := c.subDrops.Load(), c.queueDrops.Load()
	p := &c.stats
	return ChannelStats{
		Published:         c.published.Load(),
		Received:          c.received.Load(),
		Rejected:          c.rejected.snapshot(),
		SlowReaderDrops:   sub + q,
		SubscriptionDrops: sub,
		HighestSeq:        high,
		PartsReceived:     p.partsIn.Load(),
		DuplicateParts:    p.dupParts.Load(),
		PartBytes:         p.partBytes.Load(),
		DuplicateBytes:    p.dupBytes.Load(),
		PartsSent:         p.partsSent(),
		PartBytesSent:     p.partBytesOut.Load(),
		PushedParts:       p.sentBy[classPush].Load(),
		LeasedParts:       p.leased.Load(),
		AnsweredParts:     p.sentBy[classAnswer].Load(),
		CatchUpParts:      p.sentBy[classCatchUp].Load(),
		Requests:          p.requests.Load(),
		RequestTimeouts:   p.timeouts.Load(),
		Reparents:         p.reparents.Load(),
		Announces:         p.announces.Load(),
		Busy:              p.busy.Load(),
		Shed:              p.shed.Load(),
		Parents:           int(p.parents.Load()),
		Children:          int(p.children.Load()),
		Slots:             int(p.slots.Load()),
		Subscriptions:     int(p.used.Load()),
		LegacyDrops:       p.legacyDrops.Load(),
		SendExpired:       p.sendExpired.Load(),
		SendUnneeded:      p.sendUnneeded.Load(),
		Stalled:           p.stalled.Load(),
	}
}

// partsSent is the parts handed to pubsub, over all lines.
func (p *partialCounts) partsSent() uint64 {
	var n uint64
	for i := range p.sentBy {
		n += p.sentBy[i].Load()
	}
	return n
}
