package home

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG rules apply on Linux")
	}
	cwd, _ := os.Getwd()
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag wins", "/srv/p2ptvd", map[string]string{EnvHome: "/env", "HOME": "/home/u"}, "/srv/p2ptvd"},
		{"relative flag made absolute", "rel", nil, filepath.Join(cwd, "rel")},
		{"env over xdg", "", map[string]string{EnvHome: "/env", "XDG_CONFIG_HOME": "/x"}, "/env"},
		{"xdg config home", "", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/home/u"}, "/x/p2ptvd"},
		{"relative xdg ignored", "", map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/home/u"}, "/home/u/.config/p2ptvd"},
		{"home fallback", "", map[string]string{"HOME": "/home/u"}, "/home/u/.config/p2ptvd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.flag, func(k string) string { return tt.env[k] })
			if err != nil || got != tt.want {
				t.Errorf("Resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := Resolve("", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--home") {
		t.Errorf("no env at all: %v, want an error that suggests --home", err)
	}
}

func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	l, err := TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") || !strings.Contains(err.Error(), dir) {
		t.Errorf("second lock: %v; want ErrLocked naming the home and the pid", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryLock(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("home mode %v, want 0700", fi.Mode().Perm())
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := TryLock(filepath.Join(file, "home")); err == nil {
		t.Error("home under a file locked")
	}
}

func TestAPIKey(t *testing.T) {
	dir := t.TempDir()
	k, err := APIKey(dir)
	if err != nil || len(k) != 48 {
		t.Fatalf("APIKey = %q, %v", k, err)
	}
	if k2, _ := APIKey(dir); k2 != k {
		t.Errorf("second APIKey = %q, want the stored %q", k2, k)
	}
	if fi, _ := os.Stat(filepath.Join(dir, APIKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("api.key mode %v, want 0600", fi.Mode().Perm())
	}
	if got, _ := ReadAPIKey(dir); got != k {
		t.Errorf("ReadAPIKey = %q", got)
	}
	os.WriteFile(filepath.Join(dir, APIKeyFile), []byte("short\n"), 0o600)
	if _, err := APIKey(dir); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short key: %v", err)
	}
}

func TestAPIFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadAPI(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no api file: %v, want ErrNotExist", err)
	}
	if err := WriteAPI(dir, "http://127.0.0.1:5580"); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadAPI(dir); got != "http://127.0.0.1:5580" || err != nil {
		t.Errorf("ReadAPI = %q, %v", got, err)
	}
	if err := RemoveAPI(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAPI(dir); err != nil {
		t.Errorf("second remove: %v", err)
	}
	os.WriteFile(filepath.Join(dir, APIFile), []byte("garbage"), 0o600)
	if _, err := ReadAPI(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("garbage api file: %v", err)
	}
}
