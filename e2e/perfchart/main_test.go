package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
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
	page := []byte("# P\n\nprose\n" + beginMarker + "\nold\n" + endMarker + "\nmore\n")
	got, err := splice(page, []byte("new\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# P\n\nprose\n" + beginMarker + "\nnew\n" + endMarker + "\nmore\n"; string(got) != want {
		t.Errorf("spliced %q, want %q", got, want)
	}
	if _, err := splice([]byte("no markers"), nil); err == nil {
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
