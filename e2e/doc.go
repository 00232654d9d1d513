// Package e2e holds p2ptvd's multi-node tests and benchmarks: in-process
// nodes on loopback, and the built binary run as separate processes with
// real ffmpeg and players.
//
// The tests start every node themselves, on 127.0.0.1 only, and stop them
// when they end. Cluster starts a bootstrap node and nodes that join
// through it; SourceChunks and MatchStream compare what a viewer played
// with an independent cut of the source.
package e2e
