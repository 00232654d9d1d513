package dht

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestDiscovery: a bootstrap server, a provider and joiners that know only
// the bootstrap address. Every joiner finds the provider through the DHT,
// connects, and fetches and verifies the manifest; a viewer that provides
// after joining is found as well.
func TestDiscovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	boot := newDHT(t, Config{Mode: ModeServer})
	if err := boot.Bootstrap(ctx); err != nil {
		t.Fatalf("standalone bootstrap: %v", err)
	}
	if !boot.IsServer() {
		t.Fatal("bootstrap node is not a DHT server")
	}
	join := Config{Bootstrap: []peer.AddrInfo{addrInfo(boot.h)}}

	raw, id := testManifest(t, "discovery")
	prov := newDHT(t, join)
	if err := prov.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if prov.IsServer() {
		t.Error("a loopback node in auto mode became a DHT server")
	}
	if got, err := prov.AddManifest(raw); err != nil || got != id {
		t.Fatalf("AddManifest = %v, %v; want %v", got, err, id)
	}
	start := time.Now()
	if err := prov.Provide(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Logf("first provide took %v", time.Since(start))

	const joiners = 5
	viewers := make([]*DHT, joiners)
	for i := range viewers {
		viewers[i] = newDHT(t, join)
	}
	var wg sync.WaitGroup
	// Per joiner: bootstrap, connect, fetch.
	took := make([][3]time.Duration, joiners)
	for i, v := range viewers {
		wg.Go(func() {
			start := time.Now()
			if err := v.Bootstrap(ctx); err != nil {
				t.Errorf("viewer %d: bootstrap: %v", i, err)
				return
			}
			took[i][0] = time.Since(start)
			start = time.Now()
			got, err := v.Connect(ctx, id, 1)
			if err != nil {
				t.Errorf("viewer %d: connect: %v", i, err)
				return
			}
			if !slices.Contains(got, prov.h.ID()) {
				t.Errorf("viewer %d: connected to %v, want the provider %s", i, got, prov.h.ID())
			}
			took[i][1] = time.Since(start)
			start = time.Now()
			// Half ask the peers Connect returned, half let FetchManifest
			// look the providers up itself.
			from := got
			if i%2 == 1 {
				from = nil
			}
			m, b, err := v.FetchManifest(ctx, id, from)
			if err != nil {
				t.Errorf("viewer %d: fetch manifest: %v", i, err)
				return
			}
			if string(b) != string(raw) || m.Name != "discovery" {
				t.Errorf("viewer %d: manifest %q, want %q", i, b, raw)
			}
			took[i][2] = time.Since(start)
		})
	}
	wg.Wait()
	for i, d := range took {
		t.Logf("joiner %d: bootstrap %v, connect %v, fetch manifest %v", i, d[0], d[1], d[2])
	}

	// The first viewer relays: it serves the manifest and provides.
	relay := viewers[0]
	if _, err := relay.AddManifest(raw); err != nil {
		t.Fatal(err)
	}
	if err := relay.Provide(ctx, id); err != nil {
		t.Fatal(err)
	}
	late := newDHT(t, join)
	if err := late.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	provs, err := late.FindProviders(ctx, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []peer.ID{prov.h.ID(), relay.h.ID()}
	if got := ids(provs); !sameSet(got, want) {
		t.Errorf("FindProviders = %v, want %v", got, want)
	}
	got, err := late.Connect(ctx, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, want) {
		t.Errorf("Connect(want 2) = %v, want %v", got, want)
	}
	// The provider must not find itself.
	self, err := prov.FindProviders(ctx, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids(self), prov.h.ID()) {
		t.Errorf("FindProviders on the provider returned itself: %v", ids(self))
	}
}

func sameSet(a, b []peer.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.Contains(b, p) {
			return false
		}
	}
	return true
}
