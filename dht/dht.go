package dht

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kad "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2ptv/p2ptvd"
)

// Mode says whether the node answers DHT queries (server) or only asks them
// (client).
type Mode int

const (
	// ModeAuto starts as a client and becomes a server once AutoNAT reports
	// the node publicly reachable (and back again if it stops being so).
	ModeAuto Mode = iota
	// ModeServer always answers queries and stores provider records: the
	// mode of a bootstrap node.
	ModeServer
	// ModeClient never answers queries.
	ModeClient
)

// ParseMode reads "auto", "server" or "client".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto":
		return ModeAuto, nil
	case "server":
		return ModeServer, nil
	case "client":
		return ModeClient, nil
	}
	return 0, fmt.Errorf("parse dht mode %q: want auto, server or client", s)
}

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeServer:
		return "server"
	case ModeClient:
		return "client"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

func (m Mode) kad() (kad.ModeOpt, error) {
	switch m {
	case ModeAuto:
		return kad.ModeAuto, nil
	case ModeServer:
		return kad.ModeServer, nil
	case ModeClient:
		return kad.ModeClient, nil
	}
	return 0, fmt.Errorf("unknown dht mode %d", int(m))
}

// DefaultProtocolPrefix makes the DHT protocol /p2ptv/kad/1.0.0: a network of
// our own, separate from the IPFS Amino DHT (prefix "/ipfs").
const DefaultProtocolPrefix protocol.ID = "/p2ptv"

// Defaults for the zero values of Config.
const (
	DefaultReprovideInterval = 30 * time.Minute
	DefaultDialTimeout       = 5 * time.Second
)

// Config configures a DHT. Its zero value is a client-or-server (auto) node
// of the /p2ptv network with no bootstrap peers.
type Config struct {
	Mode Mode
	// Bootstrap peers are dialled by Bootstrap and, when the routing table
	// runs empty later, by the kad DHT itself. Empty for a standalone
	// (first) bootstrap node.
	Bootstrap []peer.AddrInfo
	// ProtocolPrefix "" means DefaultProtocolPrefix. "/ipfs" joins the public
	// Amino DHT (and then keeps the value store, which Amino requires).
	ProtocolPrefix protocol.ID
	// ReprovideInterval is how often StartProviding announces again; 0 means
	// DefaultReprovideInterval. Records live 48 h on the servers, but servers
	// that join later only learn of a provider when it announces again.
	ReprovideInterval time.Duration
	// DialTimeout bounds each dial of a provider or bootstrap peer; 0 means
	// DefaultDialTimeout. Provider records outlive their providers, so most
	// failed dials are stale records and must fail fast.
	DialTimeout time.Duration
	// Logger nil means discard.
	Logger *slog.Logger
	// KadOptions are appended after ours when the kad DHT is built, for
	// operators and tests (for example a datastore, an address filter, or a
	// request hook). They can undo what New sets up.
	KadOptions []kad.Option
}

// timing holds the internal delays; tests shorten them.
type timing struct {
	readyPoll        time.Duration // how often to look at the routing table size
	readyWait        time.Duration // how long Bootstrap waits for the table after connecting
	bootstrapBackoff time.Duration // first wait between bootstrap attempts
	bootstrapMax     time.Duration
	provideTimeout   time.Duration // bounds one provide
	provideRetry     time.Duration // first wait after a failed provide
	provideRetryMax  time.Duration
	lookupAttempts   int           // provider lookups by Connect when nobody answers
	lookupBackoff    time.Duration // first wait between them
	streamTimeout    time.Duration // manifest stream deadline
}

func defaultTiming() timing {
	return timing{
		readyPoll:        20 * time.Millisecond,
		readyWait:        5 * time.Second,
		bootstrapBackoff: time.Second,
		bootstrapMax:     30 * time.Second,
		provideTimeout:   time.Minute,
		provideRetry:     time.Second,
		provideRetryMax:  5 * time.Minute,
		lookupAttempts:   4,
		lookupBackoff:    250 * time.Millisecond,
		streamTimeout:    10 * time.Second,
	}
}

// DHT finds channels: it announces and looks up channel CIDs as provider
// records in a Kademlia DHT, and serves and fetches channel manifests.
type DHT struct {
	h        host.Host
	kad      *kad.IpfsDHT
	cfg      Config
	kadProto protocol.ID
	log      *slog.Logger
	t        timing

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // re-providers

	mu        sync.Mutex
	closed    bool
	providing map[p2ptvd.ChannelID]*provider
	manifests map[p2ptvd.ChannelID][]byte
	streams   map[network.Stream]struct{} // manifest requests being served
	swg       sync.WaitGroup              // manifest handlers

	closeOnce sync.Once
	closeErr  error

	provides atomic.Int64 // successful provides, for tests
}

// New starts a kad DHT on h under the configured protocol prefix and
// registers the manifest protocol handler. ctx bounds nothing after New
// returns (its values are kept); the DHT runs until Close.
func New(ctx context.Context, h host.Host, cfg Config) (*DHT, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("new dht: %w", err)
	}
	if cfg.ProtocolPrefix == "" {
		cfg.ProtocolPrefix = DefaultProtocolPrefix
	}
	if cfg.ReprovideInterval <= 0 {
		cfg.ReprovideInterval = DefaultReprovideInterval
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mode, err := cfg.Mode.kad()
	if err != nil {
		return nil, fmt.Errorf("new dht: %w", err)
	}
	boot := slices.DeleteFunc(slices.Clone(cfg.Bootstrap), func(ai peer.AddrInfo) bool { return ai.ID == h.ID() })
	cfg.Bootstrap = boot

	opts := []kad.Option{kad.ProtocolPrefix(cfg.ProtocolPrefix), kad.Mode(mode)}
	if len(boot) > 0 {
		// The kad DHT dials these itself whenever its routing table is
		// empty (at start and every 2 minutes), which heals a node whose
		// servers all went away; Bootstrap below adds the visible,
		// retrying first connection.
		opts = append(opts, kad.BootstrapPeers(boot...))
	}
	if cfg.ProtocolPrefix != kad.DefaultPrefix {
		// We only use provider records. Off the Amino network nothing
		// requires the value store (kad enforces values only for "/ipfs"),
		// and without it a server neither stores strangers' /pk and /ipns
		// records nor runs the value sweeper.
		opts = append(opts, kad.DisableValues())
	}
	opts = append(opts, cfg.KadOptions...)
	k, err := kad.New(h, opts...)
	if err != nil {
		return nil, fmt.Errorf("new dht: %w", err)
	}
	d := &DHT{
		h:         h,
		kad:       k,
		cfg:       cfg,
		kadProto:  cfg.ProtocolPrefix + "/kad/1.0.0",
		log:       log,
		t:         defaultTiming(),
		providing: make(map[p2ptvd.ChannelID]*provider),
		manifests: make(map[p2ptvd.ChannelID][]byte),
		streams:   make(map[network.Stream]struct{}),
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	h.SetStreamHandler(ManifestProtocol, d.handleManifest)
	return d, nil
}

// Mode returns the configured mode. IsServer says what the node is now.
func (d *DHT) Mode() Mode { return d.cfg.Mode }

// IsServer reports whether the node currently answers DHT queries (ModeAuto
// switches with reachability).
func (d *DHT) IsServer() bool { return slices.Contains(d.h.Mux().Protocols(), d.kadProto) }

// Protocol returns the kad protocol ID, e.g. /p2ptv/kad/1.0.0.
func (d *DHT) Protocol() protocol.ID { return d.kadProto }

// RoutingTableSize is the number of DHT servers in the routing table.
func (d *DHT) RoutingTableSize() int { return d.kad.RoutingTable().Size() }

// Kad returns the underlying kad DHT, for routing (e.g. a routed host or
// AutoRelay peer source). Closing it is Close's job.
func (d *DHT) Kad() *kad.IpfsDHT { return d.kad }

// Close stops every re-provider and waits for it, stops serving manifests
// (aborting requests in flight), and closes the kad DHT. Calls in flight
// return soon with a context error. It does not close the host.
func (d *DHT) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.h.RemoveStreamHandler(ManifestProtocol)
		d.mu.Lock()
		d.closed = true
		for s := range d.streams {
			_ = s.Reset()
		}
		d.mu.Unlock()
		d.wg.Wait()
		d.swg.Wait()
		d.mu.Lock()
		clear(d.providing)
		d.mu.Unlock()
		if err := d.kad.Close(); err != nil {
			d.closeErr = fmt.Errorf("close dht: %w", err)
		}
	})
	return d.closeErr
}

// opContext returns a context that also ends when the DHT is closed.
func (d *DHT) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// waitReady waits until the routing table holds a peer, up to max (0: no
// bound but ctx). The kad DHT adds a peer only after identify has shown that
// it speaks our kad protocol and it has answered a FIND_NODE, so a finished
// h.Connect says nothing yet.
func (d *DHT) waitReady(ctx context.Context, max time.Duration) error {
	if d.RoutingTableSize() > 0 {
		return nil
	}
	if max > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max)
		defer cancel()
	}
	tick := time.NewTicker(d.t.readyPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for dht peers: %w", ctx.Err())
		case <-tick.C:
			if d.RoutingTableSize() > 0 {
				return nil
			}
		}
	}
}
