package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/alecthomas/kong"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/node"
)

// CLI is the command line. Each command is a struct with a Run method.
type CLI struct {
	Home      string           `help:"Node home directory: identity and state (default: <user config dir>/p2ptvd)." env:"P2PTVD_HOME" type:"path" placeholder:"DIR"`
	LogLevel  string           `help:"Log level: debug, info, warn, error." default:"info" env:"P2PTVD_LOG_LEVEL" placeholder:"LEVEL"`
	LogFormat string           `help:"Log format: text or json." enum:"text,json" default:"text" env:"P2PTVD_LOG_FORMAT" placeholder:"FORMAT"`
	Version   kong.VersionFlag `help:"Print the version and exit."`

	ID        IDCmd        `cmd:"" name:"id" help:"Print this node's peer ID (creating its identity if needed)."`
	Bootstrap BootstrapCmd `cmd:"" help:"Run a DHT server for other nodes to bootstrap from; prints its multiaddrs."`
	Broadcast BroadcastCmd `cmd:"" help:"Broadcast a live MPEG-TS stream; prints the /channel/<cid> to share."`
	Join      JoinCmd      `cmd:"" help:"Join a channel and serve it to a local player; prints the playback URL."`
	Demo      DemoCmd      `cmd:"" help:"Run a local demo channel (bootstrap + broadcaster + viewer) on a built-in clip."`
	VersionC  VersionCmd   `cmd:"" name:"version" help:"Print the version."`
}

// Env is what every command gets besides its flags.
type Env struct {
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	Home           string
}

// home returns the home directory: the flag or P2PTVD_HOME, else the
// user's config directory.
func (e *Env) home() (string, error) {
	if e.Home != "" {
		return e.Home, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", usageError{fmt.Errorf("no home directory: set --home or P2PTVD_HOME (%v)", err)}
	}
	return filepath.Join(dir, "p2ptvd"), nil
}

// NetFlags are the flags of every command that runs a node.
type NetFlags struct {
	Listen    []string `help:"Multiaddr to listen on; repeat for more (default: all interfaces, TCP and QUIC, any port)." placeholder:"MULTIADDR"`
	Bootstrap []string `help:"Multiaddr (with /p2p/<id>) of a bootstrap node; repeat for more." placeholder:"MULTIADDR" env:"P2PTVD_BOOTSTRAP" sep:","`
	DHTMode   string   `help:"DHT mode: auto (server once publicly reachable), server or client." default:"auto" enum:"auto,server,client"`
}

func (f NetFlags) config(home string, log *slog.Logger) (node.Config, error) {
	mode, err := dht.ParseMode(f.DHTMode)
	if err != nil {
		return node.Config{}, usageError{err}
	}
	return node.Config{Home: home, Listen: f.Listen, Bootstrap: f.Bootstrap, DHTMode: mode, Logger: log}, nil
}

// IDCmd prints the peer ID.
type IDCmd struct{}

func (IDCmd) Run(env *Env) error {
	home, err := env.home()
	if err != nil {
		return err
	}
	k, err := node.LoadIdentity(home)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, id)
	return nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

func (VersionCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, versionString())
	return nil
}

func versionString() string {
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	return "p2ptvd " + v
}

// runUntil blocks until ctx ends or done closes.
func runUntil(ctx context.Context, done <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-done:
	}
}
