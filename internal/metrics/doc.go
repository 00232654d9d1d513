// Package metrics exposes a node's state as Prometheus metrics under the
// p2ptvd_ prefix: a build-info gauge, reachability and NAT traversal, the
// DHT, bandwidth, the chunk mesh's accept/reject/drop counters, and per
// channel the playout buffer (continuity, delay, level, skips, stalls) and
// mesh counters.
//
// Register adds them to a registry the caller owns (never the global
// one: many nodes share a test process). The collector reads snapshots at
// scrape time, so it keeps no state and starts no goroutines.
package metrics
