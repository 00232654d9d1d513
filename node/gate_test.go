package node

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2ptv/p2ptvd/media"
)

func TestGateCountsInbound(t *testing.T) {
	g := NewGate(&network.NullResourceManager{})
	in := func() (network.ConnManagementScope, error) {
		return g.OpenConnection(network.DirInbound, true, ma.StringCast("/ip4/127.0.0.1/tcp/1"))
	}
	// No limit until one is set.
	var open []network.ConnManagementScope
	for range 3 {
		s, err := in()
		if err != nil {
			t.Fatalf("no limit set: %v", err)
		}
		open = append(open, s)
	}
	g.setLimit(3)
	if _, err := in(); !errors.Is(err, errSourceFull) {
		t.Fatalf("fourth inbound at a limit of 3: %v, want refused", err)
	}
	if _, err := g.OpenConnection(network.DirOutbound, true, ma.StringCast("/ip4/127.0.0.1/tcp/1")); err != nil {
		t.Errorf("outbound at the limit: %v, want accepted", err)
	}
	relayed := ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit")
	if _, err := g.OpenConnection(network.DirInbound, false, relayed); err != nil || g.Inbound() != 3 {
		t.Errorf("relayed inbound at the limit: %v, %d counted; want accepted, not counted", err, g.Inbound()-3)
	}
	// A closed connection frees its place once, however often its scope
	// is done (libp2p's QUIC path ends it from the connection's context
	// and from the connection).
	open[0].Done()
	open[0].Done()
	if g.Inbound() != 2 {
		t.Errorf("inbound %d after one closed, want 2", g.Inbound())
	}
	s, err := in()
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	if _, err := in(); err == nil {
		t.Error("a second one got in, want refused")
	}
	if g.Refused() != 2 {
		t.Errorf("refused %d, want 2", g.Refused())
	}
	g.setLimit(0)
	if _, err := in(); err != nil {
		t.Errorf("limit lifted: %v", err)
	}
	s.Done()
}

// A broadcaster takes SourcePeers inbound connections, over TCP and QUIC
// alike, refuses the next before its handshake, takes one again when a
// place frees, dials out freely, and takes everyone once the broadcast
// ends.
func TestSourcePeersBound(t *testing.T) {
	dir := t.TempDir()
	caster, err := New(Config{
		Home:        filepath.Join(dir, "caster"),
		Listen:      []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		SourcePeers: 2,
		Logger:      debugLogs(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer caster.Close()
	var tcp, quic []ma.Multiaddr
	for _, a := range caster.Addrs() {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			quic = append(quic, a)
		} else {
			tcp = append(tcp, a)
		}
	}
	if len(tcp) == 0 || len(quic) == 0 {
		t.Fatalf("caster listens on %v, want TCP and QUIC", caster.Addrs())
	}
	newHost := func() host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(h host.Host, addrs []ma.Multiaddr) error {
		h.Peerstore().ClearAddrs(caster.ID())
		return h.Connect(ctx, peer.AddrInfo{ID: caster.ID(), Addrs: addrs})
	}
	// Not broadcasting: no bound.
	for range 3 {
		h := newHost()
		if err := dial(h, tcp); err != nil {
			t.Fatalf("before the broadcast: %v", err)
		}
		h.Close()
	}
	eventually(t, 10*time.Second, "the first hosts' connections closed", func() bool { return caster.parts.gate.Inbound() == 0 })

	bctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := caster.Broadcast(bctx, bytes.NewReader(media.DemoClip()), BroadcastOptions{Name: "gate", Pace: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := newHost(), newHost(), newHost()
	if err := dial(a, tcp); err != nil {
		t.Fatalf("first over TCP: %v", err)
	}
	if err := dial(b, quic); err != nil {
		t.Fatalf("second over QUIC: %v", err)
	}
	for _, addrs := range [][]ma.Multiaddr{tcp, quic} {
		if err := dial(c, addrs); err == nil {
			t.Fatalf("third over %v got in, want refused", addrs)
		}
		c.Network().ClosePeer(caster.ID())
	}
	// A refused QUIC client may knock more than once.
	if got := caster.RefusedInbound(); got < 2 {
		t.Errorf("refused %d, want at least 2", got)
	}
	// The broadcaster's own dials are not bounded.
	if err := caster.Host().Connect(ctx, peer.AddrInfo{ID: c.ID(), Addrs: c.Addrs()}); err != nil {
		t.Errorf("the broadcaster dialling out: %v", err)
	}
	caster.Host().Network().ClosePeer(c.ID())

	a.Close()
	eventually(t, 10*time.Second, "a place freed", func() bool { return caster.parts.gate.Inbound() == 1 })
	if err := dial(c, quic); err != nil {
		t.Fatalf("after a place freed: %v", err)
	}

	ch.Close()
	d := newHost()
	if err := dial(d, tcp); err != nil {
		t.Fatalf("after the broadcast: %v", err)
	}
}
