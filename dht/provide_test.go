package dht

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	kad "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd"
)

// countingServer is a bootstrap server that counts the ADD_PROVIDER requests
// it receives for a channel.
func countingServer(t *testing.T, id p2ptvd.ChannelID) (*DHT, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	key := []byte(id.Cid().Hash())
	hook := func(_ context.Context, _ network.Stream, req *pb.Message) {
		if req.GetType() == pb.Message_ADD_PROVIDER && bytes.Equal(req.GetKey(), key) {
			n.Add(1)
		}
	}
	d := newDHT(t, Config{Mode: ModeServer, KadOptions: []kad.Option{kad.OnRequestHook(hook)}})
	return d, &n
}

func TestReprovide(t *testing.T) {
	_, id := testManifest(t, "reprovide")
	server, adds := countingServer(t, id)
	const interval = 50 * time.Millisecond
	d := newDHT(t, Config{Bootstrap: []peer.AddrInfo{addrInfo(server.h)}, ReprovideInterval: interval})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}

	stop1 := d.StartProviding(id)
	stop2 := d.StartProviding(id) // shares the goroutine
	if got := d.Providing(); !slices.Equal(got, []p2ptvd.ChannelID{id}) {
		t.Errorf("Providing = %v, want [%v]", got, id)
	}
	eventually(t, 10*time.Second, "3 ADD_PROVIDER requests at the server", func() bool { return adds.Load() >= 3 })
	stop1()
	stop1() // idempotent
	if len(d.Providing()) != 1 {
		t.Error("first stop ended the shared re-provider")
	}
	stop2()
	if got := d.Providing(); len(got) != 0 {
		t.Errorf("Providing after stop = %v", got)
	}
	// stop waited for the goroutine, so nothing may provide any more.
	n := d.provides.Load()
	time.Sleep(4 * interval)
	if got := d.provides.Load(); got != n {
		t.Errorf("%d provides after stop", got-n)
	}
	t.Logf("%d ADD_PROVIDER requests reached the server, %d provides", adds.Load(), n)

	// Close stops a re-provider that was never stopped (goleak in
	// TestMain checks that its goroutine is gone).
	d.StartProviding(id)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if stop := d.StartProviding(id); len(d.Providing()) != 0 {
		t.Error("StartProviding after Close started something")
	} else {
		stop()
	}
}

// TestProvideRetries: with no DHT peer to store the record, providing fails
// and is retried with a visible log line until stopped.
func TestProvideRetries(t *testing.T) {
	_, id := testManifest(t, "lonely")
	logs := &logBuf{}
	d := newDHT(t, Config{Logger: logs.logger()})
	d.t.provideTimeout = 50 * time.Millisecond
	stop := d.StartProviding(id)
	eventually(t, 5*time.Second, "two failed provides", func() bool {
		return logs.count("provide failed, retrying in") >= 2
	})
	stop()
	if !bytes.Contains([]byte(logs.String()), []byte("retrying in 100ms")) {
		t.Errorf("the retry wait does not grow:\n%s", logs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Provide(ctx, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Provide with no peers = %v, want the context's error", err)
	}
}

func TestConnectNoProviders(t *testing.T) {
	server := newDHT(t, Config{Mode: ModeServer})
	d := newDHT(t, Config{Bootstrap: []peer.AddrInfo{addrInfo(server.h)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	_, id := testManifest(t, "nobody")
	start := time.Now()
	got, err := d.Connect(ctx, id, 1)
	if !errors.Is(err, ErrNoProviders) || len(got) != 0 {
		t.Errorf("Connect = %v, %v; want ErrNoProviders", got, err)
	}
	t.Logf("gave up after %v: %v", time.Since(start), err)
	if _, _, err := d.FetchManifest(ctx, id, nil); !errors.Is(err, ErrNoProviders) {
		t.Errorf("FetchManifest = %v, want ErrNoProviders", err)
	}
}

// TestConnectStaleRecord: a provider that went away leaves a record; Connect
// skips it within DialTimeout and reaches the live one.
func TestConnectStaleRecord(t *testing.T) {
	server := newDHT(t, Config{Mode: ModeServer})
	boot := Config{Bootstrap: []peer.AddrInfo{addrInfo(server.h)}, DialTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, id := testManifest(t, "stale")

	gone := newDHT(t, boot)
	live := newDHT(t, boot)
	for _, p := range []*DHT{gone, live} {
		if err := p.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Provide(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gone.h.Close(); err != nil {
		t.Fatal(err)
	}

	v := newDHT(t, boot)
	if err := v.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := v.Connect(ctx, id, 2)
	if err != nil || !slices.Equal(got, []peer.ID{live.h.ID()}) {
		t.Errorf("Connect = %v, %v; want only %s", got, err, live.h.ID())
	}
	t.Logf("connect with one stale record took %v", time.Since(start))
}

// TestLoneServerProvides: a server with an empty routing table cannot
// announce to anyone, but it answers lookups from its own store, so a
// joiner still finds it.
func TestLoneServerProvides(t *testing.T) {
	_, id := testManifest(t, "alone")
	server := newDHT(t, Config{Mode: ModeServer})
	stop := server.StartProviding(id)
	defer stop()
	v := newDHT(t, Config{Bootstrap: []peer.AddrInfo{addrInfo(server.h)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := v.Connect(ctx, id, 1)
	if err != nil || !slices.Equal(got, []peer.ID{server.h.ID()}) {
		t.Errorf("Connect = %v, %v; want the lone server", got, err)
	}
}
