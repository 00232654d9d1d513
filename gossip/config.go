package gossip

import (
	"context"
	"io"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Config tunes a Service. The zero value works.
type Config struct {
	Logger *slog.Logger     // nil = discard
	Now    func() time.Time // nil = time.Now
	// Window is how many seqs behind the highest accepted chunk a chunk may
	// be and still be accepted (unless its timestamp is newer than every
	// accepted chunk's: the broadcaster restarted its numbering).
	Window uint64 // 0 = 1024
	// MaxAge bounds how old a chunk's timestamp may be, and how far in the
	// future (clock skew between broadcaster and viewer).
	MaxAge     time.Duration // 0 = 60s
	MaxPayload int           // 0 = 1 MiB
	// InvalidBeforeBlacklist is how many provably invalid chunks a peer may
	// send before it is blacklisted and disconnected.
	InvalidBeforeBlacklist int // 0 = 3
	// BlacklistFor is how long a blacklisted peer stays blacklisted.
	BlacklistFor time.Duration // 0 = 1h
	// QueueLength bounds the chunks waiting for Next on each channel (and
	// sizes pubsub's subscription buffer); when full the oldest is dropped.
	QueueLength int // 0 = 256
	// MaxUpload caps what the node uploads for its channels, in bits per
	// second (the daemon's --max-upload): it sizes how many part
	// subscriptions the node serves. 0 means learn the uplink from the
	// backlog of what pubsub has yet to write.
	MaxUpload int64
	// ConsumeOnly makes the node receive without serving anyone: no
	// subscriptions, no answers to requests, no announcements.
	ConsumeOnly bool
}

const (
	defaultWindow       = 1024
	defaultMaxAge       = 60 * time.Second
	defaultInvalid      = 3
	defaultBlacklistFor = time.Hour
	defaultQueue        = 256
	// outboundQueue and validateQueue are counted in RPCs and messages, not
	// bytes, and drop silently when full (DESIGN §5a); pubsub's 32 is a few
	// seconds of a 8 chunk/s stream.
	outboundQueue = 256
	validateQueue = 256
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	if c.MaxAge <= 0 {
		c.MaxAge = defaultMaxAge
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	// A partial message's bitmaps hold at most maxParts parts.
	c.MaxPayload = min(c.MaxPayload, maxParts*PartSize)
	if c.InvalidBeforeBlacklist <= 0 {
		c.InvalidBeforeBlacklist = defaultInvalid
	}
	if c.BlacklistFor <= 0 {
		c.BlacklistFor = defaultBlacklistFor
	}
	if c.QueueLength <= 0 {
		c.QueueLength = defaultQueue
	}
	return c
}

// seenTTL is how long pubsub remembers a message ID. A chunk is accepted
// while its timestamp is within MaxAge either side of now, a span of
// 2×MaxAge; remembering IDs a little longer means a replayed chunk is
// either a known duplicate or too old, never validated and relayed twice.
func (c Config) seenTTL() time.Duration { return 2*c.MaxAge + 10*time.Second }

// gossipSubParams are pubsub's defaults with the changes streaming needs.
func gossipSubParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	// D=8: with partial messages the mesh carries announcements and
	// requests, not copies of the chunk, and a wider mesh gives a peer more
	// candidate parents (the prototype used 8, DESIGN §5). Chunks move
	// only on request or subscription, so the degree no longer multiplies
	// the bytes.
	p.D, p.Dlo, p.Dhi = 8, 6, 12
	// Dout < Dlo and Dout < D/2; Dscore ≤ Dhi. Same proportions as the defaults.
	p.Dout, p.Dscore = 2, 4
	// IHAVE advertises the last 3 heartbeats (3 s at 1 s heartbeats), and the
	// cache keeps 6 so an IWANT answered a little late still finds the chunk:
	// the IHAVE/IWANT repair path covers the playout delay (DESIGN §5, §8).
	p.HistoryGossip, p.HistoryLength = 3, 6
	// IHAVE goes to every topic peer outside the mesh, not to a random 6 of
	// them: a viewer that was just pruned (a broadcaster is grafted by every
	// joiner and keeps at most Dhi) otherwise learns of a chunk by chance and
	// loses runs of them until it is grafted elsewhere. IHAVEs are small:
	// message IDs, not chunks.
	p.Dlazy, p.GossipFactor = 64, 1
	return p
}

// Peer scoring. Only misbehaviour that is provable or persistent moves a
// peer far: invalid chunks (P4) dominate, everything else is small.
const (
	invalidWeight     = -20.0 // P4: count² × weight, so 1 → -20, 2 → -80, 3 → -180
	gossipThreshold   = -40.0 // 2 invalid chunks: no more gossip to or from it
	publishThreshold  = -80.0
	graylistThreshold = -160.0 // 3 invalid chunks: every RPC from it is ignored
	acceptPXThreshold = 0.0    // see peerScoreThresholds
	topicScoreCap     = 15.0   // positive score cannot buy more than 2 invalid chunks
)

func peerScoreParams(seenTTL time.Duration, app func(peer.ID) float64) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:        map[string]*pubsub.TopicScoreParams{}, // set per channel in Join
		TopicScoreCap: topicScoreCap,
		// P5: the engines' penalties for peers that announce parts and do
		// not deliver them (peers.go); never positive.
		AppSpecificScore:  app,
		AppSpecificWeight: 1,
		// P6 off: viewers share addresses legitimately (a household behind
		// one NAT, carrier-grade NAT), and tests run every host on one IP.
		IPColocationFactorWeight: 0,
		// P7: broken IWANT promises and early re-grafts. A congested home
		// uplink drops queued IWANT answers, so tolerate a burst of them.
		BehaviourPenaltyWeight:    -1,
		BehaviourPenaltyThreshold: 10,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		// A peer cannot shed a negative score by reconnecting.
		RetainScore: 30 * time.Minute,
		SeenMsgTTL:  seenTTL,
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:   gossipThreshold,
		PublishThreshold:  publishThreshold,
		GraylistThreshold: graylistThreshold,
		// Peer exchange is how a joiner gets past a full mesh. A joiner
		// knows the broadcaster and the few providers the DHT had (viewers
		// provide once they play), and their meshes are at Dhi, so they
		// prune its GRAFT with a list of their mesh peers. At 10, the
		// joiner ignored that list (it has scored nobody yet) and sat
		// outside every mesh until its next DHT lookup, 2–8 s later, in
		// the benchmark's join storm. PX from any peer not scored negative
		// is accepted: what the peers it names send is verified part by
		// part like everything else, and the connection manager bounds
		// how many we keep.
		AcceptPXThreshold:           acceptPXThreshold,
		OpportunisticGraftThreshold: 2,
	}
}

func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight: 1,
		// P1: a little credit for staying in the mesh, up to +5.
		TimeInMeshWeight:  0.02,
		TimeInMeshQuantum: time.Second,
		TimeInMeshCap:     250,
		// P2: credit for delivering chunks first, up to +10.
		FirstMessageDeliveriesWeight: 0.5,
		FirstMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(2 * time.Minute),
		FirstMessageDeliveriesCap:    20,
		// P3/P3b off: chunks move as parts along per-index trees, so most
		// mesh peers never deliver a whole message at all, and penalising
		// them for that would prune honest relays. Peers that announce and
		// never deliver are scored by the engine (the app-specific score).
		// P4: invalid chunks, remembered for tens of minutes.
		InvalidMessageDeliveriesWeight: invalidWeight,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(30 * time.Minute),
	}
}

// warnHandler passes pubsub's own logs at Warn and above: at Info it logs
// every message a slow subscriber misses, which the counters already say.
type warnHandler struct{ slog.Handler }

func (h warnHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return warnHandler{h.Handler.WithAttrs(as)}
}

func (h warnHandler) WithGroup(name string) slog.Handler {
	return warnHandler{h.Handler.WithGroup(name)}
}
