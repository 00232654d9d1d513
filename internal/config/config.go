package config

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Role says which command the settings are for; the defaults differ.
type Role int

const (
	// RoleDaemon is `p2ptvd daemon`: a home node behind NAT, running for weeks.
	RoleDaemon Role = iota
	// RoleBootstrap is `p2ptvd bootstrap`: an operator's public node.
	RoleBootstrap
	// RoleForeground is a one-off command (join, broadcast): any free port.
	RoleForeground
)

// Networks a node can join.
const (
	// NetworkP2PTV is p2ptvd's own DHT (/p2ptv/kad/1.0.0), served by
	// bootstrap nodes that operators run.
	NetworkP2PTV = "p2ptv"
	// NetworkAmino is the public IPFS DHT (/ipfs/kad/1.0.0) and its default
	// bootstrap peers: reachable with no servers of our own.
	NetworkAmino = "amino"
)

// DefaultPort is the TCP and QUIC port of a daemon and a bootstrap node:
// fixed so a router can forward it.
const DefaultPort = 4004

// DefaultAPI is the daemon's API address.
const DefaultAPI = "127.0.0.1:5580"

// DefaultBootstrap is the p2ptv network's public bootstrap list. It is
// empty: no public bootstrap nodes are run for the project yet. Set
// `bootstrap` to your operators' nodes, or use network = "amino".
func DefaultBootstrap() []string { return []string{} }

// Config is every setting. Field tags give the file keys; env names and
// flags derive from them (see the package doc).
type Config struct {
	// Port is the TCP and QUIC port on every interface; 0 lets the system
	// pick. Listen, when set, replaces it.
	Port int `toml:"port"`
	// Listen are explicit multiaddrs to listen on.
	Listen []string `toml:"listen"`
	// Bootstrap are multiaddrs (with /p2p/<id>) to join the DHT through.
	// Unset means the network's default list; empty means none.
	Bootstrap []string `toml:"bootstrap"`
	// Network is "p2ptv" (our own DHT) or "amino" (the public IPFS DHT).
	Network string `toml:"network"`
	// DHTMode is auto (server once publicly reachable), server or client.
	DHTMode string `toml:"dht_mode"`
	// MaxUpload caps the stream data this node sends to others, bits/s.
	MaxUpload Rate `toml:"max_upload"`
	// ConsumeOnly watches without relaying to other viewers.
	ConsumeOnly bool `toml:"consume_only"`
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	API       API       `toml:"api"`
	NAT       NAT       `toml:"nat"`
	Resources Resources `toml:"resources"`
	Relay     Relay     `toml:"relay_service"`
}

// API is the local HTTP API.
type API struct {
	// Listen is a loopback host:port; empty turns the API off.
	Listen string `toml:"listen"`
}

// NAT says how a node behind a router makes itself reachable.
type NAT struct {
	PortMapping  bool `toml:"port_mapping"`  // UPnP / NAT-PMP
	HolePunching bool `toml:"hole_punching"` // DCUtR
	RelayClient  bool `toml:"relay_client"`  // circuit v2 reservations while unreachable
	// Relays are the circuit relays to reserve with; unset means the
	// bootstrap nodes (operators run relays on them).
	Relays []string `toml:"relays"`
	// AutoNATService answers other nodes' reachability probes.
	AutoNATService bool `toml:"autonat_service"`
	// ForcePublic skips AutoNAT and declares the node publicly reachable:
	// for operators' nodes on a public address (the first bootstrap node
	// has nobody to confirm it, and the relay service runs only while
	// public).
	ForcePublic bool `toml:"force_public"`
}

// Resources bound what libp2p may use.
type Resources struct {
	MaxMemory Size `toml:"max_memory"`
	MaxFDs    int  `toml:"max_fds"`
	ConnsLow  int  `toml:"conns_low"`
	ConnsHigh int  `toml:"conns_high"`
	// SourcePeers bounds the inbound connections a broadcasting node
	// accepts; 0, the default, is no bound.
	SourcePeers int `toml:"source_peers"`
}

// Relay is the circuit-relay v2 service an operator's node offers.
type Relay struct {
	Enabled         bool     `toml:"enabled"`
	MaxReservations int      `toml:"max_reservations"`
	MaxCircuits     int      `toml:"max_circuits"`
	Duration        Duration `toml:"duration"` // per relayed connection
	Data            Size     `toml:"data"`     // per relayed connection, each way
}

// Default returns the built-in settings for role.
func Default(role Role) Config {
	c := Config{
		Port:            DefaultPort,
		Network:         NetworkP2PTV,
		DHTMode:         "auto",
		ShutdownTimeout: Duration(10 * time.Second),
		API:             API{Listen: DefaultAPI},
		NAT:             NAT{PortMapping: true, HolePunching: true, RelayClient: true},
		// A home machine: a quarter of libp2p's autoscaled defaults on a
		// small box, enough for a few channels and the DHT.
		Resources: Resources{MaxMemory: 512 << 20, MaxFDs: 512, ConnsLow: 64, ConnsHigh: 192},
		Relay:     Relay{MaxReservations: 128, MaxCircuits: 16, Duration: Duration(2 * time.Minute), Data: 128 << 10},
	}
	switch role {
	case RoleBootstrap:
		c.DHTMode = "server"
		c.API.Listen = "" // operators turn it on (the unit file does)
		c.NAT = NAT{AutoNATService: true, ForcePublic: true}
		c.Relay.Enabled = true
		c.Resources = Resources{MaxMemory: 2 << 30, MaxFDs: 4096, ConnsLow: 400, ConnsHigh: 800}
	case RoleForeground:
		c.Port = 0
		c.API.Listen = ""
		c.NAT.PortMapping = false // a short-lived command leaves no mappings behind
	}
	return c
}

// Load returns the defaults for role overlaid with the file at path. A
// missing file is not an error when optional is set (the default path).
func Load(path string, role Role, optional bool) (Config, error) {
	c := Default(role)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && optional {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.decode(string(b)); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) decode(text string) error {
	md, err := toml.Decode(text, c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				return fmt.Errorf("line %d, %s: %s", pe.Position.Line, pe.LastKey, pe.Message)
			}
			return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		key := und[0].String()
		return fmt.Errorf("unknown key %q (known keys: %s)", key, strings.Join(Keys(), ", "))
	}
	return nil
}

// ErrUnknownKey is returned by Set for a key no setting has.
var ErrUnknownKey = errors.New("unknown setting")

// Set overrides one setting from text, as the environment and flags do: a
// list is comma-separated ("none" or "" is the empty list), a bool is
// true/false/1/0/yes/no.
func (c *Config) Set(key, value string) error {
	f, ok := field(reflect.ValueOf(c).Elem(), strings.Split(key, "."))
	if !ok {
		return fmt.Errorf("%s: %w", key, ErrUnknownKey)
	}
	if err := setText(f, value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// EnvName is the environment variable for a key: nat.port_mapping →
// P2PTVD_NAT_PORT_MAPPING.
func EnvName(key string) string {
	return "P2PTVD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// ApplyEnv overrides the settings whose P2PTVD_* variable is set and not
// empty. The error names the variable.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	for _, k := range Keys() {
		v := getenv(EnvName(k))
		if v == "" {
			continue
		}
		if err := c.Set(k, v); err != nil {
			return fmt.Errorf("environment %s: %w", EnvName(k), err)
		}
	}
	return nil
}

// Keys lists every setting's key, sorted.
func Keys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + f.Tag.Get("toml")
			if f.Type.Kind() == reflect.Struct && !isText(f.Type) {
				walk(f.Type, name+".")
				continue
			}
			keys = append(keys, name)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(keys)
	return keys
}

var textType = reflect.TypeFor[encoding.TextUnmarshaler]()

func isText(t reflect.Type) bool { return reflect.PointerTo(t).Implements(textType) }

func field(v reflect.Value, path []string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("toml") != path[0] {
			continue
		}
		f := v.Field(i)
		if len(path) == 1 {
			return f, f.Kind() != reflect.Struct || isText(f.Type())
		}
		if f.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		return field(f, path[1:])
	}
	return reflect.Value{}, false
}

func setText(f reflect.Value, s string) error {
	if isText(f.Type()) {
		return f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(strings.TrimSpace(s))
	case reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "true", "yes", "on":
			f.SetBool(true)
		case "0", "false", "no", "off":
			f.SetBool(false)
		default:
			return fmt.Errorf("%q: want true or false", s)
		}
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q: want a whole number", s)
		}
		f.SetInt(int64(n))
	case reflect.Slice:
		list := []string{}
		if t := strings.TrimSpace(s); t != "" && t != "none" {
			for _, part := range strings.Split(t, ",") {
				if part = strings.TrimSpace(part); part != "" {
					list = append(list, part)
				}
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot set a %s", f.Kind())
	}
	return nil
}

// Validate checks every value and says which key is wrong and why.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port", "%d is not a port (0-65535)", c.Port)
	}
	if !slices.Contains([]string{NetworkP2PTV, NetworkAmino}, c.Network) {
		bad("network", "%q: want %q or %q", c.Network, NetworkP2PTV, NetworkAmino)
	}
	if !slices.Contains([]string{"auto", "server", "client"}, c.DHTMode) {
		bad("dht_mode", "%q: want auto, server or client", c.DHTMode)
	}
	if c.MaxUpload < 0 {
		bad("max_upload", "negative")
	}
	if d := time.Duration(c.ShutdownTimeout); d <= 0 || d > 5*time.Minute {
		bad("shutdown_timeout", "%s: want between 1s and 5m", d)
	}
	if c.API.Listen != "" {
		if err := loopbackAddr(c.API.Listen); err != nil {
			bad("api.listen", "%v", err)
		}
	}
	r := c.Resources
	if r.MaxMemory < 64<<20 {
		bad("resources.max_memory", "%s: want at least 64MiB", r.MaxMemory)
	}
	if r.MaxFDs < 64 {
		bad("resources.max_fds", "%d: want at least 64", r.MaxFDs)
	}
	if r.ConnsLow < 1 || r.ConnsHigh <= r.ConnsLow {
		bad("resources.conns_low", "want 0 < conns_low (%d) < conns_high (%d)", r.ConnsLow, r.ConnsHigh)
	}
	if r.SourcePeers < 0 {
		bad("resources.source_peers", "%d: want 0 (no bound) or more", r.SourcePeers)
	}
	if c.Relay.Enabled {
		if c.Relay.MaxReservations < 1 || c.Relay.MaxCircuits < 1 {
			bad("relay_service", "max_reservations and max_circuits must be at least 1")
		}
		if c.Relay.Duration <= 0 || c.Relay.Data <= 0 {
			bad("relay_service", "duration and data must be positive")
		}
	}
	return errors.Join(errs...)
}

// loopbackAddr accepts host:port where host is a loopback IP or
// "localhost": the API controls the node and must not face the network.
func loopbackAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want HOST:PORT, e.g. %s", s, DefaultAPI)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: bad port", s)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: not a loopback address; the API controls the node and listens on this machine only", s)
	}
	return nil
}

// BootstrapPeers returns the bootstrap list in force: the configured one,
// or the network's default when none is configured.
func (c Config) BootstrapPeers(aminoDefaults []string) []string {
	if c.Bootstrap != nil {
		return c.Bootstrap
	}
	if c.Network == NetworkAmino {
		return aminoDefaults
	}
	return DefaultBootstrap()
}

// ListenAddrs returns the explicit listen list, or TCP and QUIC on Port on
// every IPv4 and IPv6 interface.
func (c Config) ListenAddrs() []string {
	if len(c.Listen) > 0 {
		return c.Listen
	}
	p := strconv.Itoa(c.Port)
	return []string{
		"/ip4/0.0.0.0/tcp/" + p, "/ip4/0.0.0.0/udp/" + p + "/quic-v1",
		"/ip6/::/tcp/" + p, "/ip6/::/udp/" + p + "/quic-v1",
	}
}
