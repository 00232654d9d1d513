package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// closedPort returns a loopback TCP address nobody listens on.
func closedPort(t *testing.T) ma.Multiaddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
}

func randomID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestBootstrapUnreachable(t *testing.T) {
	logs := &logBuf{}
	d := newDHT(t, Config{
		Bootstrap: []peer.AddrInfo{{ID: randomID(t), Addrs: []ma.Multiaddr{closedPort(t)}}},
		Logger:    logs.logger(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := d.Bootstrap(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Bootstrap = %v, want the context's error", err)
	}
	// Waits of 100, 200, 400 ms fit in the second.
	if n := logs.count("bootstrap peer unreachable, retrying in "); n < 3 {
		t.Errorf("%d retry lines, want at least 3:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "retrying in 200ms") {
		t.Errorf("the wait does not grow:\n%s", logs)
	}
}

// TestBootstrapLate: a bootstrap peer that comes up after the first attempt
// is reached by a retry.
func TestBootstrapLate(t *testing.T) {
	h := newHost(t)
	ai := addrInfo(h)
	logs := &logBuf{}
	d := newDHT(t, Config{Bootstrap: []peer.AddrInfo{ai}, Logger: logs.logger()})
	// Until the server starts, h speaks no kad protocol.
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { done <- d.Bootstrap(ctx) }()
	eventually(t, 5*time.Second, "a first failed attempt", func() bool {
		return logs.count("retrying in") > 0
	})
	newDHTOn(t, h, Config{Mode: ModeServer})
	if err := <-done; err != nil {
		t.Fatalf("Bootstrap = %v\n%s", err, logs)
	}
	if d.RoutingTableSize() == 0 {
		t.Error("routing table empty after Bootstrap")
	}
}

func TestBootstrapStandalone(t *testing.T) {
	d := newDHT(t, Config{Mode: ModeServer})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // must not even wait
	if err := d.Bootstrap(ctx); err != nil {
		t.Errorf("Bootstrap with no peers = %v", err)
	}
}

func TestParseBootstrap(t *testing.T) {
	id := randomID(t)
	a1 := "/ip4/127.0.0.1/tcp/4001/p2p/" + id.String()
	a2 := "/ip6/::1/udp/4001/quic-v1/p2p/" + id.String()
	other := randomID(t)
	a3 := "/dns4/boot.example.org/tcp/4001/p2p/" + other.String()
	got, err := ParseBootstrap([]string{a1, " " + a2 + "\n", a3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != id || len(got[0].Addrs) != 2 || got[1].ID != other || len(got[1].Addrs) != 1 {
		t.Errorf("ParseBootstrap = %v", got)
	}
	if got, err := ParseBootstrap(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseBootstrap(nil) = %v, %v", got, err)
	}
	bad := []struct{ name, addr, why string }{
		{"empty", "", "empty"},
		{"not a multiaddr", "127.0.0.1:4001", "127.0.0.1:4001"},
		{"no p2p", "/ip4/127.0.0.1/tcp/4001", "no /p2p/"},
		{"bad peer id", "/ip4/127.0.0.1/tcp/4001/p2p/QmNotAPeer", "QmNotAPeer"},
		{"only p2p", "/p2p/" + id.String(), "no address"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBootstrap([]string{a1, tt.addr})
			if !errors.Is(err, ErrBadBootstrapAddr) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ParseBootstrap(%q) = %v, want ErrBadBootstrapAddr mentioning %q", tt.addr, err, tt.why)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mode
	}{{"auto", ModeAuto}, {"server", ModeServer}, {"Client", ModeClient}} {
		got, err := ParseMode(tt.in)
		if err != nil || got != tt.want || !strings.EqualFold(got.String(), tt.in) {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseMode("dht"); err == nil {
		t.Error("ParseMode(dht) accepted")
	}
}

func TestModes(t *testing.T) {
	for _, tt := range []struct {
		mode       Mode
		wantServer bool
	}{{ModeServer, true}, {ModeClient, false}, {ModeAuto, false}} {
		d := newDHT(t, Config{Mode: tt.mode})
		if d.IsServer() != tt.wantServer || d.Mode() != tt.mode {
			t.Errorf("%v: IsServer = %v, want %v", tt.mode, d.IsServer(), tt.wantServer)
		}
		if d.Protocol() != "/p2ptv/kad/1.0.0" {
			t.Errorf("protocol %q", d.Protocol())
		}
	}
	if _, err := New(context.Background(), newHost(t), Config{Mode: 9}); err == nil {
		t.Error("New accepted mode 9")
	}
}
