package node

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/media"
)

const loopback = "/ip4/127.0.0.1/tcp/0"

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.Home == "" && cfg.Host == nil {
		cfg.Home = t.TempDir()
	}
	if cfg.Listen == nil {
		cfg.Listen = []string{loopback}
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// setReachability plays AutoNAT: it emits the event AutoNAT emits when it
// has decided whether the node can be reached.
func setReachability(t *testing.T, n *Node, r network.Reachability) {
	t.Helper()
	em, err := n.Host().EventBus().Emitter(new(event.EvtLocalReachabilityChanged), eventbus.Stateful)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: r}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 10 ms for up to d: the libp2p services react
// to events on their own goroutines.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A node in auto mode answers DHT queries only while AutoNAT says it is
// publicly reachable: a node behind NAT would otherwise fill others'
// routing tables with an address nobody can dial.
func TestDHTModeFollowsReachability(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/libp2p/go-flow-metrics.(*sweeper).runActive"))
	n := newNode(t, Config{DHTMode: dht.ModeAuto})
	if r := n.Reach(); r.DHTServer || r.Reachability != "unknown" {
		t.Fatalf("at start: %+v; want an unknown-reachability DHT client", r)
	}
	for _, step := range []struct {
		r      network.Reachability
		name   string
		server bool
	}{
		{network.ReachabilityPublic, "public", true},
		{network.ReachabilityPrivate, "private", false},
		{network.ReachabilityPublic, "public", true},
		{network.ReachabilityUnknown, "unknown", false},
	} {
		setReachability(t, n, step.r)
		eventually(t, 5*time.Second, "reach "+step.name, func() bool {
			r := n.Reach()
			return r.Reachability == step.name && r.DHTServer == step.server
		})
	}
	n.Close()
}

// Consume-only and client mode never serve the DHT, whatever AutoNAT says;
// server mode always does.
func TestDHTModeFixed(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    Config
		server bool
	}{
		{"consume-only", Config{ConsumeOnly: true}, false},
		{"client", Config{DHTMode: dht.ModeClient}, false},
		{"server", Config{DHTMode: dht.ModeServer}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.cfg)
			setReachability(t, n, network.ReachabilityPublic)
			eventually(t, 5*time.Second, "public", func() bool { return n.Reach().Reachability == "public" })
			setReachability(t, n, network.ReachabilityPrivate)
			eventually(t, 5*time.Second, "private", func() bool { return n.Reach().Reachability == "private" })
			if got := n.Reach().DHTServer; got != tt.server {
				t.Errorf("DHT server = %v, want %v", got, tt.server)
			}
		})
	}
}

// While unreachable a node reserves a slot on an operator's relay, so others
// can reach it to start a hole punch; once public it stops looking for
// relays. (On loopback the relay has no public address, so the client
// advertises no circuit address: the reservation is seen on the relay.)
func TestRelayReservationWhenPrivate(t *testing.T) {
	relay := newNode(t, Config{
		DHTMode:      dht.ModeServer,
		RelayService: &RelayService{MaxReservations: 8},
		ForcePublic:  true,                                   // the relay service runs only while public
		Resources:    Resources{ConnsLow: 10, ConnsHigh: 20}, // the relay tags reservations in it
	})
	var addrs []string
	for _, a := range relay.Addrs() {
		addrs = append(addrs, a.String())
	}
	eventually(t, 5*time.Second, "forced public", func() bool { r := relay.Reach(); return r.RelayService && r.Reachability == "public" })
	reg := prometheus.NewRegistry()
	n := newNode(t, Config{RelayClient: true, HolePunching: true, Relays: addrs, Metrics: reg})
	if r := n.Reach(); !r.Relay.Enabled || !r.HolePunch.Enabled || len(r.Relay.Addrs) != 0 {
		t.Fatalf("at start: %+v", r)
	}
	finding := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "libp2p_autorelay_status" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	reserved := func() bool {
		ti := relay.Host().ConnManager().GetTagInfo(n.ID())
		return ti != nil && ti.Tags["relay-reservation"] > 0
	}
	setReachability(t, n, network.ReachabilityPrivate)
	eventually(t, 20*time.Second, "a reservation while private", func() bool { return finding() == 1 && reserved() })
	setReachability(t, n, network.ReachabilityPublic)
	eventually(t, 10*time.Second, "relay finder stopped once public", func() bool { return finding() == 0 })

	// Without relays configured the client has nothing to reserve with.
	if r := newNode(t, Config{RelayClient: true}).Reach(); r.Relay.Enabled {
		t.Errorf("relay client with no relays reports itself enabled: %+v", r.Relay)
	}
}

// A daemon's fixed port that is taken fails the start, with the address in
// the message, even though libp2p would start on the other addresses.
func TestStrictListen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	listen := []string{"/ip4/127.0.0.1/tcp/" + port, "/ip4/127.0.0.1/udp/" + port + "/quic-v1"}
	_, err = New(Config{Home: t.TempDir(), Listen: listen, StrictListen: true})
	if err == nil || !strings.Contains(err.Error(), "/tcp/"+port) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("New on a taken port: %v; want an error naming the address", err)
	}
	// Not strict (the foreground commands): the QUIC listener is enough.
	n, err := New(Config{Home: t.TempDir(), Listen: listen})
	if err != nil {
		t.Fatalf("lenient: %v", err)
	}
	n.Close()
}

func TestMetricsAndResources(t *testing.T) {
	reg := prometheus.NewRegistry()
	// No PortMapping here: it would send UPnP/NAT-PMP probes to the real
	// network.
	n := newNode(t, Config{Metrics: reg, Resources: Resources{MaxMemory: 256 << 20, MaxFDs: 256, ConnsLow: 10, ConnsHigh: 20}, AutoNATv2: true})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "libp2p_") {
			found = true
		}
	}
	if !found {
		t.Error("no libp2p_ metrics in the registry passed in")
	}
	if r := n.Reach(); r.PortMapping.Enabled {
		t.Errorf("port mapping reported on: %+v", r.PortMapping)
	}
}

// live starts a looping broadcast of the demo clip on the trio's
// broadcaster and returns it with the bootstrap node's addresses.
func (tr trio) live(t *testing.T, ctx context.Context, name string) (*Channel, []string) {
	t.Helper()
	ch, err := tr.caster.Broadcast(ctx, bytes.NewReader(media.DemoClip()), BroadcastOptions{Name: name, Pace: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	var boot []string
	for _, a := range tr.boot.Addrs() {
		boot = append(boot, a.String())
	}
	return ch, boot
}

// Joined channels are remembered in the home; a restarted node rejoins them,
// and a left channel is forgotten.
func TestRememberResume(t *testing.T) {
	tr := newTrio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ch, boot := tr.live(t, ctx, "resume")
	dir := t.TempDir()
	cfg := Config{Home: dir, Listen: []string{loopback}, Bootstrap: boot, Remember: true}
	v1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v1.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Join(ctx, ch.ID()); err != nil {
		t.Fatal(err)
	}
	v1.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "channels.json"))
	if !strings.Contains(string(b), ch.ID().Path()) {
		t.Fatalf("channels.json after join and close: %s", b)
	}

	v2 := newNode(t, cfg)
	if err := v2.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v2.Resume(); err != nil {
		t.Fatal(err)
	}
	// The rejoined channel shows a moment before resume clears its entry:
	// wait for both.
	eventually(t, 30*time.Second, "rejoin", func() bool {
		_, ok := v2.Channel(ch.ID())
		return ok && len(v2.Resuming()) == 0
	})
	if err := v2.Leave(ch.ID()); err != nil {
		t.Fatal(err)
	}
	if ids, err := v2.Remembered(); err != nil || len(ids) != 0 {
		t.Errorf("after leave: remembered %v, %v", ids, err)
	}

	// A damaged state file is an error that names it, never a crash.
	os.WriteFile(filepath.Join(dir, "channels.json"), []byte("{"), 0o600)
	if err := v2.Resume(); err == nil || !strings.Contains(err.Error(), "channels.json") {
		t.Errorf("Resume with a damaged file: %v", err)
	}
}

// A channel that cannot be found yet stays in Resuming, with the reason,
// until Leave gives it up.
func TestResumeUnknownChannel(t *testing.T) {
	dir := t.TempDir()
	id := "/channel/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	os.WriteFile(filepath.Join(dir, "channels.json"), []byte(`{"channels":["`+id+`"]}`), 0o600)
	n := newNode(t, Config{Home: dir, Remember: true})
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	var cid = func() (s string) {
		for c := range n.Resuming() {
			s = c.Path()
		}
		return
	}
	if cid() != id {
		t.Fatalf("resuming %v", n.Resuming())
	}
	eventually(t, 10*time.Second, "a failed attempt", func() bool {
		for _, err := range n.Resuming() {
			return err != nil
		}
		return false
	})
	ids, _ := n.Remembered()
	if err := n.Leave(ids[0]); err != nil {
		t.Fatal(err)
	}
	if len(n.Resuming()) != 0 {
		t.Errorf("still resuming after Leave: %v", n.Resuming())
	}
	if err := n.Leave(ids[0]); err == nil {
		t.Error("second Leave succeeded")
	}
}

// The user's limits reach the mesh: a consume-only viewer affords no
// subscriptions and sends no parts, while a viewer beside it does serve.
func TestLimitsReachTheMesh(t *testing.T) {
	tr := newTrio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ch, boot := tr.live(t, ctx, "limits")
	consumer := newNode(t, Config{Bootstrap: boot, ConsumeOnly: true, MaxUpload: 5e6})
	if err := consumer.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if l := consumer.Limits(); !l.ConsumeOnly || l.MaxUpload != 5e6 {
		t.Errorf("Limits = %+v", l)
	}
	cc, err := consumer.Join(ctx, ch.ID())
	if err != nil {
		t.Fatal(err)
	}
	vc, err := tr.viewer.Join(ctx, ch.ID())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the normal viewer affords subscriptions", func() bool {
		return vc.Stats().Gossip.Slots > 0 && cc.Stats().Buffer.Released > 0
	})
	if g := cc.Stats().Gossip; g.Slots != 0 || g.Children != 0 || g.PartsSent != 0 {
		t.Errorf("consume-only viewer serves: slots %d, children %d, parts sent %d", g.Slots, g.Children, g.PartsSent)
	}
	if consumer.Reach().DHTServer {
		t.Error("consume-only viewer serves the DHT")
	}
}

// TestByteCounterExact: the totals count every byte at once; libp2p's own
// counter shows them only after its once-a-second sweep.
func TestByteCounterExact(t *testing.T) {
	c := &byteCounter{BandwidthCounter: metrics.NewBandwidthCounter()}
	for i := range 100 {
		c.LogSentMessage(int64(i))
		c.LogRecvMessage(2 * int64(i))
	}
	if s := c.GetBandwidthTotals(); s.TotalOut != 4950 || s.TotalIn != 9900 {
		t.Errorf("totals out %d in %d, want 4950 and 9900", s.TotalOut, s.TotalIn)
	}
	c.Reset()
	if s := c.GetBandwidthTotals(); s.TotalOut != 0 || s.TotalIn != 0 {
		t.Errorf("after Reset: out %d in %d", s.TotalOut, s.TotalIn)
	}
}
