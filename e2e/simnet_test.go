package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"

	"github.com/p2ptv/p2ptvd/node"
)

// link is one host's access link: what it can send and receive, and how far
// it sits from the internet's core. A packet between two hosts takes the
// sum of their access latencies, so 10–40 ms each gives 20–80 ms paths.
type link struct {
	Up, Down int // bits per second
	Latency  time.Duration
}

// simNet is a simulated internet (github.com/marcopolo/simnet): every host
// has its own rate-limited uplink and downlink with an FQ-CoDel queue, and
// libp2p runs on it over QUIC, in virtual time when inside a
// testing/synctest bubble. Each host's UDP endpoint counts the bytes it
// sends and receives (every protocol, QUIC headers, retransmissions and
// acknowledgements included), and may lose a share of what it receives.
type simNet struct {
	net  *simnet.Simnet
	loss float64

	mu      sync.Mutex
	rng     *rand.Rand
	access  map[netip.Addr]time.Duration // read by the router on every packet
	hosts   int
	started bool
}

// newSimNet returns a network whose keys, loss and latencies come from seed,
// and whose hosts lose the share loss of the packets they receive.
func newSimNet(seed uint64, loss float64, log *slog.Logger) *simNet {
	n := &simNet{
		loss:   loss,
		rng:    rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		access: make(map[netip.Addr]time.Duration),
	}
	n.net = &simnet.Simnet{LatencyFunc: n.latency, Logger: log}
	return n
}

func (n *simNet) latency(p *simnet.Packet) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.access[addrOf(p.From)] + n.access[addrOf(p.To)]
}

func addrOf(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		ip, _ := netip.AddrFromSlice(u.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// start starts the links; hosts may be added before and after.
func (n *simNet) start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.started = true
	n.net.Start()
}

// close stops the network. Close the hosts first.
func (n *simNet) close() { n.net.Close() }

// randomLatency is an access latency between 10 and 40 ms.
func (n *simNet) randomLatency() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return 10*time.Millisecond + time.Duration(n.rng.Int64N(int64(30*time.Millisecond)))
}

// simHost is a libp2p host on the simulated network.
type simHost struct {
	host.Host
	conn *simConn
	gate *node.Gate // the node bounds its inbound connections through it
}

// Sent and Received are the bytes of UDP payload the host has put on its
// uplink and taken off its downlink (lost packets included).
func (h *simHost) Sent() int64     { return int64(h.conn.Stats().BytesSent) }
func (h *simHost) Received() int64 { return int64(h.conn.Stats().BytesRcvd) }

// newHost starts a host with a fresh Ed25519 key (from the network's seed)
// listening on QUIC at the next public address, behind the given link.
func (n *simNet) newHost(l link) (*simHost, error) {
	n.mu.Lock()
	idx := n.hosts
	n.hosts++
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(n.rng.Uint32())
	}
	lossSeed := n.rng.Uint64()
	ip, _ := netip.AddrFromSlice(simnet.IntToPublicIPv4(idx).To4())
	n.access[ip] = l.Latency
	n.mu.Unlock()

	priv, _, err := crypto.GenerateEd25519Key(&seedReader{seed})
	if err != nil {
		return nil, err
	}
	settings := simnet.NodeBiDiLinkSettings{
		Uplink:   simnet.LinkSettings{BitsPerSecond: l.Up},
		Downlink: simnet.LinkSettings{BitsPerSecond: l.Down},
	}
	h := &simHost{gate: node.NewGate(&network.NullResourceManager{})}
	// Built like simlibp2p.QUICSimnet's hosts, but keeping the endpoint to
	// read its counters and to lose packets.
	listen := func(_ string, addr *net.UDPAddr) (net.PacketConn, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		h.conn = &simConn{SimConn: n.net.NewEndpoint(addr, settings), loss: n.loss, rng: rand.New(rand.NewPCG(lossSeed, 1))}
		return h.conn, nil
	}
	hh, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
		libp2p.QUICReuse(
			func(l fx.Lifecycle, reset quic.StatelessResetKey, token quic.TokenGeneratorKey, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
				cm, err := quicreuse.NewConnManager(reset, token, opts...)
				if err != nil {
					return nil, err
				}
				// A conn manager passed in is not closed by the host.
				l.Append(fx.StopHook(cm.Close))
				return cm, nil
			},
			quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return sourceIP(ip.AsSlice()), nil }),
			quicreuse.OverrideListenUDP(listen),
			// As libp2p's own: the resource manager sees an inbound
			// connection before its handshake.
			quicreuse.ConnContext(func(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
				addr, err := quicreuse.ToQuicMultiaddr(ci.RemoteAddr, quic.Version1)
				if err != nil {
					addr = nil
				}
				scope, err := h.gate.OpenConnection(network.DirInbound, false, addr)
				if err != nil {
					return ctx, err
				}
				ctx = network.WithConnManagementScope(ctx, scope)
				context.AfterFunc(ctx, scope.Done)
				return ctx, nil
			}),
		),
		// As in simlibp2p: identify's address discovery stalls synctest.
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(h.gate),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		return nil, err
	}
	h.Host = hh
	return h, nil
}

// info is the host's address for others to dial.
func (h *simHost) info() peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// simConn is a host's UDP endpoint on the simulated network. simnet loses
// nothing by itself (its queues drop only on overflow), so the loss of a
// home link is added here: a received packet is dropped with probability
// loss, after it has used both links and been counted.
type simConn struct {
	*simnet.SimConn
	loss float64
	dead atomic.Bool // the host has vanished: nothing in or out

	mu  sync.Mutex
	rng *rand.Rand
}

func (c *simConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.SimConn.ReadFrom(p)
		if err != nil || !c.drop() {
			return n, addr, err
		}
	}
}

func (c *simConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.dead.Load() {
		return len(p), nil
	}
	return c.SimConn.WriteTo(p, addr)
}

func (c *simConn) drop() bool {
	if c.dead.Load() {
		return true
	}
	if c.loss <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.Float64() < c.loss
}

// sourceIP is the host's only address, whatever the destination.
type sourceIP net.IP

func (s sourceIP) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) {
	return net.IP(s), nil
}

// seedReader hands out a fixed seed once: deterministic keys, so peer IDs
// (and with them the DHT's and the mesh's choices) repeat from run to run.
type seedReader struct{ b []byte }

func (r *seedReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	for i := n; i < len(p); i++ {
		p[i] = 0
	}
	return len(p), nil
}
