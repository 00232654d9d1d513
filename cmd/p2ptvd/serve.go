package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/node"
)

// httpServer is the local HTTP listener players connect to. It is bound
// before the node starts, so an occupied port fails fast.
type httpServer struct {
	ln  net.Listener
	srv *http.Server
}

func listenHTTP(addr string) (*httpServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	return &httpServer{ln: ln, srv: &http.Server{ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (s *httpServer) serve(h http.Handler) {
	s.srv.Handler = h
	s.srv.Serve(s.ln)
}

func (s *httpServer) url(id p2ptvd.ChannelID) string {
	return "http://" + s.ln.Addr().String() + node.StreamPath(id)
}

func (s *httpServer) close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
	s.ln.Close()
}

// statusLoop logs a channel's state every 10 seconds, so a long-running
// command shows it is alive and how well it plays.
func statusLoop(ctx context.Context, env *Env, c *node.Channel) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s := c.Stats()
			env.Log.Info("status", "channel", c.ID().String(), "role", s.Role, "peers", s.Peers,
				"released", s.Buffer.Released, "missed", s.Buffer.Missed,
				"continuity", fmt.Sprintf("%.4f", s.Buffer.Continuity),
				"delay", s.Buffer.Delay.Round(time.Millisecond),
				"rejected", s.Gossip.Rejected, "dropped", s.Gossip.SlowReaderDrops+s.Gossip.SubscriptionDrops)
		}
	}()
	return func() { cancel(); <-done }
}
