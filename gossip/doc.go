// Package gossip carries a channel's chunks through a per-channel gossipsub
// topic: the chunk wire format, its signature, the topic validator, the
// gossipsub parameters and the peer penalties.
package gossip
