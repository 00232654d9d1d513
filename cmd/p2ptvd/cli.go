package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2ptv/p2ptvd/internal/home"
	"github.com/p2ptv/p2ptvd/node"
)

// CLI is the command line. Each command is a struct with a Run method.
type CLI struct {
	Home      string           `help:"Node home directory: identity, config, state (default: $XDG_CONFIG_HOME/p2ptvd, i.e. ~/.config/p2ptvd)." env:"P2PTVD_HOME" type:"path" placeholder:"DIR"`
	LogLevel  string           `help:"Log level, optionally per package: info, or warn,dht=debug,gossip=info (packages: node, dht, gossip, buffer, media, api, libp2p)." default:"info" env:"P2PTVD_LOG_LEVEL" placeholder:"LEVEL"`
	LogFormat string           `help:"Log format: text or json." enum:"text,json" default:"text" env:"P2PTVD_LOG_FORMAT" placeholder:"FORMAT"`
	Version   kong.VersionFlag `help:"Print the version and exit."`

	Daemon    DaemonCmd    `cmd:"" group:"Run a node" help:"Run the long-lived node for this machine, with a local API; join channels with 'p2ptvd join'."`
	Join      JoinCmd      `cmd:"" group:"Run a node" help:"Join a channel and print its playback URL (through the daemon if one runs)."`
	Broadcast BroadcastCmd `cmd:"" group:"Run a node" help:"Broadcast a live MPEG-TS stream; prints the /channel/<cid> to share."`
	Bootstrap BootstrapCmd `cmd:"" group:"Run a node" help:"Run a bootstrap node for others (DHT server, relay, AutoNAT); prints its multiaddrs."`
	Demo      DemoCmd      `cmd:"" group:"Run a node" help:"Run a local demo channel (bootstrap + broadcaster + viewer) on a built-in clip."`

	Status   StatusCmd   `cmd:"" group:"Ask the daemon" help:"Show the daemon's peer ID, addresses, reachability and NAT traversal."`
	Channels ChannelsCmd `cmd:"" group:"Ask the daemon" help:"List the daemon's channels with buffer and mesh state."`
	Peers    PeersCmd    `cmd:"" group:"Ask the daemon" help:"List the daemon's connected peers."`
	Leave    LeaveCmd    `cmd:"" group:"Ask the daemon" help:"Make the daemon leave a channel."`

	Init       InitCmd       `cmd:"" group:"Set up" help:"Write a commented config file to the home directory."`
	ID         IDCmd         `cmd:"" group:"Set up" name:"id" help:"Print this node's peer ID (creating its identity if needed)."`
	Completion CompletionCmd `cmd:"" group:"Set up" help:"Print a shell completion script: eval \"$(p2ptvd completion bash)\"."`
	VersionC   VersionCmd    `cmd:"" group:"Set up" name:"version" help:"Print the version."`
}

// Env is what every command gets besides its flags.
type Env struct {
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	Home           string
	// Getenv is os.Getenv outside tests.
	Getenv func(string) string
	// Notify tells a service manager about the process state (sd_notify);
	// nil does nothing.
	Notify func(state string)
}

// home returns the home directory: the flag or P2PTVD_HOME, else the
// user's config directory.
func (e *Env) home() (string, error) {
	dir, err := home.Resolve(e.Home, e.getenv)
	if err != nil {
		return "", usageError{err}
	}
	return dir, nil
}

func (e *Env) notify(state string) {
	if e.Notify != nil {
		e.Notify(state)
	}
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
type VersionCmd struct {
	JSON bool `help:"Print JSON."`
}

func (v VersionCmd) Run(env *Env) error {
	if v.JSON {
		return printJSON(env, versionInfo())
	}
	fmt.Fprintln(env.Stdout, versionString())
	return nil
}

type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func versionInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// versionString is the one-line version, e.g. "p2ptvd (devel) 0123456789ab".
func versionString() string {
	b := versionInfo()
	v := "p2ptvd " + b.Version
	if len(b.Revision) >= 12 {
		v += " " + b.Revision[:12]
	}
	return v
}

func printJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runUntil blocks until ctx ends or done closes.
func runUntil(ctx context.Context, done <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-done:
	}
}
