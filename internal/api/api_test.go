package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/internal/home"
	"github.com/p2ptv/p2ptvd/media"
	"github.com/p2ptv/p2ptvd/node"
)

const key = "0123456789abcdef0123456789abcdef"

// world is a bootstrap node, a broadcaster of the looping demo clip, and a
// daemon node behind an API server.
type world struct {
	caster *node.Node
	ch     *node.Channel
	d      *node.Node
	srv    *httptest.Server
	client *Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	start := func(cfg node.Config) *node.Node {
		cfg.Home, cfg.Listen = t.TempDir(), lo
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	boot := start(node.Config{DHTMode: dht.ModeServer})
	var ba []string
	for _, a := range boot.Addrs() {
		ba = append(ba, a.String())
	}
	w := &world{caster: start(node.Config{Bootstrap: ba}), d: start(node.Config{Bootstrap: ba})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range []*node.Node{w.caster, w.d} {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	w.ch, err = w.caster.Broadcast(context.Background(), bytes.NewReader(media.DemoClip()), node.BroadcastOptions{Name: "api", Pace: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "p2ptvd_test"}))
	s := New(Config{Node: w.d, Key: key, Version: "test", Role: "daemon", Metrics: reg})
	w.srv = httptest.NewServer(s)
	t.Cleanup(w.srv.Close)
	s.cfg.BaseURL = w.srv.URL
	w.client = &Client{BaseURL: w.srv.URL, Key: key}
	return w
}

func call(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Bad requests get the right status and a JSON error that says what is
// wrong; nothing crashes.
func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	ok := "Bearer " + key
	unknown := p2ptvd.ChannelIDOf([]byte("nobody has this")).String()
	tests := []struct {
		name, method, path, auth, body string
		code                           int
		says                           string
	}{
		{"no key", "GET", "/api/v1/status", "", "", 401, "no API key"},
		{"wrong key", "GET", "/api/v1/status", "Bearer nope", "", 401, "wrong API key"},
		{"basic auth is no key", "GET", "/api/v1/status", "Basic Zm9vOmJhcg==", "", 401, "no API key"},
		{"no key for unknown call", "GET", "/api/v1/nothing", "", "", 401, "API key"},
		{"unknown call", "GET", "/api/v1/nothing", ok, "", 404, "no such API call"},
		{"wrong method", "PUT", "/api/v1/status", ok, "", 405, "not allowed"},
		{"wrong method on a channel", "POST", "/api/v1/channels/" + unknown, ok, "", 405, "GET, DELETE"},
		{"not json", "POST", "/api/v1/channels", ok, "channel please", 400, "bad request body"},
		{"unknown field", "POST", "/api/v1/channels", ok, `{"chanel": "x"}`, 400, "unknown field"},
		{"two values", "POST", "/api/v1/channels", ok, `{"channel": "x"} {}`, 400, "more than one"},
		{"empty body", "POST", "/api/v1/channels", ok, ``, 400, "bad request body"},
		{"bad channel", "POST", "/api/v1/channels", ok, `{"channel": "/channel/nope"}`, 400, "bad channel id"},
		{"bad timeout", "POST", "/api/v1/channels", ok, `{"channel": "/channel/` + unknown + `", "timeout": "forever"}`, 400, "timeout"},
		{"huge timeout", "POST", "/api/v1/channels", ok, `{"channel": "/channel/` + unknown + `", "timeout": "1h"}`, 400, "timeout"},
		{"huge body", "POST", "/api/v1/channels", ok, `{"channel": "` + strings.Repeat("x", 70000) + `"}`, 413, "over"},
		{"unknown channel", "POST", "/api/v1/channels", ok, `{"channel": "/channel/` + unknown + `", "timeout": "10s"}`, 404, "nobody provides it"},
		{"get channel not joined", "GET", "/api/v1/channels/" + unknown, ok, "", 404, "not joined"},
		{"get bad channel", "GET", "/api/v1/channels/xyz", ok, "", 400, "bad channel id"},
		{"leave channel not joined", "DELETE", "/api/v1/channels/" + unknown, ok, "", 404, "not joined"},
		{"unknown page", "GET", "/index.html", "", "", 404, "/api/v1/"},
		{"stream not joined", "GET", "/channel/" + unknown + ".ts", "", "", 404, "not joined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, tt.method, w.srv.URL+tt.path, tt.auth, tt.body)
			if code != tt.code || !strings.Contains(body, tt.says) {
				t.Errorf("%s %s: %d %s; want %d saying %q", tt.method, tt.path, code, body, tt.code, tt.says)
			}
			if tt.code >= 400 && !strings.Contains(tt.path, ".ts") {
				var e Error
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
					t.Errorf("error body is not {\"error\": ...}: %q", body)
				}
			}
		})
	}
	// DNS rebinding: another host name is refused, even for /metrics.
	req, _ := http.NewRequest("GET", w.srv.URL+"/metrics", nil)
	req.Host = "evil.example:5580"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host header: %v %v, want 403", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	for _, h := range []string{"localhost:5580", "127.0.0.1", "[::1]:80", "LOCALHOST"} {
		if !localHost(h) {
			t.Errorf("localHost(%q) = false", h)
		}
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		if code, body := call(t, "GET", w.srv.URL+path, "", ""); code != 200 || body == "" {
			t.Errorf("%s without a key: %d", path, code)
		}
	}
}

func TestJoinThroughAPI(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := w.client
	ch, err := c.Join(ctx, w.ch.ID(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Channel != w.ch.ID().Path() || ch.Name != "api" || ch.Role != "view" || !strings.HasPrefix(ch.Stream, w.srv.URL+"/channel/") {
		t.Errorf("join answered %+v", ch)
	}
	// The stream plays from a PAT.
	resp, err := http.Get(ch.Stream)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 188)
	_, err = io.ReadFull(resp.Body, head)
	resp.Body.Close()
	if err != nil || head[0] != 0x47 || head[1]&0x1f != 0 || head[2] != 0 {
		t.Errorf("stream starts % x (%v), want a PAT packet", head[:4], err)
	}
	// Joining again is 200 with the same channel.
	code, _ := call(t, "POST", w.srv.URL+"/api/v1/channels", "Bearer "+key, `{"channel": "`+w.ch.ID().Path()+`"}`)
	if code != http.StatusOK {
		t.Errorf("second join: %d, want 200", code)
	}
	var cs []Channel
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, err = c.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 1 && cs[0].State == "playing" && cs[0].Buffer.Played > 0 && cs[0].Peers > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(cs) != 1 || cs[0].State != "playing" || cs[0].Buffer.Played == 0 || cs[0].Peers == 0 {
		t.Errorf("channels: %+v", cs)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Peer != w.d.ID().String() || st.Version != "test" || st.Channels != 1 || st.Peers < 2 || len(st.Addrs) == 0 || st.Reach.Reachability == "" {
		t.Errorf("status: %+v", st)
	}
	ps, err := c.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shared := false
	for _, p := range ps {
		if p.ID == w.caster.ID().String() && len(p.Channels) == 1 {
			shared = true
		}
	}
	if !shared {
		t.Errorf("peers do not show the broadcaster sharing the channel: %+v", ps)
	}
	if err := c.Leave(ctx, w.ch.ID()); err != nil {
		t.Fatal(err)
	}
	if cs, _ := c.Channels(ctx); len(cs) != 0 {
		t.Errorf("after leave: %+v", cs)
	}
	var e *Error
	if err := c.Leave(ctx, w.ch.ID()); !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Errorf("second leave: %v", err)
	}
	bad := &Client{BaseURL: w.srv.URL, Key: "wrong"}
	if _, err := bad.Status(ctx); !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		t.Errorf("wrong key: %v", err)
	}
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Find(ctx, dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no api file: %v", err)
	}
	// A stale file from a daemon that crashed: nobody listens there.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	stale := "http://" + ln.Addr().String()
	ln.Close()
	home.WriteAPI(dir, stale)
	os.WriteFile(filepath.Join(dir, home.APIKeyFile), []byte(key), 0o600)
	if _, err := Find(ctx, dir); !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), "stale") {
		t.Errorf("stale api file: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	home.WriteAPI(dir, srv.URL)
	c, err := Find(ctx, dir)
	if err != nil || c.BaseURL != srv.URL || c.Key != key {
		t.Errorf("Find = %+v, %v", c, err)
	}
}
