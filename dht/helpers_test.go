package dht

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"go.uber.org/goleak"

	"github.com/p2ptv/p2ptvd"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newHost starts a libp2p host on a loopback TCP port, TCP only to keep it
// cheap.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func addrInfo(h host.Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}

// fastTiming shortens the waits so that retry paths run in milliseconds.
func fastTiming() timing {
	t := defaultTiming()
	t.readyPoll = 5 * time.Millisecond
	t.readyWait = time.Second
	t.bootstrapBackoff = 100 * time.Millisecond
	t.provideRetry = 50 * time.Millisecond
	t.lookupBackoff = 50 * time.Millisecond
	return t
}

// newDHT starts a DHT on a fresh host; Close runs at cleanup, before the
// host's Close.
func newDHT(t testing.TB, cfg Config) *DHT {
	t.Helper()
	return newDHTOn(t, newHost(t), cfg)
}

func newDHTOn(t testing.TB, h host.Host, cfg Config) *DHT {
	t.Helper()
	d, err := New(context.Background(), h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.t = fastTiming()
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// testManifest returns an encoded manifest and its ID; names make them
// differ.
func testManifest(t testing.TB, name string) ([]byte, p2ptvd.ChannelID) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := p2ptvd.Manifest{Owner: pub, Name: name, Created: time.Unix(1700000000, 0).UTC(),
		Hints: p2ptvd.StreamHints{Codec: "h264", Bitrate: 4e6, ChunkDuration: 250 * time.Millisecond}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b, p2ptvd.ChannelIDOf(b)
}

// logBuf collects log lines for tests that look at them.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(ais []peer.AddrInfo) []peer.ID {
	out := make([]peer.ID, len(ais))
	for i, ai := range ais {
		out[i] = ai.ID
	}
	return out
}

func short(p peer.ID) string { return fmt.Sprint(p)[:8] }
