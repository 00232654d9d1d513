package node

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2ptv/p2ptvd/dht"
)

// Resources bound what the libp2p host may use. The zero value leaves
// libp2p's own limits (scaled to the machine) and no connection manager.
type Resources struct {
	// MaxMemory and MaxFDs scale the resource manager's limits; 0 means
	// libp2p's autoscaled defaults.
	MaxMemory int64
	MaxFDs    int
	// ConnsLow and ConnsHigh are the connection manager's watermarks: above
	// High it trims to Low, sparing mesh peers (gossipsub protects them)
	// and connections younger than a minute. 0 means no trimming.
	ConnsLow, ConnsHigh int
}

// RelayService configures the circuit-relay v2 service a well-connected node
// offers to nodes behind NAT.
type RelayService struct {
	MaxReservations int
	MaxCircuits     int           // per peer
	Duration        time.Duration // per relayed connection
	Data            int64         // bytes per relayed connection, each way
}

// byteCounter is libp2p's bandwidth counter with exact totals. The
// counter's own totals (go-flow-metrics meters) move only when the
// library's sweeper runs, once a second: a reading can miss the last
// second's bytes, which skews any short measurement and a status read
// right after a burst. The rates and the per-protocol split stay the
// counter's.
type byteCounter struct {
	*metrics.BandwidthCounter
	in, out atomic.Int64
}

func (c *byteCounter) LogSentMessage(n int64) {
	c.out.Add(n)
	c.BandwidthCounter.LogSentMessage(n)
}

func (c *byteCounter) LogRecvMessage(n int64) {
	c.in.Add(n)
	c.BandwidthCounter.LogRecvMessage(n)
}

// GetBandwidthTotals is the counter's rates with the exact totals.
func (c *byteCounter) GetBandwidthTotals() metrics.Stats {
	s := c.BandwidthCounter.GetBandwidthTotals()
	s.TotalIn, s.TotalOut = c.in.Load(), c.out.Load()
	return s
}

func (c *byteCounter) Reset() {
	c.in.Store(0)
	c.out.Store(0)
	c.BandwidthCounter.Reset()
}

// hostParts are the handles on the host it built that the node's status
// reads.
type hostParts struct {
	bw    *byteCounter
	nat   *natWatch
	punch *punchCounter
	gate  *Gate
}

// host builds the node's libp2p host from the config, or returns the
// injected one.
func (cfg Config) host(log *slog.Logger) (host.Host, hostParts, error) {
	var parts hostParts
	if cfg.Host != nil {
		parts.gate = cfg.Gate
		return cfg.Host, parts, nil
	}
	priv, err := LoadIdentity(cfg.Home)
	if err != nil {
		return nil, parts, err
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = defaultListen()
	}
	addrs := make([]ma.Multiaddr, 0, len(listen))
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, parts, fmt.Errorf("listen address %q: %w", s, err)
		}
		addrs = append(addrs, a)
	}
	parts.bw = &byteCounter{BandwidthCounter: metrics.NewBandwidthCounter()}
	parts.punch = &punchCounter{}
	opts, err := cfg.hostOptions(priv, addrs, &parts)
	if err != nil {
		return nil, parts, err
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, parts, fmt.Errorf("listen on %v: %w", listen, err)
	}
	if cfg.StrictListen {
		if err := checkListening(h, addrs, log); err != nil {
			h.Close()
			return nil, parts, err
		}
	}
	return h, parts, nil
}

func (cfg Config) hostOptions(priv crypto.PrivKey, addrs []ma.Multiaddr, parts *hostParts) ([]libp2p.Option, error) {
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.ListenAddrs(addrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.BandwidthReporter(parts.bw),
	}
	// Metrics go to a registry the caller passes in, never the global one:
	// a hundred nodes share a test process.
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	// The resource manager is libp2p's default (autoscaled limits) unless
	// the user scaled it, wrapped in the gate that bounds a broadcaster's
	// inbound connections.
	r := cfg.Resources
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	concrete := limits.AutoScale()
	if r.MaxMemory > 0 && r.MaxFDs > 0 {
		concrete = limits.Scale(r.MaxMemory, r.MaxFDs)
	}
	var ropts []rcmgr.Option
	if cfg.Metrics != nil && (r.MaxMemory > 0 || r.MaxFDs > 0) {
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, fmt.Errorf("resource manager metrics: %w", err)
		}
		ropts = append(ropts, rcmgr.WithTraceReporter(str))
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), ropts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	parts.gate = NewGate(mgr)
	opts = append(opts, libp2p.ResourceManager(parts.gate))
	if r.ConnsHigh > 0 {
		cm, err := connmgr.NewConnManager(r.ConnsLow, r.ConnsHigh, connmgr.WithGracePeriod(time.Minute))
		if err != nil {
			return nil, fmt.Errorf("connection manager: %w", err)
		}
		opts = append(opts, libp2p.ConnectionManager(cm))
	}
	if cfg.PortMapping {
		parts.nat = &natWatch{}
		opts = append(opts, libp2p.NATManager(func(n network.Network) basichost.NATManager {
			m := basichost.NewNATManager(n)
			parts.nat.set(m)
			return m
		}))
	}
	if cfg.HolePunching {
		if cfg.Metrics != nil {
			mt := holepunch.NewMetricsTracer(holepunch.WithRegisterer(cfg.Metrics))
			opts = append(opts, libp2p.EnableHolePunching(holepunch.WithMetricsAndEventTracer(mt, parts.punch)))
		} else {
			opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(parts.punch)))
		}
	}
	if cfg.RelayClient {
		relays, err := cfg.relays()
		if err != nil {
			return nil, err
		}
		if len(relays) > 0 {
			opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(relays))
		}
	}
	if s := cfg.RelayService; s != nil {
		res := relayv2.DefaultResources()
		if s.MaxReservations > 0 {
			res.MaxReservations = s.MaxReservations
		}
		if s.MaxCircuits > 0 {
			res.MaxCircuits = s.MaxCircuits
		}
		if s.Duration > 0 {
			res.Limit.Duration = s.Duration
		}
		if s.Data > 0 {
			res.Limit.Data = s.Data
		}
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(res)))
	}
	if cfg.AutoNATService {
		opts = append(opts, libp2p.EnableNATService())
	}
	if cfg.ForcePublic {
		opts = append(opts, libp2p.ForceReachabilityPublic())
	}
	if cfg.AutoNATv2 {
		opts = append(opts, libp2p.EnableAutoNATv2())
	}
	return opts, nil
}

// relays are the circuit relays a node reserves a slot with while it is
// unreachable: Relays, or the bootstrap nodes.
func (cfg Config) relays() ([]peer.AddrInfo, error) {
	list := cfg.Relays
	if list == nil {
		list = cfg.Bootstrap
	}
	infos, err := dht.ParseBootstrap(list)
	if err != nil {
		return nil, fmt.Errorf("relays: %w", err)
	}
	return infos, nil
}

// checkListening fails when an IPv4 address with a fixed port got no
// listener: libp2p starts if any address works, but a daemon whose
// forwarded port is taken is unreachable without saying so. IPv6 is
// optional (many home networks have none), so it only warns.
func checkListening(h host.Host, want []ma.Multiaddr, log *slog.Logger) error {
	got := h.Network().ListenAddresses()
	var missing []string
	for _, w := range want {
		if hasListener(got, w) {
			continue
		}
		if _, err := w.ValueForProtocol(ma.P_IP6); err == nil {
			log.Warn("not listening on an IPv6 address", "addr", w)
			continue
		}
		if port := fixedPort(w); port != "" {
			missing = append(missing, w.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("listen on %s: %w (is another program, or another p2ptvd, using the port?)", strings.Join(missing, ", "), errNotListening)
	}
	return nil
}

var errNotListening = errors.New("address in use or unavailable")

func hasListener(got []ma.Multiaddr, want ma.Multiaddr) bool {
	for _, g := range got {
		if g.Equal(want) {
			return true
		}
		// A port of 0 is replaced by the one the system picked.
		if fixedPort(want) == "" && sameTransport(g, want) {
			return true
		}
	}
	return false
}

func fixedPort(a ma.Multiaddr) string {
	for _, p := range []int{ma.P_TCP, ma.P_UDP} {
		if v, err := a.ValueForProtocol(p); err == nil && v != "0" {
			return v
		}
	}
	return ""
}

func sameTransport(a, b ma.Multiaddr) bool {
	pa, pb := a.Protocols(), b.Protocols()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i].Code != pb[i].Code {
			return false
		}
	}
	ipa, _ := a.ValueForProtocol(pa[0].Code)
	ipb, _ := b.ValueForProtocol(pb[0].Code)
	return ipa == ipb
}
