package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2ptv/p2ptvd/internal/home"
)

// The daemon, bootstrap and the daemon-facing commands refuse bad settings
// and situations with a clear message and the exit code a service manager
// acts on, before they start a node.
func TestDaemonBadInput(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "badkey.toml")
	os.WriteFile(badKey, []byte("[nat]\nport_maping = false\n"), 0o600)
	badValue := filepath.Join(dir, "badvalue.toml")
	os.WriteFile(badValue, []byte("max_upload = \"fast\"\n"), 0o600)
	badSyntax := filepath.Join(dir, "badsyntax.toml")
	os.WriteFile(badSyntax, []byte("port = \n"), 0o600)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	locked := filepath.Join(dir, "locked")
	l, err := home.TryLock(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()

	// Fast flags so a daemon that wrongly starts does not hang the test.
	lo := []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--no-bootstrap", "--no-port-mapping"}
	const cid = "/channel/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		contains string
	}{
		{"unknown config key", append([]string{"daemon", "--home", dir + "/a", "--config", badKey}, lo...), nil, ExitConfig, `unknown key "nat.port_maping"`},
		{"bad config value", append([]string{"daemon", "--home", dir + "/a", "--config", badValue}, lo...), nil, ExitConfig, "max_upload"},
		{"config syntax", append([]string{"daemon", "--home", dir + "/a", "--config", badSyntax}, lo...), nil, ExitConfig, "line 1"},
		{"missing config file", append([]string{"daemon", "--home", dir + "/a", "--config", dir + "/none.toml"}, lo...), nil, ExitConfig, "none.toml"},
		{"bad env value", append([]string{"daemon", "--home", dir + "/a"}, lo...), map[string]string{"P2PTVD_NAT_PORT_MAPPING": "perhaps"}, ExitConfig, "P2PTVD_NAT_PORT_MAPPING"},
		{"public api", append([]string{"daemon", "--home", dir + "/a", "--api", "0.0.0.0:5580"}, lo...), nil, ExitConfig, "loopback"},
		{"bad max upload", append([]string{"daemon", "--home", dir + "/a", "--max-upload", "lots"}, lo...), nil, ExitUsage, "--max-upload"},
		{"api port in use", append([]string{"daemon", "--home", dir + "/b", "--api", busy.Addr().String()}, lo...), nil, ExitError, "address already in use"},
		{"p2p port in use", []string{"daemon", "--home", dir + "/c", "--api", "", "--no-bootstrap", "--no-port-mapping", "--listen", "/ip4/127.0.0.1/tcp/" + strings.Split(busy.Addr().String(), ":")[1]}, nil, ExitError, "listen"},
		{"locked home", append([]string{"daemon", "--home", locked}, lo...), nil, ExitLocked, "in use by another p2ptvd"},
		{"locked home, bootstrap", append([]string{"bootstrap", "--home", locked}, lo...), nil, ExitLocked, "in use"},
		{"locked home, broadcast", []string{"broadcast", "--home", locked, "-"}, nil, ExitLocked, "in use"},
		{"status without daemon", []string{"status", "--home", dir + "/d"}, nil, ExitNotRunning, "no daemon running"},
		{"channels without daemon", []string{"channels", "--home", dir + "/d"}, nil, ExitNotRunning, "p2ptvd daemon"},
		{"peers without daemon", []string{"peers", "--home", dir + "/d"}, nil, ExitNotRunning, "no daemon"},
		{"leave without daemon", []string{"leave", "--home", dir + "/d", cid}, nil, ExitNotRunning, "no daemon"},
		{"leave bad channel", []string{"leave", "--home", dir + "/d", "/channel/x"}, nil, ExitUsage, "bad channel id"},
		{"bad per-package level", []string{"--log-level", "info,dht=loud", "id", "--home", dir + "/e"}, nil, ExitUsage, "loud"},
		{"completion for a shell we lack", []string{"completion", "tcsh"}, nil, ExitUsage, "bash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(errs, tt.contains) {
				t.Errorf("stderr does not say %q:\n%s", tt.contains, errs)
			}
			if strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", errs)
			}
		})
	}
}

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	code, out, errs := runCLI(t, "--home", dir, "init")
	if code != ExitOK || strings.TrimSpace(out) != filepath.Join(dir, "config.toml") || !strings.Contains(errs, "peer 12D3") {
		t.Fatalf("init: %d %q %q", code, out, errs)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	if !strings.Contains(string(b), "# max_upload") {
		t.Errorf("config.toml is not the commented example:\n%s", b)
	}
	if code, _, errs := runCLI(t, "--home", dir, "init"); code != ExitError || !strings.Contains(errs, "--force") {
		t.Errorf("second init: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "--home", dir, "init", "--force"); code != ExitOK {
		t.Errorf("init --force: %d", code)
	}
}

func TestVersionJSONAndHelp(t *testing.T) {
	code, out, _ := runCLI(t, "version", "--json")
	var v buildInfo
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("version --json: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "--help")
	for _, want := range []string{"daemon", "status", "Exit codes", "P2PTVD_MAX_UPLOAD", "config.toml"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
	code, out, _ = runCLI(t, "daemon", "--help")
	for _, want := range []string{"--max-upload", "--api", "SIGTERM", "Examples:"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("daemon --help does not mention %q", want)
		}
	}
	code, out, _ = runCLI(t, "completion", "bash")
	if code != ExitOK || !strings.HasPrefix(out, "complete -C ") {
		t.Errorf("completion bash: %d %q", code, out)
	}
}
