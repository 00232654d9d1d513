package e2e

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/p2ptv/p2ptvd/node"
)

// loopEnv is the channelEnv of the real-time scenario: nodes with their
// own TCP hosts on 127.0.0.1 (a Cluster). Their traffic is what libp2p's
// bandwidth counter sees: every protocol's stream bytes, without TCP,
// Noise and yamux framing.
type loopEnv struct {
	cl *Cluster

	mu    sync.Mutex
	nodes []*node.Node
}

// nodeBytes reads a node's own bandwidth counter.
type nodeBytes struct{ n *node.Node }

func (b nodeBytes) Sent() int64     { return b.n.Bandwidth().TotalOut }
func (b nodeBytes) Received() int64 { return b.n.Bandwidth().TotalIn }

func (e *loopEnv) start(name string) (*node.Node, counters, error) {
	n := e.cl.Node(name, nil)
	e.mu.Lock()
	e.nodes = append(e.nodes, n)
	e.mu.Unlock()
	return n, nodeBytes{n}, nil
}

func (e *loopEnv) caster() (*node.Node, counters, error) { return e.start("caster") }

func (e *loopEnv) viewer(i int) (*node.Node, counters, error) {
	return e.start(fmt.Sprintf("viewer%02d", i))
}

func (e *loopEnv) leave(n *node.Node, _ counters, _ bool) { n.Close() }

func (e *loopEnv) close() {
	e.mu.Lock()
	nodes := e.nodes
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.Close() })
	}
	wg.Wait()
	e.cl.Boot.Close()
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
