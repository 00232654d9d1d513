package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	kad "github.com/libp2p/go-libp2p-kad-dht"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/internal/config"
	"github.com/p2ptv/p2ptvd/internal/home"
	"github.com/p2ptv/p2ptvd/node"
)

// NetFlags are the flags of every command that runs a node. A flag left
// out falls back to the environment (P2PTVD_*), then the config file, then
// the defaults (see internal/config).
type NetFlags struct {
	Config      string   `help:"Config file (default: <home>/config.toml; p2ptvd init writes a commented one)." type:"path" placeholder:"FILE"`
	Listen      []string `help:"Multiaddr to listen on; repeat for more (replaces --port)." placeholder:"MULTIADDR"`
	Port        *int     `help:"TCP and QUIC port on every interface (daemon and bootstrap default 4004; other commands any port)." placeholder:"PORT"`
	Bootstrap   []string `help:"Multiaddr (with /p2p/<id>) of a bootstrap node; repeat for more (replaces the configured list)." placeholder:"MULTIADDR"`
	NoBootstrap bool     `help:"Use no bootstrap node (a first node of a new network)."`
	Network     *string  `help:"DHT network: p2ptv (our own, served by bootstrap nodes) or amino (the public IPFS DHT)." enum:"p2ptv,amino" placeholder:"NET"`
	DHTMode     *string  `help:"DHT mode: auto (server once publicly reachable), server or client." enum:"auto,server,client" placeholder:"MODE"`
	MaxUpload   *string  `help:"Cap the stream data sent to other viewers, e.g. 5Mbit (0: no cap)." placeholder:"RATE"`
	ConsumeOnly *bool    `help:"Watch without relaying to other viewers." negatable:""`
	PortMapping *bool    `help:"Ask the router to forward the port (UPnP/NAT-PMP; on for the daemon)." negatable:""`
}

// configError marks a bad config file or environment value: exit code
// ExitConfig, which a service manager must not restart on.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// settings merges defaults, the config file, the environment and the flags.
// more, if not nil, applies flags of the caller's own before validation.
func (f NetFlags) settings(env *Env, dir string, role config.Role, more func(*config.Config)) (config.Config, error) {
	path, optional := f.Config, false
	if path == "" {
		path, optional = filepath.Join(dir, home.ConfigFile), true
	}
	c, err := config.Load(path, role, optional)
	if err != nil {
		return c, configError{err}
	}
	if err := c.ApplyEnv(env.getenv); err != nil {
		return c, configError{err}
	}
	if len(f.Listen) > 0 {
		c.Listen = f.Listen
	}
	if f.Port != nil {
		c.Port, c.Listen = *f.Port, nil
	}
	if f.Bootstrap != nil {
		c.Bootstrap = f.Bootstrap
	}
	if f.NoBootstrap {
		c.Bootstrap = []string{}
	}
	if f.Network != nil {
		c.Network = *f.Network
	}
	if f.DHTMode != nil {
		c.DHTMode = *f.DHTMode
	}
	if f.MaxUpload != nil {
		if err := c.Set("max_upload", *f.MaxUpload); err != nil {
			return c, usageError{fmt.Errorf("--max-upload: %w", err)}
		}
	}
	if f.ConsumeOnly != nil {
		c.ConsumeOnly = *f.ConsumeOnly
	}
	if f.PortMapping != nil {
		c.NAT.PortMapping = *f.PortMapping
	}
	if more != nil {
		more(&c)
	}
	if err := c.Validate(); err != nil {
		return c, configError{fmt.Errorf("settings (flags, P2PTVD_* environment, %s): %w", path, err)}
	}
	return c, nil
}

// nodeConfig turns settings into the node's configuration.
func nodeConfig(c config.Config, dir string, role config.Role, log *slog.Logger) (node.Config, error) {
	mode, err := dht.ParseMode(c.DHTMode)
	if err != nil {
		return node.Config{}, configError{err}
	}
	var amino []string
	for _, a := range kad.DefaultBootstrapPeers {
		amino = append(amino, a.String())
	}
	nc := node.Config{
		Home:           dir,
		Bootstrap:      c.BootstrapPeers(amino),
		DHTMode:        mode,
		Logger:         log,
		PortMapping:    c.NAT.PortMapping,
		HolePunching:   c.NAT.HolePunching,
		RelayClient:    c.NAT.RelayClient,
		Relays:         c.NAT.Relays,
		AutoNATService: c.NAT.AutoNATService,
		ForcePublic:    c.NAT.ForcePublic,
		MaxUpload:      int64(c.MaxUpload),
		ConsumeOnly:    c.ConsumeOnly,
	}
	if c.Network == config.NetworkAmino {
		nc.DHTProtocolPrefix = kad.DefaultPrefix
	}
	// A one-off command on any port keeps the node's own default listen
	// addresses; a service listens on its fixed port, IPv6 too.
	if len(c.Listen) > 0 || c.Port != 0 {
		nc.Listen = c.ListenAddrs()
	}
	if role != config.RoleForeground {
		nc.StrictListen = true
		nc.AutoNATv2 = true
		nc.Remember = role == config.RoleDaemon
		nc.Resources = node.Resources{
			MaxMemory: int64(c.Resources.MaxMemory), MaxFDs: c.Resources.MaxFDs,
			ConnsLow: c.Resources.ConnsLow, ConnsHigh: c.Resources.ConnsHigh,
		}
	}
	nc.SourcePeers = c.Resources.SourcePeers
	if c.Relay.Enabled {
		nc.RelayService = &node.RelayService{
			MaxReservations: c.Relay.MaxReservations, MaxCircuits: c.Relay.MaxCircuits,
			Duration: time.Duration(c.Relay.Duration), Data: int64(c.Relay.Data),
		}
	}
	return nc, nil
}

// open resolves and locks the home of a command that runs a node and
// reads its settings; unlock releases the home.
func (f NetFlags) open(env *Env, role config.Role, more func(*config.Config)) (dir string, c config.Config, unlock func(), err error) {
	if dir, err = env.home(); err != nil {
		return "", c, nil, err
	}
	lock, err := lockHome(dir)
	if err != nil {
		return "", c, nil, err
	}
	if c, err = f.settings(env, dir, role, more); err != nil {
		lock.Unlock()
		return "", c, nil, err
	}
	return dir, c, func() { lock.Unlock() }, nil
}

// foreground opens the home of a one-off command and returns its node
// configuration.
func (f NetFlags) foreground(env *Env) (node.Config, func(), error) {
	dir, c, unlock, err := f.open(env, config.RoleForeground, nil)
	if err != nil {
		return node.Config{}, nil, err
	}
	nc, err := nodeConfig(c, dir, config.RoleForeground, env.Log)
	if err != nil {
		unlock()
		return nc, nil, err
	}
	return nc, unlock, nil
}

// lockHome takes the home's lock for a command that runs a node.
func lockHome(dir string) (*home.Lock, error) {
	l, err := home.TryLock(dir)
	if errors.Is(err, home.ErrLocked) {
		return nil, lockedError{err}
	}
	return l, err
}

// lockedError marks a home held by another process: ExitLocked.
type lockedError struct{ error }

func (e lockedError) Unwrap() error { return e.error }

func (e *Env) getenv(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}
