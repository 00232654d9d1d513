package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/internal/api"
	"github.com/p2ptv/p2ptvd/internal/config"
	"github.com/p2ptv/p2ptvd/node"
)

// notRunningError marks "no daemon runs on this home": ExitNotRunning, as
// an init script's status says 3 for a stopped service.
type notRunningError struct{ error }

func (e notRunningError) Unwrap() error { return e.error }

// daemonClient finds the daemon of the home.
func daemonClient(ctx context.Context, env *Env) (*api.Client, error) {
	dir, err := env.home()
	if err != nil {
		return nil, err
	}
	c, err := api.Find(ctx, dir)
	if errors.Is(err, api.ErrNoDaemon) {
		return nil, notRunningError{fmt.Errorf("%w (start one with 'p2ptvd daemon', or pass the home it runs on with --home)", err)}
	}
	return c, err
}

// apiError turns an API error into the command's error: a 4xx from bad
// input is a usage error.
func apiError(op string, err error) error {
	var e *api.Error
	if errors.As(err, &e) {
		err = fmt.Errorf("%s: %s", op, e.Message)
		if e.Status == http.StatusBadRequest {
			return usageError{err}
		}
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// StatusCmd shows the daemon's state.
type StatusCmd struct {
	JSON bool `help:"Print JSON (the API's /api/v1/status)."`
}

func (s StatusCmd) Run(ctx context.Context, env *Env) error {
	c, err := daemonClient(ctx, env)
	var nr notRunningError
	if errors.As(err, &nr) && !s.JSON {
		// Say who this home is even when it does not run.
		if dir, herr := env.home(); herr == nil {
			if k, kerr := loadKeyIfAny(dir); kerr == nil && k != nil {
				id, _ := peer.IDFromPrivateKey(k)
				fmt.Fprintf(env.Stdout, "peer      %s\nstate     not running (home %s)\n", id, dir)
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return apiError("status", err)
	}
	if s.JSON {
		return printJSON(env, st)
	}
	printStatus(env, c.BaseURL, st)
	return nil
}

func printStatus(env *Env, base string, st api.Status) {
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	r := st.Reach
	line := func(k, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	line("peer", "%s", st.Peer)
	line("state", "%s running for %s (%s)", st.Role, (time.Duration(st.Uptime) * time.Second).String(), st.Version)
	line("api", "%s", base)
	for i, a := range st.Addrs {
		k := ""
		if i == 0 {
			k = "addrs"
		}
		line(k, "%s", a)
	}
	nat := ""
	for proto, t := range r.NAT {
		nat += fmt.Sprintf(", NAT %s %s", proto, t)
	}
	dhtMode := "client"
	if r.DHTServer {
		dhtMode = "server"
	}
	line("reach", "%s%s; DHT %s", r.Reachability, nat, dhtMode)
	line("port map", "%s", portMapping(r.PortMapping))
	relay := "off"
	if r.Relay.Enabled {
		relay = fmt.Sprintf("on, %d relay addresses", len(r.Relay.Addrs))
	}
	if r.RelayService {
		relay += "; serving as a relay"
	}
	line("relay", "%s", relay)
	punch := "off"
	if h := r.HolePunch; h.Enabled {
		punch = fmt.Sprintf("on, %d of %d succeeded, %d direct", h.Successes, h.Successes+h.Failures, h.DirectDials)
	}
	line("hole punch", "%s", punch)
	line("peers", "%d connected (%d over relays), %d in the DHT table", st.Peers, r.LimitedConns, st.DHTPeers)
	if l := st.Limits; l.InboundRefused > 0 {
		line("refused", "%d inbound connections while broadcasting (source_peers %d)", l.InboundRefused, l.SourcePeers)
	}
	line("channels", "%d", st.Channels)
	up := "no cap (the mesh learns the uplink)"
	if st.Limits.MaxUpload > 0 {
		up = config.Rate(st.Limits.MaxUpload).String() + " budget"
	}
	if st.Limits.ConsumeOnly {
		up += "; consume-only"
	}
	line("upload", "%s", up)
	b := st.Bandwidth
	line("traffic", "in %s/s, out %s/s (mesh in %s/s, out %s/s)", bytesH(b.RateIn), bytesH(b.RateOut), bytesH(b.GossipRateIn), bytesH(b.GossipRateOut))
}

func portMapping(p node.PortMapping) string {
	switch {
	case !p.Enabled:
		return "off"
	case len(p.Mapped) > 0:
		return "on, router forwards " + strings.Join(p.Mapped, ", ")
	case p.Gateway:
		return "on, router found, no mapping yet"
	}
	return "on, no UPnP/NAT-PMP router found"
}

func bytesH(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1f MB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f kB", v/1e3)
	}
	return fmt.Sprintf("%.0f B", v)
}

// ChannelsCmd lists the daemon's channels.
type ChannelsCmd struct {
	JSON bool `help:"Print JSON (the API's /api/v1/channels)."`
}

func (l ChannelsCmd) Run(ctx context.Context, env *Env) error {
	c, err := daemonClient(ctx, env)
	if err != nil {
		return err
	}
	cs, err := c.Channels(ctx)
	if err != nil {
		return apiError("channels", err)
	}
	if l.JSON {
		return printJSON(env, cs)
	}
	if len(cs) == 0 {
		fmt.Fprintln(env.Stderr, "no channels; join one with 'p2ptvd join /channel/<cid>'")
		return nil
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "CHANNEL\tNAME\tROLE\tSTATE\tPEERS\tDELAY\tCONTINUITY\tIN/S\tDROPS\tSTREAM")
	for _, ch := range cs {
		state := ch.State
		if ch.Error != "" {
			state += " (" + ch.Error + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%.1fs\t%.4f\t%.1f\t%d\t%s\n", ch.Channel, ch.Name, ch.Role, state,
			ch.Peers, ch.Buffer.Delay, ch.Buffer.Continuity, ch.Mesh.InRate, ch.Mesh.Drops, ch.Stream)
	}
	return nil
}

// PeersCmd lists the daemon's peers.
type PeersCmd struct {
	JSON bool `help:"Print JSON (the API's /api/v1/peers)."`
}

func (p PeersCmd) Run(ctx context.Context, env *Env) error {
	c, err := daemonClient(ctx, env)
	if err != nil {
		return err
	}
	ps, err := c.Peers(ctx)
	if err != nil {
		return apiError("peers", err)
	}
	if p.JSON {
		return printJSON(env, ps)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "PEER\tADDRESS\tDIRECTION\tRELAYED\tLATENCY\tCHANNELS")
	for _, pi := range ps {
		dir := "out"
		if pi.Inbound {
			dir = "in"
		}
		addr := ""
		if len(pi.Addrs) > 0 {
			addr = pi.Addrs[0]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%.1fms\t%d\n", pi.ID, addr, dir, pi.Limited, pi.Latency, len(pi.Channels))
	}
	return nil
}

// LeaveCmd makes the daemon leave a channel.
type LeaveCmd struct {
	Channel string `arg:"" help:"The channel to leave: /channel/<cid>."`
}

func (l LeaveCmd) Run(ctx context.Context, env *Env) error {
	id, err := p2ptvd.ParseChannelID(l.Channel)
	if err != nil {
		return usageError{err}
	}
	c, err := daemonClient(ctx, env)
	if err != nil {
		return err
	}
	if err := c.Leave(ctx, id); err != nil {
		return apiError("leave "+id.Path(), err)
	}
	fmt.Fprintf(env.Stderr, "left %s\n", id.Path())
	return nil
}

// loadKeyIfAny reads the identity without creating one.
func loadKeyIfAny(dir string) (crypto.PrivKey, error) {
	if !fileExists(dir + "/" + node.IdentityFile) {
		return nil, nil
	}
	return node.LoadIdentity(dir)
}
