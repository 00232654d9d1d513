package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cli runs the built binary to completion and returns its exit code,
// standard output and standard error.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return runProg(t, bin, args...)
}

// runProg runs a program to completion (90 s at most).
func runProg(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// readyLine parses "p2ptvd daemon ready peer=<id> api=<url> addrs=<...>".
func readyLine(t *testing.T, line string) (peer, api string) {
	t.Helper()
	if !strings.HasPrefix(line, "p2ptvd daemon ready ") {
		t.Fatalf("ready line %q", line)
	}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "peer="); ok {
			peer = v
		}
		if v, ok := strings.CutPrefix(f, "api="); ok {
			api = v
		}
	}
	if peer == "" || !strings.HasPrefix(api, "http://127.0.0.1:") {
		t.Fatalf("ready line %q: no peer or api", line)
	}
	return peer, api
}

type channelInfo struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Stream  string `json:"stream"`
	Peers   int    `json:"peers"`
	Buffer  struct {
		Played uint64 `json:"played"`
	} `json:"buffer"`
}

// waitPlaying polls `p2ptvd channels --json` until the channel plays.
func waitPlaying(t *testing.T, home, id string) channelInfo {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, out, errs := cli(t, "--home", home, "channels", "--json")
		if code != 0 {
			t.Fatalf("channels: exit %d: %s", code, errs)
		}
		var cs []channelInfo
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatalf("channels --json: %v: %q", err, out)
		}
		for _, c := range cs {
			if c.Channel == id && c.State == "playing" && c.Buffer.Played > 0 {
				return c
			}
		}
		last = out
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not playing on the daemon within 45 s; channels: %s", id, last)
	return channelInfo{}
}

// TestDaemon drives a daemon process only through the CLI and the HTTP API:
// join a channel from a broadcaster, read status, channels and metrics,
// leave and join again, stop it with SIGTERM (exit 0, api file gone),
// restart it on the same home (same peer ID, the channel rejoined).
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	lo := "/ip4/127.0.0.1/tcp/0"
	boot := start(t, "bootstrap", nil, "--home", dir+"/boot", "bootstrap", "--listen", lo)
	clip, err := filepath.Abs("../media/testdata/demo.ts")
	if err != nil {
		t.Fatal(err)
	}
	caster := start(t, "broadcaster", nil, "--home", dir+"/caster", "broadcast", "--listen", lo,
		"--bootstrap", boot.first, "--name", "daemon test", "--loop", clip)
	id := caster.first
	if !strings.HasPrefix(id, "/channel/") {
		t.Fatalf("broadcaster printed %q", id)
	}

	home := dir + "/daemon"
	// No port mapping: it would probe the real network's router.
	daemonArgs := []string{"--home", home, "daemon", "--listen", lo, "--api", "127.0.0.1:0", "--bootstrap", boot.first, "--no-port-mapping"}
	d := start(t, "daemon", nil, daemonArgs...)
	peerID, api := readyLine(t, d.first)
	if b, err := os.ReadFile(home + "/api"); err != nil || strings.TrimSpace(string(b)) != api {
		t.Errorf("api file: %q, %v; want %s", b, err, api)
	}

	// join goes through the daemon: it prints the daemon's stream URL and
	// exits, leaving the daemon on the channel.
	code, out, errs := cli(t, "--home", home, "join", id)
	if code != 0 || strings.TrimSpace(out) != api+id+".ts" {
		t.Fatalf("join: exit %d, printed %q, want %s\n%s", code, out, api+id+".ts", errs)
	}
	ch := waitPlaying(t, home, id)
	if ch.Peers == 0 {
		t.Errorf("playing with no peers: %+v", ch)
	}

	code, out, errs = cli(t, "--home", home, "status", "--json")
	var st struct {
		Peer     string `json:"peer"`
		Role     string `json:"role"`
		Channels int    `json:"channels"`
		Reach    struct {
			Reachability string `json:"reachability"`
		} `json:"reach"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Peer != peerID || st.Role != "daemon" || st.Channels != 1 || st.Reach.Reachability == "" {
		t.Errorf("status --json: exit %d: %s %s", code, out, errs)
	}
	if code, out, _ := cli(t, "--home", home, "status"); code != 0 || !strings.Contains(out, peerID) || !strings.Contains(out, "hole punch") {
		t.Errorf("status: exit %d:\n%s", code, out)
	}
	if code, out, _ := cli(t, "--home", home, "peers", "--json"); code != 0 || !strings.Contains(out, `"id"`) {
		t.Errorf("peers --json: exit %d: %s", code, out)
	}

	// A player reads the stream from the daemon: MPEG-TS from a PAT.
	resp, err := http.Get(ch.Stream)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 188)
	_, err = io.ReadFull(resp.Body, head)
	resp.Body.Close()
	if err != nil || head[0] != 0x47 || head[1]&0x1f != 0 || head[2] != 0 {
		t.Errorf("stream starts % x (%v), want a PAT", head[:4], err)
	}

	// Metrics need no key; the API does.
	body := get(t, api+"/metrics", "", http.StatusOK)
	cid := strings.TrimPrefix(id, "/channel/")
	for _, want := range []string{"p2ptvd_build_info{", `p2ptvd_channel_continuity{channel="` + cid + `"`, "libp2p_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	get(t, api+"/api/v1/status", "wrong-key", http.StatusUnauthorized)
	get(t, api+"/api/v1/status", "", http.StatusUnauthorized)
	key, _ := os.ReadFile(home + "/api.key")
	get(t, api+"/api/v1/status", strings.TrimSpace(string(key)), http.StatusOK)

	// Leave, and join again so the restart below has a channel to resume.
	if code, _, errs := cli(t, "--home", home, "leave", id); code != 0 {
		t.Fatalf("leave: exit %d: %s", code, errs)
	}
	if code, out, _ := cli(t, "--home", home, "channels", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("channels after leave: exit %d: %s", code, out)
	}
	if code, _, errs := cli(t, "--home", home, "leave", id); code != 1 || !strings.Contains(errs, "not joined") {
		t.Errorf("second leave: exit %d: %s", code, errs)
	}
	if code, _, errs := cli(t, "--home", home, "join", id); code != 0 {
		t.Fatalf("join again: exit %d: %s", code, errs)
	}

	// A second daemon on the same home is refused.
	bin, _ := buildOnce()
	second := exec.Command(bin, daemonArgs...)
	if out, err := second.CombinedOutput(); second.ProcessState.ExitCode() != 5 || !strings.Contains(string(out), "in use") {
		t.Errorf("second daemon: %v, exit %d: %s", err, second.ProcessState.ExitCode(), out)
	}

	// SIGTERM: a graceful exit 0, the api file removed.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not stop within 20 s of SIGTERM\n%s", d.stderr)
	}
	if c := d.cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0\n%s", c, d.stderr)
	}
	if _, err := os.Stat(home + "/api"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api file left behind: %v", err)
	}
	if code, _, _ := cli(t, "--home", home, "status"); code != 3 {
		t.Errorf("status of a stopped daemon: exit %d, want 3", code)
	}

	// Restart: same peer ID, and the channel comes back by itself.
	d2 := start(t, "daemon again", nil, daemonArgs...)
	peer2, _ := readyLine(t, d2.first)
	if peer2 != peerID {
		t.Errorf("peer ID after restart %s, want %s", peer2, peerID)
	}
	waitPlaying(t, home, id)
	d2.stop(t, true)
}

func get(t *testing.T, url, key string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, b)
	}
	return string(b)
}
