// Package e2e holds p2ptvd's multi-node tests and benchmarks: in-process
// nodes on loopback, and the built binary run as separate processes with
// real ffmpeg and players.
//
// The tests start every node themselves, on 127.0.0.1 only, and stop them
// when they end. Cluster starts a bootstrap node and nodes that join
// through it; SourceChunks and MatchStream compare what a viewer played
// with an independent cut of the source.
//
// # Benchmarks
//
// bench_test.go is the suite every change to the data path is judged by
// (docs/PERFORMANCE.md; scripts/bench.sh runs it and redraws the page with
// the perfchart command). It runs the node code the daemon runs on a
// simulated internet: go-libp2p hosts over QUIC on
// github.com/marcopolo/simnet, each behind its own rate-limited uplink and
// downlink, inside a testing/synctest bubble, so a minute of a 200-viewer
// channel is simulated in virtual time and nothing touches a real network.
// The stream is the demo clip padded with null packets to a constant
// 4 Mbit/s. A server baseline (one origin that unicasts the same chunks
// over a small stream protocol of its own, see origin_test.go) runs on the
// same links, and one real-time scenario runs on loopback TCP to measure
// CPU. Every viewer is measured from outside the node: its playout
// buffer's releases and stats, and its host's byte counters.
//
// The simulated runs' goroutines live in the bubble and end with it; the
// loopback run's end when its nodes are closed.
package e2e
