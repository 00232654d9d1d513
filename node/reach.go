package node

import (
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// Reach says how other nodes can reach this one, and which of the ways a
// node behind NAT makes itself reachable are on and have worked.
type Reach struct {
	// Reachability is AutoNAT's verdict: "unknown", "public" or "private".
	Reachability string `json:"reachability"`
	// NAT is the NAT type AutoNAT inferred per transport ("tcp", "udp"):
	// "endpoint-independent" (hole punching works well), "endpoint-dependent".
	NAT map[string]string `json:"nat,omitempty"`
	// DHTServer says whether the node answers DHT queries now (auto mode
	// does only while publicly reachable).
	DHTServer bool `json:"dht_server"`

	PortMapping PortMapping `json:"port_mapping"`
	Relay       RelayState  `json:"relay"`
	HolePunch   HolePunch   `json:"hole_punching"`

	// Reachable and Unreachable are the addresses AutoNAT v2 confirmed or
	// refuted one by one.
	Reachable   []string `json:"reachable_addrs,omitempty"`
	Unreachable []string `json:"unreachable_addrs,omitempty"`
	// LimitedConns counts connections that run over a relay: they carry
	// hole-punch coordination and DHT queries, never the video mesh.
	LimitedConns int `json:"limited_conns"`
	// Services this node offers others.
	RelayService   bool `json:"relay_service"`
	AutoNATService bool `json:"autonat_service"`
}

// PortMapping is what UPnP / NAT-PMP achieved.
type PortMapping struct {
	Enabled bool `json:"enabled"`
	// Gateway says a UPnP or NAT-PMP router answered.
	Gateway bool `json:"gateway_found"`
	// Mapped are the external addresses the router forwards to us.
	Mapped []string `json:"mapped,omitempty"`
}

// RelayState is the circuit-relay client's state.
type RelayState struct {
	Enabled bool `json:"enabled"`
	// Addrs are this node's addresses through relays where it holds a
	// reservation: others reach it there to start a hole punch.
	Addrs []string `json:"addrs,omitempty"`
}

// HolePunch counts DCUtR outcomes since start.
type HolePunch struct {
	Enabled   bool   `json:"enabled"`
	Attempts  uint64 `json:"attempts"`
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	// DirectDials are relayed peers reached directly without punching.
	DirectDials uint64 `json:"direct_dials"`
}

// natWatch holds the host's NAT manager once libp2p has built it.
type natWatch struct {
	mu sync.Mutex
	m  basichost.NATManager
}

func (w *natWatch) set(m basichost.NATManager) {
	w.mu.Lock()
	w.m = m
	w.mu.Unlock()
}

func (w *natWatch) state(h host.Host) PortMapping {
	pm := PortMapping{Enabled: true}
	w.mu.Lock()
	m := w.m
	w.mu.Unlock()
	if m == nil {
		return pm
	}
	pm.Gateway = m.HasDiscoveredNAT()
	for _, a := range h.Network().ListenAddresses() {
		if ext := m.GetMapping(a); ext != nil {
			pm.Mapped = append(pm.Mapped, ext.String())
		}
	}
	return pm
}

// punchCounter is holepunch's event tracer; it only counts.
type punchCounter struct {
	attempts, successes, failures, direct atomic.Uint64
}

func (p *punchCounter) Trace(evt *holepunch.Event) {
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		p.attempts.Add(1)
	case *holepunch.EndHolePunchEvt:
		if e.Success {
			p.successes.Add(1)
		} else {
			p.failures.Add(1)
		}
	case *holepunch.DirectDialEvt:
		if e.Success {
			p.direct.Add(1)
		}
	}
}

// reachWatch follows the host's reachability events. It runs one
// goroutine, from newReachWatch until close.
type reachWatch struct {
	sub  event.Subscription
	done chan struct{}

	mu          sync.Mutex
	reach       network.Reachability
	nat         map[string]string
	relayAddrs  []ma.Multiaddr
	reachable   []ma.Multiaddr
	unreachable []ma.Multiaddr
}

func newReachWatch(h host.Host) (*reachWatch, error) {
	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtNATDeviceTypeChanged),
		new(event.EvtAutoRelayAddrsUpdated),
		new(event.EvtHostReachableAddrsChanged),
	}, eventbus.Name("p2ptvd node reachability"))
	if err != nil {
		return nil, err
	}
	w := &reachWatch{sub: sub, done: make(chan struct{}), nat: map[string]string{}}
	go w.run()
	return w, nil
}

func (w *reachWatch) run() {
	defer close(w.done)
	for e := range w.sub.Out() {
		w.mu.Lock()
		switch e := e.(type) {
		case event.EvtLocalReachabilityChanged:
			w.reach = e.Reachability
		case event.EvtNATDeviceTypeChanged:
			proto := "tcp"
			if e.TransportProtocol == network.NATTransportUDP {
				proto = "udp"
			}
			w.nat[proto] = natType(e.NatDeviceType)
		case event.EvtAutoRelayAddrsUpdated:
			w.relayAddrs = e.RelayAddrs
		case event.EvtHostReachableAddrsChanged:
			w.reachable, w.unreachable = e.Reachable, e.Unreachable
		}
		w.mu.Unlock()
	}
}

func (w *reachWatch) close() {
	w.sub.Close()
	<-w.done
}

func (w *reachWatch) fill(r *Reach) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.Reachability = reachability(w.reach)
	if len(w.nat) > 0 {
		r.NAT = make(map[string]string, len(w.nat))
		for k, v := range w.nat {
			r.NAT[k] = v
		}
	}
	r.Relay.Addrs = strs(w.relayAddrs)
	r.Reachable = strs(w.reachable)
	r.Unreachable = strs(w.unreachable)
}

func reachability(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

func natType(t network.NATDeviceType) string {
	switch t {
	case network.NATDeviceTypeEndpointIndependent:
		return "endpoint-independent"
	case network.NATDeviceTypeEndpointDependent:
		return "endpoint-dependent"
	}
	return "unknown"
}

func strs(as []ma.Multiaddr) []string {
	if len(as) == 0 {
		return nil
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// Reach reports the node's reachability and NAT traversal state.
func (n *Node) Reach() Reach {
	r := Reach{
		DHTServer:      n.dht.IsServer(),
		RelayService:   n.cfg.RelayService != nil && n.cfg.Host == nil,
		AutoNATService: n.cfg.AutoNATService && n.cfg.Host == nil,
	}
	n.reach.fill(&r)
	if n.parts.nat != nil {
		r.PortMapping = n.parts.nat.state(n.host)
	}
	if p := n.parts.punch; p != nil && n.cfg.HolePunching {
		r.HolePunch = HolePunch{
			Enabled: true, Attempts: p.attempts.Load(), Successes: p.successes.Load(),
			Failures: p.failures.Load(), DirectDials: p.direct.Load(),
		}
	}
	if n.cfg.RelayClient && n.cfg.Host == nil {
		if relays, _ := n.cfg.relays(); len(relays) > 0 {
			r.Relay.Enabled = true
		}
	}
	for _, c := range n.host.Network().Conns() {
		if c.Stat().Limited {
			r.LimitedConns++
		}
	}
	return r
}
