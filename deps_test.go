package p2ptvd_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The import direction: cmd/p2ptvd → node → dht, gossip, buffer, media →
// the module root. buffer and media stay pure: they import only the
// standard library and the module root (so no libp2p, even indirectly),
// which keeps them deterministic and testable on their own. dht and gossip
// never import each other, and nothing imports node but the command and
// the end-to-end tests.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/p2ptv/p2ptvd"
	allowed := map[string][]string{
		mod:                 {},
		mod + "/media":      {mod},
		mod + "/buffer":     {mod},
		mod + "/gossip":     {mod},
		mod + "/dht":        {mod},
		mod + "/node":       {mod, mod + "/media", mod + "/buffer", mod + "/gossip", mod + "/dht", mod + "/internal/home"},
		mod + "/cmd/p2ptvd": {mod, mod + "/node", mod + "/media", mod + "/dht", mod + "/internal/api", mod + "/internal/config", mod + "/internal/home", mod + "/internal/metrics"},
	}
	pure := []string{mod, mod + "/media", mod + "/buffer"}

	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p struct {
			ImportPath    string
			Imports, Deps []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen[p.ImportPath] = true
		allow, known := allowed[p.ImportPath]
		if !known {
			if !strings.HasPrefix(p.ImportPath, mod+"/e2e") && !strings.HasPrefix(p.ImportPath, mod+"/internal/") {
				t.Errorf("package %s has no place in the dependency rules; add it to deps_test.go", p.ImportPath)
			}
			continue
		}
		for _, imp := range p.Imports {
			if (imp == mod || strings.HasPrefix(imp, mod+"/")) && !slices.Contains(allow, imp) {
				t.Errorf("%s imports %s: not allowed", p.ImportPath, imp)
			}
		}
		if slices.Contains(pure[1:], p.ImportPath) {
			for _, imp := range p.Imports {
				if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") && imp != mod {
					t.Errorf("%s imports %s: it may import only the standard library and the module root", p.ImportPath, imp)
				}
			}
		}
		if slices.Contains(pure, p.ImportPath) {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/libp2p/") {
					t.Errorf("%s depends on %s: it must stay free of libp2p", p.ImportPath, d)
				}
			}
		}
	}
	for p := range allowed {
		if !seen[p] {
			t.Errorf("package %s is missing", p)
		}
	}
}

// Every package says what it owns in a doc.go (the command in main.go).
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}} {{.Name}} {{.Doc}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 3 || f[2] == "" {
			t.Errorf("package in %s has no package comment", f[0])
			continue
		}
		if f[1] == "main" {
			continue
		}
		if _, err := os.Stat(filepath.Join(f[0], "doc.go")); err != nil {
			t.Errorf("package %s in %s has no doc.go", f[1], f[0])
		}
	}
}
