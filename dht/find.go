package dht

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd"
)

// ErrNoProviders is returned when no provider of a channel could be found or
// connected to. Errors wrap it with the number of providers tried.
var ErrNoProviders = errors.New("no reachable providers")

const (
	// DefaultMaxProviders is what FindProviders returns at most for max <= 0.
	DefaultMaxProviders = 20
	// dialParallel bounds the dials Connect runs at once.
	dialParallel = 8
)

// FindProviders looks up the channel's providers in the DHT and returns up
// to max of them (DefaultMaxProviders for max <= 0), never this node. Their
// addresses come from the provider records and may be stale.
func (d *DHT) FindProviders(ctx context.Context, id p2ptvd.ChannelID, max int) ([]peer.AddrInfo, error) {
	if !id.Defined() {
		return nil, errors.New("find providers: no channel id")
	}
	if max <= 0 {
		max = DefaultMaxProviders
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	// Not an error if it times out: the local provider store may still know.
	_ = d.waitReady(ctx, d.t.readyWait)

	// One more than max: the local provider store may return ourselves.
	provs := d.kad.FindProvidersAsync(ctx, id.Cid(), max+1)
	var out []peer.AddrInfo
	for ai := range provs {
		if ai.ID == d.h.ID() || len(out) == max {
			continue
		}
		out = append(out, ai)
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("find providers of %s: %w", id, ctx.Err())
	}
	return out, nil
}

// Connect looks up the channel's providers and dials them, several at once
// and each for at most DialTimeout, until want are connected or the lookup
// is exhausted; it returns the connected peers. A lookup that connects
// nobody is repeated a few times after short waits, since a fresh provider
// record may still be on its way. The error wraps ErrNoProviders when no
// provider could be connected.
func (d *DHT) Connect(ctx context.Context, id p2ptvd.ChannelID, want int) ([]peer.ID, error) {
	if !id.Defined() {
		return nil, errors.New("connect to providers: no channel id")
	}
	want = max(want, 1)
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	_ = d.waitReady(ctx, d.t.readyWait)

	tried := 0
	wait := d.t.lookupBackoff
	for attempt := 1; ; attempt++ {
		connected, n := d.connectOnce(ctx, id, want)
		tried += n
		if len(connected) > 0 {
			d.log.Debug("connected to providers", "channel", id.String(), "connected", len(connected), "tried", tried, "attempt", attempt)
			return connected, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to providers of %s: %w (%d tried): %w", id, ErrNoProviders, tried, ctx.Err())
		}
		if attempt >= d.t.lookupAttempts {
			return nil, fmt.Errorf("connect to providers of %s: %w (%d tried in %d lookups)", id, ErrNoProviders, tried, attempt)
		}
		d.log.Debug("no provider reachable yet, looking again", "channel", id.String(), "tried", n, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait *= 2
	}
}

// connectOnce runs one streaming provider lookup, dialling providers as they
// arrive. It returns the connected peers and how many providers it tried.
func (d *DHT) connectOnce(ctx context.Context, id p2ptvd.ChannelID, want int) ([]peer.ID, int) {
	lookCtx, stopLookup := context.WithCancel(ctx)
	defer stopLookup()
	dialCtx, stopDials := context.WithCancel(ctx)
	defer stopDials()
	// Stale records are expected, so look at more providers than wanted,
	// but not without bound.
	maxTried := max(4*want, DefaultMaxProviders)
	provs := d.kad.FindProvidersAsync(lookCtx, id.Cid(), maxTried+1)

	var (
		mu        sync.Mutex
		connected []peer.ID
		wg        sync.WaitGroup
		sem       = make(chan struct{}, dialParallel)
		seen      = make(map[peer.ID]bool)
	)
	for ai := range provs {
		if ai.ID == d.h.ID() || seen[ai.ID] {
			continue
		}
		seen[ai.ID] = true
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-dialCtx.Done():
				return
			}
			defer func() { <-sem }()
			if err := d.dialProvider(dialCtx, ai); err != nil {
				if dialCtx.Err() == nil {
					d.log.Debug("provider unreachable", "channel", id.String(), "peer", ai.ID, "err", err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			connected = append(connected, ai.ID)
			if len(connected) >= want {
				stopLookup()
				stopDials()
			}
		})
		if len(seen) >= maxTried {
			stopLookup()
			break
		}
	}
	for range provs {
		// Drain so that the lookup goroutine can finish.
	}
	wg.Wait()
	return connected, len(seen)
}

// dialProvider connects to a provider within DialTimeout. A record may come
// without addresses (they expire sooner than the record); the DHT is asked
// for them then.
func (d *DHT) dialProvider(ctx context.Context, ai peer.AddrInfo) error {
	if d.h.Network().Connectedness(ai.ID) == network.Connected {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	if len(ai.Addrs) == 0 && len(d.h.Peerstore().Addrs(ai.ID)) == 0 {
		found, err := d.kad.FindPeer(ctx, ai.ID)
		if err != nil {
			return fmt.Errorf("find addresses of %s: %w", ai.ID, err)
		}
		ai = found
	}
	if err := d.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("dial %s: %w", ai.ID, err)
	}
	return nil
}
