package dht

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrBadBootstrapAddr is returned by ParseBootstrap; errors wrap it with the
// address and the reason.
var ErrBadBootstrapAddr = errors.New("bad bootstrap address")

// ParseBootstrap reads bootstrap peers written as multiaddrs ending in
// /p2p/<peer id>. Several addresses of one peer merge into one AddrInfo, in
// order of first appearance.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	index := make(map[peer.ID]int)
	for _, s := range addrs {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, fmt.Errorf("%w: empty", ErrBadBootstrapAddr)
		}
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadBootstrapAddr, s, err)
		}
		transport, id := peer.SplitAddr(m)
		if id == "" {
			return nil, fmt.Errorf("%w: %q has no /p2p/<peer id> at the end", ErrBadBootstrapAddr, s)
		}
		if len(transport) == 0 {
			return nil, fmt.Errorf("%w: %q has a peer id but no address to dial", ErrBadBootstrapAddr, s)
		}
		if i, ok := index[id]; ok {
			out[i].Addrs = append(out[i].Addrs, transport)
			continue
		}
		index[id] = len(out)
		out = append(out, peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{transport}})
	}
	return out, nil
}

// Bootstrap connects to the configured bootstrap peers and waits until the
// routing table holds a DHT server. It dials all of them in parallel; when
// none answers (or none turns out to speak our kad protocol) it logs a status
// line and tries again with growing waits until ctx ends, and then returns
// ctx's error. With no bootstrap peers configured it returns nil at once.
func (d *DHT) Bootstrap(ctx context.Context) error {
	if len(d.cfg.Bootstrap) == 0 {
		return nil
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	wait := d.t.bootstrapBackoff
	for attempt := 1; ; attempt++ {
		n, err := d.dialBootstrap(ctx)
		if n > 0 {
			if err := d.waitReady(ctx, d.t.readyWait); err == nil {
				// Fill the table beyond the bootstrap peers now rather
				// than at the first refresh tick.
				_ = d.kad.Bootstrap(ctx)
				d.log.Info("dht bootstrapped", "connected", n, "routing_table", d.RoutingTableSize(), "attempt", attempt)
				return nil
			}
			if ctx.Err() == nil {
				d.log.Warn(fmt.Sprintf("connected to %d bootstrap peer(s) but none joined the routing table (not a %s server?), retrying in %s", n, d.kadProto, wait),
					"attempt", attempt)
			}
		} else if ctx.Err() == nil {
			d.log.Warn(fmt.Sprintf("bootstrap peer unreachable, retrying in %s", wait),
				"peers", len(d.cfg.Bootstrap), "attempt", attempt, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("bootstrap after %d attempts: %w", attempt, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, d.t.bootstrapMax)
	}
}

// dialBootstrap dials every bootstrap peer at once and returns how many are
// connected and the errors of the others.
func (d *DHT) dialBootstrap(ctx context.Context) (int, error) {
	// A retry must really dial: the swarm's own backoff would otherwise
	// refuse a peer that failed a moment ago even if it is up now.
	ctx = network.WithForceDirectDial(ctx, "bootstrap")
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
	)
	for _, ai := range d.cfg.Bootstrap {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
			defer cancel()
			err := d.h.Connect(dctx, ai)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ai.ID, err))
				return
			}
			n++
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}
