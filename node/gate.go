package node

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// errSourceFull is what a refused connection's resource scope fails with.
var errSourceFull = errors.New("broadcasting with enough peers: inbound connection refused")

// Gate is a resource manager that, on top of the one it wraps, refuses
// inbound connections beyond a limit before their handshake: libp2p opens
// a connection scope as a TCP connection is accepted and, through
// quicreuse's ConnContext, as a QUIC client's first packet arrives. The
// node sets the limit while it broadcasts (Config.SourcePeers) and lifts it
// when the broadcast ends. Outbound connections are never refused.
//
// Each connection costs a broadcaster a handshake, identify and the mesh's
// control traffic whether or not the peer ever gets a part from it, and at
// a launch every joiner dials the only provider there is: at N=200 the
// source took ~160 connections, whose handshakes cost it a quarter of the
// stream's bytes in the first five seconds. But its direct peers are also
// the only viewers that can ask it for a part nobody else has, and under
// churn a bound of 24 or 32 cost viewers 0.03 to 0.12 of the stream in
// four runs of six, so there is none by default (docs/PERFORMANCE.md).
//
// New builds one into the host it builds. A caller that injects Config.Host
// builds the host with a Gate as its resource manager (for QUIC, with a
// ConnContext that opens the scope, as libp2p's default does) and passes
// it as Config.Gate; without one the node cannot limit its connections.
type Gate struct {
	network.ResourceManager

	limit   atomic.Int64 // 0: no limit
	inbound atomic.Int64 // inbound scopes open: handshaking or connected
	refused atomic.Int64
}

// NewGate wraps a resource manager; it refuses nothing until the node it is
// given broadcasts with Config.SourcePeers set.
func NewGate(rm network.ResourceManager) *Gate { return &Gate{ResourceManager: rm} }

// setLimit sets how many inbound connections may be open; 0 lifts the limit.
func (g *Gate) setLimit(n int) { g.limit.Store(int64(n)) }

// Inbound is how many inbound connections are open or in their handshake.
func (g *Gate) Inbound() int { return int(g.inbound.Load()) }

// Refused is how many inbound connections the gate has refused.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// OpenConnection refuses an inbound connection past the limit; everything
// else goes to the wrapped manager. Relayed connections are neither
// counted nor refused: the relay bounds them to a trickle and a couple of
// minutes, and a viewer behind NAT comes in through one on its way to a
// direct connection (hole punching), which counts.
func (g *Gate) OpenConnection(dir network.Direction, usefd bool, endpoint ma.Multiaddr) (network.ConnManagementScope, error) {
	if dir != network.DirInbound || isRelayed(endpoint) {
		return g.ResourceManager.OpenConnection(dir, usefd, endpoint)
	}
	n := g.inbound.Add(1)
	if limit := g.limit.Load(); limit > 0 && n > limit {
		g.inbound.Add(-1)
		g.refused.Add(1)
		return nil, errSourceFull
	}
	s, err := g.ResourceManager.OpenConnection(dir, usefd, endpoint)
	if err != nil {
		g.inbound.Add(-1)
		return nil, err
	}
	return &gatedScope{ConnManagementScope: s, g: g}, nil
}

// gatedScope gives the gate its place back when the connection ends.
type gatedScope struct {
	network.ConnManagementScope
	g    *Gate
	once sync.Once
}

func (s *gatedScope) Done() {
	s.once.Do(func() { s.g.inbound.Add(-1) })
	s.ConnManagementScope.Done()
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
