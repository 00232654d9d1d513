package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2ptv/p2ptvd/internal/api"
	"github.com/p2ptv/p2ptvd/internal/config"
	"github.com/p2ptv/p2ptvd/internal/home"
	"github.com/p2ptv/p2ptvd/internal/metrics"
	"github.com/p2ptv/p2ptvd/node"
)

// ServiceFlags are the flags of the long-running nodes.
type ServiceFlags struct {
	NetFlags
	API *string `help:"Local API, /metrics and stream address (loopback only; daemon default 127.0.0.1:5580, bootstrap default off; \"\" turns it off)." placeholder:"HOST:PORT"`
}

// DaemonCmd runs the long-lived node of a home machine.
type DaemonCmd struct {
	ServiceFlags
}

func (DaemonCmd) Help() string {
	return `The daemon keeps a node running for this machine: it joins the DHT,
keeps the channels you join through 'p2ptvd join' (and rejoins them after a
restart), relays them to other viewers, and serves them to players at
http://127.0.0.1:5580/channel/<cid>.ts.

It prints one ready line with its peer ID, API URL and addresses, writes the
API URL to <home>/api while it runs (the CLI finds it there), and answers
/api/v1/ (key in <home>/api.key), /metrics and /healthz. The first SIGINT
or SIGTERM shuts it down gracefully (within shutdown_timeout); a second
forces exit. Under systemd (Type=notify) it reports readiness.

Settings: flags beat P2PTVD_* variables, which beat <home>/config.toml
(p2ptvd init writes a commented one), which beats the defaults.

Examples:
  p2ptvd daemon --bootstrap /dns4/boot.example.org/tcp/4004/p2p/12D3KooW...
  p2ptvd daemon --port 4010 --max-upload 5Mbit
  p2ptvd join /channel/bafkrei...     # in another terminal: joins through the daemon`
}

func (d *DaemonCmd) Run(ctx context.Context, env *Env) error {
	return runService(ctx, env, d.ServiceFlags, config.RoleDaemon, nil)
}

// runService runs a daemon or bootstrap node until ctx ends. ready, if not
// nil, prints the ready output instead of the daemon's ready line.
func runService(ctx context.Context, env *Env, f ServiceFlags, role config.Role, ready func(*node.Node, string)) error {
	dir, c, unlock, err := f.open(env, role, func(c *config.Config) {
		if f.API != nil {
			c.API.Listen = *f.API
		}
	})
	if err != nil {
		return err
	}
	defer unlock()
	roleName := "daemon"
	if role == config.RoleBootstrap {
		roleName = "bootstrap"
	}
	log := env.Log.With("pkg", "node")

	// Bind the API first: a taken port fails before the node starts.
	var ln net.Listener
	var key string
	if c.API.Listen != "" {
		if key, err = home.APIKey(dir); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", c.API.Listen); err != nil {
			return fmt.Errorf("api listener %s: %w (set api.listen or --api to another port)", c.API.Listen, err)
		}
		defer ln.Close()
	}
	nc, err := nodeConfig(c, dir, role, env.Log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	nc.Metrics = reg
	n, err := node.New(nc)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			n.Close()
		}
	}()
	if err := metrics.Register(reg, n, versionString(), roleName); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var srv *http.Server
	base := ""
	if ln != nil {
		base = "http://" + ln.Addr().String()
		srv = &http.Server{
			Handler: api.New(api.Config{
				Node: n, Key: key, Version: versionString(), Role: roleName,
				Metrics: reg, BaseURL: base, Logger: env.Log.With("pkg", "api"),
			}),
			ReadHeaderTimeout: 10 * time.Second,
		}
		go srv.Serve(ln)
		if err := home.WriteAPI(dir, base); err != nil {
			return fmt.Errorf("api file: %w", err)
		}
		defer home.RemoveAPI(dir)
	}

	var wg sync.WaitGroup
	bctx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	if len(nc.Bootstrap) == 0 && role == config.RoleDaemon {
		log.Warn("no bootstrap nodes configured: this node finds channels only through peers that dial it; set bootstrap in config.toml, --bootstrap, or network = \"amino\"")
	}
	wg.Go(func() {
		if err := n.Bootstrap(bctx); err != nil && bctx.Err() == nil {
			log.Warn("bootstrap failed", "err", err)
		}
	})
	if role == config.RoleDaemon {
		if err := n.Resume(); err != nil {
			log.Warn("cannot rejoin the channels of the last run", "err", err)
		} else if ids, _ := n.Remembered(); len(ids) > 0 {
			log.Info("rejoining the channels of the last run", "channels", len(ids))
		}
	}

	addrs := make([]string, 0)
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	if ready != nil {
		ready(n, base)
	} else {
		fmt.Fprintf(env.Stdout, "p2ptvd %s ready peer=%s api=%s addrs=%s\n", roleName, n.ID(), orNone(base), strings.Join(addrs, ","))
	}
	log.Info(roleName+" ready", "peer", n.ID(), "api", orNone(base), "home", dir, "max_upload", c.MaxUpload, "consume_only", c.ConsumeOnly)
	env.notify(fmt.Sprintf("READY=1\nSTATUS=peer %s, api %s", n.ID(), orNone(base)))

	<-ctx.Done()
	env.notify("STOPPING=1")
	timeout := time.Duration(c.ShutdownTimeout)
	log.Info("shutting down", "bound", timeout)
	done := make(chan error, 1)
	go func() {
		// The api file goes first, so the CLI stops finding a daemon that
		// is leaving; closing the node ends the players' streams, which
		// lets the HTTP server shut down.
		home.RemoveAPI(dir)
		err := n.Close()
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
			cancel()
		}
		stopBoot()
		wg.Wait()
		done <- err
	}()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			log.Warn("shutdown", "err", err)
		}
		log.Info("stopped")
		return nil
	case <-time.After(timeout):
		return errShutdownTimeout{timeout}
	}
}

type errShutdownTimeout struct{ bound time.Duration }

func (e errShutdownTimeout) Error() string {
	return fmt.Sprintf("shutdown took longer than %s (shutdown_timeout); exiting anyway", e.bound)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
