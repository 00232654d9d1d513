package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/media"
)

func TestLoadIdentity(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	k, err := LoadIdentity(home)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(home, IdentityFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, mode %v; want 0600", err, info.Mode())
	}
	if dir, _ := os.Stat(home); dir.Mode().Perm() != 0o700 {
		t.Errorf("home mode %v, want 0700", dir.Mode().Perm())
	}
	k2, err := LoadIdentity(home)
	if err != nil || !k.Equals(k2) {
		t.Fatalf("reload gave another key (%v)", err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 1 {
		t.Errorf("home holds %d files, want only the key (no temporary files left)", len(entries))
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, IdentityFile), []byte("garbage"), 0o600)
	if _, err := LoadIdentity(bad); err == nil || !strings.Contains(err.Error(), IdentityFile) {
		t.Errorf("garbage key: %v, want an error naming the file", err)
	}
	rsaHome := t.TempDir()
	rk, _, _ := crypto.GenerateSecp256k1Key(nil)
	b, _ := crypto.MarshalPrivateKey(rk)
	os.WriteFile(filepath.Join(rsaHome, IdentityFile), b, 0o600)
	if _, err := LoadIdentity(rsaHome); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("secp256k1 key: %v, want an error asking for Ed25519", err)
	}
	if _, err := LoadIdentity(""); err == nil {
		t.Error("empty home accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := LoadIdentity(filepath.Join(file, "home")); err == nil {
		t.Error("home under a regular file accepted")
	}
}

// trio is a bootstrap node, a broadcaster and a viewer on loopback.
type trio struct {
	boot, caster, viewer *Node
}

func newTrio(t *testing.T) trio {
	t.Helper()
	dir := t.TempDir()
	logs := debugLogs(t)
	start := func(name string, mode dht.Mode, boot []string) *Node {
		n, err := New(Config{Home: filepath.Join(dir, name), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot, DHTMode: mode,
			Logger: logs.With("node", name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	var tr trio
	tr.boot = start("boot", dht.ModeServer, nil)
	var boot []string
	for _, a := range tr.boot.Addrs() {
		boot = append(boot, a.String())
	}
	tr.caster = start("caster", dht.ModeAuto, boot)
	tr.viewer = start("viewer", dht.ModeAuto, boot)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range []*Node{tr.caster, tr.viewer} {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// debugLogs returns a debug logger whose last lines the test prints only
// if it fails: a stalled viewer's story is in the engine's debug lines,
// and printing them on every run would bury the output. Records are kept
// unformatted until then, so logging costs the run little time.
func debugLogs(t *testing.T) *slog.Logger {
	rec := &recorder{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(rec.tail(400))
		}
	})
	return slog.New(recordHandler{r: rec})
}

type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

// tail formats the last n records.
func (r *recorder) tail(n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf bytes.Buffer
	recs := r.recs[max(0, len(r.recs)-n):]
	fmt.Fprintf(&buf, "the last %d of %d debug lines:\n", len(recs), len(r.recs))
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	for _, rec := range recs {
		h.Handle(context.Background(), rec)
	}
	return buf.String()
}

type recordHandler struct {
	r     *recorder
	attrs []slog.Attr
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(h.attrs...)
	h.r.mu.Lock()
	h.r.recs = append(h.r.recs, rec)
	h.r.mu.Unlock()
	return nil
}

func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recordHandler{r: h.r, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup keeps attributes flat: the node's logs use no groups.
func (h recordHandler) WithGroup(string) slog.Handler { return h }

// clipPrefix is the first part of the demo clip, cut at a packet boundary:
// a short input that ends (about 3 s of stream).
func clipPrefix() []byte {
	clip := media.DemoClip()
	n := len(clip) * 4 / 10
	return clip[:n-n%p2ptvd.PacketSize]
}

func TestBroadcastJoinPlayEnd(t *testing.T) {
	// go-flow-metrics (bandwidth counting) runs one process-wide sweeper.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/libp2p/go-flow-metrics.(*sweeper).runActive"))
	tr := newTrio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ch, err := tr.caster.Broadcast(ctx, bytes.NewReader(clipPrefix()), BroadcastOptions{Name: "short", Pace: true})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Role() != RoleBroadcast || ch.Manifest().Name != "short" {
		t.Errorf("broadcast channel: role %s, name %q", ch.Role(), ch.Manifest().Name)
	}
	if got, _ := ch.Manifest().ID(); got != ch.ID() {
		t.Errorf("manifest hashes to %s, channel is %s", got, ch.ID())
	}
	vc, err := tr.viewer.Join(ctx, ch.ID())
	if err != nil {
		t.Fatal(err)
	}
	if vc.Manifest().Name != "short" || !bytes.Equal(vc.Manifest().Owner, ch.Manifest().Owner) {
		t.Errorf("viewer's manifest %+v differs from the broadcaster's", vc.Manifest())
	}
	if again, err := tr.viewer.Join(ctx, ch.ID()); err != nil || again != vc {
		t.Errorf("joining twice: %v, same channel %v", err, again == vc)
	}

	// The viewer plays until the end of stream reaches it.
	var out bytes.Buffer
	if err := vc.WriteTo(ctx, &out, nil); err != nil {
		t.Fatalf("WriteTo: %v after %d bytes", err, out.Len())
	}
	want, err := media.NewSource(bytes.NewReader(clipPrefix()), media.SourceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for {
		c, err := want.Next(ctx)
		if err != nil {
			break
		}
		all = append(all, c.Payload...)
	}
	// The viewer joined after the start, so it plays a suffix of the input
	// from a random-access chunk: PAT first.
	if out.Len() == 0 || !bytes.HasSuffix(all, out.Bytes()) || out.Bytes()[1]&0x1f != 0 || out.Bytes()[2] != 0 {
		t.Errorf("viewer played %d bytes, not a suffix of the %d-byte input starting with a PAT", out.Len(), len(all))
	}
	select {
	case <-ch.Done():
	case <-ctx.Done():
		t.Fatal("broadcast did not end with its input")
	}
	if ch.Err() != nil {
		t.Errorf("broadcast ended with %v", ch.Err())
	}
	// The viewer's byte count holds at least what it played, read at once.
	if in := tr.viewer.Bandwidth().TotalIn; in < int64(out.Len()) {
		t.Errorf("viewer counted %d bytes in, played %d", in, out.Len())
	}
	if s := vc.Stats(); !s.Buffer.Ended || s.Buffer.Missed != 0 {
		t.Errorf("viewer buffer: %+v; want ended with nothing missed", s.Buffer)
	}

	// Leaving removes the channel; leaving again says it is not joined.
	if err := tr.viewer.Leave(ch.ID()); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.viewer.Channel(ch.ID()); ok || len(tr.viewer.Channels()) != 0 {
		t.Error("channel still listed after Leave")
	}
	if err := tr.viewer.Leave(ch.ID()); !errors.Is(err, ErrNotJoined) {
		t.Errorf("second Leave = %v, want ErrNotJoined", err)
	}
	for _, n := range []*Node{tr.viewer, tr.caster, tr.boot} {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func TestBroadcastRejectsBadInput(t *testing.T) {
	tr := newTrio(t)
	ctx := context.Background()
	for name, in := range map[string][]byte{
		"text":  bytes.Repeat([]byte("not a transport stream "), 5000),
		"empty": nil,
	} {
		_, err := tr.caster.Broadcast(ctx, bytes.NewReader(in), BroadcastOptions{Name: name})
		if err == nil {
			t.Errorf("%s: Broadcast accepted it", name)
		}
		if len(tr.caster.Channels()) != 0 {
			t.Errorf("%s: a channel was created anyway", name)
		}
	}
	if _, err := tr.viewer.Join(ctx, p2ptvd.ChannelID{}); !errors.Is(err, p2ptvd.ErrBadChannelID) {
		t.Errorf("Join(zero ID) = %v", err)
	}
}

func TestJoinUnknownChannel(t *testing.T) {
	tr := newTrio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := p2ptvd.ChannelIDOf([]byte("no such manifest"))
	if _, err := tr.viewer.Join(ctx, id); !errors.Is(err, dht.ErrNoProviders) {
		t.Errorf("Join(unknown) = %v, want ErrNoProviders", err)
	}
}

func TestHTTP(t *testing.T) {
	tr := newTrio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := tr.caster.Broadcast(ctx, bytes.NewReader(media.DemoClip()), BroadcastOptions{Name: "http", Pace: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tr.caster.Handler())
	defer srv.Close()

	get := func(method, path string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	unknown := p2ptvd.ChannelIDOf([]byte("x"))
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"GET", StreamPath(unknown), http.StatusNotFound},
		{"GET", "/channel/not-a-cid.ts", http.StatusBadRequest},
		{"GET", ch.ID().Path(), http.StatusNotFound}, // no .ts
		{"POST", StreamPath(ch.ID()), http.StatusMethodNotAllowed},
		{"GET", "/nothing/here", http.StatusNotFound},
	} {
		resp := get(tt.method, tt.path)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.code)
		}
	}

	resp := get("GET", "/")
	var index struct {
		Peer     string
		Channels []struct{ Channel, Name, Stream string }
	}
	json.NewDecoder(resp.Body).Decode(&index)
	resp.Body.Close()
	if index.Peer != tr.caster.ID().String() || len(index.Channels) != 1 ||
		index.Channels[0].Channel != ch.ID().Path() || index.Channels[0].Stream != StreamPath(ch.ID()) {
		t.Errorf("index = %+v", index)
	}
	if _, err := peer.Decode(index.Peer); err != nil {
		t.Errorf("index peer %q: %v", index.Peer, err)
	}

	resp = get("HEAD", StreamPath(ch.ID()))
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
		t.Errorf("HEAD stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The stream starts with PAT, PMT and a keyframe: whole TS packets.
	resp = get("GET", StreamPath(ch.ID()))
	defer resp.Body.Close()
	head := make([]byte, 3*p2ptvd.PacketSize)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(head); i += p2ptvd.PacketSize {
		if head[i] != 0x47 {
			t.Fatalf("byte %d is %#x, not a TS sync byte", i, head[i])
		}
	}
	if pid := int(head[1]&0x1f)<<8 | int(head[2]); pid != 0 {
		t.Errorf("stream starts with PID %d, want the PAT (0)", pid)
	}
}

func TestInjectedHost(t *testing.T) {
	newHost := func(k crypto.PrivKey) host.Host {
		h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	sk, _, _ := crypto.GenerateSecp256k1Key(nil)
	if _, err := New(Config{Host: newHost(sk)}); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("secp256k1 host: %v, want an error asking for Ed25519", err)
	}
	ek, _, _ := crypto.GenerateEd25519Key(nil)
	h := newHost(ek)
	n, err := New(Config{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	if n.ID() != h.ID() {
		t.Errorf("node ID %s, host ID %s", n.ID(), h.ID())
	}
	n.Close()
	other := newHost(sk)
	if err := other.Connect(context.Background(), peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
		t.Errorf("the injected host no longer accepts connections after the node closed: %v", err)
	}
}
