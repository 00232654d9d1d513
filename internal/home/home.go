package home

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// File names inside a home directory.
const (
	ConfigFile   = "config.toml"
	LockFile     = "lock"
	APIFile      = "api"
	APIKeyFile   = "api.key"
	ChannelsFile = "channels.json"
)

// EnvHome names the environment variable that overrides the default home.
const EnvHome = "P2PTVD_HOME"

// Resolve picks the home directory: flag if set, else $P2PTVD_HOME, else
// p2ptvd under the user's config directory ($XDG_CONFIG_HOME, or
// ~/.config on Unix; the platform's own elsewhere). getenv is os.Getenv
// outside tests.
func Resolve(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if v := getenv(EnvHome); v != "" {
		return filepath.Abs(v)
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find home: %w (set --home or %s)", err, EnvHome)
		}
		return filepath.Join(dir, "p2ptvd"), nil
	}
	// XDG Base Directory: a relative $XDG_CONFIG_HOME is invalid and ignored.
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "p2ptvd"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "p2ptvd"), nil
	}
	return "", fmt.Errorf("find home: neither $XDG_CONFIG_HOME nor $HOME is set (set --home or %s)", EnvHome)
}

// ErrLocked is returned by Lock when another process holds the home.
var ErrLocked = errors.New("home is in use by another p2ptvd")

// Lock is a held home lock.
type Lock struct {
	fl *flock.Flock
}

// TryLock creates dir (0700) if needed and takes its lock without waiting.
// The lock is released by Unlock or when the process exits, however it
// exits, so a crash never leaves a stale lock. The error for a held lock
// wraps ErrLocked and names the holder's PID when it is known.
func TryLock(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("home %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		who := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				who = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		return nil, fmt.Errorf("%s%s: %w; stop it, or give this node its own --home", dir, who, ErrLocked)
	}
	// The PID is for the error above only; the lock is the flock.
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{fl: fl}, nil
}

// Unlock releases the lock. The lock file stays: removing it would race
// with a process that has just opened it.
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	return l.fl.Unlock()
}

// APIKey returns the API key stored in dir, creating a random one (0600) on
// first use.
func APIKey(dir string) (string, error) {
	path := filepath.Join(dir, APIKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < 16 {
			return "", fmt.Errorf("api key %s: too short (%d characters); delete it and a new one is made", path, len(k))
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("api key %s: %w", path, err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("api key: %w", err)
	}
	k := hex.EncodeToString(raw)
	if err := WriteFileAtomic(path, []byte(k+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("api key %s: %w", path, err)
	}
	return k, nil
}

// ReadAPIKey reads the API key without creating one.
func ReadAPIKey(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, APIKeyFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteAPI records the running daemon's API base URL.
func WriteAPI(dir, url string) error {
	return WriteFileAtomic(filepath.Join(dir, APIFile), []byte(url+"\n"), 0o600)
}

// RemoveAPI removes the api file; a missing file is not an error.
func RemoveAPI(dir string) error {
	err := os.Remove(filepath.Join(dir, APIFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ReadAPI returns the API base URL a daemon recorded, or an error wrapping
// fs.ErrNotExist when none runs (or it did not exit cleanly: callers treat
// an unanswered URL like no daemon).
func ReadAPI(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, APIFile))
	if err != nil {
		return "", err
	}
	url := strings.TrimSpace(string(b))
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return "", fmt.Errorf("api file %s: %q is not an http URL", filepath.Join(dir, APIFile), url)
	}
	return url, nil
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, so a crash never leaves a half-written file.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
