package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestID(t *testing.T) {
	home := t.TempDir()
	code, out, errs := runCLI(t, "--home", home, "id")
	if code != ExitOK {
		t.Fatalf("id: exit %d: %s", code, errs)
	}
	id, err := peer.Decode(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("id printed %q: %v", out, err)
	}
	// The identity persists: a second run prints the same ID.
	if _, out2, _ := runCLI(t, "--home", home, "id"); out2 != out {
		t.Errorf("second id = %q, want %q", out2, out)
	}
	info, err := os.Stat(filepath.Join(home, "identity.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("identity.key: %v, mode %v; want 0600", err, info.Mode())
	}
	b, _ := os.ReadFile(filepath.Join(home, "identity.key"))
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := peer.IDFromPrivateKey(k); want != id {
		t.Errorf("id %s does not match the key's %s", id, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCLI(t, args...)
		if code != ExitOK || !strings.HasPrefix(out, "p2ptvd ") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// Bad input gets a clear one-line error and the right exit code, never a
// panic or a hang.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notTS := filepath.Join(dir, "not.ts")
	os.WriteFile(notTS, bytes.Repeat([]byte("this is not an MPEG transport stream\n"), 4000), 0o644)
	fileAsDir := filepath.Join(dir, "file")
	os.WriteFile(fileAsDir, nil, 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	deadPeer := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(deadPort) + "/p2p/12D3KooWGRUVh3ZTV8ZbxGz5BkvAbrX5bpTKQvLrCTQK9xGsyXCd"
	lo := "/ip4/127.0.0.1/tcp/0"
	const cid = "/channel/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown command", []string{"frobnicate"}, ExitUsage, "unexpected argument"},
		{"malformed cid", []string{"join", "--home", dir + "/a", "/channel/not-a-cid"}, ExitUsage, "bad channel id"},
		{"wrong kind of cid", []string{"join", "--home", dir + "/a", "/channel/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"}, ExitUsage, "not a CIDv1 raw"},
		{"not TS", []string{"broadcast", "--home", dir + "/b", "--listen", lo, notTS}, ExitError, "not an MPEG-TS stream"},
		{"missing input", []string{"broadcast", "--home", dir + "/b", "--listen", lo, dir + "/nope.ts"}, ExitError, "no such file"},
		{"loop on stdin", []string{"broadcast", "--home", dir + "/b", "--loop", "-"}, ExitUsage, "--loop needs a file"},
		{"bad listen", []string{"join", "--home", dir + "/c", "--listen", "/ip4/nonsense", cid}, ExitError, "listen address"},
		{"bad bootstrap", []string{"join", "--home", dir + "/c", "--listen", lo, "--bootstrap", "/ip4/127.0.0.1/tcp/1", cid}, ExitError, "/p2p"},
		{"http port in use", []string{"join", "--home", dir + "/c", "--listen", lo, "--http", busy.Addr().String(), cid}, ExitError, "address already in use"},
		{"p2p port in use", []string{"bootstrap", "--home", dir + "/d", "--listen", "/ip4/127.0.0.1/tcp/" + strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)}, ExitError, "listen"},
		{"unwritable home", []string{"id", "--home", fileAsDir + "/home"}, ExitError, "not a directory"},
		{"bootstrap peer down", []string{"join", "--home", dir + "/e", "--listen", lo, "--http", "127.0.0.1:0", "--bootstrap", deadPeer, "--timeout", "3s", cid}, ExitError, "retrying"},
		{"bad log level", []string{"--log-level", "loud", "id", "--home", dir + "/f"}, ExitUsage, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
