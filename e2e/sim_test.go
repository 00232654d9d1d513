package e2e

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/node"
)

const mbit = 1_000_000

// The simulated internet's links: a home broadcaster with 20 Mbit/s up;
// viewers with 50 down and 10 up, every fourth with 3 up; servers (the
// DHT bootstrap node, the baseline's origin) in a data centre.
func casterLink(lat time.Duration) link { return link{Up: 20 * mbit, Down: 50 * mbit, Latency: lat} }

func serverLink() link {
	return link{Up: 1000 * mbit, Down: 1000 * mbit, Latency: 5 * time.Millisecond}
}

func viewerLink(i int, lat time.Duration) link {
	up := 10 * mbit
	if i%4 == 3 {
		up = 3 * mbit
	}
	return link{Up: up, Down: 50 * mbit, Latency: lat}
}

// benchLogger logs errors only (a saturated mesh warns a lot), everything
// with P2PTVD_TEST_LOG=debug.
func benchLogger() *slog.Logger { return stderrLogger(slog.LevelError) }

// simCluster is p2ptvd nodes on a simulated internet: a DHT bootstrap
// server and nodes that bootstrap from it, each on its own host and link.
// It is the channelEnv of the simulated scenarios.
type simCluster struct {
	net       *simNet
	log       *slog.Logger
	bootAddrs []string

	mu    sync.Mutex
	nodes []*node.Node
	hosts []*simHost
}

func newSimCluster(seed uint64, loss float64) (*simCluster, error) {
	c := &simCluster{log: benchLogger()}
	c.net = newSimNet(seed, loss, c.log)
	c.net.start()
	boot, _, err := c.node("boot", serverLink(), func(cfg *node.Config) { cfg.DHTMode = dht.ModeServer })
	if err != nil {
		c.close()
		return nil, err
	}
	for _, a := range boot.Addrs() {
		c.bootAddrs = append(c.bootAddrs, a.String())
	}
	return c, nil
}

// node starts a node on a new host: the node code the daemon runs, with
// the simulated host injected.
func (c *simCluster) node(name string, l link, mutate func(*node.Config)) (*node.Node, *simHost, error) {
	h, err := c.net.newHost(l)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", name, err)
	}
	cfg := node.Config{Host: h, Gate: h.gate, Bootstrap: c.bootAddrs, Logger: c.log.With("node", name)}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("node %s: %w", name, err)
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.hosts = append(c.hosts, h)
	c.mu.Unlock()
	return n, h, nil
}

func (c *simCluster) caster() (*node.Node, counters, error) {
	return c.node("caster", casterLink(c.net.randomLatency()), nil)
}

func (c *simCluster) viewer(i int) (*node.Node, counters, error) {
	return c.node(fmt.Sprintf("viewer%03d", i), viewerLink(i, c.net.randomLatency()), nil)
}

// leave closes a viewer's node and host; a vanishing one first stops
// sending and receiving, so nothing it says on closing gets out.
func (c *simCluster) leave(n *node.Node, cs counters, vanish bool) {
	h := cs.(*simHost)
	if vanish {
		h.conn.dead.Store(true)
	}
	n.Close()
	h.Close()
}

// close stops every node, then every host, then the network.
func (c *simCluster) close() {
	c.mu.Lock()
	nodes, hosts := c.nodes, c.hosts
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.Close() })
	}
	wg.Wait()
	for _, h := range hosts {
		wg.Go(func() { h.Close() })
	}
	wg.Wait()
	c.net.close()
}
