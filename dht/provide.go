package dht

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/p2ptv/p2ptvd"
)

// provider is the re-providing goroutine of one channel, shared by every
// StartProviding call for it.
type provider struct {
	refs   int
	cancel context.CancelFunc
	done   chan struct{}
}

// Provide announces once that this node provides the channel: it waits until
// the routing table holds a peer, then stores a provider record on the DHT
// servers closest to the channel's CID. The kad DHT does not report whether
// any server accepted the record; it fails only when no server could be
// found.
func (d *DHT) Provide(ctx context.Context, id p2ptvd.ChannelID) error {
	if !id.Defined() {
		return errors.New("provide: no channel id")
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	if len(d.h.Addrs()) == 0 {
		// A record without addresses is dropped by the servers.
		return fmt.Errorf("provide %s: host has no addresses to announce", id)
	}
	// Record ourselves first: a server answers lookups from its own store,
	// so a lone bootstrap node that broadcasts is found before any other
	// server exists to hold its record.
	if err := d.kad.Provide(ctx, id.Cid(), false); err != nil {
		return fmt.Errorf("provide %s: %w", id, err)
	}
	if err := d.waitReady(ctx, 0); err != nil {
		return fmt.Errorf("provide %s: %w", id, err)
	}
	if err := d.kad.Provide(ctx, id.Cid(), true); err != nil {
		return fmt.Errorf("provide %s: %w", id, err)
	}
	d.provides.Add(1)
	return nil
}

// StartProviding provides the channel now and again every ReprovideInterval
// until stop is called or the DHT is closed; a failed provide is retried
// sooner, with doubling waits. Calls for a channel already being provided
// share its goroutine; it ends with the last stop. stop waits for it and may
// be called more than once.
func (d *DHT) StartProviding(id p2ptvd.ChannelID) (stop func()) {
	d.mu.Lock()
	if d.closed || !id.Defined() {
		d.mu.Unlock()
		return func() {}
	}
	p := d.providing[id]
	if p == nil {
		ctx, cancel := context.WithCancel(d.ctx)
		p = &provider{cancel: cancel, done: make(chan struct{})}
		d.providing[id] = p
		d.wg.Go(func() {
			defer close(p.done)
			d.reprovide(ctx, id)
		})
	}
	p.refs++
	d.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			p.refs--
			last := p.refs == 0
			if last && d.providing[id] == p {
				delete(d.providing, id)
			}
			d.mu.Unlock()
			if last {
				p.cancel()
				<-p.done
			}
		})
	}
}

// Providing lists the channels StartProviding is announcing, sorted.
func (d *DHT) Providing() []p2ptvd.ChannelID {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]p2ptvd.ChannelID, 0, len(d.providing))
	for id := range d.providing {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b p2ptvd.ChannelID) int {
		return strings.Compare(a.String(), b.String())
	})
	return ids
}

func (d *DHT) reprovide(ctx context.Context, id p2ptvd.ChannelID) {
	log := d.log.With("channel", id.String())
	retry := d.t.provideRetry
	failures := 0
	for {
		pctx, cancel := context.WithTimeout(ctx, d.t.provideTimeout)
		start := time.Now()
		err := d.Provide(pctx, id)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err == nil {
			log.Debug("provided channel", "took", time.Since(start).Round(time.Millisecond), "routing_table", d.RoutingTableSize())
			if failures > 0 {
				log.Info("providing channel again after failures", "failures", failures)
			}
			failures, retry = 0, d.t.provideRetry
			wait = d.cfg.ReprovideInterval
		} else {
			failures++
			wait = min(retry, d.cfg.ReprovideInterval)
			retry = min(2*retry, d.t.provideRetryMax)
			log.Warn(fmt.Sprintf("provide failed, retrying in %s", wait), "failures", failures, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
