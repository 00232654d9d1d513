package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/buffer"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/gossip"
	"github.com/p2ptv/p2ptvd/media"
)

// defaultListen are the addresses a node listens on when none are given:
// every interface, a port the system picks, TCP and QUIC.
func defaultListen() []string { return []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"} }

// Config configures a Node. The zero value (with Home set) works.
type Config struct {
	// Home holds the node's identity. Required unless Host is set.
	Home string
	// Host, if set, is used instead of building one from Home and Listen
	// (simulated networks, embedding). Its key must be Ed25519: it signs the
	// node's broadcasts. The caller keeps ownership: Close leaves it open.
	Host host.Host
	// Listen are multiaddrs to listen on; empty means every interface,
	// TCP and QUIC, on ports the system picks.
	Listen []string
	// Bootstrap are multiaddrs (with /p2p/<id>) of DHT nodes to join through.
	Bootstrap []string
	// DHTMode is auto (server once publicly reachable), server or client.
	DHTMode dht.Mode
	// Buffer configures each channel's playout buffer.
	Buffer buffer.Config
	// Chunker configures how a broadcast is cut into chunks.
	Chunker media.ChunkerConfig
	// Gossip configures the chunk mesh.
	Gossip gossip.Config
	// ReprovideInterval overrides how often channels are re-provided.
	ReprovideInterval time.Duration
	// JoinPeers is how many providers a joiner connects to (0 = 6).
	JoinPeers int
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger

	// The fields below shape a host New builds; with Host set they are
	// ignored (the caller built it).

	// StrictListen fails New when an IPv4 listen address with a fixed port
	// could not be bound (libp2p alone starts if any address works).
	StrictListen bool
	// PortMapping asks the router to forward the listen ports (UPnP IGD,
	// NAT-PMP).
	PortMapping bool
	// HolePunching upgrades relayed connections to direct ones (DCUtR).
	HolePunching bool
	// RelayClient keeps a circuit-relay v2 reservation while AutoNAT says
	// the node is unreachable, on Relays (nil: the Bootstrap nodes).
	RelayClient bool
	Relays      []string
	// RelayService, if set, relays for others with these limits.
	RelayService *RelayService
	// AutoNATService answers other nodes' reachability probes.
	AutoNATService bool
	// AutoNATv2 checks each listen address on its own (a node can be
	// reachable over TCP and not over QUIC) and answers others' checks.
	AutoNATv2 bool
	// ForcePublic skips AutoNAT and declares the node publicly reachable:
	// for operators' nodes on public addresses, which must serve the DHT
	// and relay from the start (the relay service only runs while public,
	// and the first bootstrap node has nobody to probe it).
	ForcePublic bool
	// Resources bound the resource and connection managers.
	Resources Resources
	// Metrics receives libp2p's own metrics; nil turns them off.
	Metrics prometheus.Registerer

	// DHTProtocolPrefix "" is p2ptvd's own network; "/ipfs" is the public
	// Amino DHT.
	DHTProtocolPrefix protocol.ID
	// MaxUpload is the user's cap on stream data sent to others, in bits
	// per second (0: none); it becomes Gossip.MaxUpload unless that is set.
	MaxUpload int64
	// ConsumeOnly watches without serving others: the mesh serves nobody
	// (Gossip.ConsumeOnly), the node never provides a channel it watches,
	// and it runs the DHT as a client.
	ConsumeOnly bool
	// Remember records the channels joined through Join in the home
	// directory (channels.json), for Resume after a restart.
	Remember bool
	// SourcePeers, if positive, bounds the inbound connections the node
	// accepts while it broadcasts; more are refused before their handshake
	// and find the stream through the viewers that got in (see Gate).
	// Outbound connections are never refused.
	SourcePeers int
	// Gate is the resource manager of an injected Host, built with NewGate,
	// through which the node bounds its inbound connections; nil with Host
	// set means the node cannot (a host New builds always has one).
	Gate *Gate
}

// Node is one p2ptvd peer: a libp2p host with the DHT, the gossip service and
// the channels it broadcasts or watches.
type Node struct {
	cfg     Config
	log     *slog.Logger
	host    host.Host
	ownHost bool // built by New, so closed by Close
	parts   hostParts
	reach   *reachWatch
	started time.Time
	dht     *dht.DHT
	gossip  *gossip.Service
	key     ed25519.PrivateKey

	ctx    context.Context // lives until Close
	cancel context.CancelFunc

	wg sync.WaitGroup // resume loops

	mu       sync.Mutex
	channels map[p2ptvd.ChannelID]*Channel
	resuming map[p2ptvd.ChannelID]error // channels Resume has not rejoined yet, and why
	closed   bool
	// broadcasts counts the channels this node broadcasts (see gateSources).
	broadcasts int
	stateMu    sync.Mutex // orders writes of channels.json
}

// New starts a node: loads (or creates) its identity, listens, and starts
// the DHT and gossip. It does not wait for bootstrap peers; call Bootstrap.
func New(cfg Config) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	boot, err := dht.ParseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	if cfg.ConsumeOnly {
		cfg.DHTMode = dht.ModeClient
	}
	h, parts, err := cfg.host(log)
	if err != nil {
		return nil, err
	}
	priv := h.Peerstore().PrivKey(h.ID())
	key, err := channelKey(priv)
	if err != nil {
		if cfg.Host == nil {
			h.Close()
		}
		return nil, fmt.Errorf("node key: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:      cfg,
		log:      log.With("self", shortID(h.ID())),
		host:     h,
		parts:    parts,
		started:  time.Now(),
		key:      key,
		ctx:      ctx,
		cancel:   cancel,
		channels: make(map[p2ptvd.ChannelID]*Channel),
		resuming: make(map[p2ptvd.ChannelID]error),
	}
	n.ownHost = cfg.Host == nil
	if n.reach, err = newReachWatch(h); err != nil {
		cancel()
		n.closeHost()
		return nil, fmt.Errorf("watch reachability: %w", err)
	}
	n.dht, err = dht.New(ctx, h, dht.Config{
		Mode:              cfg.DHTMode,
		Bootstrap:         boot,
		ProtocolPrefix:    cfg.DHTProtocolPrefix,
		ReprovideInterval: cfg.ReprovideInterval,
		Logger:            log.With("pkg", "dht"),
	})
	if err != nil {
		cancel()
		n.reach.close()
		n.closeHost()
		return nil, fmt.Errorf("start dht: %w", err)
	}
	gcfg := cfg.Gossip
	if gcfg.Logger == nil {
		gcfg.Logger = log.With("pkg", "gossip")
	}
	// The user's limits reach the mesh, which sizes what it serves to them.
	if gcfg.MaxUpload == 0 {
		gcfg.MaxUpload = cfg.MaxUpload
	}
	gcfg.ConsumeOnly = gcfg.ConsumeOnly || cfg.ConsumeOnly
	n.gossip, err = gossip.New(ctx, h, gcfg)
	if err != nil {
		cancel()
		n.dht.Close()
		n.reach.close()
		n.closeHost()
		return nil, fmt.Errorf("start gossip: %w", err)
	}
	return n, nil
}

// Bootstrap connects to the configured bootstrap peers, retrying while none
// answers, and returns once the DHT has peers or ctx ends.
func (n *Node) Bootstrap(ctx context.Context) error { return n.dht.Bootstrap(ctx) }

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host is the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Addrs are the node's listen addresses with /p2p/<id> appended, ready to
// hand to others as bootstrap addresses.
func (n *Node) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Bandwidth is the total of bytes the node's libp2p streams sent and
// received, every protocol included (DHT, gossip, manifests). It is zero
// for a node on an injected host, whose owner counts its traffic.
func (n *Node) Bandwidth() metrics.Stats {
	if n.parts.bw == nil {
		return metrics.Stats{}
	}
	return n.parts.bw.GetBandwidthTotals()
}

// BandwidthByProtocol splits Bandwidth by protocol (gossipsub, kad, ...).
func (n *Node) BandwidthByProtocol() map[protocol.ID]metrics.Stats {
	if n.parts.bw == nil {
		return nil
	}
	return n.parts.bw.GetBandwidthByProtocol()
}

// DHTPeers is the number of DHT servers in the routing table.
func (n *Node) DHTPeers() int { return n.dht.RoutingTableSize() }

// Started is when New returned.
func (n *Node) Started() time.Time { return n.started }

// Limits are the user's limits in force.
type Limits struct {
	// MaxUpload is the upload budget in bits/s the mesh sizes what it
	// serves to (0: none set; the mesh learns the uplink from its send
	// backlog). It bounds the part subscriptions the node serves and
	// makes it refuse more while its backlog exceeds the budget; it is
	// not a byte-exact rate limiter.
	MaxUpload   int64 `json:"max_upload_bits"`
	ConsumeOnly bool  `json:"consume_only"`
	// SourcePeers bounds the inbound connections while the node
	// broadcasts (0: none; see Config.SourcePeers), and InboundRefused
	// counts the connections refused past it.
	SourcePeers    int   `json:"source_peers"`
	InboundRefused int64 `json:"inbound_refused"`
}

// Limits reports the user's limits.
func (n *Node) Limits() Limits {
	l := Limits{MaxUpload: n.cfg.MaxUpload, ConsumeOnly: n.cfg.ConsumeOnly, InboundRefused: n.RefusedInbound()}
	if n.parts.gate != nil {
		l.SourcePeers = n.sourcePeers()
	}
	return l
}

// RefusedInbound is how many inbound connections the node refused past
// Config.SourcePeers while it broadcast.
func (n *Node) RefusedInbound() int64 {
	if n.parts.gate == nil {
		return 0
	}
	return n.parts.gate.Refused()
}

// GossipStats reports the chunk mesh's counters across the node's
// channels: accepted, rejected by reason, drops, blacklisted peers.
func (n *Node) GossipStats() gossip.Stats { return n.gossip.Stats() }

// Blacklisted reports whether the node has shut a peer out for sending
// invalid chunks.
func (n *Node) Blacklisted(p peer.ID) bool { return n.gossip.Blacklisted(p) }

// Channel returns the channel with the given ID if the node broadcasts or
// watches it.
func (n *Node) Channel(id p2ptvd.ChannelID) (*Channel, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.channels[id]
	return c, ok
}

// Channels lists the channels the node broadcasts or watches.
func (n *Node) Channels() []*Channel {
	n.mu.Lock()
	defer n.mu.Unlock()
	cs := make([]*Channel, 0, len(n.channels))
	for _, c := range n.channels {
		cs = append(cs, c)
	}
	return cs
}

// Leave stops broadcasting or watching a channel.
// A remembered channel is forgotten, and one that Resume is still
// rejoining is given up.
func (n *Node) Leave(id p2ptvd.ChannelID) error {
	n.mu.Lock()
	_, resuming := n.resuming[id]
	delete(n.resuming, id)
	n.mu.Unlock()
	c, ok := n.Channel(id)
	if !ok && !resuming {
		return fmt.Errorf("leave %s: %w", id.Path(), ErrNotJoined)
	}
	n.remember(id, false)
	if !ok {
		return nil
	}
	return c.Close()
}

// ErrNotJoined is returned for a channel the node neither broadcasts nor watches.
var ErrNotJoined = errors.New("channel not joined")

// ErrClosed is returned by a node after Close.
var ErrClosed = errors.New("node closed")

// Close leaves every channel, stops the DHT and gossip and closes the host.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	cs := make([]*Channel, 0, len(n.channels))
	for _, c := range n.channels {
		cs = append(cs, c)
	}
	n.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	n.cancel()
	n.wg.Wait()
	err := errors.Join(n.gossip.Close(), n.dht.Close())
	n.reach.close()
	return errors.Join(err, n.closeHost())
}

func (n *Node) closeHost() error {
	if !n.ownHost {
		return nil
	}
	return n.host.Close()
}

// shortID is the tail of a peer ID, enough to tell nodes apart in logs.
func shortID(id peer.ID) string {
	s := id.String()
	return s[max(0, len(s)-6):]
}

func (n *Node) add(c *Channel) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if _, ok := n.channels[c.id]; ok {
		return fmt.Errorf("%s: already joined", c.id.Path())
	}
	n.channels[c.id] = c
	if c.role == RoleBroadcast {
		n.broadcasts++
		n.gateSources()
	}
	return nil
}

func (n *Node) remove(c *Channel) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.channels[c.id] == c {
		delete(n.channels, c.id)
		if c.role == RoleBroadcast {
			n.broadcasts--
			n.gateSources()
		}
	}
}

// gateSources bounds the node's inbound connections while it broadcasts
// (Config.SourcePeers) and lifts the bound when it stops. Called with mu
// held.
func (n *Node) gateSources() {
	if g := n.parts.gate; g != nil {
		limit := 0
		if n.broadcasts > 0 {
			limit = n.sourcePeers()
		}
		g.setLimit(limit)
	}
}

// sourcePeers is the bound on inbound connections while broadcasting; 0
// for none.
func (n *Node) sourcePeers() int { return max(n.cfg.SourcePeers, 0) }
