package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sample = `commit: abc1234
go: go1.26.8
goos: linux
cpu: AMD EPYC
pkg: github.com/p2ptv/p2ptvd/e2e
BenchmarkChannelSim/N=10-2   	       1	         0.3325 continuity	      8590 delay-p50-ms	        19.79 wall-s
--- BENCH: BenchmarkChannelSim/N=10-2
    bench_test.go:115: 10 viewers (0 never started)
BenchmarkChannelSim/N=10-2   	       1	         0.5 continuity	      8600 delay-p50-ms	        20.21 wall-s
BenchmarkServerBaseline/N=10-2 	       1	         1.000 continuity	       681.3 delay-p50-ms	         4.0 src-up-per-stream-byte	1 wall-s
BenchmarkChannelLoopback/N=20-2         	       1	         8.136 cpu-ms-per-node-s
PASS
ok  	github.com/p2ptv/p2ptvd/e2e	948.663s
`

func TestParse(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.rows {
		got = append(got, r.name())
	}
	if want := []string{"ChannelSim/N=10", "ServerBaseline/N=10", "ChannelLoopback/N=20"}; !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	tests := []struct {
		row  int
		unit string
		want float64
	}{
		{0, "continuity", 0.41625}, // two runs, averaged
		{0, "delay-p50-ms", 8595},
		{1, "src-up-per-stream-byte", 4},
		{2, "cpu-ms-per-node-s", 8.136},
	}
	for _, tt := range tests {
		if got := res.rows[tt.row].metrics[tt.unit]; got != tt.want {
			t.Errorf("%s %s = %v, want %v", res.rows[tt.row].name(), tt.unit, got, tt.want)
		}
	}
	if got := res.config["commit"]; got != "abc1234" {
		t.Errorf("commit %q", got)
	}
}

func TestParseRejectsBrokenPairs(t *testing.T) {
	if _, err := parse(strings.NewReader("BenchmarkX/N=1-2 1 0.5 continuity 7\n")); err == nil {
		t.Error("odd value/unit pairs accepted")
	}
}

func TestTablesAndSplice(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	body := tables(res)
	for _, want := range []string{
		"| ChannelSim/N=10 | 0.416 | — | — | 8595 |",
		"| ServerBaseline/N=10 | 1.000 |",
		"commit abc1234",
		"Wall time of the scenarios: 21 s (0.3 min); of the whole `go test` run: 949 s (15.8 min).",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("tables lack %q:\n%s", want, body)
		}
	}
	page := []byte("# P\n\nprose\n" + benchBegin + "\nold\n" + benchEnd + "\nmore\n")
	got, err := splice(page, []byte("new\n"), benchBegin, benchEnd)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# P\n\nprose\n" + benchBegin + "\nnew\n" + benchEnd + "\nmore\n"; string(got) != want {
		t.Errorf("spliced %q, want %q", got, want)
	}
	if _, err := splice([]byte("no markers"), nil, benchBegin, benchEnd); err == nil {
		t.Error("a page without markers was accepted")
	}
}

func TestChartIsWellFormedSVG(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	svg := chart(res)
	d := xml.NewDecoder(bytes.NewReader(svg))
	paths := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart is not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			paths++
		}
	}
	if paths == 0 {
		t.Error("chart draws no line")
	}
}

// Two past runs as docs/history keeps them: the first named by its file,
// the second by a design line; each reports figures the other does not.
const (
	history1 = `commit: 45b819e (plain gossipsub, before ec3251d) + this suite
cores: 2
BenchmarkChannelSim/N=10-2   	       1	         0.3884 continuity	      8464 delay-p50-ms	         7.907 in-per-stream-byte
--- BENCH: BenchmarkChannelSim/N=10-2
    bench_test.go:121: 10 viewers (0 never started)
BenchmarkServerBaseline/N=10-2           	       1	         1.000 continuity	       778.3 delay-p50-ms
PASS
`
	history2 = `design: partial messages
commit: f962dd9
BenchmarkChannelLoopback/N=20-2          	       1	        14.30 cpu-ms-per-node-s
BenchmarkChannelSim/N=10-2   	       1	         0.9966 continuity	      3382 delay-p50-ms	        14.50 heap-MB-per-node
`
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistorySection(t *testing.T) {
	dir := t.TempDir()
	page := "# P\n\n" + benchBegin + "\nold\n" + benchEnd + "\n\n## Designs\n\n" + historyBegin + "\nold\n" + historyEnd + "\nafter\n"
	writeFiles(t, dir, map[string]string{
		"bench.txt":                          sample,
		"docs/PERFORMANCE.md":                page,
		"docs/history/1-plain-gossipsub.txt": history1,
		"docs/history/2-partial.txt":         history2,
	})
	md := filepath.Join(dir, "docs/PERFORMANCE.md")
	if err := run(filepath.Join(dir, "bench.txt"), md, "", filepath.Join(dir, "docs/history/*.txt")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	want := historyBegin + `
Read from [history/1-plain-gossipsub.txt](history/1-plain-gossipsub.txt), [history/2-partial.txt](history/2-partial.txt).

| scenario | design | continuity | startup p50 ms | delay p50 ms | delay p99 ms | in ÷ stream | source up ÷ stream | relay up max | CPU ms/node/s | heap MB/node |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| ChannelSim/N=10 | plain-gossipsub (commit 45b819e) | 0.388 | — | 8464 | — | 7.91 | — | — | — | — |
| ChannelSim/N=10 | partial messages (commit f962dd9) | 0.997 | — | 3382 | — | — | — | — | — | 14.5 |
| ServerBaseline/N=10 | plain-gossipsub (commit 45b819e) | 1.000 | — | 778 | — | — | — | — | — | — |
| ChannelLoopback/N=20 | partial messages (commit f962dd9) | — | — | — | — | — | — | — | 14.3 | — |
` + historyEnd + "\nafter\n"
	if !bytes.HasSuffix(got, []byte(want)) {
		t.Errorf("page ends\n%s\nwant it to end\n%s", got[bytes.Index(got, []byte(historyBegin)):], want)
	}
	if !bytes.Contains(got, []byte("| ChannelSim/N=10 | 0.416 |")) {
		t.Errorf("the bench section was not rewritten:\n%s", got)
	}
}

func TestHistoryNeedsMarkers(t *testing.T) {
	dir := t.TempDir()
	page := "# P\n" + benchBegin + "\nold\n" + benchEnd + "\n"
	writeFiles(t, dir, map[string]string{
		"bench.txt":     sample,
		"page.md":       page,
		"h/1-plain.txt": history1,
	})
	md := filepath.Join(dir, "page.md")
	err := run(filepath.Join(dir, "bench.txt"), md, "", filepath.Join(dir, "h/1-plain.txt"))
	if err == nil || !strings.Contains(err.Error(), historyBegin) {
		t.Fatalf("err = %v, want one naming %s", err, historyBegin)
	}
	got, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != page {
		t.Errorf("page changed although the run failed:\n%s", got)
	}
}

func TestHistoryFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"10-later.txt":  history2,
		"2-partial.txt": history2,
		"1-plain.txt":   history1,
		"notes.md":      "",
	})
	base := func(files []string) []string {
		var out []string
		for _, f := range files {
			out = append(out, filepath.Base(f))
		}
		return out
	}
	tests := []struct {
		spec string
		want []string
	}{
		{filepath.Join(dir, "*.txt"), []string{"1-plain.txt", "2-partial.txt", "10-later.txt"}},
		// A list is read in name order too, and a file named twice once.
		{filepath.Join(dir, "2-partial.txt") + ", " + filepath.Join(dir, "1-plain.txt") + "," + filepath.Join(dir, "1-*.txt"),
			[]string{"1-plain.txt", "2-partial.txt"}},
	}
	for _, tt := range tests {
		got, err := historyFiles(tt.spec)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if !slices.Equal(base(got), tt.want) {
			t.Errorf("%s: %q, want %q", tt.spec, base(got), tt.want)
		}
	}
	for _, spec := range []string{filepath.Join(dir, "*.csv"), " , ", filepath.Join(dir, "[")} {
		if got, err := historyFiles(spec); err == nil {
			t.Errorf("%q: %q accepted", spec, got)
		}
	}
}

func TestDesignLabel(t *testing.T) {
	tests := []struct {
		file   string
		config map[string]string
		want   string
	}{
		{"docs/history/1-plain-gossipsub.txt", map[string]string{"commit": "45b819e (plain gossipsub, before ec3251d) + this suite"}, "plain-gossipsub (commit 45b819e)"},
		{"docs/history/12-partial-messages.txt", map[string]string{"commit": "f962dd9"}, "partial-messages (commit f962dd9)"},
		{"docs/history/2-x.txt", map[string]string{"design": " partial messages, 8 KiB parts ", "commit": "f962dd9+changes"}, "partial messages, 8 KiB parts (commit f962dd9+changes)"},
		{"old-run.txt", nil, "old-run"},
		{"3-.txt", map[string]string{"commit": " "}, "3-"},
	}
	for _, tt := range tests {
		if got := designLabel(tt.file, tt.config); got != tt.want {
			t.Errorf("designLabel(%q, %v) = %q, want %q", tt.file, tt.config, got, tt.want)
		}
	}
}

func TestHistoryColumnsAllKnown(t *testing.T) {
	if got := len(historyColumns()); got != len(historyUnits) {
		t.Errorf("%d of %d history units have a column", got, len(historyUnits))
	}
}
