package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/p2ptv/p2ptvd"
	"github.com/p2ptv/p2ptvd/dht"
	"github.com/p2ptv/p2ptvd/media"
	"github.com/p2ptv/p2ptvd/node"
)

// Cluster is a set of in-process nodes on 127.0.0.1 that bootstrap from one
// DHT server. Every node is closed when the test ends.
type Cluster struct {
	tb        testing.TB
	dir       string
	Boot      *node.Node
	BootAddrs []string
	log       *slog.Logger
}

// NewCluster starts the bootstrap node.
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, dir: tb.TempDir(), log: testLogger()}
	c.Boot = c.Node("boot", func(cfg *node.Config) { cfg.DHTMode = dht.ModeServer; cfg.Bootstrap = nil })
	for _, a := range c.Boot.Addrs() {
		c.BootAddrs = append(c.BootAddrs, a.String())
	}
	return c
}

// Node starts a node that bootstraps from the cluster's bootstrap node
// (none for the bootstrap node itself); mutate may change its config.
func (c *Cluster) Node(name string, mutate func(*node.Config)) *node.Node {
	c.tb.Helper()
	cfg := node.Config{
		Home:      filepath.Join(c.dir, name),
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: c.BootAddrs,
		Logger:    c.log.With("node", name),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		c.tb.Fatalf("start node %s: %v", name, err)
	}
	c.tb.Cleanup(func() { n.Close() })
	return n
}

// testLogger logs warnings and errors to stderr, everything with
// P2PTVD_TEST_LOG=debug.
func testLogger() *slog.Logger { return stderrLogger(slog.LevelWarn) }

// stderrLogger logs from level up to stderr, everything with
// P2PTVD_TEST_LOG=debug.
func stderrLogger(level slog.Level) *slog.Logger {
	if os.Getenv("P2PTVD_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// SourceChunks cuts n chunks from the demo clip played in a loop, the way
// a broadcaster of that clip does (pacing changes when chunks appear, not
// what they hold), so a test can compare what viewers play with what was
// sent without trusting the broadcaster's own bookkeeping.
func SourceChunks(cfg media.ChunkerConfig, n int) ([]p2ptvd.Chunk, error) {
	src, err := media.NewSource(bytes.NewReader(media.DemoClip()), media.SourceConfig{Chunker: cfg, Loop: true})
	if err != nil {
		return nil, err
	}
	out := make([]p2ptvd.Chunk, 0, n)
	for len(out) < n {
		c, err := src.Next(context.Background())
		if err == io.EOF {
			return nil, fmt.Errorf("looped source ended after %d chunks", len(out))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// MatchStream checks that got is the concatenation of want's payloads from
// some random-access chunk onwards (a prefix of it: got may stop mid-chunk).
// It returns the first sequence number and how many whole chunks matched.
func MatchStream(got []byte, want []p2ptvd.Chunk) (first uint64, chunks int, err error) {
	if len(got) == 0 {
		return 0, 0, fmt.Errorf("no bytes")
	}
	start := -1
	for i, c := range want {
		if c.Flags.Has(p2ptvd.RandomAccess) && len(c.Payload) > 0 && bytes.HasPrefix(got, c.Payload[:min(len(c.Payload), len(got))]) {
			start = i
			break
		}
	}
	if start < 0 {
		return 0, 0, fmt.Errorf("the first %d bytes are not the start of any random-access chunk", min(len(got), 188))
	}
	rest := got
	for i := start; i < len(want) && len(rest) > 0; i++ {
		p := want[i].Payload
		if len(rest) < len(p) {
			if !bytes.Equal(rest, p[:len(rest)]) {
				return want[start].Seq, chunks, fmt.Errorf("seq %d differs in its first %d bytes", want[i].Seq, len(rest))
			}
			return want[start].Seq, chunks, nil
		}
		if !bytes.Equal(rest[:len(p)], p) {
			return want[start].Seq, chunks, fmt.Errorf("seq %d (chunk %d after the start) differs", want[i].Seq, chunks)
		}
		rest = rest[len(p):]
		chunks++
	}
	if len(rest) > 0 {
		return want[start].Seq, chunks, fmt.Errorf("%d bytes beyond the %d expected chunks", len(rest), len(want))
	}
	return want[start].Seq, chunks, nil
}
