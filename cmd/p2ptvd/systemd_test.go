package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The units in contrib/systemd name the exit codes a restart cannot fix,
// use Type=notify (the daemon notifies), and pass systemd's own check.
func TestSystemdUnits(t *testing.T) {
	units, _ := filepath.Glob("../../contrib/systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	prevent := fmt.Sprintf("RestartPreventExitStatus=%d %d %d", ExitUsage, ExitConfig, ExitLocked)
	analyze, _ := exec.LookPath("systemd-analyze")
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{prevent, "Type=notify", "ExecStart=/usr/local/bin/p2ptvd ", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", filepath.Base(u), want)
			}
		}
		if analyze == "" {
			continue
		}
		// verify wants the binary to exist: point it at one that does.
		tmp := filepath.Join(t.TempDir(), filepath.Base(u))
		os.WriteFile(tmp, []byte(strings.ReplaceAll(text, "/usr/local/bin/p2ptvd ", "/bin/true ")), 0o644)
		out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
		if strings.Contains(string(out), "Failed to initialize manager") {
			t.Logf("systemd-analyze cannot run here: %s", out)
			continue
		}
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(u), err, out)
		}
	}
}
