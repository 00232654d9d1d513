package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		err  bool
	}{
		{"5Mbit", 5e6, false},
		{"5 Mbit/s", 5e6, false},
		{"5mbit", 5e6, false},
		{"5Mbps", 5e6, false},
		{"500kbit", 5e5, false},
		{"1.5Gbit", 1.5e9, false},
		{"2MB/s", 16e6, false},
		{"1000000", 1e6, false},
		{"0", 0, false},
		{"", 0, false},
		{"unlimited", 0, false},
		{"5 parsecs", 0, true},
		{"-5Mbit", 0, true},
		{"Mbit", 0, true},
		{"100bit", 0, true}, // too small to carry a stream
		{"1e400Gbit", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := Rate(5e6).String(); s != "5Mbit" {
		t.Errorf("String = %q", s)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"512MiB", 512 << 20, false},
		{"1GiB", 1 << 30, false},
		{"500MB", 500e6, false},
		{"64k", 64e3, false},
		{"1024", 1024, false},
		{"12 parsecs", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	p := write(t, `
port = 4100
max_upload = "5Mbit"
bootstrap = []
[nat]
port_mapping = false
[resources]
max_memory = "1GiB"
`)
	c, err := Load(p, RoleDaemon, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Default(RoleDaemon)
	want.Port, want.MaxUpload, want.Bootstrap = 4100, 5e6, []string{}
	want.NAT.PortMapping = false
	want.Resources.MaxMemory = 1 << 30
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", c, want)
	}
	if got := c.BootstrapPeers([]string{"amino"}); got == nil || len(got) != 0 {
		t.Errorf("bootstrap = [] gave %v, want none", got)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}

	if c, err := Load(filepath.Join(t.TempDir(), "none.toml"), RoleDaemon, true); err != nil || !reflect.DeepEqual(c, Default(RoleDaemon)) {
		t.Errorf("missing optional file: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.toml"), RoleDaemon, false); err == nil {
		t.Error("missing file named with --config accepted")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "prot = 1\n", `unknown key "prot"`},
		{"unknown nested key", "[nat]\nport_maping = true\n", `unknown key "nat.port_maping"`},
		{"unknown table", "[natt]\nx = 1\n", `unknown key "natt`},
		{"syntax", "port = = 3\n", "line 1"},
		{"wrong type", "port = \"many\"\n", "port"},
		{"bad rate", "max_upload = \"5 parsecs\"\n", "unknown unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.text), RoleDaemon, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "config.toml") {
				t.Errorf("Load: %v; want an error naming the file and saying %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"port", func(c *Config) { c.Port = 70000 }, "port: 70000"},
		{"network", func(c *Config) { c.Network = "ipfs" }, "network"},
		{"dht mode", func(c *Config) { c.DHTMode = "both" }, "dht_mode"},
		{"public api", func(c *Config) { c.API.Listen = "0.0.0.0:5580" }, "not a loopback"},
		{"api without port", func(c *Config) { c.API.Listen = "127.0.0.1" }, "HOST:PORT"},
		{"memory", func(c *Config) { c.Resources.MaxMemory = 1 << 20 }, "max_memory"},
		{"conns", func(c *Config) { c.Resources.ConnsHigh = 10 }, "conns_low"},
		{"source peers", func(c *Config) { c.Resources.SourcePeers = -1 }, "source_peers"},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout"},
		{"relay", func(c *Config) { c.Relay.Enabled, c.Relay.MaxCircuits = true, 0 }, "relay_service"},
	}
	for _, tt := range tests {
		c := Default(RoleDaemon)
		tt.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
	for _, r := range []Role{RoleDaemon, RoleBootstrap, RoleForeground} {
		if err := Default(r).Validate(); err != nil {
			t.Errorf("defaults of role %d: %v", r, err)
		}
	}
	c := Default(RoleDaemon)
	c.API.Listen = "[::1]:0"
	if err := c.Validate(); err != nil {
		t.Errorf("IPv6 loopback refused: %v", err)
	}
}

// Flags beat the environment, which beats the file, which beats defaults.
func TestPrecedence(t *testing.T) {
	c, err := Load(write(t, "port = 1\nmax_upload = \"1Mbit\"\nconsume_only = true\n[nat]\nrelays = [\"/a\"]\n"), RoleDaemon, false)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"P2PTVD_PORT":             "2",
		"P2PTVD_MAX_UPLOAD":       "2Mbit",
		"P2PTVD_NAT_RELAYS":       "/b, /c",
		"P2PTVD_SHUTDOWN_TIMEOUT": "3s",
	}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("port", "3"); err != nil { // a flag
		t.Fatal(err)
	}
	if c.Port != 3 || c.MaxUpload != 2e6 || !c.ConsumeOnly || !reflect.DeepEqual(c.NAT.Relays, []string{"/b", "/c"}) ||
		time.Duration(c.ShutdownTimeout) != 3*time.Second || c.API.Listen != DefaultAPI {
		t.Errorf("got %+v", c)
	}
	err = c.ApplyEnv(func(k string) string {
		if k == "P2PTVD_NAT_PORT_MAPPING" {
			return "maybe"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "P2PTVD_NAT_PORT_MAPPING") {
		t.Errorf("bad env value: %v, want an error naming the variable", err)
	}
	if err := c.Set("nat", "x"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Set(table) = %v", err)
	}
	if err := c.Set("nope", "x"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Set(unknown) = %v", err)
	}
	if err := c.Set("bootstrap", "none"); err != nil || c.Bootstrap == nil || len(c.Bootstrap) != 0 {
		t.Errorf("bootstrap none: %v, %#v", err, c.Bootstrap)
	}
}

// The example file decodes with no unknown key, both as written (all
// commented: the defaults) and with every setting uncommented (each one at
// its default value).
func TestExample(t *testing.T) {
	c, err := Load(write(t, Example), RoleDaemon, false)
	if err != nil || !reflect.DeepEqual(c, Default(RoleDaemon)) {
		t.Fatalf("example as written: %v\n%+v", err, c)
	}
	var lines []string
	seen := map[string]bool{}
	table := ""
	for _, l := range strings.Split(Example, "\n") {
		if strings.HasPrefix(l, "[") {
			table = strings.Trim(l, "[]") + "."
		}
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "# "), " = "); ok && strings.HasPrefix(l, "# ") && !strings.Contains(k, " ") {
			l = strings.TrimPrefix(l, "# ")
			seen[table+k] = true
		}
		lines = append(lines, l)
	}
	if _, err := Load(write(t, strings.Join(lines, "\n")), RoleDaemon, false); err != nil {
		t.Fatalf("example uncommented: %v", err)
	}
	// Every key is documented in the example.
	for _, k := range Keys() {
		if !seen[k] {
			t.Errorf("example does not show %s", k)
		}
	}
}

func TestListenAddrs(t *testing.T) {
	c := Default(RoleDaemon)
	if got := c.ListenAddrs(); len(got) != 4 || got[0] != "/ip4/0.0.0.0/tcp/4004" || got[1] != "/ip4/0.0.0.0/udp/4004/quic-v1" {
		t.Errorf("ListenAddrs = %v", got)
	}
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	if got := c.ListenAddrs(); len(got) != 1 {
		t.Errorf("explicit listen = %v", got)
	}
	if got := c.BootstrapPeers([]string{"amino"}); len(got) != 0 {
		t.Errorf("default p2ptv bootstrap = %v", got)
	}
	c.Network = NetworkAmino
	if got := c.BootstrapPeers([]string{"amino"}); len(got) != 1 {
		t.Errorf("amino bootstrap = %v", got)
	}
}
