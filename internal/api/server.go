package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/node"
)

// Config configures a Server.
type Config struct {
	Node *node.Node
	// Key is the API key every /api/v1/ request must carry.
	Key string
	// Version and Role are reported by status.
	Version, Role string
	// Metrics is served on /metrics; nil serves 404 there.
	Metrics prometheus.Gatherer
	// BaseURL is the listener's URL, for the stream URLs in responses.
	BaseURL string
	Logger  *slog.Logger     // nil discards
	Now     func() time.Time // nil is time.Now
}

// Limits on requests.
const (
	maxBody        = 64 << 10
	defaultTimeout = 60 * time.Second
	maxTimeout     = 5 * time.Minute
)

// Server serves the API. It is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	metrics http.Handler

	mu      sync.Mutex
	samples map[p2ptvd.ChannelID][]sample // for rates
}

type sample struct {
	at              time.Time
	rcv, pub, parts uint64
}

// New returns the API handler for cfg.Node.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), samples: map[p2ptvd.ChannelID][]sample{}}
	if cfg.Metrics != nil {
		s.metrics = promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.Handle("GET /channel/", cfg.Node.Handler())
	s.mux.HandleFunc("GET /api/v1/status", s.auth(s.status))
	s.mux.HandleFunc("GET /api/v1/channels", s.auth(s.channels))
	s.mux.HandleFunc("POST /api/v1/channels", s.auth(s.join))
	s.mux.HandleFunc("GET /api/v1/channels/{cid...}", s.auth(s.channel))
	s.mux.HandleFunc("DELETE /api/v1/channels/{cid...}", s.auth(s.leave))
	s.mux.HandleFunc("GET /api/v1/peers", s.auth(s.peers))
	s.mux.HandleFunc("/api/", s.auth(notFound))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: %s (the API is under /api/v1/)", r.URL.Path)
	})
	return s
}

// notFound answers calls no route took: 405 with Allow for a known path
// and another method, else 404.
func notFound(w http.ResponseWriter, r *http.Request) {
	allow := ""
	switch p := r.URL.Path; {
	case p == "/api/v1/status", p == "/api/v1/peers":
		allow = "GET"
	case p == "/api/v1/channels":
		allow = "GET, POST"
	case strings.HasPrefix(p, "/api/v1/channels/"):
		allow = "GET, DELETE"
	}
	if allow != "" {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, allow)
		return
	}
	writeError(w, http.StatusNotFound, "no such API call: %s %s (see /api/v1/status, /api/v1/channels, /api/v1/peers)", r.Method, r.URL.Path)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A web page the user visits can point its own host name at 127.0.0.1
	// (DNS rebinding) and read the key-less endpoints; only requests that
	// name this machine are served.
	if !localHost(r.Host) {
		writeError(w, http.StatusForbidden, "host %q not allowed: the API answers only requests to localhost or a loopback address", r.Host)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func localHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are off")
		return
	}
	s.metrics.ServeHTTP(w, r)
}

// auth checks the API key before h runs; the comparison takes the same
// time whatever the key.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-API-Key")
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = strings.TrimSpace(b)
		}
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="p2ptvd"`)
			writeError(w, http.StatusUnauthorized, "no API key: send the key from <home>/api.key as \"Authorization: Bearer <key>\"")
			return
		}
		if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.Key)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="p2ptvd", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "wrong API key (it is in <home>/api.key of the running daemon)")
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, Error{Message: fmt.Sprintf(format, args...)})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	n := s.cfg.Node
	st := Status{
		Peer: n.ID().String(), Role: s.cfg.Role, Version: s.cfg.Version,
		Started: n.Started().UTC(), Uptime: s.cfg.Now().Sub(n.Started()).Seconds(),
		Peers: len(n.Host().Network().Peers()), DHTPeers: n.DHTPeers(),
		Channels: len(n.Channels()) + len(n.Resuming()),
		Reach:    n.Reach(), Limits: n.Limits(),
	}
	for _, a := range n.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	bw := n.Bandwidth()
	st.Bandwidth = Bandwidth{TotalIn: bw.TotalIn, TotalOut: bw.TotalOut, RateIn: bw.RateIn, RateOut: bw.RateOut}
	for p, b := range n.BandwidthByProtocol() {
		if strings.HasPrefix(string(p), "/meshsub/") {
			st.Bandwidth.GossipRateIn += b.RateIn
			st.Bandwidth.GossipRateOut += b.RateOut
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) channels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.list())
}

// list is every channel, joined ones first by ID, then those a restart is
// still rejoining.
func (s *Server) list() []Channel {
	out := []Channel{}
	for _, c := range s.cfg.Node.Channels() {
		out = append(out, s.describe(c))
	}
	for id, err := range s.cfg.Node.Resuming() {
		ch := Channel{Channel: id.Path(), Role: string(node.RoleView), State: "joining"}
		if err != nil {
			ch.Error = err.Error()
		}
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].State == "joining") != (out[j].State == "joining") {
			return out[j].State == "joining"
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}

func (s *Server) describe(c *node.Channel) Channel {
	st := c.Stats()
	b := st.Buffer
	ch := Channel{
		Channel: c.ID().Path(), Name: c.Manifest().Name, Role: string(c.Role()),
		Created: c.Manifest().Created, Peers: st.Peers,
		Buffer: Buffer{
			Started: b.Started, Level: b.Pending, LevelBytes: b.PendingBytes, Delay: b.Delay.Seconds(),
			Continuity: b.Continuity, Startup: b.StartupTime.Seconds(), Played: b.Released,
			Skipped: b.Missed, Late: b.Late, Stalls: b.Stalls, Players: b.Readers,
		},
		Mesh: Mesh{
			Received: st.Gossip.Received, Published: st.Gossip.Published, Rejected: st.Gossip.Rejected,
			Drops:         st.Gossip.SlowReaderDrops,
			PartsReceived: st.Gossip.PartsReceived, PartsSent: st.Gossip.PartsSent,
			Slots: st.Gossip.Slots, Children: st.Gossip.Children,
		},
	}
	if s.cfg.BaseURL != "" {
		ch.Stream = s.cfg.BaseURL + node.StreamPath(c.ID())
	}
	ch.Mesh.InRate, ch.Mesh.OutRate, ch.Mesh.PartsOutRate = s.rates(c.ID(), sample{rcv: st.Gossip.Received, pub: st.Gossip.Published, parts: st.Gossip.PartsSent})
	select {
	case <-c.Done():
		ch.State = "ended"
		if err := c.Err(); err != nil {
			ch.State, ch.Error = "failed", err.Error()
		}
	default:
		ch.State = "waiting"
		if b.Started {
			ch.State = "playing"
		}
		if b.Ended {
			ch.State = "ended"
		}
	}
	return ch
}

// rates returns per-second rates of the counters in cur over up to the
// last minute: chunks in, chunks published, parts sent.
func (s *Server) rates(id p2ptvd.ChannelID, cur sample) (in, pub, parts float64) {
	now := s.cfg.Now()
	cur.at = now
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.samples[id]
	for len(ss) > 0 && now.Sub(ss[0].at) > time.Minute {
		ss = ss[1:]
	}
	if len(ss) == 0 || now.Sub(ss[len(ss)-1].at) >= time.Second {
		ss = append(ss, cur)
	}
	s.samples[id] = ss
	// Forget channels that are gone, so the map stays bounded.
	for other := range s.samples {
		if _, ok := s.cfg.Node.Channel(other); !ok && other != id {
			delete(s.samples, other)
		}
	}
	first := ss[0]
	dt := now.Sub(first.at).Seconds()
	if dt < 1 {
		return 0, 0, 0
	}
	rate := func(a, b uint64) float64 { return float64(a-min(a, b)) / dt }
	return rate(cur.rcv, first.rcv), rate(cur.pub, first.pub), rate(cur.parts, first.parts)
}

func (s *Server) channelID(w http.ResponseWriter, r *http.Request) (p2ptvd.ChannelID, bool) {
	id, err := p2ptvd.ParseChannelID(r.PathValue("cid"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return id, false
	}
	return id, true
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request) {
	id, ok := s.channelID(w, r)
	if !ok {
		return
	}
	for _, ch := range s.list() {
		if ch.Channel == id.Path() {
			writeJSON(w, http.StatusOK, ch)
			return
		}
	}
	writeError(w, http.StatusNotFound, "%s: not joined", id.Path())
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	id, ok := s.channelID(w, r)
	if !ok {
		return
	}
	err := s.cfg.Node.Leave(id)
	switch {
	case errors.Is(err, node.ErrNotJoined):
		writeError(w, http.StatusNotFound, "%s: not joined", id.Path())
	case err != nil:
		writeError(w, http.StatusInternalServerError, "leave %s: %v", id.Path(), err)
	default:
		s.log.Info("left", "channel", id.String())
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	id, timeout, code, err := decodeJoin(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, code, "%v", err)
		return
	}
	n := s.cfg.Node
	_, had := n.Channel(id)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	c, err := n.Join(ctx, id)
	switch {
	case err == nil:
	case errors.Is(err, dht.ErrNoProviders):
		writeError(w, http.StatusNotFound, "%s: nobody provides it (is it live? are the bootstrap nodes reachable?): %v", id.Path(), err)
		return
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		writeError(w, http.StatusGatewayTimeout, "%s: not joined within %s", id.Path(), timeout)
		return
	case errors.Is(err, node.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "the node is shutting down")
		return
	default:
		writeError(w, http.StatusBadGateway, "%v", err)
		return
	}
	code = http.StatusCreated
	if had {
		code = http.StatusOK
	} else {
		s.log.Info("joined through the API", "channel", id.String())
	}
	writeJSON(w, code, s.describe(c))
}

// decodeJoin reads a JoinRequest body; on error it returns the HTTP status
// that says what is wrong with it.
func decodeJoin(body io.Reader) (p2ptvd.ChannelID, time.Duration, int, error) {
	var req JoinRequest
	var id p2ptvd.ChannelID
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return id, 0, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", tooBig.Limit)
		}
		return id, 0, http.StatusBadRequest, fmt.Errorf("bad request body: %v (want {\"channel\": \"/channel/<cid>\"})", err)
	}
	if dec.More() {
		return id, 0, http.StatusBadRequest, errors.New("bad request body: more than one JSON value")
	}
	id, err := p2ptvd.ParseChannelID(req.Channel)
	if err != nil {
		return id, 0, http.StatusBadRequest, fmt.Errorf("channel: %w", err)
	}
	timeout := defaultTimeout
	if req.Timeout != "" {
		timeout, err = time.ParseDuration(req.Timeout)
		if err != nil || timeout <= 0 || timeout > maxTimeout {
			return id, 0, http.StatusBadRequest, fmt.Errorf("timeout %q: want a duration up to %s, e.g. 60s", req.Timeout, maxTimeout)
		}
	}
	return id, timeout, http.StatusOK, nil
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	n := s.cfg.Node
	shared := map[string][]string{}
	for _, c := range n.Channels() {
		for _, p := range c.Peers() {
			shared[p.String()] = append(shared[p.String()], c.ID().Path())
		}
	}
	out := []Peer{}
	for _, p := range n.Host().Network().Peers() {
		conns := n.Host().Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		pi := Peer{ID: p.String(), Limited: true, Channels: shared[p.String()]}
		for _, c := range conns {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
			pi.Limited = pi.Limited && c.Stat().Limited
			pi.Inbound = pi.Inbound || c.Stat().Direction == network.DirInbound
		}
		if l := n.Host().Peerstore().LatencyEWMA(p); l > 0 {
			pi.Latency = float64(l.Microseconds()) / 1000
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}
